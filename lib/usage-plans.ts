/**
 * Usage plans (AWS REST API): per API key, a throttle and a quota on the routes that require
 * a key, on the plan's stages. A plan's throttle and quota are shared by all its stages and
 * routes (AWS aggregates them across the plan's API stages); a per-route throttle in
 * `routes` replaces the plan throttle on that route, per stage.
 */
import type { ApiKey, ApiKeyTable } from './api-keys.ts';
import { requestApiKey } from './api-keys.ts';
import type { GatewayConfig, QuotaConfig } from './config/schema.ts';
import { sendExchangeError } from './error-response.ts';
import type { Exchange } from './exchange.ts';
import type { Filter } from './pipeline/route.ts';
import type { CounterResult } from './state/store.ts';
import {
  reportLimit,
  retryAfterSeconds,
  storeFailed,
  throttle,
  type BucketLimits,
  type TrafficDeps,
} from './throttle/filter.ts';

const DAY_MS = 86_400_000;

export type QuotaPeriod = QuotaConfig['period'];

/**
 * The start (ms since epoch) of the quota period containing `nowMs`. Periods are UTC
 * calendar periods, as AWS resets quotas.
 *
 * `offset` is the day a period starts: WEEK 0 = Sunday … 6 = Saturday; MONTH 0 = the 1st …
 * 27 = the 28th (every month has one); DAY only 0. This is how AWS's SDK and CloudFormation
 * docs describe `QuotaSettings.Offset` ("with a time period of WEEK, an offset of 0 starts on
 * Sunday, and an offset of 1 starts on Monday"). The current API reference instead calls it
 * "the number of requests subtracted from the given limit in the initial time period"; we
 * follow the calendar meaning, which is what users configure plans with.
 */
export function quotaPeriodStart(nowMs: number, period: QuotaPeriod, offset: number): number {
  const day = Math.floor(nowMs / DAY_MS);
  if (period === 'DAY') return day * DAY_MS;
  if (period === 'WEEK') {
    const weekday = (day + 4) % 7; // 1970-01-01 was a Thursday
    return (day - ((weekday - offset + 7) % 7)) * DAY_MS;
  }
  const d = new Date(nowMs);
  const month = d.getUTCDate() - 1 >= offset ? d.getUTCMonth() : d.getUTCMonth() - 1;
  return Date.UTC(d.getUTCFullYear(), month, offset + 1);
}

/** The end (exclusive) of the quota period that starts at `startMs`. */
export function quotaPeriodEnd(startMs: number, period: QuotaPeriod, offset: number): number {
  if (period === 'DAY') return startMs + DAY_MS;
  if (period === 'WEEK') return startMs + 7 * DAY_MS;
  const d = new Date(startMs);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, offset + 1);
}

/** A plan's quota; remembers the current period so a request computes no dates. */
export class Quota {
  readonly limit: number;
  readonly period: QuotaPeriod;
  readonly offset: number;
  /** Counter key prefix; the API key's name completes it. */
  readonly key: string;
  #startMs = 0;
  #endMs = 0;

  constructor(plan: string, cfg: QuotaConfig) {
    this.limit = cfg.limit;
    this.period = cfg.period;
    this.offset = cfg.offset;
    this.key = `q|${plan}|${cfg.limit}|${cfg.period}|${cfg.offset}|`;
  }

  /** The end of the period containing `nowMs`. */
  periodEnd(nowMs: number): number {
    if (nowMs < this.#startMs || nowMs >= this.#endMs) {
      this.#startMs = quotaPeriodStart(nowMs, this.period, this.offset);
      this.#endMs = quotaPeriodEnd(this.#startMs, this.period, this.offset);
    }
    return this.#endMs;
  }
}

/** What one plan imposes on one route of one stage. */
export interface PlanLimits {
  readonly plan: string;
  /** The bucket key prefix (the API key's name completes it) and its limits, or null. */
  readonly throttle: (BucketLimits & { readonly key: string }) | null;
  readonly quota: Quota | null;
}

interface StagePlans {
  readonly admitted: Set<ApiKey>;
  readonly planOf: Map<ApiKey, string>;
}

export class UsagePlans {
  readonly #config: GatewayConfig['usagePlans'];
  readonly #stages = new Map<string, StagePlans>();
  readonly #quotas = new Map<string, Quota>();
  readonly #limits = new Map<string, PlanLimits>();

  constructor(config: GatewayConfig, keys: ApiKeyTable) {
    this.#config = config.usagePlans;
    for (const [name, plan] of Object.entries(config.usagePlans)) {
      if (plan.quota !== undefined) this.#quotas.set(name, new Quota(name, plan.quota));
      for (const stage of plan.stages ?? Object.keys(config.stages)) {
        let s = this.#stages.get(stage);
        if (s === undefined)
          this.#stages.set(stage, (s = { admitted: new Set(), planOf: new Map() }));
        for (const keyName of plan.apiKeys) {
          const key = keys.byName(keyName);
          if (key === null) continue; // reported by the key table
          s.admitted.add(key);
          s.planOf.set(key, name);
        }
      }
    }
  }

  /** The keys admitted on a stage, or null when no plan covers it (any enabled key is). */
  admitted(stage: string): ReadonlySet<ApiKey> | null {
    return this.#stages.get(stage)?.admitted ?? null;
  }

  /** Each key's plan limits on a route of a stage, or null when no plan limits anything there. */
  limits(stage: string, routeKey: string): ReadonlyMap<ApiKey, PlanLimits> | null {
    const s = this.#stages.get(stage);
    if (s === undefined) return null;
    const out = new Map<ApiKey, PlanLimits>();
    for (const [key, plan] of s.planOf) {
      const limits = this.#planLimits(plan, stage, routeKey);
      if (limits.throttle !== null || limits.quota !== null) out.set(key, limits);
    }
    return out.size > 0 ? out : null;
  }

  /** One object per plan, stage and route, shared by the plan's keys. */
  #planLimits(plan: string, stage: string, routeKey: string): PlanLimits {
    const id = `${plan}\0${stage}\0${routeKey}`;
    let limits = this.#limits.get(id);
    if (limits !== undefined) return limits;
    const cfg = this.#config[plan]!;
    const own = cfg.routes?.[routeKey]?.throttle;
    const t = own ?? cfg.throttle;
    // A route's throttle is per stage (AWS method throttling); the plan's spans its stages.
    const scope = own === undefined ? '*' : `${stage}|${routeKey}`;
    limits = {
      plan,
      throttle:
        t === undefined
          ? null
          : { ...t, key: `p|${plan}|${scope}|${t.rateLimit}|${t.burstLimit}|` },
      quota: this.#quotas.get(plan) ?? null,
    };
    this.#limits.set(id, limits);
    return limits;
  }
}

/** The usage plan's throttle for the exchange's API key (429 Too Many Requests). */
export class PlanThrottleFilter implements Filter {
  readonly name = 'usagePlanThrottle';
  readonly #limits: ReadonlyMap<ApiKey, PlanLimits>;
  readonly #deps: TrafficDeps;

  constructor(limits: ReadonlyMap<ApiKey, PlanLimits>, deps: TrafficDeps) {
    this.#limits = limits;
    this.#deps = deps;
  }

  run(ex: Exchange): void | Promise<void> {
    const key = requestApiKey(ex);
    const t = key === null ? null : (this.#limits.get(key)?.throttle ?? null);
    if (t === null) return;
    return throttle(ex, this.#deps, t.key + key!.name, t.rateLimit, t.burstLimit);
  }
}

/** The usage plan's quota for the exchange's API key (429 Limit Exceeded). */
export class QuotaFilter implements Filter {
  readonly name = 'usagePlanQuota';
  readonly #limits: ReadonlyMap<ApiKey, PlanLimits>;
  readonly #deps: TrafficDeps;

  constructor(limits: ReadonlyMap<ApiKey, PlanLimits>, deps: TrafficDeps) {
    this.#limits = limits;
    this.#deps = deps;
  }

  run(ex: Exchange): void | Promise<void> {
    const key = requestApiKey(ex);
    const quota = key === null ? null : (this.#limits.get(key)?.quota ?? null);
    if (quota === null) return;
    const now = this.#deps.clock();
    const result = this.#deps.store.increment(quota.key + key!.name, quota.periodEnd(now));
    if (result instanceof Promise) {
      return result.then(
        (r) => applyCount(ex, quota, r, now),
        (err: unknown) => storeFailed(this.#deps.logger, ex, err),
      );
    }
    applyCount(ex, quota, result, now);
  }
}

function applyCount(ex: Exchange, quota: Quota, r: CounterResult, nowMs: number): void {
  const resetMs = r.resetAtMs - nowMs;
  const reset = resetMs <= 0 ? 0 : Math.ceil(resetMs / 1000);
  if (r.count <= quota.limit) {
    reportLimit(ex, quota.limit, quota.limit - r.count, reset);
    return;
  }
  reportLimit(ex, quota.limit, 0, reset);
  sendExchangeError(ex, 'PORTICO_QUOTA_EXCEEDED', ['retry-after', retryAfterSeconds(resetMs)]);
}
