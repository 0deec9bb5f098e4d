/**
 * The Gateway: owns the live deployment, the listener and the upstream pools.
 * Each request reads the deployment once at entry, so a deploy is one reference swap:
 * in-flight requests finish on the deployment they started on. A replaced deployment is
 * closed once the last of its requests is done (a counter per deployment, nothing else on
 * the hot path). Deploys run one at a time, in the order asked.
 */
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { loadConfigFile, type LoadedConfig } from './config/load.ts';
import type { GatewayConfig, GatewayConfigInput } from './config/schema.ts';
import { SharedAuthorizers } from './authorizers/shared.ts';
import { diffRoutes, type DeploymentChanges } from './deploy-diff.ts';
import { deployLoaded, type Deployment, type DeploymentSummary } from './deployment.ts';
import { ConfigError, type ConfigIssue } from './errors.ts';
import { UpstreamPools, type UpstreamStats } from './integrations/upstream-pools.ts';
import { applyListenerLimits, listenerOptions, watchListener } from './listener-options.ts';
import { defaultLogger, type LineSink, type Logger } from './log.ts';
import type { AdminServer } from './observability/admin-server.ts';
import { observabilityWanted } from './observability/enabled.ts';
import type { Observer } from './observability/observer.ts';
import { serveRequest } from './server.ts';
import type * as TlsModule from './tls.ts';
import type { Clock, Store } from './state/store.ts';
import { createTrafficState, type TrafficState } from './traffic.ts';

export interface GatewayOptions {
  /** Where gateway events and request failures are logged. Default: JSON lines on stderr. */
  readonly logger?: Logger;
  /**
   * How long close() waits for in-flight requests before cutting connections.
   * Default: the config's `server.drainTimeoutMs` (10 s).
   */
  readonly drainTimeoutMs?: number;
  /** Folder that relative paths resolve against when the config is an object. Default: cwd. */
  readonly baseDir?: string;
  /**
   * Where throttle buckets and quota counters live. Default: in memory, owned by the gateway,
   * so they survive deploy() but not a restart.
   */
  readonly store?: Store;
  /** Milliseconds since the epoch, for throttles and quota periods. Default Date.now. */
  readonly clock?: Clock;
  /** Where access logs (and gateway events with them) go instead of `accessLog.destination`. */
  readonly logStream?: LineSink;
  /** Human-readable log lines on stdout/stderr (the CLI sets it when they are a terminal). */
  readonly prettyLogs?: boolean;
}

export interface ListenOptions {
  readonly port?: number;
  readonly host?: string;
}

export interface ListeningAddress {
  readonly host: string;
  readonly port: number;
  readonly url: string;
}

/** A config file path, or a config object (as `defineConfig` types it). */
export type ConfigSource = string | GatewayConfigInput;

/** Payload of the gateway's `deploy` event: a new deployment is live. */
export interface DeployEvent {
  /** The new deployment's id. */
  readonly id: string;
  /** The id of the deployment it replaced. */
  readonly previousId: string;
  /** When it went live (ISO 8601). */
  readonly at: string;
  /** Time from the start of the deploy (reading the file) to the swap, in ms. */
  readonly durationMs: number;
  readonly summary: DeploymentSummary;
  /** Routes added, removed and changed (stage + route key each). */
  readonly changes: DeploymentChanges;
}

/** Payload of the gateway's `deployError` event: a deploy was refused; nothing changed. */
export interface DeployErrorEvent {
  /** The deployment still serving. */
  readonly activeId: string;
  readonly at: string;
  /** ConfigError (with `issues`) for a bad config; anything else is unexpected. */
  readonly error: Error;
  /** The config problems, each with a path and, from a file, line and column; [] if none. */
  readonly issues: readonly ConfigIssue[];
}

/** The events a Gateway emits (it is a node:events EventEmitter). */
export interface GatewayEvents {
  deploy: [DeployEvent];
  deployError: [DeployErrorEvent];
}

/**
 * The live deployment plus its in-flight count. `release` is created once per deployment and
 * added as each response's 'close' listener, so counting costs no allocation per request.
 */
class Live {
  readonly deployment: Deployment;
  inflight = 0;
  retired = false;
  readonly release = (): void => {
    if (--this.inflight === 0 && this.retired) void this.close();
  };

  readonly #retiredSet: Set<Live>;

  constructor(deployment: Deployment, retiredSet: Set<Live>) {
    this.deployment = deployment;
    this.#retiredSet = retiredSet;
  }

  /** Swapped out: closes now if idle, else when its last request ends. */
  retire(): void {
    this.retired = true;
    this.#retiredSet.add(this);
    if (this.inflight === 0) void this.close();
  }

  /** Idempotent (Deployment.close() is). Never rejects. */
  close(): Promise<void> {
    this.#retiredSet.delete(this);
    return this.deployment.close().catch(() => undefined);
  }
}

export class Gateway extends EventEmitter<GatewayEvents> {
  readonly #logger: Logger;
  readonly #drainTimeoutMs: number | undefined;
  readonly #baseDir: string;
  readonly #pools: UpstreamPools;
  readonly #traffic: TrafficState;
  readonly #authorizers: SharedAuthorizers;
  #live: Live;
  /** Deployments swapped out whose requests are still running. */
  readonly #retired = new Set<Live>();
  #deploying: Promise<unknown> = Promise.resolve();
  /** Where the live config's relative paths (tls files) resolve. */
  #configDir: string;
  #server: Server | HttpsServer | null = null;
  /** The HTTPS listener's current certificates; null when serving plain HTTP. */
  #tls: TlsModule.TlsMaterial | null = null;
  /** lib/tls.ts (node:https, node:tls), imported only by a gateway with a `tls` key. */
  #tlsModule: typeof TlsModule | null = null;
  #closing: Promise<void> | null = null;
  /** Access logs, metrics, tracing: null unless the config asks for one (loaded on demand). */
  #observer: Observer | null;
  #admin: AdminServer | null = null;
  readonly #options: GatewayOptions;

  /** Use createGateway(); the constructor takes an already compiled deployment. */
  constructor(
    deployment: Deployment,
    options: GatewayOptions,
    pools: UpstreamPools,
    traffic: TrafficState = createTrafficState(options),
    authorizers: SharedAuthorizers = new SharedAuthorizers(),
    observer: Observer | null = null,
  ) {
    super();
    this.#live = new Live(deployment, this.#retired);
    this.#observer = observer;
    this.#options = options;
    this.#logger = options.logger ?? observer?.logger ?? defaultLogger;
    this.#drainTimeoutMs = options.drainTimeoutMs;
    this.#baseDir = options.baseDir ?? process.cwd();
    this.#configDir = this.#baseDir;
    this.#pools = pools;
    this.#traffic = traffic;
    this.#authorizers = authorizers;
  }

  /** The live deployment's id, stages and routes. */
  get deployment(): DeploymentSummary {
    return this.#live.deployment.summary;
  }

  /** The config of the live deployment, defaults applied. */
  get config(): GatewayConfig {
    return this.#live.deployment.config;
  }

  /**
   * Serves one request from an existing node:http server. Bound, so it can be passed
   * as a listener: `http.createServer(gateway.handle)`.
   */
  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    if (this.#closing !== null) {
      // Draining: answer, but tell the client not to reuse this connection.
      res.shouldKeepAlive = false;
    }
    const live = this.#live;
    const observer = this.#observer;
    if (observer === null) serveRequest(live.deployment, req, res);
    else observer.serve(live.deployment, req, res);
    // Answered synchronously (404, preflight, mock): done with the deployment already.
    // Otherwise count the request until its response closes.
    if (!res.writableEnded) {
      live.inflight++;
      // `on`, not `once`: the response is per request, and `once` wraps the listener.
      res.on('close', live.release);
    }
  };

  /** Ready for traffic: a deployment is live, the listener accepts, and close() has not begun. */
  get ready(): boolean {
    return this.#server !== null && this.#server.listening && this.#closing === null;
  }

  /**
   * Validates and builds a new deployment (handler modules loaded, routes compiled, key sets
   * prepared), then swaps it in. Resolves with its summary; rejects with a ConfigError
   * listing every problem, in which case the live deployment keeps serving. Emits `deploy`
   * or `deployError`. Calls made while a deploy runs wait their turn.
   */
  deploy(source: ConfigSource): Promise<DeploymentSummary> {
    const next = this.#deploying.then(() => this.#deploy(source));
    this.#deploying = next.catch(() => undefined);
    return next;
  }

  async #deploy(source: ConfigSource): Promise<DeploymentSummary> {
    const started = performance.now();
    let deployment: Deployment;
    let tls: TlsModule.TlsMaterial | null;
    let configDir: string;
    try {
      if (this.#closing !== null) throw new Error('the gateway is closing');
      const loaded = await resolveSource(source, this.#baseDir);
      // Read before the swap: unreadable certificates fail the deploy and change nothing.
      tls =
        this.#tls !== null && loaded.config.tls !== undefined
          ? await this.#tlsModule!.readTls(loaded.config.tls, loaded.baseDir)
          : null;
      configDir = loaded.baseDir;
      deployment = await deployLoaded(loaded, {
        pools: this.#pools,
        logger: this.#logger,
        traffic: this.#traffic,
        authorizers: this.#authorizers,
      });
      if (this.#observer === null && observabilityWanted(deployment.config))
        this.#observer = await createObserver(deployment.config, this.#options);
      if (this.#closing !== null) {
        await deployment.close();
        throw new Error('the gateway is closing');
      }
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      this.#observer?.deployFailed();
      // A refused config is the user's to fix: its issues say where; a stack would be noise.
      if (err instanceof ConfigError) {
        this.#logger.error({ code: err.code, issues: err.issues }, 'deploy failed');
      } else {
        this.#logger.error({ err }, 'deploy failed');
      }
      this.emit('deployError', {
        activeId: this.#live.deployment.id,
        at: new Date().toISOString(),
        error,
        issues: err instanceof ConfigError ? err.issues : [],
      });
      throw err;
    }
    const previous = this.#live;
    this.#live = new Live(deployment, this.#retired);
    // Requests under way keep `previous` until they end; then it is closed.
    previous.retire();
    this.#observer?.deployed(deployment);
    const { id, stages, routes } = deployment.summary;
    this.#logger.info({ deploymentId: id, stages, routes: routes.length }, 'deployed');
    this.#configDir = configDir;
    if (this.#tls !== null) {
      this.#tls = this.#tlsModule!.applyTls(
        this.#server as HttpsServer,
        this.#tls,
        tls,
        this.#logger,
      );
    }
    if (this.#server !== null) applyListenerLimits(this.#server, deployment.config.limits);
    this.emit('deploy', {
      id: deployment.id,
      previousId: previous.deployment.id,
      at: deployment.summary.createdAt,
      durationMs: Math.round(performance.now() - started),
      summary: deployment.summary,
      changes: diffRoutes(previous.deployment.fingerprints, deployment.fingerprints),
    });
    return deployment.summary;
  }

  /** The admin listener's address (metrics, health, live view), or null when it is off. */
  adminAddress(): AddressInfo | null {
    return this.#admin?.address() ?? null;
  }

  /** Starts a node:http listener. Port 0 picks a free port; the bound address is returned. */
  async listen(options: ListenOptions = {}): Promise<ListeningAddress> {
    if (this.#server !== null) throw new TypeError('gateway is already listening');
    const port = options.port ?? this.#live.deployment.config.server.port;
    const host = options.host ?? this.#live.deployment.config.server.host;
    const limits = this.#live.deployment.config.limits;
    const tls = this.#live.deployment.config.tls;
    if (tls !== undefined) this.#tlsModule ??= await import('./tls.ts');
    const material =
      tls === undefined ? null : await this.#tlsModule!.readTls(tls, this.#configDir);
    const server: Server | HttpsServer = (
      material === null ? createServer : this.#tlsModule!.tlsServer(material)
    )(listenerOptions(limits), this.handle);
    applyListenerLimits(server, limits);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    // After listen(): a failure to bind rejects above rather than being logged.
    watchListener(server, this.#logger);
    this.#server = server;
    this.#tls = material;
    const admin = this.#live.deployment.config.admin;
    if (admin !== undefined && this.#observer !== null) {
      const { AdminServer } = await import('./observability/admin-server.ts');
      const { describeDeployment } = await import('./observability/deployment-view.ts');
      try {
        this.#admin = await AdminServer.start(
          {
            observer: this.#observer,
            ready: () => this.ready,
            describe: () =>
              describeDeployment(this.#live.deployment.summary, this.#live.deployment.config),
          },
          admin.port,
          admin.host,
        );
      } catch (err) {
        this.#server = null;
        await new Promise<void>((resolve) => server.close(() => resolve()));
        throw err;
      }
    }
    const addr = server.address() as AddressInfo;
    const shown = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    const scheme = this.#tls === null ? 'http' : 'https';
    return { host: addr.address, port: addr.port, url: `${scheme}://${shown}:${addr.port}` };
  }

  /** Connection and request counts over every upstream pool (undici Pool#stats, summed). */
  upstreamStats(): UpstreamStats {
    return this.#pools.stats();
  }

  /** The listener's address, or null when not listening. */
  address(): AddressInfo | null {
    return (this.#server?.address() as AddressInfo | null | undefined) ?? null;
  }

  /**
   * Stops accepting connections, lets in-flight requests finish (up to the drain timeout),
   * closes idle keep-alive connections, then closes upstream pools. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const server = this.#server;
    if (server !== null) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          server.closeAllConnections();
          resolve();
        }, this.#drainTimeoutMs ?? this.#live.deployment.config.server.drainTimeoutMs);
        timer.unref();
      });
      await Promise.race([closed, timedOut]);
      clearTimeout(timer);
    }
    // A deploy under way finishes (and is closed at once, see #deploy) before anything closes.
    await this.#deploying;
    await Promise.all([this.#live.close(), ...[...this.#retired].map((l) => l.close())]);
    await this.#pools.close();
    // Last: /readyz answers 503 throughout the drain, and the final log lines are written.
    await this.#admin?.close();
    await this.#observer?.close();
  }
}

/** Creates a gateway from a config file path or object, compiled and ready to listen. */
export async function createGateway(
  source: ConfigSource,
  options: GatewayOptions = {},
): Promise<Gateway> {
  const loaded = await resolveSource(source, options.baseDir ?? process.cwd());
  const pools = new UpstreamPools();
  const traffic = createTrafficState(options);
  const authorizers = new SharedAuthorizers();
  // Loaded only when the config asks for it: start-up stays free of pino and prom-client.
  const observer = observabilityWanted(loaded.config)
    ? await createObserver(loaded.config, options)
    : null;
  const deployment = await deployLoaded(loaded, {
    pools,
    logger: options.logger ?? observer?.logger ?? defaultLogger,
    traffic,
    authorizers,
  });
  observer?.deployed(deployment);
  return new Gateway(
    deployment,
    { ...options, baseDir: loaded.baseDir },
    pools,
    traffic,
    authorizers,
    observer,
  );
}

async function createObserver(config: GatewayConfig, options: GatewayOptions): Promise<Observer> {
  const { Observer } = await import('./observability/observer.ts');
  return new Observer(config, { logStream: options.logStream, prettyLogs: options.prettyLogs });
}

async function resolveSource(source: ConfigSource, baseDir: string): Promise<LoadedConfig> {
  if (typeof source === 'string') return loadConfigFile(source);
  if (source === null || typeof source !== 'object') {
    throw new TypeError('createGateway() expects a config file path or a config object');
  }
  // Config objects come from code and are validated every time (zod loads only here).
  const { validateConfig } = await import('./config/parse.ts');
  return {
    config: validateConfig(source, 'config'),
    baseDir,
    file: null,
    locate: async (issues) => [...issues],
  };
}
