/**
 * What a deploy changed, route by route: a route (stage + route key) is added, removed, or
 * changed when anything that decides its behaviour differs (its route config, integration,
 * authorizer, stage variables, or the content of a handler module it runs).
 */
import type { GatewayConfig } from './config/schema.ts';

export interface RouteRef {
  readonly stage: string;
  readonly routeKey: string;
}

export interface DeploymentChanges {
  readonly added: readonly RouteRef[];
  readonly removed: readonly RouteRef[];
  readonly changed: readonly RouteRef[];
  /** Routes present in both and identical. */
  readonly unchanged: number;
}

/** `stage\0routeKey` → a string that differs whenever the route's behaviour may differ. */
export type RouteFingerprints = ReadonlyMap<string, string>;

/**
 * Fingerprints each route of each stage. `moduleVersion(spec)` gives a handler module's
 * content hash, so an edit to handler code marks its routes changed.
 */
export function routeFingerprints(
  config: GatewayConfig,
  moduleVersion: (handlerSpec: string) => string | undefined,
): RouteFingerprints {
  // Parts shared by every route (traffic and CORS defaults) go into each fingerprint once.
  const shared = JSON.stringify([
    config.cors,
    config.throttle,
    config.apiKeys,
    config.apiKeySource,
    config.apiKeyHeader,
    config.usagePlans,
    config.limits,
  ]);
  const out = new Map<string, string>();
  for (const [stage, stageCfg] of Object.entries(config.stages)) {
    for (const [routeKey, route] of Object.entries(config.routes)) {
      const integration = config.integrations[route.integration];
      const authorizer =
        route.authorizer === undefined ? undefined : config.authorizers[route.authorizer];
      const modules = [integration, authorizer].map((c) =>
        c !== undefined && 'handler' in c ? moduleVersion(c.handler) : undefined,
      );
      out.set(
        `${stage}\0${routeKey}`,
        JSON.stringify([route, integration, authorizer, stageCfg, modules, shared]),
      );
    }
  }
  return out;
}

/** The changes from `before` (null for the first deployment) to `after`. */
export function diffRoutes(
  before: RouteFingerprints | null,
  after: RouteFingerprints,
): DeploymentChanges {
  const added: RouteRef[] = [];
  const removed: RouteRef[] = [];
  const changed: RouteRef[] = [];
  let unchanged = 0;
  for (const [key, print] of after) {
    const old = before?.get(key);
    if (old === undefined) added.push(toRef(key));
    else if (old !== print) changed.push(toRef(key));
    else unchanged++;
  }
  if (before !== null) {
    for (const key of before.keys()) if (!after.has(key)) removed.push(toRef(key));
  }
  return { added, removed, changed, unchanged };
}

function toRef(key: string): RouteRef {
  const nul = key.indexOf('\0');
  return { stage: key.slice(0, nul), routeKey: key.slice(nul + 1) };
}
