/**
 * A real OpenID Connect issuer for tests, served on 127.0.0.1 (port 0): a discovery
 * document at `{issuer}/.well-known/openid-configuration` naming a `jwks_uri`, a key set
 * whose keys the test can add, rotate and withdraw mid-test, and a token minter (jose
 * SignJWT) whose times come from the test's clock.
 *
 * Each endpoint counts its fetches and can be told to misbehave: answer an error status or
 * any body, never answer (`hang`), or hold its answers until the test releases them — so
 * tests synchronise on events (`waitForFetches`, `hold`), never on sleeps.
 * The server is closed at `t.teardown`, dropping every connection still open.
 */
import { EventEmitter, once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  exportJWK,
  exportSPKI,
  generateKeyPair,
  SignJWT,
  type CryptoKey,
  type JWK,
  type JWTPayload,
} from 'jose';

export interface Teardown {
  teardown(fn: () => unknown): void;
}

export type Endpoint = 'discovery' | 'jwks';

/** How an endpoint answers. */
export type Behaviour =
  | { readonly kind: 'ok' }
  /** Accept the request and never answer. */
  | { readonly kind: 'hang' }
  | { readonly kind: 'status'; readonly status: number }
  /** 200 with exactly this body. */
  | { readonly kind: 'body'; readonly body: string };

export type SigningAlgorithm = 'RS256' | 'RS384' | 'RS512' | 'PS256' | 'ES256' | 'ES384' | 'EdDSA';

export interface IssuerKey {
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
  /** The public key as a JWK, with `kid`, `alg` and `use`. */
  readonly publicJwk: JWK;
  /** The public key as SPKI PEM text. */
  readonly publicPem: string;
  /** Whether the key set currently lists it. */
  published: boolean;
}

export interface SignOptions {
  /** The key to sign with; default the current signing key. */
  readonly key?: IssuerKey;
  /** Overrides the header's `kid`; null leaves it out. */
  readonly kid?: string | null;
  /** Extra protected-header parameters. */
  readonly header?: Record<string, unknown>;
}

export interface OidcIssuerOptions {
  /** The clock tokens are minted with (ms since the epoch). Default Date.now. */
  readonly now?: () => number;
  /** Path part of the issuer URL. Default `/realms/portico` (Keycloak-like). */
  readonly path?: string;
  /** The `aud` tokens get by default. Default `portico-api`. */
  readonly audience?: string;
  /** Algorithm of the first key. Default RS256. */
  readonly alg?: SigningAlgorithm;
}

export interface OidcIssuer {
  /** The issuer identifier, exactly as tokens carry it in `iss`. */
  readonly issuer: string;
  readonly discoveryUrl: string;
  readonly jwksUri: string;
  readonly audience: string;
  readonly port: number;
  /** Requests received per endpoint (counted on arrival). */
  readonly fetches: Readonly<Record<Endpoint, number>>;
  /** Every key made so far, published or not. */
  readonly keys: readonly IssuerKey[];
  /** The key tokens are signed with by default. */
  readonly signingKey: IssuerKey;
  /** Makes a key; `publish` (default true) lists it, `sign` (default false) makes it the signing key. */
  addKey(options?: {
    alg?: SigningAlgorithm;
    publish?: boolean;
    sign?: boolean;
  }): Promise<IssuerKey>;
  /** Rotation: a new published signing key; the old ones stay listed unless `keepOld` is false. */
  rotate(options?: { keepOld?: boolean }): Promise<IssuerKey>;
  /** Sets how an endpoint answers from now on. */
  set(endpoint: Endpoint, behaviour: Behaviour): void;
  /**
   * Holds the endpoint's answers until the returned function is called; they are then
   * written from the state at that moment.
   */
  hold(endpoint: Endpoint): () => void;
  /** Resolves once the endpoint has received `count` requests in all. */
  waitForFetches(endpoint: Endpoint, count: number): Promise<void>;
  /** A token from this issuer: defaults `iss`, `aud`, `sub`, `iat` (now) and `exp` (now + 1 h); `undefined` drops a claim. */
  sign(claims?: Record<string, unknown>, options?: SignOptions): Promise<string>;
  close(): Promise<void>;
}

let kidSequence = 0;

async function makeKey(alg: SigningAlgorithm, published: boolean): Promise<IssuerKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const kid = `key-${++kidSequence}-${alg.toLowerCase()}`;
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return {
    kid,
    alg,
    privateKey,
    publicKey,
    publicJwk,
    publicPem: await exportSPKI(publicKey),
    published,
  };
}

export async function startOidcIssuer(
  t: Teardown,
  options: OidcIssuerOptions = {},
): Promise<OidcIssuer> {
  const now = options.now ?? Date.now;
  const path = options.path ?? '/realms/portico';
  const audience = options.audience ?? 'portico-api';
  const keys: IssuerKey[] = [await makeKey(options.alg ?? 'RS256', true)];
  let signingKey = keys[0]!;
  const fetches: Record<Endpoint, number> = { discovery: 0, jwks: 0 };
  const behaviour: Record<Endpoint, Behaviour> = {
    discovery: { kind: 'ok' },
    jwks: { kind: 'ok' },
  };
  const held: Record<Endpoint, Promise<void> | null> = { discovery: null, jwks: null };
  const events = new EventEmitter();
  let origin = '';

  const documentFor = (endpoint: Endpoint): string =>
    endpoint === 'discovery'
      ? JSON.stringify({
          issuer: `${origin}${path}`,
          jwks_uri: `${origin}${path}/protocol/openid-connect/certs`,
          authorization_endpoint: `${origin}${path}/protocol/openid-connect/auth`,
          token_endpoint: `${origin}${path}/protocol/openid-connect/token`,
          response_types_supported: ['code'],
          subject_types_supported: ['public'],
          id_token_signing_alg_values_supported: [...new Set(keys.map((k) => k.alg))],
        })
      : JSON.stringify({ keys: keys.filter((k) => k.published).map((k) => k.publicJwk) });

  const answer = (endpoint: Endpoint, res: ServerResponse): void => {
    const b = behaviour[endpoint];
    if (b.kind === 'hang') return;
    if (b.kind === 'status') {
      res.writeHead(b.status, { 'content-type': 'text/plain' });
      res.end(`status ${b.status}`);
      return;
    }
    const body = b.kind === 'body' ? b.body : documentFor(endpoint);
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '';
    const endpoint: Endpoint | null =
      url === `${path}/.well-known/openid-configuration`
        ? 'discovery'
        : url === `${path}/protocol/openid-connect/certs`
          ? 'jwks'
          : null;
    if (endpoint === null || req.method !== 'GET') {
      res.writeHead(404).end();
      return;
    }
    fetches[endpoint]++;
    events.emit('fetch');
    const gate = held[endpoint];
    if (gate !== null) void gate.then(() => answer(endpoint, res));
    else answer(endpoint, res);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  origin = `http://127.0.0.1:${port}`;
  const close = async (): Promise<void> => {
    if (!server.listening) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  };
  t.teardown(close);

  return {
    issuer: `${origin}${path}`,
    discoveryUrl: `${origin}${path}/.well-known/openid-configuration`,
    jwksUri: `${origin}${path}/protocol/openid-connect/certs`,
    audience,
    port,
    fetches,
    keys,
    get signingKey() {
      return signingKey;
    },
    async addKey({ alg = 'RS256', publish = true, sign = false } = {}) {
      const key = await makeKey(alg, publish);
      keys.push(key);
      if (sign) signingKey = key;
      return key;
    },
    async rotate({ keepOld = true } = {}) {
      if (!keepOld) for (const k of keys) k.published = false;
      const key = await makeKey(signingKey.alg, true);
      keys.push(key);
      signingKey = key;
      return key;
    },
    set(endpoint, b) {
      behaviour[endpoint] = b;
    },
    hold(endpoint) {
      let release!: () => void;
      held[endpoint] = new Promise<void>((resolve) => (release = resolve));
      return () => {
        held[endpoint] = null;
        release();
      };
    },
    async waitForFetches(endpoint, count) {
      while (fetches[endpoint] < count) await once(events, 'fetch');
    },
    async sign(claims = {}, signOptions = {}) {
      const key = signOptions.key ?? signingKey;
      const seconds = Math.floor(now() / 1000);
      const payload: Record<string, unknown> = {
        iss: `${origin}${path}`,
        aud: audience,
        sub: 'user-123',
        iat: seconds,
        exp: seconds + 3600,
        ...claims,
      };
      for (const k of Object.keys(payload)) if (payload[k] === undefined) delete payload[k];
      const header: Record<string, unknown> = { alg: key.alg, typ: 'JWT', ...signOptions.header };
      const kid = signOptions.kid === undefined ? key.kid : signOptions.kid;
      if (kid !== null) header.kid = kid;
      return new SignJWT(payload as JWTPayload)
        .setProtectedHeader(header as { alg: string })
        .sign(key.privateKey);
    },
    close,
  };
}

/** A clock tests move by hand: `now()` for the issuer and the gateway, `advance(ms)` to step it. */
export class ManualClock {
  #now: number;
  constructor(start: number = Date.now()) {
    this.#now = start;
  }
  readonly now = (): number => this.#now;
  advance(ms: number): void {
    this.#now += ms;
  }
}
