/**
 * CORS as AWS HTTP API does it: when configured, the gateway answers preflight OPTIONS
 * itself (before any authorizer, so preflights never need a token), adds the CORS headers
 * to actual responses, and ignores access-control-* headers from the integration.
 * Everything that does not depend on the request's Origin is joined once, at deploy time.
 *
 * `allowOrigins` entries: `*` (any origin), an exact origin (`https://app.example.com`,
 * compared case-insensitively, default port and trailing slash ignored), `scheme://*`
 * (any origin of that scheme, as AWS documents `https://*`), or a wildcard subdomain
 * `scheme://*.example.com[:port]`: one or more labels before `.example.com`, never
 * `example.com` itself, and a port only if the pattern names it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CorsConfig } from './config/schema.ts';
import type { Exchange } from './exchange.ts';
import type { Filter } from './pipeline/route.ts';

const EMPTY: readonly string[] = Object.freeze([]);
const VARY_ORIGIN: readonly string[] = Object.freeze(['vary', 'Origin']);
/** Bound on remembered wildcard-matched origins: they come from clients. */
const MAX_CACHED_ORIGINS = 1000;
/** What may stand for `*` in `scheme://*.suffix`: whole DNS labels, nothing else. */
const SUBDOMAIN = /^[a-z0-9_-]+(?:\.[a-z0-9_-]+)*$/;
/** What may stand for `*` in `scheme://*`: a host (name, IPv4 or [IPv6]) and an optional port. */
const HOST_PORT = /^(?:[a-z0-9_-]+(?:\.[a-z0-9_-]+)*|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?$/;
const SCHEME_ANY = /^([a-z][a-z0-9+.-]*:\/\/)\*$/;
const SUBDOMAIN_PATTERN = /^([a-z][a-z0-9+.-]*:\/\/)\*(\..+)$/;

interface WildcardOrigin {
  /** `https://` */
  readonly scheme: string;
  /** `.example.com` (or `.example.com:8443`); '' for `https://*` (any host of the scheme). */
  readonly suffix: string;
}

/**
 * The form browsers send (RFC 6454 serialisation): lower case, no trailing slash, no
 * default port. Only used on configured origins; request origins are lower-cased only.
 */
function normalizeOrigin(origin: string): string {
  let o = origin.toLowerCase();
  if (o.endsWith('/')) o = o.slice(0, -1);
  if (o.startsWith('https://') && o.endsWith(':443')) o = o.slice(0, -4);
  else if (o.startsWith('http://') && o.endsWith(':80')) o = o.slice(0, -3);
  return o;
}

export class CorsPolicy {
  readonly #anyOrigin: boolean;
  readonly #exact: ReadonlySet<string>;
  readonly #wildcards: readonly WildcardOrigin[];
  /** Headers for actual responses, per allowed origin (exact ones precomputed). */
  readonly #actual = new Map<string, readonly string[]>();
  readonly #actualTail: readonly string[];
  /** `vary: Origin` when the answer depends on the origin, else nothing. */
  readonly #varyOnly: readonly string[];
  /** A bare "*" without credentials answers every origin the same way; else null. */
  readonly #anyOriginResponse: readonly string[] | null;
  /** Preflight headers after the origin: credentials, methods, headers, max-age. */
  readonly #preflightTail: readonly string[];
  readonly #allowAnyMethod: boolean;
  readonly #allowAnyHeader: boolean;
  /** The Vary value of an allowed preflight when the answer echoes request headers, else null. */
  readonly #preflightVary: string | null;

  constructor(cfg: CorsConfig) {
    const exact = new Set<string>();
    const wildcards: WildcardOrigin[] = [];
    let anyOrigin = false;
    for (const origin of cfg.allowOrigins) {
      const lower = origin.toLowerCase();
      if (lower === '*') {
        anyOrigin = true;
        continue;
      }
      const schemeOnly = SCHEME_ANY.exec(lower);
      if (schemeOnly !== null) {
        wildcards.push({ scheme: schemeOnly[1]!, suffix: '' });
        continue;
      }
      const sub = SUBDOMAIN_PATTERN.exec(lower);
      if (sub !== null) {
        const scheme = sub[1]!;
        // Normalised as an origin is: `https://*.x.com:443/` is `https://*.x.com`.
        wildcards.push({ scheme, suffix: normalizeOrigin(scheme + sub[2]!).slice(scheme.length) });
        continue;
      }
      exact.add(normalizeOrigin(origin));
    }
    this.#anyOrigin = anyOrigin;
    this.#exact = exact;
    this.#wildcards = wildcards;
    // Only a literal "*" answer is the same for every origin ("*" with credentials, which
    // the config schema refuses, would have to echo the origin).
    const echoes = !anyOrigin || cfg.allowCredentials;
    this.#varyOnly = echoes ? VARY_ORIGIN : EMPTY;

    const common: string[] = [];
    if (cfg.allowCredentials) common.push('access-control-allow-credentials', 'true');
    const actualTail = [...common];
    if (cfg.exposeHeaders.length > 0)
      actualTail.push('access-control-expose-headers', cfg.exposeHeaders.join(', '));
    this.#actualTail = actualTail;

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
    const vary: string[] = [];
    if (echoes) vary.push('Origin');
    if (this.#allowAnyMethod) vary.push('Access-Control-Request-Method');
    if (this.#allowAnyHeader) vary.push('Access-Control-Request-Headers');
    this.#preflightVary = vary.length > 0 ? vary.join(', ') : null;

    this.#anyOriginResponse = echoes ? null : ['access-control-allow-origin', '*', ...actualTail];
    for (const origin of exact) {
      this.#actual.set(origin, [
        'access-control-allow-origin',
        origin,
        ...VARY_ORIGIN,
        ...actualTail,
      ]);
    }
  }

  /** Is `origin` allowed? */
  #allows(origin: string): boolean {
    if (this.#anyOrigin) return true;
    const lower = origin.toLowerCase();
    if (this.#exact.has(lower)) return true;
    for (const w of this.#wildcards) {
      if (
        lower.length > w.scheme.length + w.suffix.length &&
        lower.startsWith(w.scheme) &&
        lower.endsWith(w.suffix)
      ) {
        const host = lower.slice(w.scheme.length, lower.length - w.suffix.length);
        // Whole labels (or host[:port] for `scheme://*`): no port, path, user-info or
        // second origin smuggled in.
        if ((w.suffix === '' ? HOST_PORT : SUBDOMAIN).test(host)) return true;
      }
    }
    return false;
  }

  /** Flat headers to add to an actual (non-preflight) response. Hot path. */
  responseHeaders(origin: string | undefined): readonly string[] {
    if (origin === undefined) return this.#varyOnly;
    if (this.#anyOriginResponse !== null) return this.#anyOriginResponse;
    const cached = this.#actual.get(origin);
    if (cached !== undefined) return cached;
    if (!this.#allows(origin)) return this.#varyOnly;
    const headers = ['access-control-allow-origin', origin, ...VARY_ORIGIN, ...this.#actualTail];
    if (this.#actual.size < this.#exact.size + MAX_CACHED_ORIGINS)
      this.#actual.set(origin, headers);
    return headers;
  }

  /**
   * Answers a preflight: 204 with no body (and so no Content-Length, RFC 9110 §8.6).
   * A disallowed origin gets no CORS headers, so the browser refuses the actual request.
   * Which methods and headers are allowed is the browser's check, against the lists sent.
   */
  preflight(req: IncomingMessage, res: ServerResponse, requestId: string): void {
    const origin = req.headers.origin!;
    const out: string[] = ['apigw-requestid', requestId];
    if (this.#allows(origin)) {
      const echo = this.#anyOriginResponse === null;
      out.push('access-control-allow-origin', echo ? origin : '*');
      if (this.#preflightVary !== null) out.push('vary', this.#preflightVary);
      out.push(...this.#preflightTail);
      // "*" is echoed rather than sent literally: browsers ignore a literal "*" on credentialed requests.
      if (this.#allowAnyMethod)
        out.push('access-control-allow-methods', req.headers['access-control-request-method']!);
      const requested = req.headers['access-control-request-headers'];
      if (this.#allowAnyHeader && requested !== undefined && requested !== '')
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
