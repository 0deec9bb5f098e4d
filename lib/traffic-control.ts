/**
 * A deployment's traffic control: built from its config on the gateway's `TrafficState`,
 * it hands compile.ts the API key, usage-plan, throttle and concurrency filters of each
 * route; compile.ts alone decides their order. Loaded (with everything it imports) only
 * for a config that uses one of them: see traffic.ts.
 */
import { ApiKeyFilter, ApiKeyTable } from './api-keys.ts';
import { LimitedIntegration, type ConcurrencyLimiter } from './concurrency.ts';
import type { GatewayConfig, RouteConfig, ThrottleConfig } from './config/schema.ts';
import type { ConfigIssue } from './errors.ts';
import type { Logger } from './log.ts';
import type { Filter, Integration } from './pipeline/route.ts';
import type { TrafficControl as Control, TrafficState } from './traffic.ts';
import { ThrottleFilter, clientKeyer, type TrafficDeps } from './throttle/filter.ts';
import { PlanThrottleFilter, QuotaFilter, UsagePlans } from './usage-plans.ts';

export class TrafficControl implements Control {
  readonly #config: GatewayConfig;
  readonly #state: TrafficState;
  readonly #deps: TrafficDeps;
  readonly #keys: ApiKeyTable;
  readonly #plans: UsagePlans;
  readonly #keyFilters = new Map<string, ApiKeyFilter>();
  readonly #limiters = new Set<ConcurrencyLimiter>();

  /** Problems only a deploy can see (unset key variables, duplicate keys) go to `issues`. */
  constructor(
    config: GatewayConfig,
    state: TrafficState,
    logger: Logger,
    issues: ConfigIssue[],
    env: NodeJS.ProcessEnv = process.env,
  ) {
    this.#config = config;
    this.#state = state;
    this.#deps = { store: state.store, clock: state.clock, logger };
    this.#keys = new ApiKeyTable(config.apiKeys, env, issues);
    this.#plans = new UsagePlans(config, this.#keys);
  }

  /** The API key check for a route with apiKeyRequired, or null. One per stage, shared. */
  apiKeyFilter(stage: string, routeCfg: RouteConfig): Filter | null {
    if (!routeCfg.apiKeyRequired) return null;
    let filter = this.#keyFilters.get(stage);
    if (filter === undefined) {
      filter = new ApiKeyFilter(
        this.#keys,
        this.#config.apiKeySource,
        this.#config.apiKeyHeader,
        this.#plans.admitted(stage),
      );
      this.#keyFilters.set(stage, filter);
    }
    return filter;
  }

  /** The usage-plan throttle and quota filters for a route, or nulls. */
  planFilters(
    stage: string,
    routeKey: string,
    routeCfg: RouteConfig,
  ): { throttle: Filter | null; quota: Filter | null } {
    const limits = routeCfg.apiKeyRequired ? this.#plans.limits(stage, routeKey) : null;
    if (limits === null) return { throttle: null, quota: null };
    let throttle = false;
    let quota = false;
    for (const l of limits.values()) {
      throttle ||= l.throttle !== null;
      quota ||= l.quota !== null;
    }
    return {
      throttle: throttle ? new PlanThrottleFilter(limits, this.#deps) : null,
      quota: quota ? new QuotaFilter(limits, this.#deps) : null,
    };
  }

  /**
   * The route's own throttle: the route's block, else the stage's, else the top level
   * (`false` at the route or stage turns it off). The bucket is per stage and route, and
   * its key embeds the limits, so a redeploy with the same limits keeps the bucket.
   */
  throttleFilter(stage: string, routeKey: string, routeCfg: RouteConfig): Filter | null {
    const cfg: ThrottleConfig | false | undefined =
      routeCfg.throttle ?? this.#config.stages[stage]?.throttle ?? this.#config.throttle;
    if (cfg === undefined || cfg === false) return null;
    const key = `t|${stage}|${routeKey}|${cfg.rateLimit}|${cfg.burstLimit}|${cfg.by}|`;
    return new ThrottleFilter(key, cfg, clientKeyer(cfg.by), this.#deps);
  }

  /** The integration behind its concurrency limiter, when it has maxConcurrency. */
  limit(name: string, integration: Integration): Integration {
    const cfg = this.#config.integrations[name];
    if (cfg === undefined || cfg.type === 'mock' || cfg.maxConcurrency === undefined)
      return integration;
    const limiter = this.#state.limiters.get(name, cfg.maxConcurrency, cfg.maxQueue ?? 0);
    this.#limiters.add(limiter);
    return new LimitedIntegration(integration, limiter);
  }

  /** Once the deployment is live: drops the limiters of integrations it no longer has. */
  commit(): void {
    this.#state.limiters.retain(this.#limiters);
  }
}
