/**
 * Every file a config depends on besides itself: the files whose change must trigger a
 * redeploy: function modules and TLS files. One list, so a new file-valued key is watched by
 * adding it here.
 */
import { resolve } from 'node:path';
import type { GatewayConfig } from './schema.ts';

export interface ReferencedFile {
  /** Absolute path. */
  readonly path: string;
  /** The config key that names it, e.g. `integrations.hello.handler`. */
  readonly key: string;
}

/** The files `config` references, resolved against `baseDir`, each once. */
export function referencedFiles(config: GatewayConfig, baseDir: string): ReferencedFile[] {
  const out = new Map<string, ReferencedFile>();
  const add = (file: string, key: string): void => {
    const path = resolve(baseDir, file);
    if (!out.has(path)) out.set(path, { path, key });
  };
  for (const [name, cfg] of Object.entries(config.integrations)) {
    if (cfg.type === 'function') add(moduleFile(cfg.handler), `integrations.${name}.handler`);
  }
  for (const [name, cfg] of Object.entries(config.authorizers)) {
    if (cfg.type === 'function') add(moduleFile(cfg.handler), `authorizers.${name}.handler`);
  }
  if (config.tls !== undefined) {
    // deploy() re-reads these and swaps the listener's certificates (lib/tls.ts).
    add(config.tls.cert, 'tls.cert');
    add(config.tls.key, 'tls.key');
    if (config.tls.clientCa !== undefined) add(config.tls.clientCa, 'tls.clientCa');
  }
  return [...out.values()];
}

/** `./handlers/a.mjs#handler` → `./handlers/a.mjs`. */
function moduleFile(spec: string): string {
  const hash = spec.lastIndexOf('#');
  return hash < 0 ? spec : spec.slice(0, hash);
}
