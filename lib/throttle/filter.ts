/**
 * The throttle filter: one token bucket per route (AWS), or per client of the route
 * (`throttle.by: ip | apiKey | claim:NAME`), over the gateway's Store. Also the rate-limit
 * response headers every traffic filter reports through.
 *
 * Response headers (on successes and on 429s of routes with any limit):
 *   x-ratelimit-limit      the bucket size (burstLimit), or the quota limit
 *   x-ratelimit-remaining  whole requests left: bucket tokens, or quota requests this period
 *   x-ratelimit-reset      seconds until the bucket is full again, or until the quota period ends
 * When several limits apply (a usage plan, a route throttle, a quota), the one with the
 * fewest requests remaining is reported, as the IETF RateLimit draft suggests.
 * A 429 also carries Retry-After (seconds, rounded up) unless the limit can never pass.
 */
import { clientIp } from '../client-ip.ts';
import { sendExchangeError } from '../error-response.ts';
import type { Exchange } from '../exchange.ts';
import type { Logger } from '../log.ts';
import type { Filter } from '../pipeline/route.ts';
import type { Clock, Store, TakeResult } from '../state/store.ts';
import { requestApiKey } from '../api-keys.ts';
import { msUntil } from './token-bucket.ts';

/** What traffic filters share: the gateway's store and clock, and the deployment's logger. */
export interface TrafficDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly logger: Logger;
}

export interface BucketLimits {
  readonly rateLimit: number;
  readonly burstLimit: number;
}

/** The per-client part of a bucket key; the filter appends it to the route's key. */
export type ClientKeyer = (ex: Exchange) => string;

/**
 * How a throttle keys its buckets: null for one bucket per route, else a keyer. A client
 * without the identity asked for (no API key, no such claim) is keyed by IP, so leaving the
 * identity out never escapes the limit.
 */
export function clientKeyer(by: string): ClientKeyer | null {
  if (by === 'route') return null;
  if (by === 'ip') return byIp;
  if (by === 'apiKey') return byApiKey;
  const claim = by.slice('claim:'.length);
  return (ex) => {
    const auth = ex.authorizer;
    const value =
      auth === null ? undefined : 'jwt' in auth ? auth.jwt.claims[claim] : auth.lambda[claim];
    return typeof value === 'string' || typeof value === 'number'
      ? `c:${value}`
      : `ip:${clientIp(ex)}`;
  };
}

function byIp(ex: Exchange): string {
  return `ip:${clientIp(ex)}`;
}

function byApiKey(ex: Exchange): string {
  const key = requestApiKey(ex);
  return key === null ? `ip:${clientIp(ex)}` : `k:${key.name}`;
}

export class ThrottleFilter implements Filter {
  readonly name = 'throttle';
  readonly #key: string;
  readonly #rate: number;
  readonly #burst: number;
  readonly #client: ClientKeyer | null;
  readonly #deps: TrafficDeps;

  /** `key` names the bucket (or, with a keyer, the prefix of each client's bucket). */
  constructor(key: string, limits: BucketLimits, client: ClientKeyer | null, deps: TrafficDeps) {
    this.#key = key;
    this.#rate = limits.rateLimit;
    this.#burst = limits.burstLimit;
    this.#client = client;
    this.#deps = deps;
  }

  run(ex: Exchange): void | Promise<void> {
    const key = this.#client === null ? this.#key : this.#key + this.#client(ex);
    return throttle(ex, this.#deps, key, this.#rate, this.#burst);
  }
}

/** Takes a token from bucket `key`: reports the limit on success, answers 429 otherwise. */
export function throttle(
  ex: Exchange,
  deps: TrafficDeps,
  key: string,
  rate: number,
  burst: number,
): void | Promise<void> {
  const result = deps.store.take(key, rate, burst, deps.clock());
  if (result instanceof Promise) {
    return result.then(
      (r) => applyTake(ex, r, rate, burst),
      (err: unknown) => storeFailed(deps.logger, ex, err),
    );
  }
  applyTake(ex, result, rate, burst);
}

function applyTake(ex: Exchange, r: TakeResult, rate: number, burst: number): void {
  const toFull = msUntil(r.remaining, burst, rate);
  const reset = toFull <= 0 ? 0 : Math.ceil(toFull / 1000);
  if (r.allowed) {
    reportLimit(ex, burst, Math.floor(r.remaining), reset);
    return;
  }
  reportLimit(ex, burst, 0, reset);
  sendExchangeError(
    ex,
    'PORTICO_THROTTLED',
    r.retryAfterMs < 0 ? null : ['retry-after', retryAfterSeconds(r.retryAfterMs)],
  );
}

/** Retry-After in whole seconds, rounded up, at least 1 (RFC 9110 §10.2.3). */
export function retryAfterSeconds(ms: number): string {
  return String(ms <= 1000 ? 1 : Math.ceil(ms / 1000));
}

/**
 * A shared store that fails must not take the API down with it: the request goes through
 * (as Kong's rate limiting with fault_tolerant) and the failure is logged.
 */
export function storeFailed(logger: Logger, ex: Exchange, err: unknown): void {
  logger.error({ requestId: ex.requestId, err }, 'traffic store failed; request let through');
}

const LIMIT = 'x-ratelimit-limit';

/**
 * Records a limit in the exchange's response headers, unless one already there has fewer
 * requests remaining. The three headers are always written together, in this order.
 */
export function reportLimit(ex: Exchange, limit: number, remaining: number, reset: number): void {
  const prev = ex.responseHeaders;
  if (prev !== null) {
    for (let i = 0; i < prev.length; i += 2) {
      if (prev[i] !== LIMIT) continue;
      if (Number(prev[i + 3]) <= remaining) return;
      // The array holding our headers was created by an earlier traffic filter of this
      // request (CORS's shared arrays never contain them), so it is ours to change.
      const own = prev as string[];
      own[i + 1] = String(limit);
      own[i + 3] = String(remaining);
      own[i + 5] = String(reset);
      return;
    }
  }
  // `responseHeaders` may be a list shared by every request (CORS): copy, never append to it.
  const out = prev === null ? [] : prev.slice();
  out.push(
    LIMIT,
    String(limit),
    'x-ratelimit-remaining',
    String(remaining),
    'x-ratelimit-reset',
    String(reset),
  );
  ex.responseHeaders = out;
}
