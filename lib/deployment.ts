/**
 * A deployment: an immutable snapshot of a validated config, compiled once: a route table
 * per stage whose entries hold each route's ready-to-run chain. Building one does all the
 * work a request would otherwise repeat (templates, handler imports, header lists).
 */
import { randomBytes } from 'node:crypto';
import { ConfigError, type ConfigIssue } from './errors.ts';
import type { CorsConfig, GatewayConfig, IntegrationConfig } from './config/schema.ts';
import { formatPath } from './config/path.ts';
import type { LoadedConfig } from './config/load.ts';
import { HttpIntegration } from './integrations/http.ts';
import { MockIntegration } from './integrations/mock.ts';
import type { UpstreamPools } from './integrations/upstream-pools.ts';
import type { Pool } from 'undici';
import type { Logger } from './log.ts';
import type { CompiledRoute, Integration, StageRuntime } from './pipeline/route.ts';
import { compileRoute, type CompileContext } from './pipeline/compile.ts';
import type { Authorizer } from './authorizers/authorizer.ts';
import { SharedAuthorizers } from './authorizers/shared.ts';
import { routeFingerprints, type RouteFingerprints } from './deploy-diff.ts';
import { currentVersion, loadedVersion } from './lambda/handler-module.ts';
import { CorsPolicy } from './cors.ts';
import { parseRouteKey, type RouteKey } from './route-key.ts';
import { RouteTable } from './router.ts';
import { compileTrustProxy } from './trust-proxy.ts';
import { createTrafficControl, createTrafficState, type TrafficState } from './traffic.ts';
import { compileUrlTemplate, resolveStageVariables } from './url-template.ts';

export interface CompiledStage {
  readonly runtime: StageRuntime;
  readonly table: RouteTable<CompiledRoute>;
}

export interface RouteSummary {
  readonly stage: string;
  readonly routeKey: string;
  readonly integration: string;
  readonly type: string;
  readonly target: string;
}

export interface DeploymentSummary {
  readonly id: string;
  readonly createdAt: string;
  readonly stages: readonly string[];
  readonly routes: readonly RouteSummary[];
}

export interface Deployment {
  readonly id: string;
  readonly createdAt: Date;
  readonly config: GatewayConfig;
  /** The `$default` stage, served at `/`, or null when the config has none. */
  readonly defaultStage: CompiledStage | null;
  /** Named stages by URL prefix; null when there are none (routing then skips the lookup). */
  readonly namedStages: ReadonlyMap<string, CompiledStage> | null;
  readonly summary: DeploymentSummary;
  /** CORS policy for preflights that match no route (the top-level block), or null. */
  readonly defaultCors: CorsPolicy | null;
  /** Whether any route has CORS: when false, OPTIONS requests skip the preflight check. */
  readonly hasCors: boolean;
  /** Per route, what decides its behaviour (see deploy-diff.ts). */
  readonly fingerprints: RouteFingerprints;
  /**
   * Releases what the deployment holds: authorizers and upstream pools that no other
   * deployment uses are closed (pools after their requests under way). Idempotent.
   */
  close(): Promise<void>;
}

export interface DeployDeps {
  readonly pools: UpstreamPools;
  readonly logger: Logger;
  /** The gateway's store, clock and concurrency limiters; a fresh in-memory set if absent. */
  readonly traffic?: TrafficState;
  /** Authorizers shared with other deployments of the gateway; private ones if absent. */
  readonly authorizers?: SharedAuthorizers;
}

let sequence = 0;

/**
 * Compiles a loaded config file (or object). Problems found while compiling carry only a
 * config path; they are given the file's line and column here, like schema problems.
 */
export async function deployLoaded(loaded: LoadedConfig, deps: DeployDeps): Promise<Deployment> {
  try {
    return await createDeployment(loaded.config, loaded.baseDir, deps);
  } catch (err) {
    if (err instanceof ConfigError)
      throw new ConfigError(await loaded.locate(err.issues), loaded.file ?? undefined);
    throw err;
  }
}

/** Compiles a validated config; throws ConfigError listing every problem found. */
export async function createDeployment(
  config: GatewayConfig,
  baseDir: string,
  deps: DeployDeps,
): Promise<Deployment> {
  const issues: ConfigIssue[] = [];
  const routeKeys: RouteKey[] = [];
  for (const key of Object.keys(config.routes)) {
    const parsed = parseRouteKey(key);
    if (typeof parsed !== 'string') routeKeys.push(parsed);
  }
  if (Object.values(config.integrations).some((i) => i.type === 'http')) await deps.pools.prepare();

  // Stage-independent integrations are built once and shared by every route and stage.
  const sharedIntegrations = new Map<string, Integration>();
  for (const [name, cfg] of Object.entries(config.integrations)) {
    try {
      if (cfg.type === 'mock') sharedIntegrations.set(name, new MockIntegration(cfg));
      else if (cfg.type === 'function') {
        sharedIntegrations.set(
          name,
          // Imported on demand, like the authorizers: start-up loads only what the config uses.
          await (
            await import('./integrations/function.ts')
          ).loadFunctionIntegration({
            name,
            handler: cfg.handler,
            payloadFormatVersion: cfg.payloadFormatVersion,
            timeoutMs: cfg.timeoutMs,
            maxBodyBytes: config.limits.maxBodyBytes,
            baseDir,
            logger: deps.logger,
          }),
        );
      }
    } catch (err) {
      if (err instanceof ConfigError) issues.push(...err.issues);
      else issues.push({ path: formatPath(['integrations', name]), message: String(err) });
    }
  }

  const trafficState = deps.traffic ?? createTrafficState();
  // One clock for the whole gateway: token times and authorizer caches follow the throttles'.
  const authorizerDeps = { logger: deps.logger, baseDir, now: trafficState.clock };
  const shared = deps.authorizers ?? new SharedAuthorizers();
  const authorizers = new Map<string, Authorizer>();
  for (const [name, cfg] of Object.entries(config.authorizers)) {
    try {
      const version =
        cfg.type === 'function' ? await currentVersion(cfg.handler, baseDir) : undefined;
      // Imported on demand: a config without JWT authorizers never loads jose.
      const authorizer = await shared.acquire(name, cfg, baseDir, version, async () =>
        cfg.type === 'jwt'
          ? (await import('./authorizers/jwt.ts')).createJwtAuthorizer(name, cfg, authorizerDeps)
          : (await import('./authorizers/function.ts')).loadFunctionAuthorizer(
              name,
              cfg,
              authorizerDeps,
            ),
      );
      authorizers.set(name, authorizer);
    } catch (err) {
      if (err instanceof ConfigError) issues.push(...err.issues);
      else issues.push({ path: formatPath(['authorizers', name]), message: String(err) });
    }
  }
  const corsPolicies = new Map<CorsConfig, CorsPolicy>();
  const traffic = await createTrafficControl(config, trafficState, deps.logger, issues);
  const ctx: CompileContext = {
    topLevelCors: config.cors,
    authorizers,
    traffic,
    corsPolicy(cfg) {
      let policy = corsPolicies.get(cfg);
      if (policy === undefined) corsPolicies.set(cfg, (policy = new CorsPolicy(cfg)));
      return policy;
    },
  };

  const summaries: RouteSummary[] = [];
  const pools = new Set<Pool>();
  const stages = new Map<string, CompiledStage>();
  const trustProxy = compileTrustProxy(config.trustProxy);
  for (const [stageName, stageCfg] of Object.entries(config.stages)) {
    const runtime: StageRuntime = {
      name: stageName,
      variables: Object.freeze({ ...stageCfg.variables }),
      trustProxy,
    };
    const entries: { routeKey: string; value: CompiledRoute }[] = [];
    for (const route of routeKeys) {
      const routeCfg = config.routes[route.key]!;
      const integrationName = routeCfg.integration;
      const cfg = config.integrations[integrationName]!;
      const integration =
        cfg.type === 'http'
          ? httpIntegration(integrationName, cfg, route, runtime, config, deps, pools, issues)
          : sharedIntegrations.get(integrationName);
      if (integration === undefined) continue;
      if (routeCfg.authorizer !== undefined && !authorizers.has(routeCfg.authorizer)) continue;
      entries.push({
        routeKey: route.key,
        value: compileRoute(route, routeCfg, integration, ctx, stageName),
      });
      summaries.push({
        stage: stageName,
        routeKey: route.key,
        integration: integrationName,
        type: cfg.type,
        target: integration.target,
      });
    }
    try {
      stages.set(stageName, { runtime, table: new RouteTable(entries) });
    } catch (err) {
      if (err instanceof ConfigError) issues.push(...err.issues);
      else throw err;
    }
  }
  if (issues.length > 0) {
    for (const a of authorizers.values()) shared.release(a);
    await deps.pools.sweep();
    throw new ConfigError(dedupe(issues));
  }

  traffic.commit();
  deps.pools.retain(pools);
  let closing: Promise<void> | undefined;
  const defaultStage = stages.get('$default') ?? null;
  stages.delete('$default');
  const createdAt = new Date();
  const id = `d-${(++sequence).toString(36)}${randomBytes(3).toString('hex')}`;
  return {
    id,
    createdAt,
    config,
    defaultStage,
    namedStages: stages.size > 0 ? stages : null,
    defaultCors: config.cors === undefined ? null : ctx.corsPolicy(config.cors),
    hasCors: corsPolicies.size > 0 || config.cors !== undefined,
    fingerprints: routeFingerprints(config, (spec) => loadedVersion(spec, baseDir)),
    close() {
      closing ??= (async () => {
        for (const a of authorizers.values()) shared.release(a);
        await deps.pools.release(pools);
      })();
      return closing;
    },
    summary: {
      id,
      createdAt: createdAt.toISOString(),
      stages: Object.keys(config.stages),
      routes: summaries,
    },
  };
}

function httpIntegration(
  name: string,
  cfg: Extract<IntegrationConfig, { type: 'http' }>,
  route: RouteKey,
  stage: StageRuntime,
  config: GatewayConfig,
  deps: DeployDeps,
  pools: Set<Pool>,
  issues: ConfigIssue[],
): Integration | undefined {
  const urlPath = formatPath(['integrations', name, 'url']);
  const { value, missing } = resolveStageVariables(cfg.url, stage.variables);
  if (missing.length > 0) {
    issues.push({
      path: formatPath(['stages', stage.name, 'variables']),
      message: `stage "${stage.name}" does not define ${missing.map((m) => `"${m}"`).join(', ')}, used by ${urlPath}`,
    });
    return undefined;
  }
  const greedy = new Set(route.greedy ? [route.greedy] : []);
  const template = compileUrlTemplate(value, greedy);
  if (typeof template === 'string') {
    issues.push({ path: urlPath, message: template });
    return undefined;
  }
  const known = new Set(route.segments.flatMap((s) => (s.kind === 'static' ? [] : [s.name])));
  const unknown = template.params.filter((p) => !known.has(p));
  if (unknown.length > 0) {
    issues.push({
      path: formatPath(['routes', route.key, 'integration']),
      message: `${urlPath} uses ${unknown.map((p) => `{${p}}`).join(', ')}, which route "${route.key}" does not define`,
    });
    return undefined;
  }
  const pool = deps.pools.get(template.origin, {
    connections: cfg.connections,
    // undici's 10 s connect timeout would otherwise outlast a shorter timeoutMs.
    connectTimeoutMs: Math.min(cfg.timeoutMs, 10_000),
    maxHeaderSize: cfg.maxResponseHeaderBytes,
  });
  pools.add(pool);
  return new HttpIntegration({
    name,
    template,
    pool,
    timeoutMs: cfg.timeoutMs,
    bodyTimeoutMs: cfg.bodyTimeoutMs ?? cfg.timeoutMs,
    retries: cfg.retries !== undefined && cfg.retries.attempts > 0 ? cfg.retries : null,
    maxBodyBytes: config.limits.maxBodyBytes,
    appendRequestPath: route.method === null && template.params.length === 0,
    logger: deps.logger,
  });
}

function dedupe(issues: ConfigIssue[]): ConfigIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const k = `${i.path}\0${i.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
