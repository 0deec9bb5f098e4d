/**
 * The `http` integration: proxies to an upstream through an undici Pool, streaming the
 * request and the response bodies (never buffered whole), over keep-alive connections.
 * It implements undici's native handler interface (onConnect/onHeaders/onData/...),
 * which undici 7 calls directly; the newer onRequestStart interface is wrapped per request.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher, Pool } from 'undici';
import { sendExchangeError } from '../error-response.ts';
import { GatewayError, type ErrorCode } from '../errors.ts';
import type { Exchange } from '../exchange.ts';
import { forwardedHeaders } from '../client-ip.ts';
import { HOP_BY_HOP, nameSet } from '../headers.ts';
import type { Logger } from '../log.ts';
import type { Integration } from '../pipeline/route.ts';
import {
  encodePathValue,
  encodeQueryValue,
  hasDotSegment,
  type TemplatePart,
  type UrlTemplate,
} from '../url-template.ts';

export interface HttpIntegrationOptions {
  readonly name: string;
  readonly template: UrlTemplate;
  readonly pool: Pool;
  readonly timeoutMs: number;
  /** Longest wait between response body chunks once the headers arrived. */
  readonly bodyTimeoutMs: number;
  /** Connect-failure retries for idempotent methods; null for none. */
  readonly retries: RetryPolicy | null;
  readonly maxBodyBytes: number;
  /** AWS: the `$default` route forwards the full request path to a path-less URL. */
  readonly appendRequestPath: boolean;
  readonly logger: Logger;
}

export interface RetryPolicy {
  /** Extra attempts after the first. */
  readonly attempts: number;
  /** Wait before the first retry; doubled for each next one. */
  readonly backoffMs: number;
}

// RFC 9110 §9.2.2; POST and PATCH may act twice, so they are never retried.
const IDEMPOTENT = nameSet(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);

// Request headers never forwarded: hop-by-hop (RFC 9110 §7.6.1), those the gateway sets
// itself, and Expect: Node's server has already answered `100-continue` to the client, and
// undici refuses the header. Prototype-less so lookups of client-chosen names are safe.
const DROP_REQUEST = nameSet([
  ...HOP_BY_HOP,
  'proxy-authorization',
  'expect',
  'host',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  // RFC 7239: a client-sent one would vouch for itself; the gateway sends X-Forwarded-* only.
  'forwarded',
]);
const DROP_RESPONSE = nameSet([...HOP_BY_HOP, 'proxy-authenticate', 'apigw-requestid']);

// A 413 leaves the rest of the body unread on the connection, so it cannot be reused.
const CONNECTION_CLOSE: readonly string[] = Object.freeze(['connection', 'close']);

export class HttpIntegration implements Integration {
  readonly type = 'http';
  readonly target: string;
  readonly #pool: Pool;
  readonly #path: readonly TemplatePart[];
  /** Set when the path has no slots: the common case builds no string. */
  readonly #staticPath: string | null;
  readonly #hasQuery: boolean;
  /**
   * For `appendRequestPath`: the URL's path without its trailing '/' (often ''), and its
   * fixed query, which must follow the request path rather than precede it.
   */
  readonly #basePath: string;
  readonly #baseQuery: string;
  readonly #timeoutMs: number;
  readonly #bodyTimeoutMs: number;
  readonly #retries: RetryPolicy | null;
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
    const fixed = this.#staticPath ?? '/';
    const q = fixed.indexOf('?');
    this.#basePath = (q < 0 ? fixed : fixed.slice(0, q)).replace(/\/$/, '');
    this.#baseQuery = q < 0 ? '' : fixed.slice(q + 1);
    this.#timeoutMs = options.timeoutMs;
    this.#bodyTimeoutMs = options.bodyTimeoutMs;
    this.#retries = options.retries;
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
    let body: IncomingMessage | null = null;
    let allowance = -1;
    if (declared !== undefined) {
      // Node's parser has already refused a malformed or duplicated Content-Length.
      const length = Number(declared);
      if (length > this.#maxBodyBytes) {
        sendExchangeError(ex, 'PORTICO_BODY_TOO_LARGE', CONNECTION_CLOSE);
        return;
      }
      if (length > 0) body = req;
    } else if (headers['transfer-encoding'] !== undefined) {
      body = req;
      allowance = this.#maxBodyBytes;
    }
    const path = this.#buildPath(ex);
    if (path === null) {
      sendExchangeError(ex, 'PORTICO_BAD_REQUEST');
      return;
    }

    const options: Dispatcher.DispatchOptions = {
      method: req.method as Dispatcher.HttpMethod,
      path,
      headers: forwardHeaders(ex, headers),
      body,
      headersTimeout: this.#timeoutMs,
      bodyTimeout: this.#bodyTimeoutMs,
    };
    const retries =
      this.#retries !== null && IDEMPOTENT[req.method!] === true ? this.#retries : null;
    const handler = new ProxyHandler(ex, this.#logger, this.#name, allowance, retries);
    if (retries !== null) handler.keepForRetry(this.#pool, options);
    (req as RequestWithProxy)[kProxy] = handler;
    // `on`, not `once`: the response is per request, and `once` wraps the listener.
    ex.res.on('close', onClientClose);
    ex.integrationStart = performance.now();
    this.#pool.dispatch(options, handler);
  }

  /** The upstream request target, or null when a path variable would climb out of its place. */
  #buildPath(ex: Exchange): string | null {
    const query = ex.rawQuery;
    if (this.#appendRequestPath) {
      const base = this.#basePath;
      const requestPath = ex.path;
      let path = requestPath;
      if (base !== '') {
        // `/..` after a base path would reach past it once the upstream resolves it.
        if (
          (requestPath.includes('.') || requestPath.includes('%2')) &&
          hasDotSegment(requestPath, true)
        ) {
          return null;
        }
        path = base + requestPath;
      }
      if (this.#baseQuery !== '')
        return query === '' ? `${path}?${this.#baseQuery}` : `${path}?${this.#baseQuery}&${query}`;
      return query === '' ? path : `${path}?${query}`;
    }
    let path = this.#staticPath;
    if (path === null) {
      path = '';
      const params = ex.params;
      const parts = this.#path;
      for (let i = 0; i < parts.length; i++) {
        const part = parts[i]!;
        if (typeof part === 'string') {
          path += part;
          continue;
        }
        const value = params?.[part.param] ?? '';
        if (part.query) {
          path += encodeQueryValue(value);
          continue;
        }
        const encoded = encodePathValue(value, part.greedy);
        if (encoded === null) return null;
        path += encoded;
      }
    }
    if (query === '') return path;
    return this.#hasQuery ? `${path}&${query}` : `${path}?${query}`;
  }
}

/**
 * Flat [name, value, ...] list for undici: what the client sent, minus hop-by-hop and the
 * headers the gateway itself sets (X-Forwarded-*, authorizer claims: a client cannot spoof them).
 */
function forwardHeaders(ex: Exchange, headers: IncomingMessage['headers']): string[] {
  const out: string[] = [];
  const connection = headers.connection;
  const named = connection === undefined ? null : connectionTokens(connection);
  const own = ex.route.gatewayHeaders;
  for (const name in headers) {
    if (DROP_REQUEST[name] === true || (named !== null && named.has(name))) continue;
    if (own !== null && own.has(name)) continue;
    const value = headers[name]!;
    if (typeof value === 'string') out.push(name, value);
    else for (const v of value) out.push(name, v);
  }
  forwardedHeaders(ex, out);
  if (ex.upstreamHeaders !== null) out.push(...ex.upstreamHeaders);
  return out;
}

/**
 * Header names listed in a Connection header (RFC 9110 §7.6.1), or null for the usual
 * lone `keep-alive` / `close`, which name no header: no Set for the common case.
 */
function connectionTokens(value: string): Set<string> | null {
  const lower = value.toLowerCase();
  if (lower === 'keep-alive' || lower === 'close') return null;
  const set = new Set<string>();
  for (const token of lower.split(',')) set.add(token.trim());
  return set;
}

const kProxy = Symbol('portico.proxyHandler');
type RequestWithProxy = IncomingMessage & { [kProxy]?: ProxyHandler };

/** The client went away: stop the upstream request at once rather than at its timeout. */
function onClientClose(this: ServerResponse): void {
  const handler = (this.req as RequestWithProxy)[kProxy];
  if (handler !== undefined && !handler.done) handler.abortUpstream();
}

/** Counts a chunked request body as undici reads it; `this` is the request. */
function countBodyChunk(this: RequestWithProxy, chunk: Buffer): void {
  this[kProxy]!.countBody(chunk.length);
}

/**
 * One upstream exchange: writes the upstream response straight into the client response,
 * with undici's pause/resume for backpressure.
 */
class ProxyHandler implements Dispatcher.DispatchHandler {
  readonly #ex: Exchange;
  readonly #logger: Logger;
  readonly #integration: string;
  /** Bytes a chunked request body may still bring; -1 when its length was declared and checked. */
  #allowance: number;
  #abort: ((err?: Error) => void) | null = null;
  /** undici's own resume(), already bound: handed to 'drain' without a new closure. */
  #resume: (() => void) | null = null;
  /** Set only for a retryable request: what to dispatch again, and where. */
  #retries: RetryPolicy | null;
  #attempt = 0;
  #pool: Pool | null = null;
  #options: Dispatcher.DispatchOptions | null = null;
  done = false;

  constructor(
    ex: Exchange,
    logger: Logger,
    integration: string,
    allowance: number,
    retries: RetryPolicy | null,
  ) {
    this.#ex = ex;
    this.#logger = logger;
    this.#integration = integration;
    this.#allowance = allowance;
    this.#retries = retries;
  }

  keepForRetry(pool: Pool, options: Dispatcher.DispatchOptions): void {
    this.#pool = pool;
    this.#options = options;
  }

  abortUpstream(): void {
    this.done = true;
    // Before onConnect the request is still queued in the pool; onConnect aborts it then.
    this.#abort?.(new GatewayError('PORTICO_UPSTREAM_ERROR', 'client closed the connection'));
  }

  countBody(bytes: number): void {
    this.#allowance -= bytes;
    // This listener runs before undici's, so the chunk that crosses the limit is never sent.
    if (this.#allowance < 0) this.#abort!(new GatewayError('PORTICO_BODY_TOO_LARGE'));
  }

  onConnect(abort: (err?: Error) => void): void {
    this.#abort = abort;
    if (this.done) {
      abort(new GatewayError('PORTICO_UPSTREAM_ERROR', 'client closed the connection'));
      return;
    }
    // Counting starts here, not at dispatch: undici attaches its own 'data' listener right
    // after this call, and a listener added earlier would start the flow and lose chunks.
    if (this.#allowance >= 0) this.#ex.req.on('data', countBodyChunk);
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    // Interim responses (102, 103) are not relayed: writeHead would send them as the
    // final response. undici itself refuses 100 (we never send Expect) and 101.
    if (statusCode < 200) return true;
    const ex = this.#ex;
    ex.integrationStatus = statusCode;
    const res = ex.res;
    // AWS ignores the integration's CORS headers when the route has CORS: ours replace them.
    const ownsCors = ex.route.cors !== null;
    const out: string[] = [];
    let named: Set<string> | null = null;
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const name = rawHeaders[i]!.toString('latin1').toLowerCase();
      if (DROP_RESPONSE[name] === true) {
        if (name === 'connection') named = connectionTokens(rawHeaders[i + 1]!.toString('latin1'));
        continue;
      }
      if (ownsCors && name.startsWith('access-control-')) continue;
      out.push(name, rawHeaders[i + 1]!.toString('latin1'));
    }
    if (named !== null) {
      for (let i = out.length - 2; i >= 0; i -= 2) if (named.has(out[i]!)) out.splice(i, 2);
    }
    out.push('apigw-requestid', ex.requestId);
    if (ex.responseHeaders !== null) out.push(...ex.responseHeaders);
    res.writeHead(statusCode, out);
    this.#resume = resume;
    return true;
  }

  onData(chunk: Buffer): boolean {
    const res = this.#ex.res;
    if (res.write(chunk)) return true;
    // A chunk above the socket's 16 KiB high-water mark reports backpressure before any
    // byte has left: node:http corks the socket on each write until the next tick (so the
    // head goes out with the first chunk). Flushing now usually lets the kernel take it all;
    // then there is nothing to wait for, and pausing the upstream would cost a resume and a
    // zero-byte write for every large chunk.
    const socket = res.socket;
    if (socket !== null && socket.writableCorked === 1) {
      socket.uncork();
      if (res.writableLength === 0) return true;
    }
    // undici stops reading the upstream socket until resume() runs on 'drain'.
    res.once('drain', this.#resume!);
    return false;
  }

  onComplete(): void {
    this.done = true;
    this.#ex.integrationDone(0, null);
    this.#ex.res.end();
  }

  onError(err: Error): void {
    if (this.done) return;
    if (this.#canRetry(err)) {
      const delay = this.#retries!.backoffMs * 2 ** this.#attempt++;
      this.#logger.warn(
        {
          requestId: this.#ex.requestId,
          integration: this.#integration,
          code: upstreamErrorCode(err),
          attempt: this.#attempt,
          err,
        },
        'upstream connect failed; retrying',
      );
      setTimeout(retryDispatch, delay, this);
      return;
    }
    this.done = true;
    this.#ex.integrationDone(0, err.message);
    const code = upstreamErrorCode(err);
    if (code === 'PORTICO_BODY_TOO_LARGE') {
      sendExchangeError(this.#ex, code, CONNECTION_CLOSE);
      return;
    }
    this.#logger.error(
      { requestId: this.#ex.requestId, integration: this.#integration, code, err },
      'upstream request failed',
    );
    sendExchangeError(this.#ex, code);
  }

  /**
   * Only a failure to connect is retried, and only while nothing of the request has left:
   * undici calls onConnect when it writes the request, so without it no byte was sent,
   * and the body (if any) must not have been read yet either.
   */
  #canRetry(err: Error): boolean {
    return (
      this.#retries !== null &&
      this.#attempt < this.#retries.attempts &&
      this.#abort === null &&
      isConnectFailure(err) &&
      !this.#ex.req.readableDidRead
    );
  }

  /** Called by retryDispatch; the client may have left during the backoff. */
  redispatch(): void {
    if (this.done) return;
    this.#pool!.dispatch(this.#options!, this);
  }
}

function retryDispatch(handler: ProxyHandler): void {
  handler.redispatch();
}

/** Failures before a connection existed: the upstream cannot have seen the request. */
function isConnectFailure(err: Error): boolean {
  switch ((err as { code?: string }).code) {
    case 'ECONNREFUSED':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EAI_AGAIN':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return true;
    default:
      return false;
  }
}

/** The one translation from undici/socket failures to gateway error codes. */
export function upstreamErrorCode(err: Error): ErrorCode {
  if (err instanceof GatewayError) return err.code;
  switch ((err as { code?: string }).code) {
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      return 'PORTICO_UPSTREAM_TIMEOUT';
    // AWS HTTP API answers any integration that does not respond in time with 503.
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'PORTICO_UPSTREAM_CONNECT_TIMEOUT';
    case 'UND_ERR_HEADERS_OVERFLOW':
      return 'PORTICO_UPSTREAM_HEADERS_TOO_LARGE';
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'PORTICO_UPSTREAM_UNREACHABLE';
    default:
      return 'PORTICO_UPSTREAM_ERROR';
  }
}
