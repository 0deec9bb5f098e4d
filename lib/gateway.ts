/**
 * The Gateway: owns the live deployment, the listener and the upstream pools.
 * Each request reads the deployment once at entry, so a deploy is one reference swap:
 * in-flight requests finish on the deployment they started on.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { loadConfigFile, type LoadedConfig } from './config/load.ts';
import type { GatewayConfig, GatewayConfigInput } from './config/schema.ts';
import { deployLoaded, type Deployment, type DeploymentSummary } from './deployment.ts';
import { writeRawError } from './error-response.ts';
import { UpstreamPools } from './integrations/upstream-pools.ts';
import { defaultLogger, type LineSink, type Logger } from './log.ts';
import type { AdminServer } from './observability/admin-server.ts';
import { observabilityWanted } from './observability/enabled.ts';
import type { Observer } from './observability/observer.ts';
import { serveRequest } from './server.ts';
import type { Clock, Store } from './state/store.ts';
import { createTrafficState, type TrafficState } from './traffic.ts';

export interface GatewayOptions {
  /** Where gateway events and request failures are logged. Default: JSON lines on stderr. */
  readonly logger?: Logger;
  /** How long close() waits for in-flight requests before cutting connections. Default 10 s. */
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

export class Gateway {
  readonly #logger: Logger;
  readonly #drainTimeoutMs: number;
  readonly #baseDir: string;
  readonly #pools = new UpstreamPools();
  readonly #traffic: TrafficState;
  #deployment: Deployment;
  #server: Server | null = null;
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
    observer: Observer | null = null,
  ) {
    this.#deployment = deployment;
    this.#observer = observer;
    this.#options = options;
    this.#logger = options.logger ?? observer?.logger ?? defaultLogger;
    this.#drainTimeoutMs = options.drainTimeoutMs ?? 10_000;
    this.#baseDir = options.baseDir ?? process.cwd();
    this.#pools = pools;
    this.#traffic = traffic;
  }

  /** The live deployment's id, stages and routes. */
  get deployment(): DeploymentSummary {
    return this.#deployment.summary;
  }

  /** The config of the live deployment, defaults applied. */
  get config(): GatewayConfig {
    return this.#deployment.config;
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
    const observer = this.#observer;
    if (observer === null) serveRequest(this.#deployment, req, res);
    else observer.serve(this.#deployment, req, res);
  };

  /** Ready for traffic: a deployment is live, the listener accepts, and close() has not begun. */
  get ready(): boolean {
    return this.#server !== null && this.#server.listening && this.#closing === null;
  }

  /** Validates and compiles a new config, then swaps it in; the old one keeps serving on error. */
  async deploy(source: ConfigSource): Promise<DeploymentSummary> {
    let deployment: Deployment;
    try {
      const loaded = await resolveSource(source, this.#baseDir);
      deployment = await deployLoaded(loaded, {
        pools: this.#pools,
        logger: this.#logger,
        traffic: this.#traffic,
      });
      if (this.#observer === null && observabilityWanted(deployment.config))
        this.#observer = await createObserver(deployment.config, this.#options);
      this.#observer?.deployed(deployment);
    } catch (err) {
      // --- deploy events (issue #8): the lead wires these to the `deployError` event. ---
      this.#observer?.deployFailed();
      this.#logger.error({ code: (err as { code?: unknown }).code, err }, 'deploy failed');
      throw err;
    }
    this.#deployment = deployment;
    // --- deploy events (issue #8): the lead wires this to the `deploy` event. ---
    const { id, stages, routes } = deployment.summary;
    this.#logger.info({ deploymentId: id, stages, routes: routes.length }, 'deployed');
    return deployment.summary;
  }

  /** The admin listener's address (metrics, health, live view), or null when it is off. */
  adminAddress(): AddressInfo | null {
    return this.#admin?.address() ?? null;
  }

  /** Starts a node:http listener. Port 0 picks a free port; the bound address is returned. */
  async listen(options: ListenOptions = {}): Promise<ListeningAddress> {
    if (this.#server !== null) throw new TypeError('gateway is already listening');
    const port = options.port ?? this.#deployment.config.server.port;
    const host = options.host ?? this.#deployment.config.server.host;
    const server = createServer(
      {
        // Node's strict parser (the default) refuses ambiguous framing; never the lenient one.
        insecureHTTPParser: false,
        keepAliveTimeout: 5_000,
        // AWS's request line + headers limit is 10 KB; Node's default is 16 KB.
        maxHeaderSize: 16 * 1024,
      },
      this.handle,
    );
    server.on('clientError', onClientError);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.#server = server;
    const admin = this.#deployment.config.admin;
    if (admin !== undefined && this.#observer !== null) {
      const { AdminServer } = await import('./observability/admin-server.ts');
      const { describeDeployment } = await import('./observability/deployment-view.ts');
      try {
        this.#admin = await AdminServer.start(
          {
            observer: this.#observer,
            ready: () => this.ready,
            describe: () => describeDeployment(this.#deployment.summary, this.#deployment.config),
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
    return { host: addr.address, port: addr.port, url: `http://${shown}:${addr.port}` };
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
        }, this.#drainTimeoutMs);
        timer.unref();
      });
      await Promise.race([closed, timedOut]);
      clearTimeout(timer);
    }
    this.#deployment.close();
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
  // Loaded only when the config asks for it: start-up stays free of pino and prom-client.
  const observer = observabilityWanted(loaded.config)
    ? await createObserver(loaded.config, options)
    : null;
  const deployment = await deployLoaded(loaded, {
    pools,
    logger: options.logger ?? observer?.logger ?? defaultLogger,
    traffic,
  });
  observer?.deployed(deployment);
  return new Gateway(deployment, { ...options, baseDir: loaded.baseDir }, pools, traffic, observer);
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

/** Malformed requests get a JSON 400 (431 for oversized headers) and a closed connection. */
function onClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable || err.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  writeRawError(
    socket,
    err.code === 'HPE_HEADER_OVERFLOW' ? 'PORTICO_HEADERS_TOO_LARGE' : 'PORTICO_BAD_REQUEST',
  );
}
