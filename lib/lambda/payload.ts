/**
 * What the two Lambda payload formats share: the PayloadFormat contract (event builder and
 * result parser, one module-level instance per version) and the request-side and
 * response-side helpers both use. The version is chosen once, at deploy time.
 */
import { clientIp } from '../client-ip.ts';
import type { Exchange } from '../exchange.ts';
import { isTextContentType } from './body.ts';
import { HOP_BY_HOP, nameSet } from '../headers.ts';

export interface LambdaResponse {
  readonly statusCode: number;
  /**
   * Flat [name, value, ...], lower-case names, hop-by-hop and gateway-owned headers removed.
   * A fresh array per result: the sender appends its own headers to it.
   */
  readonly headers: string[];
  /**
   * Text stays a string: Node then writes the head and body as one string, which costs less
   * than encoding a Buffer first. A base64 body arrives decoded, as a Buffer.
   */
  readonly body: string | Buffer;
}

export interface PayloadFormat<TEvent extends object = object> {
  readonly version: '1.0' | '2.0';
  buildEvent(ex: Exchange, body: Buffer | null): TEvent;
  /** The response to send, or why the result is not a valid response (for the log). */
  parseResult(result: unknown): LambdaResponse | string;
}

// Documented local placeholder: AWS's API id names the API in its own account.
export const LOCAL_API_ID = 'portico';

// ---- request side ----

/** Whether the request body travels as UTF-8 text (else base64): AWS's split, see body.ts. */
export function isTextBody(ex: Exchange): boolean {
  return isTextContentType(ex.req.headers['content-type']);
}

/** Sets an own property even for names like `__proto__` (a header name is client input). */
export function setOwn<T>(map: Record<string, T>, name: string, value: T): void {
  if (name === '__proto__') {
    Object.defineProperty(map, name, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else {
    map[name] = value;
  }
}

/** Adds a value under `name`, joining a repeated name with a comma (own properties only). */
export function joinOwn(map: Record<string, string>, name: string, value: string): void {
  const prev = map[name];
  if (prev === undefined) setOwn(map, name, value);
  else if (Object.hasOwn(map, name)) map[name] = `${prev},${value}`;
  else setOwn(map, name, value); // a name Object.prototype has, e.g. `constructor`
}

/** Reads an own property only: `constructor` or `toString` must not find Object.prototype's. */
export function getOwn<T>(map: Record<string, T>, name: string): T | undefined {
  const value = map[name];
  // Most lookups miss: only a hit needs the own-property check.
  return value === undefined || Object.hasOwn(map, name) ? value : undefined;
}

/**
 * Query pairs as [key, value, key, value, ...], decoded like AWS does: `+` is a space,
 * percent-escapes are decoded, a malformed escape is kept as written.
 */
export function splitQuery(raw: string): string[] {
  const out: string[] = [];
  if (raw === '') return out;
  let start = 0;
  while (start <= raw.length) {
    let end = raw.indexOf('&', start);
    if (end < 0) end = raw.length;
    if (end > start) {
      const eq = raw.indexOf('=', start);
      if (eq < 0 || eq > end) {
        out.push(decodeComponent(raw.slice(start, end)), '');
      } else {
        out.push(decodeComponent(raw.slice(start, eq)), decodeComponent(raw.slice(eq + 1, end)));
      }
    }
    start = end + 1;
  }
  return out;
}

function decodeComponent(s: string): string {
  if (s.indexOf('+') >= 0) s = s.replaceAll('+', ' ');
  if (s.indexOf('%') < 0) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
let clfSecond = -1;
let clfText = '';

/** AWS's `requestTime`/`time`: CLF in UTC, `12/Mar/2020:19:03:58 +0000`. Cached per second. */
export function clfTime(epochMs: number): string {
  const second = Math.floor(epochMs / 1000);
  if (second !== clfSecond) {
    const d = new Date(second * 1000);
    clfText =
      `${pad2(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:` +
      `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())} +0000`;
    clfSecond = second;
  }
  return clfText;
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** AWS's domainName is the host the client called; a DNS name, so without the port. */
export function domainName(host: string | undefined): string {
  if (host === undefined) return '';
  if (host.charCodeAt(0) === 91 /* '[' */) {
    const close = host.indexOf(']');
    return close < 0 ? host : host.slice(0, close + 1);
  }
  const colon = host.indexOf(':');
  return colon < 0 ? host : host.slice(0, colon);
}

/** The first label: `abc123` for `abc123.execute-api.us-east-1.amazonaws.com`. */
export function domainPrefix(domain: string): string {
  const dot = domain.indexOf('.');
  return dot < 0 ? domain : domain.slice(0, dot);
}

/** The client's address as AWS reports it (the same one per-IP throttling uses). */
export function sourceIp(ex: Exchange): string {
  return clientIp(ex);
}

/** `HTTP/1.1`, without building the string for the usual versions. */
export function protocolOf(httpVersion: string): string {
  return httpVersion === '1.1'
    ? 'HTTP/1.1'
    : httpVersion === '1.0'
      ? 'HTTP/1.0'
      : `HTTP/${httpVersion}`;
}

/**
 * The X-Forwarded-* headers AWS adds to every proxied request. Client-sent values are
 * replaced, as the http integration does, so the function sees the real peer.
 */
export function forwardedHeaders(ex: Exchange): [string, string, string, string, string, string] {
  const socket = ex.req.socket as typeof ex.req.socket & { encrypted?: boolean };
  return [
    'x-forwarded-for',
    sourceIp(ex),
    'x-forwarded-port',
    String(socket.localPort ?? ''),
    'x-forwarded-proto',
    socket.encrypted ? 'https' : 'http',
  ];
}

/** Stage variables as a fresh object (the stage's own is frozen and shared), or null when none. */
export function stageVariables(ex: Exchange): Record<string, string> | null {
  const vars = ex.stage.variables;
  for (const _ in vars) return { ...vars };
  return null;
}

// ---- response side ----

// Response headers a function may not set: hop-by-hop (RFC 9110 §7.6.1) would corrupt the
// framing Node writes, and content-length/apigw-requestid belong to the gateway.
const DROP_RESPONSE = nameSet([...HOP_BY_HOP, 'content-length', 'apigw-requestid']);

/** Lower-cases and filters a header name; null when the gateway drops it. */
export function responseHeaderName(name: string): string | null {
  const lower = name.toLowerCase();
  return DROP_RESPONSE[lower] === true ? null : lower;
}

/** A header value as AWS accepts it (JSON scalars), or null when it is not one. */
export function headerValue(value: unknown): string | null {
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
    case 'boolean':
      return String(value);
    default:
      return null;
  }
}

/** Adds or replaces a header in a flat list: the later value for a name wins. */
export function putHeader(out: string[], name: string, value: string): void {
  for (let i = 0; i < out.length; i += 2) {
    if (out[i] === name) {
      out[i + 1] = value;
      return;
    }
  }
  out.push(name, value);
}

export function hasHeader(out: readonly string[], name: string): boolean {
  for (let i = 0; i < out.length; i += 2) if (out[i] === name) return true;
  return false;
}

/**
 * A final status: 1xx are interim responses in HTTP and cannot end an exchange, so only
 * 200-599 are accepted.
 */
export function isStatusCode(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 200 && value <= 599;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * `body` of an explicit response: text as is, base64 decoded when flagged, '' when absent
 * or null; null when it is not a string (the caller reports it).
 */
export function responseBody(body: unknown, isBase64Encoded: unknown): string | Buffer | null {
  if (body === undefined || body === null) return '';
  if (typeof body !== 'string') return null;
  return isBase64Encoded === true ? Buffer.from(body, 'base64') : body;
}

/**
 * AWS HTTP APIs answer `text/plain; charset=utf-8` when an explicit response has a body
 * but no Content-Type (reported, e.g. fujiwara/ridge#9; not in AWS's docs).
 */
export const DEFAULT_CONTENT_TYPE = 'text/plain; charset=utf-8';

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string')
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}
