/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/): a valid incoming `traceparent`
 * is forwarded unchanged (the gateway does not record spans, which the spec allows); a
 * missing or invalid one is replaced by a new trace, so HTTP upstreams and function events
 * always see one. IDs come from a per-process random prefix plus a counter, like request IDs,
 * so the CSPRNG is not called per request.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

const HEX = '0123456789abcdef';
// 16 random hex digits per process; the trace ID's other half counts up.
const TRACE_PREFIX = randomBytes(8).toString('hex');
let counter = randomBytes(4).readUInt32BE(0);

function hex8(n: number): string {
  let s = '';
  for (let i = 28; i >= 0; i -= 4) s += HEX[(n >>> i) & 15]!;
  return s;
}

/** A new `traceparent`: version 00, a fresh trace ID and parent ID, sampled. */
export function newTraceparent(): string {
  counter = (counter + 1) >>> 0;
  const c = hex8(counter);
  // The span ID mixes the counter with the time so two processes rarely collide.
  const span = hex8((Date.now() ^ Math.imul(counter, 0x9e3779b1)) >>> 0);
  return `00-${TRACE_PREFIX}${hex8(counter ^ 0x5bd1e995)}${c}-${c}${span}-01`;
}

/** 1 when s[from, to) is lower-case hex and not all zeros, 0 when all zeros, -1 when not hex. */
function lowerHex(s: string, from: number, to: number): number {
  let nonZero = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c > 48 && c <= 57) nonZero = 1;
    else if (c >= 97 && c <= 102) nonZero = 1;
    else if (c !== 48) return -1;
  }
  return nonZero;
}

/**
 * Whether a `traceparent` value is valid: version 00 exactly 55 characters; a later version
 * at least 55 with a '-' after the flags (forward compatible); `ff` never; IDs not all zero.
 */
export function isValidTraceparent(v: string): boolean {
  if (v.length < 55 || v.charCodeAt(2) !== 45 || v.charCodeAt(35) !== 45 || v.charCodeAt(52) !== 45)
    return false;
  if (lowerHex(v, 0, 2) < 0 || (v.charCodeAt(0) === 102 && v.charCodeAt(1) === 102)) return false;
  const v00 = v.charCodeAt(0) === 48 && v.charCodeAt(1) === 48;
  if (v00 ? v.length !== 55 : v.length > 55 && v.charCodeAt(55) !== 45) return false;
  return lowerHex(v, 3, 35) === 1 && lowerHex(v, 36, 52) === 1 && lowerHex(v, 53, 55) >= 0;
}

/**
 * Makes sure the request carries a valid `traceparent`, in both `headers` (what the http
 * integration forwards) and `rawHeaders` (what Lambda events are built from). Returns the
 * value in effect. An invalid one is replaced and its `tracestate` dropped, as the spec asks.
 */
export function ensureTraceparent(req: IncomingMessage): string {
  const current = req.headers.traceparent;
  if (typeof current === 'string' && isValidTraceparent(current)) return current;
  const value = newTraceparent();
  const raw = req.rawHeaders;
  for (let i = raw.length - 2; i >= 0; i -= 2) {
    const name = raw[i]!.toLowerCase();
    if (name === 'traceparent' || name === 'tracestate') raw.splice(i, 2);
  }
  raw.push('traceparent', value);
  req.headers.traceparent = value;
  delete req.headers.tracestate;
  return value;
}
