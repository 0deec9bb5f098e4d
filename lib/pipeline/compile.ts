/**
 * Compiles one route of one stage into its chain. This is the only place the order of
 * filters is decided (Envoy's model: a fixed chain per route that ends in the integration):
 *
 *   CORS → authorizer → API key → usage-plan throttle → route throttle → usage-plan quota
 *        → integration (behind its concurrency limiter)
 *
 * CORS runs first so that preflights never need a token and error replies from later
 * filters still carry the CORS headers a browser needs to read them.
 *
 * Traffic control comes after the authorizer: an AUTHORIZER-sourced API key and `claim:`
 * throttle keys need its result, and unauthenticated floods are then refused without
 * touching the store. Within it, cheapest and most specific first:
 * - The API key check is local (no store) and decides which plan applies.
 * - The plan's per-key bucket runs before the route's bucket, so a client over its own
 *   limit is refused before it takes a token that other clients share.
 * - The quota is counted last, so a request refused by any throttle never spends quota:
 *   the quota counts requests the integration was asked to serve (bar a 503 from a full
 *   concurrency queue, which is the upstream's state, not the client's doing).
 */
import type { CorsConfig, RouteConfig } from '../config/schema.ts';
import { CorsFilter, type CorsPolicy } from '../cors.ts';
import type { Authorizer } from '../authorizers/authorizer.ts';
import { AuthorizeFilter } from '../authorizers/filter.ts';
import type { RouteKey } from '../route-key.ts';
import type { TrafficControl } from '../traffic.ts';
import type { CompiledRoute, Filter, Integration } from './route.ts';

export interface CompileContext {
  /** CORS policies, one per distinct config block (compiled once, shared by routes). */
  corsPolicy(cfg: CorsConfig): CorsPolicy;
  readonly topLevelCors: CorsConfig | undefined;
  readonly authorizers: ReadonlyMap<string, Authorizer>;
  /** API keys, usage plans, throttles and concurrency limits of the deployment. */
  readonly traffic: TrafficControl;
}

export function compileRoute(
  route: RouteKey,
  routeCfg: RouteConfig,
  integration: Integration,
  ctx: CompileContext,
  stage: string,
): CompiledRoute {
  const filters: Filter[] = [];
  const corsCfg = routeCors(routeCfg, ctx.topLevelCors);
  const cors = corsCfg === undefined ? null : ctx.corsPolicy(corsCfg);
  if (cors !== null) filters.push(new CorsFilter(cors));
  let gatewayHeaders: ReadonlySet<string> | null = null;
  if (routeCfg.authorizer !== undefined) {
    const authorizer = ctx.authorizers.get(routeCfg.authorizer)!;
    filters.push(new AuthorizeFilter(authorizer, routeCfg.authorizationScopes ?? null));
    if (authorizer.upstreamHeaderNames.length > 0)
      gatewayHeaders = new Set(authorizer.upstreamHeaderNames);
  }
  const traffic = ctx.traffic;
  const apiKey = traffic.apiKeyFilter(stage, routeCfg);
  if (apiKey !== null) filters.push(apiKey);
  const plan = traffic.planFilters(stage, route.key, routeCfg);
  if (plan.throttle !== null) filters.push(plan.throttle);
  const throttle = traffic.throttleFilter(stage, route.key, routeCfg);
  if (throttle !== null) filters.push(throttle);
  if (plan.quota !== null) filters.push(plan.quota);
  integration = traffic.limit(routeCfg.integration, integration);
  return {
    routeKey: route.key,
    resource: route.method === null ? '$default' : route.path,
    integrationName: routeCfg.integration,
    filters: filters.length > 0 ? filters : null,
    integration,
    cors,
    gatewayHeaders,
  };
}

/** The CORS policy a preflight for this route uses: its own block, none (`false`), or the top level. */
export function routeCors(
  routeCfg: RouteConfig | undefined,
  topLevel: CorsConfig | undefined,
): CorsConfig | undefined {
  if (routeCfg === undefined) return topLevel;
  return routeCfg.cors === false ? undefined : (routeCfg.cors ?? topLevel);
}
