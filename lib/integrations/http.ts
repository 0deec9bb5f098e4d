/**
 * The `http` integration: proxies to an upstream through an undici Pool, streaming the
 * request and the response bodies (never buffered whole), over keep-alive connections.
 * It implements undici's native handler interface (onConnect/onHeaders/onData/...),
 * which undici 7 calls directly; the newer onRequestStart interface is wrapped per request.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher, Pool } from 'undici';
import { sendError } from '../error-response.ts';
import { GatewayError, type ErrorCode } from '../errors.ts';
import type { Exchange } from '../exchange.ts';
import type { Logger } from '../log.ts';
import type { Integration } from '../pipeline/route.ts';
import { encodePathValue, type TemplatePart, type UrlTemplate } from '../url-template.ts';

export interface HttpIntegrationOptions {
  readonly name: string;
  readonly template: UrlTemplate;
  readonly pool: Pool;
  readonly timeoutMs: number;
  readonly maxBodyBytes: number;
  /** AWS: the `$default` route forwards the full request path to a path-less URL. */
  readonly appendRequestPath: boolean;
  readonly logger: Logger;
}

// Request headers never forwarded: hop-by-hop (RFC 9110 §7.6.1), plus those the
// gateway sets itself. Prototype-less so lookups of client-chosen names are safe.
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade'];
const DROP_REQUEST = nameSet([...HOP_BY_HOP, 'proxy-authorization', 'host', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host']);
const DROP_RESPONSE = nameSet([...HOP_BY_HOP, 'proxy-authenticate', 'apigw-requestid']);

function nameSet(names: readonly string[]): Record<string, true | undefined> {
  const set = Object.create(null) as Record<string, true | undefined>;
  for (const n of names) set[n] = true;
  return set;
}

export class HttpIntegration implements Integration {
  readonly type = 'http';
  readonly target: string;
  readonly #pool: Pool;
  readonly #path: readonly TemplatePart[];
  /** Set when the path has no slots: the common case builds no string. */
  readonly #staticPath: string | null;
  readonly #hasQuery: boolean;
  readonly #timeoutMs: number;
  readonly #maxBodyBytes: number;
  readonly #appendRequestPath: boolean;
  readonly #logger: Logger;
  readonly #name: string;

  constructor(options: HttpIntegrationOptions) {
    const { template } = options;
    this.#pool = options.pool;
    this.#path = template.path;
    this.#staticPath =
      template.path.length === 1 && typeof template.path[0] === 'string' ? template.path[0] : null;
    this.#hasQuery = template.path.some((p) => typeof p === 'string' && p.includes('?'));
    this.#timeoutMs = options.timeoutMs;
    this.#maxBodyBytes = options.maxBodyBytes;
    this.#appendRequestPath = options.appendRequestPath;
    this.#logger = options.logger;
    this.#name = options.name;
    this.target = `${template.origin}${template.path.map((p) => (typeof p === 'string' ? p : `{${p.param}}`)).join('')}`;
  }

  handle(ex: Exchange): void {
    const req = ex.req;
    const headers = req.headers;
    const declared = headers['content-length'];
    let hasBody: boolean;
    if (declared !== undefined) {
      // Node's parser has already refused a malformed or duplicated Content-Length.
      const length = Number(declared);
      if (length > this.#maxBodyBytes) {
        sendError(ex.res, 'PORTICO_BODY_TOO_LARGE', ex.requestId, { connection: 'close' });
        return;
      }
      hasBody = length > 0;
    } else {
      hasBody = headers['transfer-encoding'] !== undefined;
      if (hasBody) limitChunkedBody(req, this.#maxBodyBytes);
    }

    const handler = new ProxyHandler(ex, this.#logger, this.#name);
    ex.res.once('close', onClientClose);
    (ex.res as ResponseWithProxy)[kProxy] = handler;
    this.#pool.dispatch(
      {
        method: req.method as Dispatcher.HttpMethod,
        path: this.#buildPath(ex),
        headers: forwardHeaders(req, headers),
        body: hasBody ? req : null,
        headersTimeout: this.#timeoutMs,
        bodyTimeout: this.#timeoutMs,
      },
      handler,
    );
  }

  #buildPath(ex: Exchange): string {
    let path = this.#staticPath;
    if (path === null) {
      path = '';
      const params = ex.params;
      for (const part of this.#path) {
        path += typeof part === 'string' ? part : encodePathValue(params?.[part.param] ?? '', part.greedy);
      }
    }
    if (this.#appendRequestPath) path = path === '/' ? ex.path : path.replace(/\/$/, '') + ex.path;
    if (ex.rawQuery !== '') path += (this.#hasQuery ? '&' : '?') + ex.rawQuery;
    return path;
  }
}

/** Flat [name, value, ...] list for undici: what the client sent, minus hop-by-hop, plus X-Forwarded-*. */
function forwardHeaders(req: IncomingMessage, headers: IncomingMessage['headers']): string[] {
  const out: string[] = [];
  const connection = headers.connection;
  const named = connection !== undefined && connection !== 'keep-alive' && connection !== 'close'
    ? connectionTokens(connection)
    : null;
  for (const name in headers) {
    if (DROP_REQUEST[name] === true || (named !== null && named.has(name))) continue;
    const value = headers[name]!;
    if (typeof value === 'string') out.push(name, value);
    else for (const v of value) out.push(name, v);
  }
  out.push(
    'x-forwarded-for',
    req.socket.remoteAddress ?? '',
    'x-forwarded-proto',
    (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http',
  );
  if (headers.host !== undefined) out.push('x-forwarded-host', headers.host);
  return out;
}

function connectionTokens(value: string): Set<string> {
  const set = new Set<string>();
  for (const token of value.split(',')) set.add(token.trim().toLowerCase());
  return set;
}

function limitChunkedBody(req: IncomingMessage, max: number): void {
  let seen = 0;
  const onData = (chunk: Buffer): void => {
    seen += chunk.length;
    if (seen > max) {
      req.off('data', onData);
      req.destroy(new GatewayError('PORTICO_BODY_TOO_LARGE'));
    }
  };
  req.on('data', onData);
}

const kProxy = Symbol('portico.proxyHandler');
type ResponseWithProxy = ServerResponse & { [kProxy]?: ProxyHandler };

/** The client went away: stop the upstream request at once rather than at its timeout. */
function onClientClose(this: ResponseWithProxy): void {
  const handler = this[kProxy];
  if (handler !== undefined && !handler.done) handler.abortUpstream();
}

/**
 * One upstream exchange: writes the upstream response straight into the client response,
 * with undici's pause/resume for backpressure.
 */
class ProxyHandler implements Dispatcher.DispatchHandler {
  readonly #ex: Exchange;
  readonly #logger: Logger;
  readonly #integration: string;
  #abort: ((err?: Error) => void) | null = null;
  /** undici's own resume(), already bound: handed to 'drain' without a new closure. */
  #resume: (() => void) | null = null;
  done = false;

  constructor(ex: Exchange, logger: Logger, integration: string) {
    this.#ex = ex;
    this.#logger = logger;
    this.#integration = integration;
  }

  abortUpstream(): void {
    this.done = true;
    this.#abort?.(new GatewayError('PORTICO_UPSTREAM_ERROR', 'client closed the connection'));
  }

  onConnect(abort: (err?: Error) => void): void {
    this.#abort = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    const res = this.#ex.res;
    const out: string[] = [];
    let named: Set<string> | null = null;
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const name = rawHeaders[i]!.toString('latin1').toLowerCase();
      if (DROP_RESPONSE[name] === true) {
        if (name === 'connection') named = connectionTokens(rawHeaders[i + 1]!.toString('latin1'));
        continue;
      }
      out.push(name, rawHeaders[i + 1]!.toString('latin1'));
    }
    if (named !== null) {
      for (let i = out.length - 2; i >= 0; i -= 2) if (named.has(out[i]!)) out.splice(i, 2);
    }
    out.push('apigw-requestid', this.#ex.requestId);
    // 1xx are interim responses; undici passes them only for 101 (upgrades), which we refuse.
    res.writeHead(statusCode, out);
    this.#resume = resume;
    return true;
  }

  onData(chunk: Buffer): boolean {
    const res = this.#ex.res;
    if (res.write(chunk)) return true;
    // undici stops reading the upstream socket until resume() runs on 'drain'.
    res.once('drain', this.#resume!);
    return false;
  }

  onComplete(): void {
    this.done = true;
    this.#ex.res.end();
  }

  onError(err: Error): void {
    if (this.done) return;
    this.done = true;
    const code = upstreamErrorCode(err);
    if (code !== 'PORTICO_BODY_TOO_LARGE') {
      this.#logger.error(
        { requestId: this.#ex.requestId, integration: this.#integration, code, err },
        'upstream request failed',
      );
    }
    sendError(this.#ex.res, code, this.#ex.requestId, code === 'PORTICO_BODY_TOO_LARGE' ? { connection: 'close' } : undefined);
  }
}

/** The one translation from undici/socket failures to gateway error codes. */
export function upstreamErrorCode(err: Error): ErrorCode {
  if (err instanceof GatewayError) return err.code;
  switch ((err as { code?: string }).code) {
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      return 'PORTICO_UPSTREAM_TIMEOUT';
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'PORTICO_UPSTREAM_UNREACHABLE';
    default:
      return 'PORTICO_UPSTREAM_ERROR';
  }
}
