/**
 * Token-bucket arithmetic (AWS throttling: `rateLimit` refills, `burstLimit` is the size),
 * kept apart from any store so the in-memory store and a future Redis script compute the
 * same thing. A bucket is `{tokens, updatedAtMs}`; it refills continuously.
 */

// Float refills of fractional rates land a hair under a whole token (0.1 * 10 = 0.999…).
const EPSILON = 1e-9;

export interface Bucket {
  tokens: number;
  updatedAtMs: number;
  /** When it will be full again (ms since epoch); Infinity when it never refills. */
  fullAtMs: number;
}

/** Tokens in a bucket at `nowMs`. A clock that went backwards refills nothing. */
export function tokensAt(bucket: Bucket, ratePerSec: number, burst: number, nowMs: number): number {
  const elapsed = nowMs - bucket.updatedAtMs;
  if (elapsed <= 0) return bucket.tokens;
  const tokens = bucket.tokens + (elapsed * ratePerSec) / 1000;
  return tokens < burst ? tokens : burst;
}

/** Whether `tokens` covers `cost`, allowing for float error. */
export function covers(tokens: number, cost: number): boolean {
  return tokens + EPSILON >= cost;
}

/** Milliseconds until `tokens` grows to `needed`: 0 if it is there, -1 if it never will be. */
export function msUntil(tokens: number, needed: number, ratePerSec: number): number {
  if (covers(tokens, needed)) return 0;
  if (ratePerSec <= 0) return -1;
  return Math.ceil(((needed - tokens) * 1000) / ratePerSec - EPSILON);
}

/** Sets a bucket's state after a take at `nowMs` left it with `tokens`. */
export function settle(
  bucket: Bucket,
  tokens: number,
  ratePerSec: number,
  burst: number,
  nowMs: number,
): void {
  bucket.tokens = tokens;
  if (nowMs > bucket.updatedAtMs) bucket.updatedAtMs = nowMs;
  const toFull = msUntil(tokens, burst, ratePerSec);
  bucket.fullAtMs = toFull < 0 ? Infinity : bucket.updatedAtMs + toFull;
}
