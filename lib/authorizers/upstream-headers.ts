/**
 * `claimsToHeaders` / `contextToHeaders`: what an authorizer established, sent to HTTP
 * integrations as headers. Compiled once per deployment; the names are also what the
 * http integration strips from the client's request, so a caller cannot spoof them.
 */
import type { ConfigIssue } from '../errors.ts';
import { formatPath } from '../config/path.ts';
import { GATEWAY_OWNED_REQUEST_HEADERS, toHeaderValue } from '../headers.ts';

export class UpstreamHeaderMap {
  /** Lower-case header names, in config order. */
  readonly names: readonly string[];
  readonly #pairs: readonly (readonly [key: string, header: string])[];

  /**
   * Validates a `{ key: header }` map from the config; problems are pushed to `issues`
   * under `path` (e.g. ['authorizers', 'jwt', 'claimsToHeaders']).
   */
  constructor(
    map: Readonly<Record<string, string>> | undefined,
    path: readonly string[],
    issues: ConfigIssue[],
  ) {
    const pairs: [string, string][] = [];
    const seen = new Map<string, string>();
    for (const [key, header] of Object.entries(map ?? {})) {
      const lower = header.toLowerCase();
      const at = formatPath([...path, key]);
      if (GATEWAY_OWNED_REQUEST_HEADERS.has(lower)) {
        issues.push({
          path: at,
          message: `"${header}" is set by the gateway; choose another header`,
        });
      } else if (seen.has(lower)) {
        issues.push({ path: at, message: `"${header}" is already used for "${seen.get(lower)}"` });
      } else {
        seen.set(lower, key);
        pairs.push([key, lower]);
      }
    }
    this.#pairs = pairs;
    this.names = pairs.map(([, h]) => h);
  }

  get empty(): boolean {
    return this.#pairs.length === 0;
  }

  /**
   * Flat [name, value, ...] for the values present (non-strings as JSON), or null.
   * A value with control characters is left out rather than sent.
   */
  headersFor(values: Readonly<Record<string, unknown>>): readonly string[] | null {
    let out: string[] | null = null;
    for (const [key, header] of this.#pairs) {
      const value = Object.hasOwn(values, key) ? values[key] : undefined;
      if (value === undefined || value === null) continue;
      const text = toHeaderValue(typeof value === 'string' ? value : JSON.stringify(value));
      if (text !== null) (out ??= []).push(header, text);
    }
    return out;
  }
}
