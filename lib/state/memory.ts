/**
 * The in-memory Store: one process, synchronous, no promise allocated per call.
 *
 * Memory stays bounded with many distinct clients. A bucket that has refilled to full is
 * equivalent to no bucket, and a counter whose period is over is equivalent to none, so a
 * sweep drops both. Sweeps run inside calls (no timer): when the injected clock has moved
 * `sweepIntervalMs` past the last one, or when the entries exceed `maxEntries`. If a sweep
 * cannot get back under 90% of `maxEntries` because that many clients are all being limited
 * at once, the oldest buckets are evicted (those clients get a fresh burst; `evicted` counts
 * them). Counters are never evicted: there is one per configured API key and plan, not per client.
 */
import type { Clock, CounterResult, Store, TakeResult } from './store.ts';
import { covers, msUntil, settle, tokensAt, type Bucket } from '../throttle/token-bucket.ts';

export interface MemoryStoreOptions {
  /** The clock sweeps use for counters (buckets use the `nowMs` of each take). Default Date.now. */
  readonly now?: Clock;
  /** Entries (buckets and counters) above which a sweep runs at once. Default 100,000. */
  readonly maxEntries?: number;
  /** Time between sweeps while calls keep coming. Default 10 s. */
  readonly sweepIntervalMs?: number;
}

interface Counter {
  count: number;
  resetAtMs: number;
}

export class MemoryStore implements Store {
  readonly #buckets = new Map<string, Bucket>();
  readonly #counters = new Map<string, Counter>();
  readonly #now: Clock;
  readonly #maxEntries: number;
  readonly #sweepIntervalMs: number;
  #nextSweepAtMs = -Infinity;
  #evicted = 0;

  constructor(options: MemoryStoreOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#maxEntries = options.maxEntries ?? 100_000;
    this.#sweepIntervalMs = options.sweepIntervalMs ?? 10_000;
  }

  take(key: string, ratePerSec: number, burst: number, nowMs: number, cost = 1): TakeResult {
    if (nowMs >= this.#nextSweepAtMs) this.sweep(nowMs);
    let bucket = this.#buckets.get(key);
    const tokens = bucket === undefined ? burst : tokensAt(bucket, ratePerSec, burst, nowMs);
    if (!covers(tokens, cost)) {
      // A refusal changes nothing, so an unseen bucket is not created for it.
      const retryAfterMs = cost > burst ? -1 : msUntil(tokens, cost, ratePerSec);
      return { allowed: false, remaining: tokens, retryAfterMs };
    }
    const left = tokens - cost;
    if (bucket === undefined) {
      // Taking nothing from a full bucket leaves it full, i.e. absent.
      if (cost <= 0) return { allowed: true, remaining: tokens, retryAfterMs: 0 };
      bucket = { tokens: left, updatedAtMs: nowMs, fullAtMs: 0 };
      settle(bucket, left, ratePerSec, burst, nowMs);
      this.#buckets.set(key, bucket);
      if (this.#buckets.size + this.#counters.size > this.#maxEntries) this.sweep(nowMs);
    } else {
      settle(bucket, left, ratePerSec, burst, nowMs);
    }
    return { allowed: true, remaining: left, retryAfterMs: 0 };
  }

  increment(key: string, periodEndMs: number, by = 1): CounterResult {
    const now = this.#now();
    if (now >= this.#nextSweepAtMs) this.sweep(now);
    let counter = this.#counters.get(key);
    if (counter === undefined) {
      counter = { count: 0, resetAtMs: periodEndMs };
      this.#counters.set(key, counter);
    } else if (counter.resetAtMs < periodEndMs) {
      // A later period; an earlier `periodEndMs` (a clock behind ours) keeps counting this one.
      counter.count = 0;
      counter.resetAtMs = periodEndMs;
    }
    counter.count += by;
    return { count: counter.count, resetAtMs: counter.resetAtMs };
  }

  /** Drops full buckets and finished counters; evicts the oldest buckets if still too many. */
  sweep(nowMs: number = this.#now()): void {
    this.#nextSweepAtMs = nowMs + this.#sweepIntervalMs;
    for (const [key, bucket] of this.#buckets) {
      if (bucket.fullAtMs <= nowMs) this.#buckets.delete(key);
    }
    for (const [key, counter] of this.#counters) {
      if (counter.resetAtMs <= nowMs) this.#counters.delete(key);
    }
    const low = Math.floor(this.#maxEntries * 0.9);
    let excess = this.#buckets.size + this.#counters.size - low;
    if (excess <= 0) return;
    // Map iteration is insertion order: the first keys are the longest-lived buckets.
    for (const key of this.#buckets.keys()) {
      if (excess-- <= 0) break;
      this.#buckets.delete(key);
      this.#evicted++;
    }
  }

  /** Entry counts, for tests and metrics. */
  get stats(): { buckets: number; counters: number; evicted: number } {
    return { buckets: this.#buckets.size, counters: this.#counters.size, evicted: this.#evicted };
  }

  close(): void {
    this.#buckets.clear();
    this.#counters.clear();
  }
}
