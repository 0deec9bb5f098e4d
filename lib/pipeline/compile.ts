/**
 * Compiles one route of one stage into its chain. This is the only place the order of
 * filters is decided (Envoy's model: a fixed chain per route that ends in the integration):
 *
 *   CORS → authorizer → [throttle, API keys: issue #5] → integration
 *
 * CORS runs first so that preflights never need a token and error replies from later
 * filters still carry the CORS headers a browser needs to read them.
 */
import type { CorsConfig, RouteConfig } from '../config/schema.ts';
import { CorsFilter, type CorsPolicy } from '../cors.ts';
import type { Authorizer } from '../authorizers/authorizer.ts';
import { AuthorizeFilter } from '../authorizers/filter.ts';
import type { RouteKey } from '../route-key.ts';
import type { CompiledRoute, Filter, Integration } from './route.ts';

export interface CompileContext {
  /** CORS policies, one per distinct config block (compiled once, shared by routes). */
  corsPolicy(cfg: CorsConfig): CorsPolicy;
  readonly topLevelCors: CorsConfig | undefined;
  readonly authorizers: ReadonlyMap<string, Authorizer>;
}

export function compileRoute(
  route: RouteKey,
  routeCfg: RouteConfig,
  integration: Integration,
  ctx: CompileContext,
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
