/**
 * Authorizers shared across deployments. An authorizer whose config (and handler module
 * content) did not change is handed to the next deployment as is, so its result cache and
 * its JWT key set survive a redeploy instead of being refetched under load. Each one is
 * counted by the deployments using it and closed when the last of them is retired.
 */
import type { AuthorizerConfig } from '../config/schema.ts';
import type { Authorizer } from './authorizer.ts';

interface Entry {
  readonly key: string;
  readonly authorizer: Authorizer;
  refs: number;
}

export class SharedAuthorizers {
  readonly #byKey = new Map<string, Entry>();
  readonly #byAuthorizer = new Map<Authorizer, Entry>();

  /**
   * The authorizer for this exact config, built by `build` if none is live. `moduleVersion`
   * is the handler module's content hash (function authorizers), so changed code rebuilds.
   */
  async acquire(
    name: string,
    cfg: AuthorizerConfig,
    baseDir: string,
    moduleVersion: string | undefined,
    build: () => Promise<Authorizer>,
  ): Promise<Authorizer> {
    const key = JSON.stringify([name, baseDir, cfg, moduleVersion ?? null]);
    let entry = this.#byKey.get(key);
    if (entry === undefined) {
      const authorizer = await build();
      entry = { key, authorizer, refs: 0 };
      this.#byKey.set(key, entry);
      this.#byAuthorizer.set(authorizer, entry);
    }
    entry.refs++;
    return entry.authorizer;
  }

  /** A deployment no longer uses `authorizer`; the last release closes it. */
  release(authorizer: Authorizer): void {
    const entry = this.#byAuthorizer.get(authorizer);
    if (entry === undefined || --entry.refs > 0) return;
    this.#byKey.delete(entry.key);
    this.#byAuthorizer.delete(authorizer);
    authorizer.close?.();
  }

  get size(): number {
    return this.#byKey.size;
  }
}
