/**
 * Test helpers: start a real gateway on 127.0.0.1 (port 0) and make raw HTTP requests
 * with node:http, so tests see exactly what went over the wire.
 */
import {
  request as httpRequest,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
} from 'node:http';
import { createGateway, type Gateway, type GatewayOptions } from '../../lib/index.ts';
import type { ConfigSource } from '../../lib/gateway.ts';
import type { Logger } from '../../lib/log.ts';

export interface RunningGateway {
  readonly gateway: Gateway;
  readonly url: string;
  readonly port: number;
  /** Lines the gateway logged, for asserting causes are logged (and secrets are not). */
  readonly logs: Array<{ level: string; msg?: string | undefined; obj: object }>;
  close(): Promise<void>;
}

/** A Logger that keeps entries in memory. */
export function memoryLogger(logs: RunningGateway['logs']): Logger {
  return {
    error: (obj, msg) => void logs.push({ level: 'error', msg, obj }),
    warn: (obj, msg) => void logs.push({ level: 'warn', msg, obj }),
    info: (obj, msg) => void logs.push({ level: 'info', msg, obj }),
  };
}

/**
 * Starts a gateway on 127.0.0.1:0. Pass `t` to have it closed at teardown.
 */
export async function startGateway(
  source: ConfigSource,
  options: GatewayOptions & { t?: { teardown(fn: () => unknown): void } } = {},
): Promise<RunningGateway> {
  const logs: RunningGateway['logs'] = [];
  const { t, ...rest } = options;
  const gateway = await createGateway(source, { logger: memoryLogger(logs), ...rest });
  const address = await gateway.listen({ port: 0, host: '127.0.0.1' });
  const running = {
    gateway,
    url: address.url,
    port: address.port,
    logs,
    close: () => gateway.close(),
  };
  t?.teardown(() => gateway.close());
  return running;
}

export interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: string[];
  readonly body: Buffer;
  readonly text: string;
  /** The body parsed as JSON (throws if it is not JSON). */
  json<T = unknown>(): T;
}

export interface RequestOptions {
  readonly method?: string;
  readonly headers?: OutgoingHttpHeaders;
  readonly body?: string | Buffer | AsyncIterable<Buffer | string>;
  /** Do not reuse the connection (default true: each request is independent). */
  readonly agent?: false;
}

/** One HTTP request over a fresh connection; resolves with the whole response. */
export function request(url: string, options: RequestOptions = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method: options.method ?? 'GET', headers: options.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          const text = body.toString('utf8');
          resolve({
            status: res.statusCode!,
            headers: res.headers,
            rawHeaders: res.rawHeaders,
            body,
            text,
            json: <T>() => JSON.parse(text) as T,
          });
        });
      },
    );
    req.on('error', reject);
    const body = options.body;
    if (body === undefined) req.end();
    else if (typeof body === 'string' || Buffer.isBuffer(body)) req.end(body);
    else {
      (async () => {
        for await (const chunk of body) {
          if (!req.write(chunk)) await new Promise((r) => req.once('drain', r));
        }
        req.end();
      })().catch((err: unknown) => req.destroy(err as Error));
    }
  });
}
