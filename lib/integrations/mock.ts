/** The `mock` integration: a static response, serialised once per deployment. */
import type { OutgoingHttpHeaders } from 'node:http';
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
  readonly #headers: OutgoingHttpHeaders;

  constructor(options: MockOptions) {
    this.#status = options.statusCode;
    const isText = typeof options.body === 'string';
    this.#body = Buffer.from(isText ? (options.body as string) : JSON.stringify(options.body));
    const headers: OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(options.headers ?? {}))
      headers[name.toLowerCase()] = value;
    if (!isText && headers['content-type'] === undefined)
      headers['content-type'] = 'application/json';
    headers['content-length'] = this.#body.length;
    this.#headers = headers;
    this.target = `mock ${this.#status}`;
  }

  handle(ex: Exchange): void {
    const res = ex.res;
    // setHeader + writeHead(status) keeps the shared header object unmutated.
    res.setHeader('apigw-requestid', ex.requestId);
    res.writeHead(this.#status, this.#headers);
    res.end(ex.req.method === 'HEAD' ? undefined : this.#body);
  }
}
