/**
 * Per-route request statistics, kept as plain typed arrays so that recording a request is a
 * handful of increments: totals (what /metrics exposes) and a ring of one-second slots over
 * the last RING_SECONDS (what the live view shows). Latencies go into fixed buckets, shared by
 * the Prometheus histograms and the live view's percentiles, so memory is bounded per route.
 * Stats are keyed by stage and route key, so they survive a redeploy of the same route.
 */
import type { RequestRecord } from './record.ts';

/** Upper bounds of the latency buckets, in milliseconds (the last bucket is +Inf). */
export const BUCKETS_MS: readonly number[] = [
  0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000,
];
const NB = BUCKETS_MS.length + 1;
export const RING_SECONDS = 300;

export const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'OTHER'];
export const UPSTREAM_KINDS = ['timeout', 'unreachable', 'error'] as const;

function methodIndex(m: string | undefined): number {
  switch (m) {
    case 'GET':
      return 0;
    case 'POST':
      return 1;
    case 'PUT':
      return 2;
    case 'DELETE':
      return 3;
    case 'PATCH':
      return 4;
    case 'HEAD':
      return 5;
    case 'OPTIONS':
      return 6;
    default:
      return 7;
  }
}

export function bucketOf(ms: number): number {
  let i = 0;
  while (i < NB - 1 && ms > BUCKETS_MS[i]!) i++;
  return i;
}

/** A latency histogram: per-bucket counts (not cumulative), sum and count. */
export class Histogram {
  readonly counts = new Float64Array(NB);
  sum = 0;
  count = 0;

  observe(ms: number): void {
    this.counts[bucketOf(ms)]!++;
    this.sum += ms;
    this.count++;
  }
}

export class RouteStats {
  readonly stage: string;
  readonly routeKey: string;
  readonly integration: string;
  /** [method][status class 0..5 for 0xx (no response) .. 5xx]. */
  readonly requests = new Float64Array(METHODS.length * 6);
  readonly latency = new Histogram();
  readonly integrationLatency = new Histogram();
  throttled = 0;
  quotaExceeded = 0;
  unauthorized = 0;
  readonly upstreamErrors = new Float64Array(UPSTREAM_KINDS.length);
  // The ring: slot = second % RING_SECONDS; a slot is reset when a new second claims it.
  readonly slotSecond = new Float64Array(RING_SECONDS).fill(-1);
  readonly slotCount = new Uint32Array(RING_SECONDS);
  readonly slot4xx = new Uint32Array(RING_SECONDS);
  readonly slot5xx = new Uint32Array(RING_SECONDS);
  readonly slotBuckets = new Uint32Array(RING_SECONDS * NB);

  constructor(stage: string, routeKey: string, integration: string) {
    this.stage = stage;
    this.routeKey = routeKey;
    this.integration = integration;
  }

  record(r: RequestRecord): void {
    const status = r.status;
    const cls = status >= 100 && status < 600 ? (status / 100) | 0 : 0;
    this.requests[methodIndex(r.req.method) * 6 + cls]!++;
    const latency = r.latencyMs;
    this.latency.observe(latency);
    const il = r.integrationLatencyMs;
    if (il >= 0) this.integrationLatency.observe(il);
    const code = r.ex?.errorCode ?? null;
    if (code !== null) {
      switch (code) {
        case 'PORTICO_THROTTLED':
          this.throttled++;
          break;
        case 'PORTICO_QUOTA_EXCEEDED':
          this.quotaExceeded++;
          break;
        case 'PORTICO_UNAUTHORIZED':
        case 'PORTICO_FORBIDDEN':
        case 'PORTICO_API_KEY_INVALID':
          this.unauthorized++;
          break;
        case 'PORTICO_UPSTREAM_TIMEOUT':
          this.upstreamErrors[0]!++;
          break;
        case 'PORTICO_UPSTREAM_UNREACHABLE':
          this.upstreamErrors[1]!++;
          break;
        case 'PORTICO_UPSTREAM_ERROR':
          this.upstreamErrors[2]!++;
          break;
      }
    }
    const second = Math.floor((r.startTime + latency) / 1000);
    const slot = second % RING_SECONDS;
    if (this.slotSecond[slot] !== second) {
      this.slotSecond[slot] = second;
      this.slotCount[slot] = 0;
      this.slot4xx[slot] = 0;
      this.slot5xx[slot] = 0;
      this.slotBuckets.fill(0, slot * NB, slot * NB + NB);
    }
    this.slotCount[slot]!++;
    if (cls === 4) this.slot4xx[slot]!++;
    else if (cls === 5) this.slot5xx[slot]!++;
    this.slotBuckets[slot * NB + bucketOf(latency)]!++;
  }

  /** The live view's numbers over the `window` seconds up to `nowSecond` (inclusive). */
  summary(nowSecond: number, window: number): RouteSummaryView {
    const buckets = new Float64Array(NB);
    const series: number[] = [];
    let count = 0;
    let e4 = 0;
    let e5 = 0;
    for (let s = nowSecond - window + 1; s <= nowSecond; s++) {
      const slot = ((s % RING_SECONDS) + RING_SECONDS) % RING_SECONDS;
      if (this.slotSecond[slot] !== s) {
        series.push(0);
        continue;
      }
      const c = this.slotCount[slot]!;
      series.push(c);
      count += c;
      e4 += this.slot4xx[slot]!;
      e5 += this.slot5xx[slot]!;
      for (let b = 0; b < NB; b++) buckets[b]! += this.slotBuckets[slot * NB + b]!;
    }
    return {
      stage: this.stage,
      routeKey: this.routeKey,
      integration: this.integration,
      count,
      rps: count / window,
      errorRate4xx: count === 0 ? 0 : e4 / count,
      errorRate5xx: count === 0 ? 0 : e5 / count,
      p50: percentile(buckets, count, 0.5),
      p99: percentile(buckets, count, 0.99),
      series,
    };
  }
}

export interface RouteSummaryView {
  readonly stage: string;
  readonly routeKey: string;
  readonly integration: string;
  readonly count: number;
  readonly rps: number;
  readonly errorRate4xx: number;
  readonly errorRate5xx: number;
  /** Milliseconds, interpolated within the bucket; null without requests. */
  readonly p50: number | null;
  readonly p99: number | null;
  /** Requests per second, oldest first. */
  readonly series: number[];
}

/** The q-quantile of a bucketed distribution, linearly interpolated inside its bucket. */
export function percentile(buckets: ArrayLike<number>, count: number, q: number): number | null {
  if (count === 0) return null;
  const rank = q * count;
  let seen = 0;
  for (let b = 0; b < NB; b++) {
    const c = buckets[b]!;
    if (c > 0 && seen + c >= rank) {
      const lo = b === 0 ? 0 : BUCKETS_MS[b - 1]!;
      // The +Inf bucket has no upper edge: report its lower one.
      if (b === NB - 1) return lo;
      return lo + (BUCKETS_MS[b]! - lo) * ((rank - seen) / c);
    }
    seen += c;
  }
  return BUCKETS_MS[BUCKETS_MS.length - 1]!;
}

/** All routes' stats; entries persist across deploys (keyed by stage and route key). */
export class StatsBook {
  readonly #byKey = new Map<string, RouteStats>();
  /** The routes of the live deployment, in config order (the live view's rows). */
  live: RouteStats[] = [];

  get(stage: string, routeKey: string, integration: string): RouteStats {
    const key = `${stage}\u0000${routeKey}`;
    let s = this.#byKey.get(key);
    if (s === undefined) this.#byKey.set(key, (s = new RouteStats(stage, routeKey, integration)));
    return s;
  }

  all(): IterableIterator<RouteStats> {
    return this.#byKey.values();
  }
}
