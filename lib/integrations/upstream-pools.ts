/**
 * Keep-alive connection pools to upstream origins, one per origin, owned by the gateway
 * rather than a deployment so that a redeploy reuses warm connections.
 * undici is imported only when a config has an http integration (start-up time).
 */
import type { Pool } from 'undici';

export class UpstreamPools {
  readonly #pools = new Map<string, Pool>();
  #PoolClass: typeof Pool | null = null;

  /** Loads undici; call once before `get` when a deployment needs HTTP upstreams. */
  async prepare(): Promise<void> {
    this.#PoolClass ??= (await import('undici')).Pool;
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
