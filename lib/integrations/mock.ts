/** The `mock` integration: a static response, serialised once per deployment. */
import type { Exchange } from '../exchange.ts';
import type { Integration } from '../pipeline/route.ts';

export interface MockOptions {
  readonly statusCode: number;
  readonly headers?: Readonly<Record<string, string>> | undefined;
  readonly body: unknown;
}

export class MockIntegration implements Integration {
  readonly type = 'mock';
  readonly target: string;
  readonly #status: number;
  readonly #body: Buffer;
  /** Flat [name, value, ...] headers, and the same without access-control-* for CORS routes. */
  readonly #headers: readonly string[];
  readonly #headersWithoutCors: readonly string[];

  constructor(options: MockOptions) {
    this.#status = options.statusCode;
    const isText = typeof options.body === 'string';
    this.#body = Buffer.from(isText ? (options.body as string) : JSON.stringify(options.body));
    const headers: string[] = [];
    let hasType = false;
    for (const [name, value] of Object.entries(options.headers ?? {})) {
      const lower = name.toLowerCase();
      if (lower === 'content-length') continue;
      if (lower === 'content-type') hasType = true;
      headers.push(lower, value);
    }
    if (!isText && !hasType) headers.push('content-type', 'application/json');
    headers.push('content-length', String(this.#body.length));
    this.#headers = headers;
    this.#headersWithoutCors = headers.filter(
      (_, i, all) => !all[i - (i % 2)]!.startsWith('access-control-'),
    );
    this.target = `mock ${this.#status}`;
  }

  handle(ex: Exchange): void {
    const headers = [
      ...(ex.route.cors === null ? this.#headers : this.#headersWithoutCors),
      'apigw-requestid',
      ex.requestId,
    ];
    if (ex.responseHeaders !== null) headers.push(...ex.responseHeaders);
    ex.res.writeHead(this.#status, headers);
    ex.res.end(ex.req.method === 'HEAD' ? undefined : this.#body);
  }
}
