/**
 * Keep-alive connection pools to upstream origins, one per origin, owned by the gateway
 * rather than a deployment so that a redeploy reuses warm connections.
 * undici is imported only when a config has an http integration (start-up time).
 */
import type { Pool } from 'undici';

export class UpstreamPools {
  readonly #pools = new Map<string, Pool>();
  #PoolClass: typeof Pool | null = null;

  /** Loads undici's Pool; call once before `get` when a deployment needs HTTP upstreams. */
  async prepare(): Promise<void> {
    this.#PoolClass ??= await loadPool();
  }

  get(origin: string, connections: number): Pool {
    let pool = this.#pools.get(origin);
    if (pool === undefined) {
      if (this.#PoolClass === null) throw new Error('UpstreamPools.prepare() was not awaited');
      pool = new this.#PoolClass(origin, {
        connections,
        pipelining: 1,
        // Below the common 5 s server keep-alive, so we close idle sockets before the upstream does.
        keepAliveTimeout: 4_000,
        keepAliveMaxTimeout: 600_000,
      });
      this.#pools.set(origin, pool);
    }
    return pool;
  }

  get size(): number {
    return this.#pools.size;
  }

  /** Lets in-flight upstream requests finish, then closes every connection. */
  async close(): Promise<void> {
    const pools = [...this.#pools.values()];
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
