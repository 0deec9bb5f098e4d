/**
 * The Gateway: owns the live deployment, the listener and the upstream pools.
 * Each request reads the deployment once at entry, so a deploy is one reference swap:
 * in-flight requests finish on the deployment they started on.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { loadConfigFile, type LoadedConfig } from './config/load.ts';
import type { GatewayConfig, GatewayConfigInput } from './config/schema.ts';
import { deployLoaded, type Deployment, type DeploymentSummary } from './deployment.ts';
import { UpstreamPools, type UpstreamStats } from './integrations/upstream-pools.ts';
import { applyListenerLimits, listenerOptions, watchListener } from './listener-options.ts';
import { stderrLogger, type Logger } from './log.ts';
import { serveRequest } from './server.ts';
import { applyTls, readTls, tlsServer, type TlsMaterial } from './tls.ts';
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
  /** Where the live config's relative paths (tls files) resolve. */
  #configDir: string;
  #server: Server | HttpsServer | null = null;
  /** The HTTPS listener's current certificates; null when serving plain HTTP. */
  #tls: TlsMaterial | null = null;
  #closing: Promise<void> | null = null;

  /** Use createGateway(); the constructor takes an already compiled deployment. */
  constructor(
    deployment: Deployment,
    options: GatewayOptions,
    pools: UpstreamPools,
    traffic: TrafficState = createTrafficState(options),
  ) {
    this.#deployment = deployment;
    this.#logger = options.logger ?? stderrLogger;
    this.#drainTimeoutMs = options.drainTimeoutMs ?? 10_000;
    this.#baseDir = options.baseDir ?? process.cwd();
    this.#configDir = this.#baseDir;
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
    serveRequest(this.#deployment, req, res);
  };

  /** Validates and compiles a new config, then swaps it in; the old one keeps serving on error. */
  async deploy(source: ConfigSource): Promise<DeploymentSummary> {
    const loaded = await resolveSource(source, this.#baseDir);
    // Read before the swap: unreadable certificates fail the deploy and change nothing.
    const tls =
      this.#tls !== null && loaded.config.tls !== undefined
        ? await readTls(loaded.config.tls, loaded.baseDir)
        : null;
    this.#deployment = await deployLoaded(loaded, {
      pools: this.#pools,
      logger: this.#logger,
      traffic: this.#traffic,
    });
    this.#configDir = loaded.baseDir;
    if (this.#tls !== null) {
      this.#tls = applyTls(this.#server as HttpsServer, this.#tls, tls, this.#logger);
    }
    if (this.#server !== null) applyListenerLimits(this.#server, this.#deployment.config.limits);
    return this.#deployment.summary;
  }

  /** Starts a node:http listener. Port 0 picks a free port; the bound address is returned. */
  async listen(options: ListenOptions = {}): Promise<ListeningAddress> {
    if (this.#server !== null) throw new TypeError('gateway is already listening');
    const port = options.port ?? this.#deployment.config.server.port;
    const host = options.host ?? this.#deployment.config.server.host;
    const limits = this.#deployment.config.limits;
    const tls = this.#deployment.config.tls;
    const material = tls === undefined ? null : await readTls(tls, this.#configDir);
    const server: Server | HttpsServer = (material === null ? createServer : tlsServer(material))(
      listenerOptions(limits),
      this.handle,
    );
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
        }, this.#drainTimeoutMs);
        timer.unref();
      });
      await Promise.race([closed, timedOut]);
      clearTimeout(timer);
    }
    this.#deployment.close();
    await this.#pools.close();
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
  const deployment = await deployLoaded(loaded, {
    pools,
    logger: options.logger ?? stderrLogger,
    traffic,
  });
  return new Gateway(deployment, { ...options, baseDir: loaded.baseDir }, pools, traffic);
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
