/**
 * API keys (AWS REST API keys): a table built per deployment from `apiKeys`, and the filter
 * for routes with `apiKeyRequired`. Keys are looked up by their SHA-256 only, whether the
 * config gave the key (`value`, `env`) or its hash (`sha256`): the table never holds a key,
 * a lookup costs the same for every input, and what is logged is `masked` at most.
 */
import { hash } from 'node:crypto';
import type { ApiKeyConfig } from './config/schema.ts';
import { formatPath } from './config/path.ts';
import { sendExchangeError } from './error-response.ts';
import type { ConfigIssue } from './errors.ts';
import type { Exchange } from './exchange.ts';
import type { Filter } from './pipeline/route.ts';

export interface ApiKey {
  /** The name in `apiKeys`: what logs, bucket keys and usage plans use. */
  readonly name: string;
  /** Safe to log: the first 4 characters of the key, or of its hash. */
  readonly masked: string;
  readonly enabled: boolean;
}

/** `abcd…` for a key: 4 of its 20 or more characters, never more. */
export function maskKey(value: string): string {
  return `${value.slice(0, 4)}…`;
}

export class ApiKeyTable {
  readonly #byHash = new Map<string, ApiKey>();
  readonly #byName = new Map<string, ApiKey>();

  /**
   * Builds the table; problems (unset variables, keys defined twice) go to `issues` with
   * their config path and never contain a key.
   */
  constructor(
    config: Readonly<Record<string, ApiKeyConfig>>,
    env: NodeJS.ProcessEnv,
    issues: ConfigIssue[],
  ) {
    for (const [name, cfg] of Object.entries(config)) {
      let digest: string;
      let masked: string;
      if (cfg.sha256 !== undefined) {
        digest = cfg.sha256.toLowerCase();
        masked = `sha256:${digest.slice(0, 4)}…`;
      } else {
        let value = cfg.value;
        if (cfg.env !== undefined) {
          value = env[cfg.env];
          const problem =
            value === undefined || value === ''
              ? `environment variable ${cfg.env} is not set`
              : /^[\x21-\x7e]{20,128}$/.test(value)
                ? null
                : `environment variable ${cfg.env} must hold 20-128 visible ASCII characters`;
          if (problem !== null) {
            issues.push({ path: formatPath(['apiKeys', name, 'env']), message: problem });
            continue;
          }
        }
        if (value === undefined) continue; // the schema reported it
        digest = sha256(value);
        masked = maskKey(value);
      }
      const other = this.#byHash.get(digest);
      if (other !== undefined) {
        issues.push({
          path: formatPath(['apiKeys', name]),
          message: `the same key as apiKeys.${other.name}`,
        });
        continue;
      }
      const key: ApiKey = Object.freeze({ name, masked, enabled: cfg.enabled });
      this.#byHash.set(digest, key);
      this.#byName.set(name, key);
    }
  }

  /** The key a client presented, or null. One SHA-256 per call (about a microsecond). */
  lookup(value: string): ApiKey | null {
    return this.#byHash.get(sha256(value)) ?? null;
  }

  byName(name: string): ApiKey | null {
    return this.#byName.get(name) ?? null;
  }

  get size(): number {
    return this.#byHash.size;
  }
}

function sha256(value: string): string {
  return hash('sha256', value, 'hex');
}

/** The API key the exchange was admitted with, or null (route without apiKeyRequired). */
export function requestApiKey(ex: Exchange): ApiKey | null {
  return ex.apiKey;
}

export type ApiKeySource = 'HEADER' | 'AUTHORIZER';

/**
 * `apiKeyRequired: true`: the key comes from a header or from a function authorizer
 * (`usageIdentifierKey`, AWS's AUTHORIZER source) and must be enabled and, on a stage some
 * usage plan covers, in one of that stage's plans (AWS). Otherwise 403 {"message":"Forbidden"}.
 */
export class ApiKeyFilter implements Filter {
  readonly name = 'apiKey';
  readonly #table: ApiKeyTable;
  readonly #header: string | null;
  /** Keys admitted on this stage, or null when no usage plan covers it (any key will do). */
  readonly #admitted: ReadonlySet<ApiKey> | null;

  constructor(
    table: ApiKeyTable,
    source: ApiKeySource,
    header: string,
    admitted: ReadonlySet<ApiKey> | null,
  ) {
    this.#table = table;
    this.#header = source === 'HEADER' ? header.toLowerCase() : null;
    this.#admitted = admitted;
  }

  run(ex: Exchange): void {
    // A repeated header arrives comma-joined and so matches no key.
    const presented = this.#header === null ? ex.usageIdentifierKey : ex.req.headers[this.#header];
    const key = typeof presented === 'string' ? this.#table.lookup(presented) : null;
    if (key === null || !key.enabled || (this.#admitted !== null && !this.#admitted.has(key))) {
      sendExchangeError(ex, 'PORTICO_API_KEY_INVALID');
      return;
    }
    ex.apiKey = key;
  }
}
