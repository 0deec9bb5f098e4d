/**
 * The admin listener, apart from the public port and on loopback unless configured
 * otherwise: Prometheus `/metrics`, `/healthz` (the process is up), `/readyz` (a deployment
 * is live and the public listener accepts; 503 while draining), `/_portico/routes` (the live
 * deployment, no secrets) and the live view (`/` and its JSON, `/_portico/live`).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import type { AddressInfo } from 'node:net';
import { LIVE_VIEW_HTML, liveSnapshot } from './live-view.ts';
import type { Observer } from './observer.ts';

/** What the gateway tells the admin listener. */
export interface AdminSource {
  readonly observer: Observer;
  /** A deployment is live, the public listener accepts, and the gateway is not closing. */
  ready(): boolean;
  /** `/_portico/routes`. */
  describe(): object;
}

export class AdminServer {
  readonly #server: Server;
  readonly #source: AdminSource;
  /** prom-client loads on the first scrape, not at start-up (it is the slowest import). */
  #registry: Promise<Registry> | null = null;

  private constructor(server: Server, source: AdminSource) {
    this.#server = server;
    this.#source = source;
  }

  #metrics(): Promise<Registry> {
    const o = this.#source.observer;
    this.#registry ??= import('./metrics.ts').then(({ createMetricsRegistry }) =>
      createMetricsRegistry(o.stats, {
        inFlight: () => o.inFlight,
        deploymentId: () => o.deploymentId,
        deploys: o.deploys,
      }),
    );
    return this.#registry;
  }

  static async start(source: AdminSource, port: number, host: string): Promise<AdminServer> {
    const server = createServer();
    const admin = new AdminServer(server, source);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      admin.#handle(req, res).catch(() => {
        if (!res.headersSent)
          send(res, 500, 'application/json', '{"message":"Internal Server Error"}');
        else res.destroy();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return admin;
  }

  address(): AddressInfo {
    return this.#server.address() as AddressInfo;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      send(res, 405, 'application/json', '{"message":"Method Not Allowed"}');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://admin');
    const s = this.#source;
    switch (url.pathname) {
      case '/metrics': {
        const registry = await this.#metrics();
        send(res, 200, registry.contentType, await registry.metrics());
        return;
      }
      case '/healthz':
        json(res, 200, { status: 'ok' });
        return;
      case '/readyz': {
        const ready = s.ready();
        json(res, ready ? 200 : 503, {
          status: ready ? 'ready' : 'not ready',
          deploymentId: s.observer.deploymentId,
        });
        return;
      }
      case '/_portico/routes':
        json(res, 200, s.describe());
        return;
      case '/_portico/live':
        json(
          res,
          200,
          liveSnapshot(
            s.observer.stats,
            s.observer.deploymentId,
            Number(url.searchParams.get('window') ?? 60) || 60,
          ),
        );
        return;
      case '/':
        send(res, 200, 'text/html; charset=utf-8', LIVE_VIEW_HTML);
        return;
      default:
        send(res, 404, 'application/json', '{"message":"Not Found"}');
    }
  }
}

function json(res: ServerResponse, status: number, body: object): void {
  send(res, status, 'application/json', JSON.stringify(body));
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  const buf = Buffer.from(body);
  res.writeHead(status, {
    'content-type': type,
    'content-length': buf.length,
    'cache-control': 'no-store',
  });
  res.end(res.req.method === 'HEAD' ? undefined : buf);
}
