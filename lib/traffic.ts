/**
 * Traffic control at two lifetimes. `TrafficState` lives as long as the gateway (the store,
 * the clock, the concurrency limiters), so counters and buckets survive redeploys.
 * `TrafficControl` is built per deployment from its config (traffic-control.ts).
 *
 * Start-up time: this module imports nothing at run time. A config without throttles, API
 * keys, usage plans or concurrency limits never loads their modules (nor the in-memory
 * store); its routes get NO_TRAFFIC, which adds no filter.
 */
import type { ConcurrencyLimiters } from './concurrency.ts';
import type { GatewayConfig, RouteConfig } from './config/schema.ts';
import type { ConfigIssue } from './errors.ts';
import type { Logger } from './log.ts';
import type { Filter, Integration } from './pipeline/route.ts';
import type { Clock, Store } from './state/store.ts';

/** What compile.ts asks of a deployment's traffic control, route by route. */
export interface TrafficControl {
  /** The API key check for a route with apiKeyRequired, or null. */
  apiKeyFilter(stage: string, routeCfg: RouteConfig): Filter | null;
  /** The usage-plan throttle and quota filters for a route, or nulls. */
  planFilters(
    stage: string,
    routeKey: string,
    routeCfg: RouteConfig,
  ): { throttle: Filter | null; quota: Filter | null };
  /** The route's own throttle, or null. */
  throttleFilter(stage: string, routeKey: string, routeCfg: RouteConfig): Filter | null;
  /** The integration behind its concurrency limiter, when it has maxConcurrency. */
  limit(name: string, integration: Integration): Integration;
  /** Once the deployment is live: drops the limiters of integrations it no longer has. */
  commit(): void;
}

/** Gateway-lifetime traffic state. The store and limiters exist once a deployment needs them. */
export class TrafficState {
  readonly clock: Clock;
  #store: Store | null;
  #limiters: ConcurrencyLimiters | null = null;

  constructor(options: { store?: Store; clock?: Clock } = {}) {
    this.clock = options.clock ?? Date.now;
    this.#store = options.store ?? null;
  }

  /** The store: the one given, else an in-memory store on `clock`. After prepare(). */
  get store(): Store {
    if (this.#store === null) throw new Error('TrafficState.prepare() was not awaited');
    return this.#store;
  }

  /** The concurrency limiters, shared across deployments. After prepare(). */
  get limiters(): ConcurrencyLimiters {
    if (this.#limiters === null) throw new Error('TrafficState.prepare() was not awaited');
    return this.#limiters;
  }

  async prepare(): Promise<void> {
    if (this.#store === null) {
      const { MemoryStore } = await import('./state/memory.ts');
      this.#store ??= new MemoryStore({ now: this.clock });
    }
    if (this.#limiters === null) {
      const { ConcurrencyLimiters } = await import('./concurrency.ts');
      this.#limiters ??= new ConcurrencyLimiters();
    }
  }

  /** A deployment without limiters: an earlier one's are dropped. */
  releaseLimiters(): void {
    this.#limiters?.retain(new Set());
  }
}

/** Gateway-lifetime traffic state; an in-memory store on `clock` unless a store is given. */
export function createTrafficState(options: { store?: Store; clock?: Clock } = {}): TrafficState {
  return new TrafficState(options);
}

/**
 * The traffic control of a deployment: the real one when its config uses any of it, else
 * one that adds nothing. Problems only a deploy can see go to `issues`.
 */
export async function createTrafficControl(
  config: GatewayConfig,
  state: TrafficState,
  logger: Logger,
  issues: ConfigIssue[],
): Promise<TrafficControl> {
  if (!usesTrafficControl(config)) return noTrafficControl(state);
  await state.prepare();
  const { TrafficControl } = await import('./traffic-control.ts');
  return new TrafficControl(config, state, logger, issues);
}

function usesTrafficControl(config: GatewayConfig): boolean {
  if (config.throttle !== undefined) return true;
  if (Object.keys(config.apiKeys).length > 0 || Object.keys(config.usagePlans).length > 0)
    return true;
  if (Object.values(config.stages).some((s) => s.throttle !== undefined && s.throttle !== false))
    return true;
  if (Object.values(config.routes).some((r) => r.apiKeyRequired || (r.throttle ?? false) !== false))
    return true;
  return Object.values(config.integrations).some(
    (i) => i.type !== 'mock' && i.maxConcurrency !== undefined,
  );
}

function noTrafficControl(state: TrafficState): TrafficControl {
  return {
    apiKeyFilter: () => null,
    planFilters: () => ({ throttle: null, quota: null }),
    throttleFilter: () => null,
    limit: (_name, integration) => integration,
    commit: () => state.releaseLimiters(),
  };
}
