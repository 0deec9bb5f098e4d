/**
 * Keep-alive connection pools to upstream origins, owned by the gateway rather than a
 * deployment so that a redeploy reuses warm connections. A pool is per origin and per
 * connection settings (connection count, connect timeout, response header limit), which
 * undici fixes per pool. Deployments hold the pools they use; a pool no deployment holds any
 * more (its origin was removed) is closed, which lets its in-flight requests finish first.
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

interface Entry {
  readonly pool: Pool;
  refs: number;
}

export class UpstreamPools {
  readonly #pools = new Map<string, Entry>();
  #PoolClass: typeof Pool | null = null;

  /** Loads undici's Pool; call once before `get` when a deployment needs HTTP upstreams. */
  async prepare(): Promise<void> {
    this.#PoolClass ??= await loadPool();
  }

  /** The pool for `origin` with these settings, created if needed; `retain` it once built. */
  get(origin: string, settings: PoolSettings): Pool {
    const key = `${origin} ${settings.connections} ${settings.connectTimeoutMs} ${settings.maxHeaderSize}`;
    let entry = this.#pools.get(key);
    if (entry === undefined) {
      if (this.#PoolClass === null) throw new Error('UpstreamPools.prepare() was not awaited');
      const pool = new this.#PoolClass(origin, {
        connections: settings.connections,
        pipelining: 1,
        // Below the common 5 s server keep-alive, so we close idle sockets before the upstream does.
        keepAliveTimeout: 4_000,
        keepAliveMaxTimeout: 600_000,
        connect: connectOptions(settings.connectTimeoutMs),
        maxHeaderSize: settings.maxHeaderSize,
      });
      entry = { pool, refs: 0 };
      this.#pools.set(key, entry);
    }
    return entry.pool;
  }

  /** A deployment now uses these pools (from `get`). */
  retain(pools: Iterable<Pool>): void {
    for (const pool of pools) {
      for (const entry of this.#pools.values()) if (entry.pool === pool) entry.refs++;
    }
  }

  /**
   * A deployment no longer uses these pools. Pools nobody holds are closed: undici's close()
   * waits for their requests under way, then ends the connections.
   */
  release(pools: Iterable<Pool>): Promise<void> {
    for (const pool of pools) {
      for (const entry of this.#pools.values()) if (entry.pool === pool) entry.refs--;
    }
    return this.#sweep();
  }

  /** Closes pools created by a deploy that failed, which no deployment holds. */
  sweep(): Promise<void> {
    return this.#sweep();
  }

  async #sweep(): Promise<void> {
    const unused: Pool[] = [];
    for (const [key, entry] of this.#pools) {
      if (entry.refs <= 0) {
        this.#pools.delete(key);
        unused.push(entry.pool);
      }
    }
    await Promise.allSettled(unused.map((p) => p.close()));
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
    for (const { pool } of this.#pools.values()) {
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
    const pools = [...this.#pools.values()].map((e) => e.pool);
    this.#pools.clear();
    await Promise.allSettled(pools.map((p) => p.close()));
  }
}

// undici's entry point loads all of undici (fetch, WebSocket, caches, mocks, interceptors):
// about 100 ms more start-up on Node 20 than the Pool module alone, which is all we use.
// The package has no exports map, so the file can be imported; should that change, the entry.
const POOL_MODULE: string = 'undici/lib/dispatcher/pool.js';

async function loadPool(): Promise<typeof Pool> {
  try {
    return ((await import(POOL_MODULE)) as { default: typeof Pool }).default;
  } catch {
    return (await import('undici')).Pool;
  }
}

/**
 * undici's sockets buffer 64 KiB before they stop reading, and one read takes up to 64 KiB:
 * every full read of a large body stopped and restarted reading (two epoll changes). Above
 * one read's size, a read stops the socket only when undici is paused by a slow client;
 * such a connection can then hold 64 KiB more than with undici's default.
 */
function connectOptions(timeout: number): { timeout: number } {
  // net.connect() takes highWaterMark; undici's connector types do not list it.
  const options = { timeout, highWaterMark: 128 * 1024 };
  return options;
}
