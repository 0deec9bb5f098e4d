/**
 * Keep-alive connection pools to upstream origins, one per origin and connection count,
 * owned by the gateway rather than a deployment so that a redeploy reuses warm connections.
 * Deployments hold the pools they use; a pool no deployment holds any more (its origin was
 * removed) is closed, which lets its in-flight requests finish first.
 * undici is imported only when a config has an http integration (start-up time).
 */
import type { Pool } from 'undici';

interface Entry {
  readonly pool: Pool;
  refs: number;
}

export class UpstreamPools {
  readonly #pools = new Map<string, Entry>();
  #PoolClass: typeof Pool | null = null;

  /** Loads undici; call once before `get` when a deployment needs HTTP upstreams. */
  async prepare(): Promise<void> {
    this.#PoolClass ??= (await import('undici')).Pool;
  }

  /** The pool for `origin`, created if needed; `retain` it once the deployment is built. */
  get(origin: string, connections: number): Pool {
    const key = poolKey(origin, connections);
    let entry = this.#pools.get(key);
    if (entry === undefined) {
      if (this.#PoolClass === null) throw new Error('UpstreamPools.prepare() was not awaited');
      const pool = new this.#PoolClass(origin, {
        connections,
        pipelining: 1,
        // Below the common 5 s server keep-alive, so we close idle sockets before the upstream does.
        keepAliveTimeout: 4_000,
        keepAliveMaxTimeout: 600_000,
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

  /** Lets in-flight upstream requests finish, then closes every connection. */
  async close(): Promise<void> {
    const pools = [...this.#pools.values()].map((e) => e.pool);
    this.#pools.clear();
    await Promise.allSettled(pools.map((p) => p.close()));
  }
}

function poolKey(origin: string, connections: number): string {
  return `${origin} ${connections}`;
}
