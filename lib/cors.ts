/**
 * CORS as AWS HTTP API does it: when configured, the gateway answers preflight OPTIONS
 * itself (before any authorizer, so preflights never need a token), adds the CORS headers
 * to actual responses, and ignores access-control-* headers from the integration.
 * Everything that does not depend on the request's Origin is joined once, at deploy time.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CorsConfig } from './config/schema.ts';
import type { Exchange } from './exchange.ts';
import type { Filter } from './pipeline/route.ts';

const EMPTY: readonly string[] = Object.freeze([]);
/** Bound on remembered wildcard-matched origins: they come from clients. */
const MAX_CACHED_ORIGINS = 1000;

interface WildcardOrigin {
  /** `https://` */
  readonly scheme: string;
  /** `.example.com` (or `.example.com:8443`) */
  readonly suffix: string;
}

export class CorsPolicy {
  readonly #anyOrigin: boolean;
  readonly #exact: ReadonlySet<string>;
  readonly #wildcards: readonly WildcardOrigin[];
  readonly #credentials: boolean;
  /** Headers for actual responses, per allowed origin (exact ones precomputed). */
  readonly #actual = new Map<string, readonly string[]>();
  /** `vary: Origin` when the answer depends on the origin, else nothing. */
  readonly #varyOnly: readonly string[];
  readonly #preflightTail: readonly string[];
  readonly #allowAnyMethod: boolean;
  readonly #allowAnyHeader: boolean;
  readonly #wildcardResponse: readonly string[] | null;

  constructor(cfg: CorsConfig) {
    const exact = new Set<string>();
    const wildcards: WildcardOrigin[] = [];
    for (const origin of cfg.allowOrigins) {
      if (origin === '*') continue;
      const star = origin.indexOf('://*.');
      if (star > 0) {
        wildcards.push({
          scheme: origin.slice(0, star + 3).toLowerCase(),
          suffix: origin.slice(star + 4).toLowerCase(),
        });
      } else {
        exact.add(origin.toLowerCase().replace(/\/$/, ''));
      }
    }
    this.#anyOrigin = cfg.allowOrigins.includes('*');
    this.#exact = exact;
    this.#wildcards = wildcards;
    this.#credentials = cfg.allowCredentials;
    const varies = !this.#anyOrigin || exact.size > 0 || wildcards.length > 0;
    this.#varyOnly = varies && !this.#anyOrigin ? ['vary', 'Origin'] : EMPTY;

    const common: string[] = [];
    if (cfg.allowCredentials) common.push('access-control-allow-credentials', 'true');
    const actualTail = [...common];
    if (cfg.exposeHeaders.length > 0)
      actualTail.push('access-control-expose-headers', cfg.exposeHeaders.join(', '));
    this.#allowAnyMethod = cfg.allowMethods.includes('*');
    this.#allowAnyHeader = cfg.allowHeaders.includes('*');
    const preflight = [...common];
    if (!this.#allowAnyMethod && cfg.allowMethods.length > 0) {
      preflight.push(
        'access-control-allow-methods',
        cfg.allowMethods.map((m) => m.toUpperCase()).join(', '),
      );
    }
    if (!this.#allowAnyHeader && cfg.allowHeaders.length > 0) {
      preflight.push('access-control-allow-headers', cfg.allowHeaders.join(', '));
    }
    if (cfg.maxAge !== undefined) preflight.push('access-control-max-age', String(cfg.maxAge));
    this.#preflightTail = preflight;
    this.#actualTail = actualTail;

    // A bare "*" (no credentials) answers every origin the same way: no Vary needed.
    this.#wildcardResponse =
      this.#anyOrigin && !cfg.allowCredentials
        ? ['access-control-allow-origin', '*', ...actualTail]
        : null;
    for (const origin of exact) {
      this.#actual.set(origin, [
        'access-control-allow-origin',
        origin,
        'vary',
        'Origin',
        ...actualTail,
      ]);
    }
  }

  readonly #actualTail: readonly string[];

  /** Is `origin` allowed? `*` with credentials echoes the origin (browsers refuse a literal `*`). */
  #allows(origin: string): boolean {
    if (this.#anyOrigin) return true;
    const lower = origin.toLowerCase();
    if (this.#exact.has(lower)) return true;
    for (const w of this.#wildcards) {
      if (
        lower.startsWith(w.scheme) &&
        lower.endsWith(w.suffix) &&
        lower.length > w.scheme.length + w.suffix.length
      ) {
        const host = lower.slice(w.scheme.length, lower.length - w.suffix.length);
        // One or more whole labels: no port, path or user-info smuggled in.
        if (/^[a-z0-9-]+(\.[a-z0-9-]+)*$/.test(host)) return true;
      }
    }
    return false;
  }

  /** Flat headers to add to an actual (non-preflight) response. Hot path. */
  responseHeaders(origin: string | undefined): readonly string[] {
    if (origin === undefined) return this.#varyOnly;
    if (this.#wildcardResponse !== null) return this.#wildcardResponse;
    const cached = this.#actual.get(origin);
    if (cached !== undefined) return cached;
    if (!this.#allows(origin)) return this.#varyOnly;
    const headers = ['access-control-allow-origin', origin, 'vary', 'Origin', ...this.#actualTail];
    if (this.#actual.size < this.#exact.size + MAX_CACHED_ORIGINS)
      this.#actual.set(origin, headers);
    return headers;
  }

  /** Answers a preflight with 204; a disallowed origin gets no CORS headers (the browser then refuses). */
  preflight(req: IncomingMessage, res: ServerResponse, requestId: string): void {
    const origin = req.headers.origin!;
    const out: string[] = ['apigw-requestid', requestId, 'content-length', '0'];
    if (this.#allows(origin)) {
      const echo = !this.#anyOrigin || this.#credentials;
      out.push('access-control-allow-origin', echo ? origin : '*');
      if (echo) out.push('vary', 'Origin');
      out.push(...this.#preflightTail);
      // "*" is echoed rather than sent literally: browsers ignore a literal "*" on credentialed requests.
      if (this.#allowAnyMethod)
        out.push('access-control-allow-methods', req.headers['access-control-request-method']!);
      const requested = req.headers['access-control-request-headers'];
      if (this.#allowAnyHeader && requested !== undefined)
        out.push('access-control-allow-headers', requested);
    } else {
      out.push(...this.#varyOnly);
    }
    res.writeHead(204, out);
    res.end();
  }
}

/** A browser's preflight: OPTIONS with an Origin and the method it wants to use. */
export function isPreflight(req: IncomingMessage): boolean {
  return (
    req.method === 'OPTIONS' &&
    req.headers.origin !== undefined &&
    req.headers['access-control-request-method'] !== undefined
  );
}

/** First in a route's chain: marks the CORS headers every response of the exchange carries. */
export class CorsFilter implements Filter {
  readonly name = 'cors';
  readonly #policy: CorsPolicy;

  constructor(policy: CorsPolicy) {
    this.#policy = policy;
  }

  run(ex: Exchange): void {
    const headers = this.#policy.responseHeaders(ex.req.headers.origin);
    if (headers.length > 0) ex.responseHeaders = headers;
  }
}
