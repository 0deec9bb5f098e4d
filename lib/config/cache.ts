/**
 * The validated-config cache: the output of validating a config text, kept per user
 * (`$XDG_CACHE_HOME/portico` or `~/.cache/portico`, or `PORTICO_CACHE_DIR`), keyed by a hash
 * of the schema module and the text. It exists for start-up time: zod and the YAML parser
 * cost ~150 ms to load on Node 20, more than the rest of the gateway. A schema change or any
 * edit to the file misses; `PORTICO_CACHE=off` disables it. Failures are never fatal.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { GatewayConfig } from './schema.ts';

/** Entries kept; older ones are removed when a new one is written. */
const MAX_ENTRIES = 64;

function cacheDir(): string | null {
  if (process.env.PORTICO_CACHE === 'off') return null;
  if (process.env.PORTICO_CACHE_DIR) return process.env.PORTICO_CACHE_DIR;
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'portico');
}

let schemaHash: string | null = null;

/** Set by the CLI bundle (scripts/bundle.mjs) to the hash of the schema source it bundles. */
declare const PORTICO_SCHEMA_FINGERPRINT: string | undefined;

/** What validation depends on besides the text: the schema module itself (source or built). */
function schemaFingerprint(): string {
  schemaHash ??=
    typeof PORTICO_SCHEMA_FINGERPRINT === 'string'
      ? PORTICO_SCHEMA_FINGERPRINT
      : createHash('sha256').update(schemaSource()).digest('hex');
  return schemaHash;
}

function schemaSource(): string {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  try {
    return readFileSync(new URL(`./schema${ext}`, import.meta.url), 'utf8');
  } catch {
    return String(Math.random()); // unreadable: never hit
  }
}

function entryPath(dir: string, text: string): string {
  const key = createHash('sha256')
    .update(schemaFingerprint())
    .update('\0')
    .update(text)
    .digest('hex');
  return join(dir, `${key}.json`);
}

export async function readValidatedConfig(text: string): Promise<GatewayConfig | null> {
  const dir = cacheDir();
  if (dir === null) return null;
  try {
    return JSON.parse(await readFile(entryPath(dir, text), 'utf8')) as GatewayConfig;
  } catch {
    return null;
  }
}

export async function writeValidatedConfig(text: string, config: GatewayConfig): Promise<void> {
  const dir = cacheDir();
  if (dir === null) return;
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const target = entryPath(dir, text);
    const tmp = `${target}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(config), { mode: 0o600 });
    await rename(tmp, target);
    await prune(dir);
  } catch {
    // A read-only or full disk only costs start-up time.
  }
}

async function prune(dir: string): Promise<void> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.json'));
  if (names.length <= MAX_ENTRIES) return;
  const aged = await Promise.all(
    names.map(async (n) => ({ n, t: (await stat(join(dir, n))).mtimeMs })),
  );
  aged.sort((a, b) => a.t - b.t);
  await Promise.all(aged.slice(0, aged.length - MAX_ENTRIES).map(({ n }) => unlink(join(dir, n))));
}
