/**
 * Reads a config file. A file whose exact text was validated before (by the same schema) is
 * taken from the validated-config cache, so a restart loads neither the YAML parser nor zod;
 * anything else goes through parse.ts, which reports every problem with its path and position.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { ConfigError, type ConfigIssue } from '../errors.ts';
import { readValidatedConfig, writeValidatedConfig } from './cache.ts';
import type { GatewayConfig } from './schema.ts';

export interface LoadedConfig {
  readonly config: GatewayConfig;
  /** Folder that relative paths in the config (handlers, files) resolve against. */
  readonly baseDir: string;
  /** Absolute path of the file it came from, if any. */
  readonly file: string | null;
  /**
   * Adds file, line and column to problems found after validation (when compiling the
   * deployment), from their config path. Identity for configs given as objects.
   */
  locate(issues: readonly ConfigIssue[]): Promise<ConfigIssue[]>;
}

/** Reads and validates a config file; throws ConfigError listing each problem. */
export async function loadConfigFile(path: string): Promise<LoadedConfig> {
  const file = resolve(path);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT'
        ? 'config file not found'
        : code === 'EISDIR'
          ? 'is a folder, not a config file'
          : `cannot read config file (${code})`;
    throw new ConfigError([{ path: '', message: reason, file: path }], path);
  }
  const base = { baseDir: dirname(file), file };
  const cached = await readValidatedConfig(text);
  if (cached !== null) {
    // Positions are only needed on the error path: parse then.
    const locate = async (issues: readonly ConfigIssue[]) =>
      (await import('./parse.ts')).parseConfigDocument(text, path).positions.locate(issues);
    return { config: cached, ...base, locate };
  }
  const { config, positions } = (await import('./parse.ts')).parseConfigDocument(text, path);
  await writeValidatedConfig(text, config);
  return { config, ...base, locate: async (issues) => positions.locate(issues) };
}
