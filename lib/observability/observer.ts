/**
 * Ties the observability features to the gateway's request path. When a config asks for any
 * of them, the gateway hands each request to `serve()`: it allocates one RequestRecord, makes
 * sure a traceparent exists (when tracing is on), and adds one module-level 'close' listener
 * that finds the record through a symbol, so no closure is created per request. When the
 * response closes the record feeds the access log and the per-route stats.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GatewayConfig } from '../config/schema.ts';
import type { Deployment } from '../deployment.ts';
import type { LineSink, Logger } from '../log.ts';
import type { CompiledRoute } from '../pipeline/route.ts';
import { nextRequestId } from '../request-id.ts';
import { serveRequest } from '../server.ts';
import { AccessLog } from './access-log.ts';
import { RequestRecord, type RecordSink } from './record.ts';
import { StatsBook, type RouteStats } from './stats.ts';
import { ensureTraceparent } from './tracing.ts';

export interface ObserverOptions {
  /** Replaces the access log's configured destination. */
  readonly logStream?: LineSink | undefined;
  /** Human-readable log lines on a terminal. */
  readonly prettyLogs?: boolean | undefined;
}

const kRecord = Symbol('portico.requestRecord');
type Tracked = ServerResponse & { [kRecord]?: RequestRecord | null };

/** The one 'close' listener of every observed response: `this` is the response. */
function onResponseClose(this: Tracked): void {
  const r = this[kRecord];
  if (r === undefined || r === null) return;
  this[kRecord] = null;
  r.close();
  r.sink.finish(r);
}

export class Observer implements RecordSink {
  /** Access lines (and gateway events, sharing the stream), or null when no stage logs. */
  accessLog: AccessLog | null = null;
  /** Per-route stats for /metrics and the live view; kept even without an admin listener. */
  readonly stats = new StatsBook();
  tracing = false;
  inFlight = 0;
  readonly deploys = { ok: 0, error: 0 };
  deploymentId: string | null = null;
  readonly #options: ObserverOptions;
  /** Compiled routes of live (and recent) deployments → their stats; weak, so retired ones go. */
  #routeStats = new WeakMap<CompiledRoute, RouteStats>();
  readonly #unrouted: RouteStats;

  constructor(config: GatewayConfig, options: ObserverOptions) {
    this.#options = options;
    this.#unrouted = this.stats.get('-', '-', '-');
    this.configure(config);
  }

  /** The logger gateway events should use: the access log's, so both share one stream. */
  get logger(): Logger | null {
    return this.accessLog?.logger ?? null;
  }

  configure(config: GatewayConfig): void {
    this.tracing = config.tracing;
    const wantsLog =
      config.accessLog !== undefined ||
      Object.values(config.stages).some((s) => s.accessLog !== undefined && s.accessLog !== false);
    if (wantsLog) {
      if (this.accessLog === null)
        this.accessLog = new AccessLog(config, {
          stream: this.#options.logStream,
          pretty: this.#options.prettyLogs,
        });
      else this.accessLog.configure(config);
    } else if (this.accessLog !== null) {
      // Keep the stream (gateway events use it); log no requests.
      this.accessLog.configure({ ...config, accessLog: { ...defaultsOff } });
    }
  }

  /** A deployment went live: its formats, its route list for the live view. */
  deployed(deployment: Deployment): void {
    this.configure(deployment.config);
    this.deploymentId = deployment.id;
    this.deploys.ok++;
    const live: RouteStats[] = [];
    for (const r of deployment.summary.routes)
      live.push(this.stats.get(r.stage, r.routeKey, r.integration));
    this.stats.live = live;
  }

  deployFailed(): void {
    this.deploys.error++;
  }

  /** Hot path: serves one request and arranges for it to be observed when it closes. */
  serve(deployment: Deployment, req: IncomingMessage, res: ServerResponse): void {
    if (this.tracing) ensureTraceparent(req);
    const record = new RequestRecord(this, req, res, nextRequestId());
    (res as Tracked)[kRecord] = record;
    this.inFlight++;
    res.on('close', onResponseClose);
    record.ex = serveRequest(deployment, req, res, record.requestId);
  }

  finish(r: RequestRecord): void {
    this.inFlight--;
    const ex = r.ex;
    let stats: RouteStats;
    if (ex === null) stats = this.#unrouted;
    else {
      const found = this.#routeStats.get(ex.route);
      if (found !== undefined) stats = found;
      else {
        stats = this.stats.get(ex.stage.name, ex.route.routeKey, ex.route.integrationName);
        this.#routeStats.set(ex.route, stats);
      }
    }
    stats.record(r);
    this.accessLog?.write(r);
  }

  async close(): Promise<void> {
    await this.accessLog?.flush();
  }
}

const defaultsOff = { enabled: false, destination: 'stdout' } as const;
