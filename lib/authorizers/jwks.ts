/**
 * A remote JSON Web Key Set for the JWT authorizer: found by OpenID Connect discovery
 * (`{issuer}/.well-known/openid-configuration` → `jwks_uri`) or given as a URL, fetched
 * lazily on the first request that needs it, cached, and refreshed with bounded effort:
 *
 * - one fetch at a time: every request that needs keys while a fetch is under way waits
 *   for that fetch (no stampede);
 * - keys are refreshed in the background once older than REFRESH_AFTER_MS, and are still
 *   used while a refresh fails, up to MAX_STALE_MS after the last good fetch; past that
 *   (or before the first good fetch) an unreachable issuer fails closed;
 * - a `kid` not in the set triggers one refetch, at most once per UNKNOWN_KID_COOLDOWN_MS,
 *   so tokens with made-up key ids cannot make the gateway hammer the issuer;
 * - after a failed fetch, requests needing a fetch fail fast for FAILURE_BACKOFF_MS;
 * - each discovery and key-set fetch times out at `timeoutMs` (AWS: 1500 ms) and its body
 *   is capped at MAX_DOCUMENT_BYTES (AWS caps the key set at 150,000 bytes).
 *
 * Cache decisions read time from the injected `now()`, so tests can step the clock.
 */
import type { createLocalJWKSet, JWSHeaderParameters, CryptoKey } from 'jose';
import type { Logger } from '../log.ts';

/** Keys older than this are refreshed in the background (jose's default cache age). */
export const REFRESH_AFTER_MS = 10 * 60_000;
/** Keys older than this are no longer used: the issuer must answer again. */
export const MAX_STALE_MS = 60 * 60_000;
/** The least time between refetches caused by an unknown `kid` (jose's default cooldown). */
export const UNKNOWN_KID_COOLDOWN_MS = 30_000;
/** After a failed fetch, how long requests that need a fetch fail without trying again. */
export const FAILURE_BACKOFF_MS = 5_000;
/** Largest discovery document or key set accepted (AWS's key-set cap). */
export const MAX_DOCUMENT_BYTES = 150_000;

export type KeyLookupFailure = 'unknown-kid' | 'unavailable';

/** Why no key could be given for a token; the authorizer turns it into a 401. */
export class KeyLookupError extends Error {
  readonly reason: KeyLookupFailure;
  constructor(reason: KeyLookupFailure) {
    super(reason === 'unknown-kid' ? 'kid not in the key set' : 'key set unavailable');
    this.name = 'KeyLookupError';
    this.reason = reason;
  }
}

export interface RemoteKeySetOptions {
  /** For log lines: the authorizer's name. */
  readonly name: string;
  readonly issuer: string;
  /** The key set's URL, or null to find it by OpenID Connect discovery. */
  readonly jwksUri: string | null;
  readonly timeoutMs: number;
  readonly logger: Logger;
  /** Milliseconds since the epoch. */
  readonly now: () => number;
  /** jose's, from the caller, which has jose loaded (it is imported on demand: see jwt.ts). */
  readonly createLocalJWKSet: typeof createLocalJWKSet;
}

interface LoadedKeys {
  readonly kids: ReadonlySet<string>;
  readonly select: ReturnType<typeof createLocalJWKSet>;
  readonly fetchedAt: number;
}

export class RemoteKeySet {
  readonly #opts: RemoteKeySetOptions;
  readonly #discoveryUrl: string;
  readonly #closed = new AbortController();
  #jwksUri: string | null;
  #keys: LoadedKeys | null = null;
  #inflight: Promise<void> | null = null;
  #lastAttempt = -Infinity;
  #lastFailure = -Infinity;

  constructor(opts: RemoteKeySetOptions) {
    this.#opts = opts;
    this.#jwksUri = opts.jwksUri;
    this.#discoveryUrl = discoveryUrl(opts.issuer);
  }

  /**
   * The key for a token whose header names `kid` and an allowed `alg`. The decision to wait
   * for (or start) a fetch is taken synchronously, so concurrent callers share one fetch.
   */
  resolve(header: JWSHeaderParameters & { kid: string }): Promise<CryptoKey> {
    const now = this.#opts.now();
    const keys = this.#keys;
    if (keys !== null && now - keys.fetchedAt < MAX_STALE_MS) {
      if (now - keys.fetchedAt >= REFRESH_AFTER_MS && this.#mayFetch(now)) void this.#refresh();
      if (keys.kids.has(header.kid)) return keys.select(header);
      // An unknown kid: the issuer may have rotated. Join a fetch under way, or start one
      // unless one started recently.
      if (this.#inflight === null && now - this.#lastAttempt < UNKNOWN_KID_COOLDOWN_MS)
        return Promise.reject(new KeyLookupError('unknown-kid'));
      return this.#refresh().then(() => this.#select(header));
    }
    if (this.#inflight === null && !this.#mayFetch(now))
      return Promise.reject(new KeyLookupError('unavailable'));
    return this.#refresh().then(() => this.#select(header));
  }

  /** Aborts a fetch under way; later lookups fail closed. */
  close(): void {
    this.#closed.abort();
  }

  #mayFetch(now: number): boolean {
    return !this.#closed.signal.aborted && now - this.#lastFailure >= FAILURE_BACKOFF_MS;
  }

  #select(header: JWSHeaderParameters & { kid: string }): Promise<CryptoKey> {
    const keys = this.#keys;
    if (keys === null || this.#opts.now() - keys.fetchedAt >= MAX_STALE_MS)
      return Promise.reject(new KeyLookupError('unavailable'));
    if (!keys.kids.has(header.kid)) return Promise.reject(new KeyLookupError('unknown-kid'));
    return keys.select(header);
  }

  /** Starts a fetch, or returns the one under way. Never rejects. */
  #refresh(): Promise<void> {
    this.#inflight ??= this.#fetch().finally(() => {
      this.#inflight = null;
    });
    return this.#inflight;
  }

  async #fetch(): Promise<void> {
    this.#lastAttempt = this.#opts.now();
    let url = this.#discoveryUrl;
    try {
      if (this.#jwksUri === null) {
        this.#jwksUri = jwksUriFrom(await this.#getJson(url), this.#opts.issuer);
      }
      url = this.#jwksUri;
      const jwks = await this.#getJson(url);
      const select = this.#opts.createLocalJWKSet(jwks as Parameters<typeof createLocalJWKSet>[0]);
      const kids = new Set<string>();
      for (const k of (jwks as { keys: { kid?: unknown }[] }).keys)
        if (typeof k.kid === 'string' && k.kid !== '') kids.add(k.kid);
      this.#keys = { kids, select, fetchedAt: this.#opts.now() };
    } catch (err) {
      this.#lastFailure = this.#opts.now();
      // The key set may have moved: look it up again next time.
      if (this.#opts.jwksUri === null && url !== this.#discoveryUrl) this.#jwksUri = null;
      if (this.#closed.signal.aborted) return;
      this.#opts.logger.warn(
        {
          authorizer: this.#opts.name,
          url: redact(url),
          reason: describe(err, this.#opts.timeoutMs),
          usingCachedKeys:
            this.#keys !== null && this.#opts.now() - this.#keys.fetchedAt < MAX_STALE_MS,
        },
        'JWT authorizer: could not fetch signing keys',
      );
    }
  }

  async #getJson(url: string): Promise<unknown> {
    const signal = AbortSignal.any([
      AbortSignal.timeout(this.#opts.timeoutMs),
      this.#closed.signal,
    ]);
    const res = await fetch(url, {
      signal,
      redirect: 'manual',
      headers: { accept: 'application/json, application/jwk-set+json' },
    });
    if (res.status !== 200) {
      await res.body?.cancel().catch(() => {});
      throw new Error(`HTTP ${res.status}`);
    }
    const declared = Number(res.headers.get('content-length'));
    if (declared > MAX_DOCUMENT_BYTES) {
      await res.body?.cancel().catch(() => {});
      throw new Error(`response larger than ${MAX_DOCUMENT_BYTES} bytes`);
    }
    const chunks: Uint8Array[] = [];
    let total = 0;
    if (res.body !== null) {
      const reader = res.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        total += value.byteLength;
        if (total > MAX_DOCUMENT_BYTES) {
          await reader.cancel().catch(() => {});
          throw new Error(`response larger than ${MAX_DOCUMENT_BYTES} bytes`);
        }
        chunks.push(value);
      }
    }
    try {
      return JSON.parse(Buffer.concat(chunks, total).toString('utf8'));
    } catch {
      throw new Error('response is not JSON');
    }
  }
}

/** OpenID Connect Discovery 1.0 §4: the issuer without a trailing slash, then the well-known path. */
export function discoveryUrl(issuer: string): string {
  return `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
}

function jwksUriFrom(doc: unknown, issuer: string): string {
  const uri = (doc as { jwks_uri?: unknown } | null)?.jwks_uri;
  if (typeof uri !== 'string') throw new Error('the discovery document has no jwks_uri');
  let parsed: URL;
  try {
    parsed = new URL(uri);
  } catch {
    throw new Error('the discovery document has an invalid jwks_uri');
  }
  // An https issuer's keys must not be fetched over plain http.
  const allowed = issuer.startsWith('https:') ? ['https:'] : ['https:', 'http:'];
  if (!allowed.includes(parsed.protocol))
    throw new Error(`the discovery document's jwks_uri must use ${allowed.join(' or ')}`);
  return parsed.href;
}

function describe(err: unknown, timeoutMs: number): string {
  if (err instanceof Error) {
    if (err.name === 'TimeoutError') return `timed out after ${timeoutMs} ms`;
    if (err.name === 'AbortError') return 'aborted';
    const cause = (err as { cause?: { code?: unknown; message?: unknown } }).cause;
    // fetch() says "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND...) is its cause.
    if (cause !== undefined && cause !== null)
      return `${err.message}: ${typeof cause.code === 'string' ? cause.code : String(cause.message)}`;
    return err.message;
  }
  return String(err);
}

/** A URL for logs: without userinfo or query (either may carry a credential). */
function redact(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}
