/**
 * Header name sets shared by the integrations and authorizers: hop-by-hop headers
 * (RFC 9110 §7.6.1), and the headers the gateway itself owns on upstream requests.
 */

/** Connection-scoped headers: never forwarded in either direction. */
export const HOP_BY_HOP: readonly string[] = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
];

/**
 * Headers an authorizer mapping (claimsToHeaders, contextToHeaders) may not set: framing,
 * routing, hop-by-hop, and the X-Forwarded-* / Forwarded headers the gateway writes.
 */
export const GATEWAY_OWNED_REQUEST_HEADERS: ReadonlySet<string> = new Set([
  ...HOP_BY_HOP,
  'host',
  'content-length',
  'expect',
  'proxy-authorization',
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-forwarded-port',
]);

/** A prototype-less lookup table: safe to index with client-chosen names. */
export function nameSet(names: Iterable<string>): Record<string, true | undefined> {
  const set = Object.create(null) as Record<string, true | undefined>;
  for (const n of names) set[n] = true;
  return set;
}

/**
 * A string as a header value: with control characters it cannot be sent (null); other
 * non-ASCII text goes as its UTF-8 bytes, as proxies conventionally do.
 */
export function toHeaderValue(s: string): string | null {
  let ascii = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return null;
    if (c > 0x7e) ascii = false;
  }
  return ascii ? s : Buffer.from(s, 'utf8').toString('latin1');
}

/**
 * How many Host lines a request has. RFC 9112 §3.2: an HTTP/1.1 request needs exactly one;
 * with two, Node keeps the first while a server behind might use the last.
 */
export function hostLines(rawHeaders: readonly string[]): number {
  let n = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (name.length === 4 && (name === 'Host' || name === 'host' || name.toLowerCase() === 'host'))
      n++;
  }
  return n;
}
