/**
 * The state behind traffic control: token buckets (throttling) and period counters (quotas).
 * Two atomic operations, each a single round trip, so the same callers run on the in-memory
 * store (state/memory.ts) and on a shared store such as Redis (one Lua script per operation).
 *
 * Callers pass every parameter a store needs on each call (rate, burst, the current time,
 * the period end) and embed the limit parameters in the key. A store therefore keeps no
 * configuration: a redeploy with the same limits finds the same counters, and changed limits
 * start fresh ones, while the old ones expire on their own.
 */

/** A value, or a native Promise of it: the sync case allocates no promise. */
export type MaybePromise<T> = T | Promise<T>;

/** Milliseconds since the Unix epoch (wall clock: quota periods are UTC calendar periods). */
export type Clock = () => number;

export interface TakeResult {
  /** Whether the tokens were taken. A refused take leaves the bucket as it was. */
  readonly allowed: boolean;
  /** Tokens left after this call; fractional (a bucket refills continuously). */
  readonly remaining: number;
  /**
   * When refused: milliseconds until `cost` tokens will be there (> 0), or -1 when they never
   * will (rate 0, or `cost` above the burst). 0 when allowed.
   */
  readonly retryAfterMs: number;
}

export interface CounterResult {
  /** The count in the current period, this increment included. */
  readonly count: number;
  /** When the period ends (ms since epoch): the `periodEndMs` the counter was started with. */
  readonly resetAtMs: number;
}

/**
 * Implementations must make each operation atomic with respect to concurrent callers
 * (a Redis implementation: one EVALSHA per call). Methods must not throw synchronously;
 * an async store reports failure by rejecting, and callers then let the request through.
 */
export interface Store {
  /**
   * Token bucket `key` holds up to `burst` tokens and refills at `ratePerSec` tokens per
   * second (fractions allowed); a bucket never seen starts full. Takes `cost` (default 1)
   * tokens if there are that many at `nowMs`.
   *
   * A bucket that has refilled to `burst` is equivalent to no bucket, so a store may drop it:
   * Redis: `PEXPIRE key ceil((burst - tokens) / ratePerSec * 1000)` after each write, storing
   * `{tokens, updatedAtMs}` in a hash.
   */
  take(
    key: string,
    ratePerSec: number,
    burst: number,
    nowMs: number,
    cost?: number,
  ): MaybePromise<TakeResult>;

  /**
   * Adds `by` (default 1) to counter `key` for the period that ends at `periodEndMs`.
   * A counter whose stored period ended before `periodEndMs` restarts from zero; the store
   * may drop a counter once its period is over (Redis: `INCRBY` then `PEXPIREAT key
   * periodEndMs` when the count equals `by`, i.e. the counter is new).
   */
  increment(key: string, periodEndMs: number, by?: number): MaybePromise<CounterResult>;

  /** Releases connections or memory when the gateway closes. */
  close?(): void | Promise<void>;
}
