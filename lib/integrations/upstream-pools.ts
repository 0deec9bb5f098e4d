/**
 * Keep-alive connection pools to upstream origins, owned by the gateway rather than a
 * deployment so that a redeploy reuses warm connections. A pool is per origin and per
 * connection settings (connect timeout, response header limit), which undici fixes per pool.
 * undici is imported only when a config has an http integration (start-up time).
 */
import type { Pool } from 'undici';

export interface PoolSettings {
  readonly connections: number;
  /** undici's own default is 10 s, whatever the request's timeouts. */
  readonly connectTimeoutMs: number;
  /** Largest upstream response head (status line + headers); over it undici fails the request. */
  readonly maxHeaderSize: number;
}

/** Sums of undici's Pool#stats over every pool: for metrics and leak checks. */
export interface UpstreamStats {
  /** Open upstream connections. */
  connected: number;
  /** Open connections with no request. */
  free: number;
  /** Requests written, waiting for or reading a response. */
  running: number;
  /** Requests not yet written to a connection. */
  pending: number;
  queued: number;
  size: number;
}

export class UpstreamPools {
  readonly #pools = new Map<string, Pool>();
  #PoolClass: typeof Pool | null = null;

  /** Loads undici; call once before `get` when a deployment needs HTTP upstreams. */
  async prepare(): Promise<void> {
    this.#PoolClass ??= (await import('undici')).Pool;
  }

  get(origin: string, settings: PoolSettings): Pool {
    const key = `${origin} ${settings.connectTimeoutMs} ${settings.maxHeaderSize}`;
    let pool = this.#pools.get(key);
    if (pool === undefined) {
      if (this.#PoolClass === null) throw new Error('UpstreamPools.prepare() was not awaited');
      pool = new this.#PoolClass(origin, {
        connections: settings.connections,
        pipelining: 1,
        // Below the common 5 s server keep-alive, so we close idle sockets before the upstream does.
        keepAliveTimeout: 4_000,
        keepAliveMaxTimeout: 600_000,
        connect: { timeout: settings.connectTimeoutMs },
        maxHeaderSize: settings.maxHeaderSize,
      });
      this.#pools.set(key, pool);
    }
    return pool;
  }

  get size(): number {
    return this.#pools.size;
  }

  stats(): UpstreamStats {
    const sum: UpstreamStats = {
      connected: 0,
      free: 0,
      running: 0,
      pending: 0,
      queued: 0,
      size: 0,
    };
    for (const pool of this.#pools.values()) {
      const s = pool.stats;
      sum.connected += s.connected;
      sum.free += s.free;
      sum.running += s.running;
      sum.pending += s.pending;
      sum.queued += s.queued;
      sum.size += s.size;
    }
    return sum;
  }

  /** Lets in-flight upstream requests finish, then closes every connection. */
  async close(): Promise<void> {
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.allSettled(pools.map((p) => p.close()));
  }
}
