/**
 * The `jwt` authorizer: AWS HTTP API's JWT authorizer, verifying signatures for real.
 *
 * Per request: the token is read from the identity source (a bare token or `Bearer <token>`),
 * refused without parsing when over MAX_TOKEN_LENGTH, its header checked (`alg` on the
 * allow-list, `kid` present for key sets), then jose verifies the signature and `iss`, `exp`
 * (required) and `nbf`; this file adds `iat` not in the future, `aud` or `client_id` (AWS:
 * `client_id` only when there is no `aud`) and the route's scopes (any of them in `scope`
 * or `scp`). Everything that does not depend on the token is computed once, here, at deploy.
 *
 * Keys: a remote key set (`jwksUri`, or OpenID Connect discovery from `issuer`, fetched
 * lazily so a deploy never fails because the issuer is briefly down; see jwks.ts), or a
 * static `publicKey` (PEM or JWK) or HMAC `secret` for development. HMAC algorithms are
 * only ever allowed with `secret`: a public key is never used as an HMAC secret.
 *
 * Failures are AWS-shaped: 401 with `www-authenticate: Bearer scope="" error="invalid_token"
 * error_description="..."` (a fixed text per cause, never anything taken from the token),
 * plain `Bearer` when there is no token (RFC 6750 §3.1), and 403 with
 * `error="insufficient_scope"` for a valid token without a required scope. The token itself
 * is never logged.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import type * as Jose from 'jose';
import type { JWSHeaderParameters, JWTPayload, JWTVerifyGetKey, JWTVerifyOptions } from 'jose';
import { ASYMMETRIC_ALGORITHMS, HMAC_ALGORITHMS } from './jwt-algorithms.ts';
import { UpstreamHeaderMap } from './upstream-headers.ts';
import type { AuthorizerConfig } from '../config/schema.ts';
import { formatPath } from '../config/path.ts';
import { ConfigError, type ConfigIssue } from '../errors.ts';
import type { Exchange } from '../exchange.ts';
import type { Logger } from '../log.ts';
import type { AuthResult, Authorizer, AuthorizerDeps } from './authorizer.ts';
import { compileIdentitySource, type IdentitySourceReader } from './identity-source.ts';
import { KeyLookupError, RemoteKeySet } from './jwks.ts';

/**
 * jose, set by the first createJwtAuthorizer(), so it is there before any authorizer runs.
 * jose is only an ES module: a static import would become `require('jose')` in the bundled
 * (CommonJS) CLI, which Node before 20.19 refuses.
 */
let jose: typeof Jose;

export type JwtAuthorizerConfig = Extract<AuthorizerConfig, { type: 'jwt' }>;

/**
 * Longest token accepted, in characters; longer ones get a 401 without being decoded.
 * Real access and ID tokens are a few KB; AWS limits a request's line and headers to 10 KB.
 */
export const MAX_TOKEN_LENGTH = 8192;

export async function createJwtAuthorizer(
  name: string,
  cfg: JwtAuthorizerConfig,
  deps: AuthorizerDeps,
): Promise<Authorizer> {
  jose ??= await import('jose');
  const issues: ConfigIssue[] = [];
  const issue = (path: readonly (string | number)[], message: string): void =>
    void issues.push({ path: formatPath(['authorizers', name, ...path]), message });
  const now = deps.now ?? Date.now;

  if (!isHttpUrl(cfg.issuer)) issue(['issuer'], 'expected an http(s) URL');
  if (cfg.jwksUri !== undefined && !isHttpUrl(cfg.jwksUri))
    issue(['jwksUri'], 'expected an http(s) URL');

  let reader: IdentitySourceReader | null = null;
  try {
    reader = compileIdentitySource(cfg.identitySource);
  } catch (err) {
    issue(['identitySource'], (err as Error).message);
  }

  // Keys and the algorithms they may verify.
  let key: KeyObject | Uint8Array | null = null;
  let algorithms: readonly string[] = [];
  const hmacConfigured = cfg.algorithms?.filter((a) => a.startsWith('HS')) ?? [];
  if (cfg.secret !== undefined) {
    key = new TextEncoder().encode(cfg.secret);
    const wrong = cfg.algorithms?.filter((a) => !a.startsWith('HS')) ?? [];
    if (wrong.length > 0)
      issue(
        ['algorithms'],
        `with a secret only HS256, HS384 and HS512 apply, not ${wrong.join(', ')}`,
      );
    algorithms = cfg.algorithms ?? HMAC_ALGORITHMS;
  } else {
    if (hmacConfigured.length > 0) {
      issue(
        ['algorithms'],
        `HMAC algorithms (${hmacConfigured.join(', ')}) need a secret: verifying an HMAC with a public key would let anyone holding that key forge tokens`,
      );
    }
    if (cfg.publicKey !== undefined) {
      const parsed = parsePublicKey(cfg.publicKey);
      if (typeof parsed === 'string') issue(['publicKey'], parsed);
      else {
        key = parsed.key;
        const usable = parsed.algorithms;
        const unusable = cfg.algorithms?.filter((a) => !a.startsWith('HS') && !usable.includes(a));
        if (unusable !== undefined && unusable.length > 0)
          issue(['algorithms'], `${unusable.join(', ')} cannot be verified with this key`);
        algorithms = cfg.algorithms ?? usable;
      }
    } else {
      algorithms = cfg.algorithms ?? ASYMMETRIC_ALGORITHMS;
    }
  }

  const claimHeaders = new UpstreamHeaderMap(
    cfg.claimsToHeaders,
    ['authorizers', name, 'claimsToHeaders'],
    issues,
  );

  if (issues.length > 0) throw new ConfigError(issues);

  const keySet =
    key === null
      ? new RemoteKeySet({
          name,
          issuer: cfg.issuer,
          jwksUri: cfg.jwksUri ?? null,
          timeoutMs: cfg.fetchTimeoutMs,
          logger: deps.logger,
          now,
          createLocalJWKSet: jose.createLocalJWKSet,
        })
      : null;
  return new JwtAuthorizer({
    name,
    reader: reader!,
    issuer: cfg.issuer,
    audience: new Set(cfg.audience),
    algorithms,
    clockToleranceSeconds: cfg.clockToleranceSeconds,
    key,
    keySet,
    claimHeaders,
    now,
    logger: deps.logger,
  });
}

interface JwtAuthorizerParts {
  readonly name: string;
  readonly reader: IdentitySourceReader;
  readonly issuer: string;
  readonly audience: ReadonlySet<string>;
  readonly algorithms: readonly string[];
  readonly clockToleranceSeconds: number;
  readonly key: KeyObject | Uint8Array | null;
  readonly keySet: RemoteKeySet | null;
  readonly claimHeaders: UpstreamHeaderMap;
  readonly now: () => number;
  readonly logger: Logger;
}

// Failure answers are constant, so they are built once.
const MISSING: AuthResult = { ok: false, code: 'PORTICO_UNAUTHORIZED', wwwAuthenticate: 'Bearer' };
const invalid = (description: string): AuthResult => ({
  ok: false,
  code: 'PORTICO_UNAUTHORIZED',
  wwwAuthenticate: `Bearer scope="" error="invalid_token" error_description="${description}"`,
});
const EMPTY = invalid('the token is empty');
const TOO_LARGE = invalid('the token is too large');
const MALFORMED = invalid('the token is malformed');
const ALGORITHM = invalid('the token signing algorithm is not allowed');
const NO_KID = invalid('the token has no key id (kid)');
const UNKNOWN_KID = invalid('the token key id (kid) is not in the issuer key set');
const NO_MATCHING_KEY = invalid('no key in the issuer key set matches the token kid and alg');
const KEYS_UNAVAILABLE = invalid('the issuer signing keys could not be retrieved');
const SIGNATURE = invalid('the token signature is invalid');
const UNVERIFIABLE = invalid('the token could not be verified');
const ISSUER = invalid('the token does not have a valid issuer');
const AUDIENCE = invalid('the token does not have a valid audience');
const EXPIRED = invalid('the token has expired');
const NO_EXPIRY = invalid('the token has no valid expiration time (exp)');
const NOT_YET_VALID = invalid('the token is not valid yet (nbf)');
const ISSUED_IN_FUTURE = invalid('the token was issued in the future (iat)');

/** Three base64url parts; the signature may be empty (then `alg` decides: `none` is refused). */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/;
const BEARER = /^bearer(?:\s+|$)/i;

class JwtAuthorizer implements Authorizer {
  readonly name: string;
  readonly type = 'jwt' as const;
  readonly upstreamHeaderNames: readonly string[];
  readonly #reader: IdentitySourceReader;
  readonly #audience: ReadonlySet<string>;
  readonly #algorithms: ReadonlySet<string>;
  readonly #options: JWTVerifyOptions;
  readonly #toleranceSeconds: number;
  readonly #key: KeyObject | Uint8Array | JWTVerifyGetKey;
  readonly #keySet: RemoteKeySet | null;
  readonly #claimHeaders: UpstreamHeaderMap;
  readonly #now: () => number;
  readonly #logger: Logger;
  /** 403 answers per route scope list (the filter passes the same array every time). */
  readonly #forbidden = new WeakMap<readonly string[], AuthResult>();

  constructor(p: JwtAuthorizerParts) {
    this.name = p.name;
    this.#reader = p.reader;
    this.#audience = p.audience;
    this.#algorithms = new Set(p.algorithms);
    this.#toleranceSeconds = p.clockToleranceSeconds;
    this.#options = {
      issuer: p.issuer,
      algorithms: [...p.algorithms],
      clockTolerance: p.clockToleranceSeconds,
      requiredClaims: ['exp'],
    };
    this.#keySet = p.keySet;
    const keySet = p.keySet;
    this.#key =
      keySet !== null
        ? (header: JWSHeaderParameters) =>
            keySet.resolve(header as JWSHeaderParameters & { kid: string })
        : p.key!;
    this.#claimHeaders = p.claimHeaders;
    this.upstreamHeaderNames = p.claimHeaders.names;
    this.#now = p.now;
    this.#logger = p.logger;
  }

  authorize(ex: Exchange, scopes: readonly string[] | null): AuthResult | Promise<AuthResult> {
    const raw = this.#reader.read(ex);
    if (raw === undefined) return MISSING;
    const token = BEARER.test(raw) ? raw.replace(BEARER, '').trim() : raw.trim();
    if (token === '') return EMPTY;
    if (token.length > MAX_TOKEN_LENGTH) return TOO_LARGE;
    if (!COMPACT_JWS.test(token)) return MALFORMED;
    let header: JWSHeaderParameters;
    try {
      header = jose.decodeProtectedHeader(token);
    } catch {
      return MALFORMED;
    }
    if (typeof header.alg !== 'string' || !this.#algorithms.has(header.alg)) return ALGORITHM;
    if (this.#keySet !== null && (typeof header.kid !== 'string' || header.kid === ''))
      return NO_KID;
    return this.#verify(token, scopes);
  }

  close(): void {
    this.#keySet?.close();
  }

  async #verify(token: string, routeScopes: readonly string[] | null): Promise<AuthResult> {
    const now = this.#now();
    let claims: JWTPayload;
    try {
      const options = { ...this.#options, currentDate: new Date(now) };
      ({ payload: claims } = await jose.jwtVerify(token, this.#key as JWTVerifyGetKey, options));
    } catch (err) {
      return this.#failure(err);
    }
    if (
      typeof claims.iat === 'number' &&
      claims.iat > Math.floor(now / 1000) + this.#toleranceSeconds
    )
      return ISSUED_IN_FUTURE;
    if (!this.#audienceMatches(claims)) return AUDIENCE;

    const tokenScopes = scopesOf(claims);
    const required = routeScopes !== null && routeScopes.length > 0;
    if (required && !routeScopes.some((s) => tokenScopes.includes(s)))
      return this.#insufficientScope(routeScopes);
    return {
      ok: true,
      // AWS: scopes is null unless the route requires scopes.
      context: { jwt: { claims: awsClaims(claims), scopes: required ? tokenScopes : null } },
      upstreamHeaders: this.#claimHeaders.empty ? null : this.#claimHeaders.headersFor(claims),
    };
  }

  /** AWS: `aud` when the token has one (string or list), otherwise `client_id`. */
  #audienceMatches(claims: JWTPayload): boolean {
    const aud = claims.aud;
    if (aud !== undefined) {
      if (typeof aud === 'string') return this.#audience.has(aud);
      return Array.isArray(aud) && aud.some((a) => typeof a === 'string' && this.#audience.has(a));
    }
    const clientId = claims.client_id;
    return typeof clientId === 'string' && this.#audience.has(clientId);
  }

  #insufficientScope(routeScopes: readonly string[]): AuthResult {
    let result = this.#forbidden.get(routeScopes);
    if (result === undefined) {
      // Only RFC 6749 scope-token characters can appear inside the quoted header value.
      const scope = routeScopes.map((s) => s.replace(/[^\x21\x23-\x5b\x5d-\x7e]/g, '')).join(' ');
      result = {
        ok: false,
        code: 'PORTICO_FORBIDDEN',
        wwwAuthenticate: `Bearer scope="${scope}" error="insufficient_scope" error_description="the token does not have the required scope"`,
      };
      this.#forbidden.set(routeScopes, result);
    }
    return result;
  }

  #failure(err: unknown): AuthResult {
    if (err instanceof KeyLookupError)
      return err.reason === 'unknown-kid' ? UNKNOWN_KID : KEYS_UNAVAILABLE;
    if (err instanceof jose.errors.JWTExpired) return EXPIRED;
    if (err instanceof jose.errors.JWTClaimValidationFailed) {
      switch (err.claim) {
        case 'iss':
          return ISSUER;
        case 'exp':
          return NO_EXPIRY;
        case 'nbf':
          return err.reason === 'check_failed' ? NOT_YET_VALID : MALFORMED;
        default:
          return MALFORMED;
      }
    }
    if (err instanceof jose.errors.JWSSignatureVerificationFailed) return SIGNATURE;
    if (err instanceof jose.errors.JOSEAlgNotAllowed) return ALGORITHM;
    if (
      err instanceof jose.errors.JWKSNoMatchingKey ||
      err instanceof jose.errors.JWKSMultipleMatchingKeys
    )
      return NO_MATCHING_KEY;
    if (err instanceof jose.errors.JWSInvalid || err instanceof jose.errors.JWTInvalid)
      return MALFORMED;
    // A key the issuer published that cannot verify this token (bad JWK, short RSA modulus,
    // unsupported curve): not the client's doing, so it is logged, without the token.
    this.#logger.warn(
      {
        authorizer: this.name,
        reason: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
      },
      'JWT authorizer: token could not be verified',
    );
    return UNVERIFIABLE;
  }
}

/** The token's scopes: `scope` (space-separated) and `scp` (a list or a space-separated string). */
function scopesOf(claims: JWTPayload): string[] {
  const out: string[] = [];
  const add = (v: unknown): void => {
    if (typeof v === 'string') {
      for (const s of v.split(' ')) if (s !== '' && !out.includes(s)) out.push(s);
    } else if (Array.isArray(v)) {
      for (const s of v) if (typeof s === 'string' && s !== '' && !out.includes(s)) out.push(s);
    }
  };
  add(claims.scope);
  add(claims.scp);
  return out;
}

/**
 * Claims as AWS hands them to integrations: every value a string. Numbers and booleans
 * are written as text, lists as `[a b]` (as observed from AWS), objects as JSON.
 */
function awsClaims(claims: JWTPayload): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(claims)) if (v !== undefined) out[k] = claimText(v);
  return out;
}

function claimText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(claimText).join(' ')}]`;
  return JSON.stringify(v);
}

function isHttpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return u.protocol === 'https:' || u.protocol === 'http:';
  } catch {
    return false;
  }
}

/**
 * A static public key: PEM (SPKI, PKCS#1 or an X.509 certificate) or a JWK as JSON, and the
 * algorithms it can verify. A private key is refused rather than silently reduced to its
 * public half: it does not belong in a gateway config.
 */
function parsePublicKey(text: string): { key: KeyObject; algorithms: string[] } | string {
  const trimmed = text.trim();
  let key: KeyObject;
  let jwkAlg: unknown;
  try {
    if (trimmed.startsWith('{')) {
      const jwk = JSON.parse(trimmed) as Record<string, unknown>;
      if (jwk.kty === 'oct') return 'a symmetric JWK is a secret: use `secret`';
      if (jwk.d !== undefined) return 'this is a private key; give the public key';
      jwkAlg = jwk.alg;
      key = createPublicKey({ key: jwk as never, format: 'jwk' });
    } else {
      if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(trimmed))
        return 'this is a private key; give the public key';
      key = createPublicKey(trimmed);
    }
  } catch (err) {
    return `not a PEM public key or a JWK: ${(err as Error).message}`;
  }
  let algorithms: string[];
  switch (key.asymmetricKeyType) {
    case 'rsa':
      algorithms = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
      break;
    case 'rsa-pss':
      algorithms = ['PS256', 'PS384', 'PS512'];
      break;
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      const alg = { prime256v1: 'ES256', secp384r1: 'ES384', secp521r1: 'ES512' }[curve ?? ''];
      if (alg === undefined) return `unsupported EC curve ${curve}`;
      algorithms = [alg];
      break;
    }
    case 'ed25519':
      algorithms = ['EdDSA'];
      break;
    default:
      return `unsupported key type ${key.asymmetricKeyType}`;
  }
  if (typeof jwkAlg === 'string') {
    if (!algorithms.includes(jwkAlg)) return `the JWK's alg ${jwkAlg} does not fit its key`;
    algorithms = [jwkAlg];
  }
  return { key, algorithms };
}
