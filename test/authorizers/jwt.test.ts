/**
 * The JWT authorizer end to end: a real OpenID Connect issuer on 127.0.0.1
 * (test/helpers/oidc-issuer.ts) whose keys rotate mid-test, a real gateway in front of mock,
 * function and HTTP integrations, and the attack set, each refused with AWS's status, body
 * and `www-authenticate`. Time is a manual clock shared by the issuer and the authorizer
 * (the gateway's `clock` option), so cache ages, cooldowns and token times are stepped, not slept.
 */
import t, { type Test } from 'tap';
import { once } from 'node:events';
import { generateKeyPairSync, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { SignJWT, base64url } from 'jose';
import {
  ConfigError,
  createGateway,
  type Gateway,
  type GatewayConfigInput,
} from '../../lib/index.ts';
import type { AuthorizerContext } from '../../lib/authorizers/authorizer.ts';
import {
  createJwtAuthorizer,
  MAX_TOKEN_LENGTH,
  type JwtAuthorizerConfig,
} from '../../lib/authorizers/jwt.ts';
import {
  FAILURE_BACKOFF_MS,
  MAX_DOCUMENT_BYTES,
  MAX_STALE_MS,
  REFRESH_AFTER_MS,
  UNKNOWN_KID_COOLDOWN_MS,
} from '../../lib/authorizers/jwks.ts';
import type { Exchange } from '../../lib/exchange.ts';
import {
  memoryLogger,
  request,
  startGateway,
  type Reply,
  type RunningGateway,
} from '../helpers/gateway.ts';
import { ManualClock, startOidcIssuer, type OidcIssuer } from '../helpers/oidc-issuer.ts';
import { closedPort, startHttpUpstream, startRecordingUpstream } from '../helpers/upstream.ts';

const HANDLERS = fileURLToPath(new URL('../fixtures/handlers/', import.meta.url));
const AUDIENCE = 'portico-api';
const UNAUTHORIZED = '{"message":"Unauthorized"}';
const FORBIDDEN = '{"message":"Forbidden"}';
const SCOPES = ['orders:read', 'orders:admin'];

type JwtInput = Partial<Omit<JwtAuthorizerConfig, 'type'>>;

/** A gateway whose routes are protected by one JWT authorizer (`jwt`), built on `clock`. */
async function serve(
  t: Test,
  clock: ManualClock,
  jwt: JwtInput & { issuer: string },
  extra: {
    routes?: GatewayConfigInput['routes'];
    integrations?: GatewayConfigInput['integrations'];
  } = {},
): Promise<RunningGateway> {
  const config: GatewayConfigInput = {
    // An oversized token must reach the authorizer, past the default 10 KB header limit.
    limits: { maxHeaderBytes: 16 * 1024 },
    integrations: {
      ok: { type: 'mock', body: { ok: true } },
      echo: { type: 'function', handler: 'echo.mjs#handler' },
      ...extra.integrations,
    },
    authorizers: { jwt: { type: 'jwt', audience: [AUDIENCE], ...jwt } },
    routes: {
      'GET /open': { integration: 'ok' },
      'GET /private': { integration: 'ok', authorizer: 'jwt' },
      'GET /orders': { integration: 'ok', authorizer: 'jwt', authorizationScopes: SCOPES },
      'GET /echo': { integration: 'echo', authorizer: 'jwt' },
      'GET /echo-orders': { integration: 'echo', authorizer: 'jwt', authorizationScopes: SCOPES },
      ...extra.routes,
    },
  };
  return startGateway(config, { t, baseDir: HANDLERS, clock: clock.now });
}

/** A started issuer and a gateway that finds its keys by discovery (or by `jwksUri`). */
async function setup(
  t: Test,
  jwt: JwtInput = {},
  options: { explicitJwksUri?: boolean } = {},
): Promise<{ clock: ManualClock; issuer: OidcIssuer; gw: RunningGateway }> {
  const clock = new ManualClock();
  const issuer = await startOidcIssuer(t, { now: clock.now, audience: AUDIENCE });
  const gw = await serve(t, clock, {
    issuer: issuer.issuer,
    ...(options.explicitJwksUri ? { jwksUri: issuer.jwksUri } : {}),
    ...jwt,
  });
  return { clock, issuer, gw };
}

function get(
  gw: RunningGateway,
  path: string,
  token?: string,
  headers: Record<string, string> = {},
) {
  return request(`${gw.url}${path}`, {
    headers: token === undefined ? headers : { authorization: `Bearer ${token}`, ...headers },
  });
}

function challenge(description: string): string {
  return `Bearer scope="" error="invalid_token" error_description="${description}"`;
}

/** AWS's 401: status, body, and the challenge naming the cause. */
function assertUnauthorized(
  t: Test,
  res: Reply,
  description: string | null,
  what = description,
): void {
  t.equal(res.status, 401, `${what}: 401`);
  t.equal(res.text, UNAUTHORIZED, `${what}: AWS body`);
  t.equal(res.headers['content-type'], 'application/json');
  t.equal(
    res.headers['www-authenticate'],
    description === null ? 'Bearer' : challenge(description),
    `${what}: www-authenticate`,
  );
}

function assertOk(t: Test, res: Reply, what = 'accepted'): void {
  t.equal(res.status, 200, what);
  t.same(res.json(), { ok: true }, `${what}: the integration answered`);
}

/** No token (nor its signature, the part that makes it a credential) in any log line. */
function assertNoTokenLogged(t: Test, gw: RunningGateway, tokens: readonly string[]): void {
  const logged = JSON.stringify(gw.logs);
  const leaked = tokens.filter((tok) => {
    const signature = tok.split('.')[2] ?? '';
    return logged.includes(tok) || (signature.length > 16 && logged.includes(signature));
  });
  t.same(leaked, [], 'no token appears in the logs');
}

const D = {
  empty: 'the token is empty',
  tooLarge: 'the token is too large',
  malformed: 'the token is malformed',
  algorithm: 'the token signing algorithm is not allowed',
  noKid: 'the token has no key id (kid)',
  unknownKid: 'the token key id (kid) is not in the issuer key set',
  unavailable: 'the issuer signing keys could not be retrieved',
  signature: 'the token signature is invalid',
  issuer: 'the token does not have a valid issuer',
  audience: 'the token does not have a valid audience',
  expired: 'the token has expired',
  noExpiry: 'the token has no valid expiration time (exp)',
  notYetValid: 'the token is not valid yet (nbf)',
  issuedInFuture: 'the token was issued in the future (iat)',
};

const b64json = (v: unknown): string => base64url.encode(JSON.stringify(v));

t.test('discovery: keys are found lazily, fetched once, and a valid token passes', async (t) => {
  const { issuer, gw } = await setup(t);
  t.same(issuer.fetches, { discovery: 0, jwks: 0 }, 'deploying does not contact the issuer');
  t.equal((await get(gw, '/open')).status, 200, 'unprotected routes need no token');

  const token = await issuer.sign();
  assertOk(t, await get(gw, '/private', token));
  t.same(issuer.fetches, { discovery: 1, jwks: 1 }, 'one discovery, one key-set fetch');
  for (let i = 0; i < 3; i++) assertOk(t, await get(gw, '/private', token), `request ${i + 2}`);
  t.same(issuer.fetches, { discovery: 1, jwks: 1 }, 'later requests use the cached keys');
  assertNoTokenLogged(t, gw, [token]);
});

t.test('jwksUri: no discovery; the key set is fetched directly', async (t) => {
  const { issuer, gw } = await setup(t, {}, { explicitJwksUri: true });
  assertOk(t, await get(gw, '/private', await issuer.sign()));
  t.same(issuer.fetches, { discovery: 0, jwks: 1 });
});

t.test('the token: Authorization header forms', async (t) => {
  const { issuer, gw } = await setup(t);
  const token = await issuer.sign();
  for (const value of [`Bearer ${token}`, `bearer ${token}`, `BEARER   ${token}`, token]) {
    const res = await get(gw, '/private', undefined, { authorization: value });
    assertOk(t, res, `"${value.slice(0, 9)}..."`);
  }
  const missing = await get(gw, '/private');
  assertUnauthorized(t, missing, null, 'no Authorization header');
  assertUnauthorized(t, await get(gw, '/private', undefined, { authorization: 'Bearer' }), D.empty);
  assertUnauthorized(
    t,
    await get(gw, '/private', undefined, { authorization: 'Bearer   ' }),
    D.empty,
  );
  assertUnauthorized(
    t,
    await get(gw, '/private', undefined, { authorization: 'Basic dXNlcjpwYXNzd29yZA==' }),
    D.malformed,
    'another scheme',
  );
  assertNoTokenLogged(t, gw, [token]);
});

t.test('the attack set: each refused with 401 and the cause named', async (t) => {
  const { clock, issuer, gw } = await setup(t);
  const good = await issuer.sign();
  assertOk(t, await get(gw, '/private', good), 'the genuine token');
  const [h, p, s] = good.split('.') as [string, string, string];
  const now = Math.floor(clock.now() / 1000);
  const key = issuer.signingKey;
  const claims = JSON.parse(new TextDecoder().decode(base64url.decode(p))) as Record<
    string,
    unknown
  >;
  const hmac = async (secret: Uint8Array): Promise<string> =>
    new SignJWT(claims as never)
      .setProtectedHeader({ alg: 'HS256', kid: key.kid, typ: 'JWT' })
      .sign(secret);
  const stranger = await startOidcIssuer(t, { now: clock.now, audience: AUDIENCE });
  const unpublished = await issuer.addKey({ publish: false });
  const flip = (part: string, at: number): string =>
    part.slice(0, at) + (part[at] === 'A' ? 'B' : 'A') + part.slice(at + 1);

  const cases: Array<[string, string, string]> = [
    ['alg none', `${b64json({ alg: 'none', typ: 'JWT', kid: key.kid })}.${p}.`, D.algorithm],
    ['alg None', `${b64json({ alg: 'None', kid: key.kid })}.${p}.`, D.algorithm],
    ['no alg', `${b64json({ kid: key.kid })}.${p}.${s}`, D.algorithm],
    [
      'HS256 keyed with the RSA public key as PEM text',
      await hmac(new TextEncoder().encode(key.publicPem)),
      D.algorithm,
    ],
    [
      'HS256 keyed with the JWK n as text',
      await hmac(new TextEncoder().encode(String(key.publicJwk.n))),
      D.algorithm,
    ],
    [
      'HS256 keyed with the JWK n bytes',
      await hmac(base64url.decode(String(key.publicJwk.n))),
      D.algorithm,
    ],
    [
      'HS256 keyed with the JWK as JSON',
      await hmac(new TextEncoder().encode(JSON.stringify(key.publicJwk))),
      D.algorithm,
    ],
    ['expired', await issuer.sign({ iat: now - 7200, exp: now - 60 }), D.expired],
    ['expiring this very second', await issuer.sign({ exp: now }), D.expired],
    ['no exp', await issuer.sign({ exp: undefined }), D.noExpiry],
    ['exp not a number', await issuer.sign({ exp: String(now + 60) }), D.noExpiry],
    ['not yet valid (nbf)', await issuer.sign({ nbf: now + 600 }), D.notYetValid],
    ['issued in the future (iat)', await issuer.sign({ iat: now + 600 }), D.issuedInFuture],
    ['wrong issuer', await issuer.sign({ iss: 'https://evil.example/realms/portico' }), D.issuer],
    ['issuer with a trailing slash', await issuer.sign({ iss: `${issuer.issuer}/` }), D.issuer],
    ['no issuer', await issuer.sign({ iss: undefined }), D.issuer],
    ['wrong audience', await issuer.sign({ aud: 'another-api' }), D.audience],
    ['wrong audiences (list)', await issuer.sign({ aud: ['a', 'b'] }), D.audience],
    [
      'no aud and a wrong client_id',
      await issuer.sign({ aud: undefined, client_id: 'other' }),
      D.audience,
    ],
    ['no aud, no client_id', await issuer.sign({ aud: undefined }), D.audience],
    [
      'a wrong aud is not rescued by a right client_id (AWS evaluates aud)',
      await issuer.sign({ aud: 'another-api', client_id: AUDIENCE }),
      D.audience,
    ],
    ['unknown kid', await issuer.sign({}, { key: unpublished }), D.unknownKid],
    ['no kid', await issuer.sign({}, { kid: null }), D.noKid],
    ['empty kid', await issuer.sign({}, { kid: '' }), D.noKid],
    [
      'a published kid, signed with another key',
      await issuer.sign({}, { key: unpublished, kid: key.kid }),
      D.signature,
    ],
    [
      'signed by another issuer, same kid',
      await stranger.sign({ iss: issuer.issuer }, { kid: key.kid }),
      D.signature,
    ],
    ['tampered payload', `${h}.${b64json({ ...claims, sub: 'admin' })}.${s}`, D.signature],
    ['tampered signature', `${h}.${p}.${flip(s, 10)}`, D.signature],
    ['signature cut short', `${h}.${p}.${s.slice(0, 40)}`, D.signature],
    ['signature removed', `${h}.${p}.`, D.signature],
    ['oversized', await issuer.sign({ pad: 'x'.repeat(MAX_TOKEN_LENGTH) }), D.tooLarge],
    ['garbage', 'not-a-token', D.malformed],
    ['two parts', `${h}.${p}`, D.malformed],
    ['four parts', `${good}.${s}`, D.malformed],
    ['not base64url', `${h}.${p}.${s}!`, D.malformed],
    ['header not JSON', `${base64url.encode('{"alg":')}.${p}.${s}`, D.malformed],
    ['payload not JSON', `${h}.${base64url.encode('nope')}.${s}`, D.signature],
    ['dots only', '..', D.malformed],
  ];
  for (const [what, token, description] of cases) {
    assertUnauthorized(t, await get(gw, '/private', token), description, what);
  }
  t.same(issuer.fetches, { discovery: 1, jwks: 1 }, 'no attack made the gateway fetch keys again');
  assertNoTokenLogged(t, gw, [good, ...cases.map(([, tok]) => tok)]);
});

t.test('audience: aud as a list, or client_id when there is no aud', async (t) => {
  const { issuer, gw } = await setup(t, { audience: ['first-api', AUDIENCE] });
  assertOk(t, await get(gw, '/private', await issuer.sign({ aud: ['x', AUDIENCE] })), 'aud list');
  assertOk(t, await get(gw, '/private', await issuer.sign({ aud: 'first-api' })), 'any audience');
  assertOk(
    t,
    await get(gw, '/private', await issuer.sign({ aud: undefined, client_id: AUDIENCE })),
    'client_id (Cognito access tokens)',
  );
});

t.test(
  'key types from the key set: RSA, RSA-PSS, EC, Ed25519; algorithms narrows them',
  async (t) => {
    const clock = new ManualClock();
    const issuer = await startOidcIssuer(t, { now: clock.now, audience: AUDIENCE });
    for (const alg of ['PS256', 'ES256', 'ES384', 'EdDSA'] as const) await issuer.addKey({ alg });
    const gw = await serve(t, clock, { issuer: issuer.issuer });
    for (const key of issuer.keys)
      assertOk(t, await get(gw, '/private', await issuer.sign({}, { key })), key.alg);
    t.equal(issuer.fetches.jwks, 1, 'one key set, every key type');

    const narrow = await serve(t, clock, { issuer: issuer.issuer, algorithms: ['ES256'] });
    const es256 = issuer.keys.find((k) => k.alg === 'ES256')!;
    assertOk(
      t,
      await get(narrow, '/private', await issuer.sign({}, { key: es256 })),
      'ES256 listed',
    );
    assertUnauthorized(
      t,
      await get(narrow, '/private', await issuer.sign()),
      D.algorithm,
      'RS256 not listed',
    );
  },
);

t.test('keys the issuer publishes that cannot verify the token', async (t) => {
  const { issuer, gw } = await setup(t);
  const now = Math.floor(Date.now() / 1000);
  const payload = b64json({ iss: issuer.issuer, aud: AUDIENCE, iat: now, exp: now + 3600 });
  const rs256 = (kid: string, key: KeyObject): string => {
    const input = `${b64json({ alg: 'RS256', kid })}.${payload}`;
    return `${input}.${base64url.encode(cryptoSign('sha256', Buffer.from(input), key))}`;
  };
  // A 1024-bit RSA key (jose requires 2048), and a key whose JWK says it is for RS512 only.
  const weak = generateKeyPairSync('rsa', { modulusLength: 1024 });
  const good = issuer.signingKey;
  issuer.set('jwks', {
    kind: 'body',
    body: JSON.stringify({
      keys: [
        { ...weak.publicKey.export({ format: 'jwk' }), kid: 'weak', use: 'sig' },
        { ...good.publicJwk, alg: 'RS512' },
      ],
    }),
  });
  const weakToken = rs256('weak', weak.privateKey);
  assertUnauthorized(
    t,
    await get(gw, '/private', weakToken),
    'the token could not be verified',
    '1024-bit key',
  );
  t.match(gw.logs, [
    { level: 'warn', msg: 'JWT authorizer: token could not be verified', obj: { reason: /2048/ } },
  ]);
  assertUnauthorized(
    t,
    await get(gw, '/private', await issuer.sign()),
    'no key in the issuer key set matches the token kid and alg',
    'the JWK is for RS512, the token RS256',
  );
  assertNoTokenLogged(t, gw, [weakToken]);
});

t.test('scopes: any of the route scopes, from scope or scp; 403 otherwise', async (t) => {
  const { issuer, gw } = await setup(t);
  const accepted: Array<[string, Record<string, unknown>]> = [
    ['scope string, one of two', { scope: 'openid orders:read' }],
    ['scope string, the other', { scope: 'orders:admin' }],
    ['scp list', { scp: ['profile', 'orders:admin'] }],
    ['scp string', { scp: 'orders:read profile' }],
    ['scope and scp together', { scope: 'openid', scp: ['orders:read'] }],
  ];
  for (const [what, claims] of accepted)
    assertOk(t, await get(gw, '/orders', await issuer.sign(claims)), what);

  const forbidden = `Bearer scope="orders:read orders:admin" error="insufficient_scope" error_description="the token does not have the required scope"`;
  const refused: Array<[string, Record<string, unknown>]> = [
    ['no scope claim', {}],
    ['other scopes', { scope: 'openid profile' }],
    ['a prefix is not a scope', { scope: 'orders:rea' }],
    ['scopes are case-sensitive', { scp: ['ORDERS:READ'] }],
    ['scope as a list is not split', { scope: ['orders:read orders:admin'] }],
  ];
  for (const [what, claims] of refused) {
    const res = await get(gw, '/orders', await issuer.sign(claims));
    t.equal(res.status, 403, `${what}: 403`);
    t.equal(res.text, FORBIDDEN, `${what}: AWS body`);
    t.equal(res.headers['www-authenticate'], forbidden, `${what}: insufficient_scope`);
  }
  assertOk(t, await get(gw, '/private', await issuer.sign()), 'a route without scopes needs none');
  // An invalid token is a 401 even on a scoped route: authentication comes first.
  assertUnauthorized(
    t,
    await get(gw, '/orders', await issuer.sign({ scope: 'orders:read', aud: 'x' })),
    D.audience,
  );
});

t.test('claims reach a function integration as requestContext.authorizer.jwt', async (t) => {
  const { clock, issuer, gw } = await setup(t);
  const now = Math.floor(clock.now() / 1000);
  const token = await issuer.sign({
    scope: 'openid orders:read',
    email_verified: true,
    'cognito:groups': ['admin', 'ops'],
    address: { country: 'NZ' },
  });
  const res = await get(gw, '/echo', token);
  t.equal(res.status, 200);
  const event = res.json<{ event: { requestContext: { authorizer: AuthorizerContext } } }>().event;
  const claims = {
    iss: issuer.issuer,
    aud: AUDIENCE,
    sub: 'user-123',
    iat: String(now),
    exp: String(now + 3600),
    scope: 'openid orders:read',
    email_verified: 'true',
    'cognito:groups': '[admin ops]',
    address: '{"country":"NZ"}',
  };
  t.same(
    event.requestContext.authorizer,
    { jwt: { claims, scopes: null } },
    'claims as AWS sends them (every value a string); scopes null on a route without scopes',
  );

  const scoped = await get(gw, '/echo-orders', token);
  t.equal(scoped.status, 200);
  t.same(
    scoped.json<{ event: { requestContext: { authorizer: AuthorizerContext } } }>().event
      .requestContext.authorizer,
    { jwt: { claims, scopes: ['openid', 'orders:read'] } },
    "on a scoped route: the token's scopes",
  );
  assertNoTokenLogged(t, gw, [token]);
});

t.test('key rotation without a restart: a new kid causes one refetch', async (t) => {
  const { clock, issuer, gw } = await setup(t);
  const oldToken = await issuer.sign();
  assertOk(t, await get(gw, '/private', oldToken), 'first key');
  t.equal(issuer.fetches.jwks, 1);

  clock.advance(UNKNOWN_KID_COOLDOWN_MS);
  await issuer.rotate();
  const newToken = await issuer.sign();
  assertOk(t, await get(gw, '/private', newToken), 'new kid: accepted after one refetch');
  t.equal(issuer.fetches.jwks, 2, 'one refetch');
  for (let i = 0; i < 3; i++) assertOk(t, await get(gw, '/private', newToken));
  assertOk(t, await get(gw, '/private', oldToken), 'the old key is still published');
  t.equal(issuer.fetches.jwks, 2, 'no more fetches');
  t.equal(issuer.fetches.discovery, 1, 'discovery is not repeated');

  // The issuer withdraws the old key; after REFRESH_AFTER_MS the cached set is refreshed
  // in the background while the request that noticed it is still served from the cache.
  await issuer.rotate({ keepOld: false });
  clock.advance(REFRESH_AFTER_MS);
  assertOk(t, await get(gw, '/private', oldToken), 'served from the cache while it refreshes');
  await issuer.waitForFetches('jwks', 3);
  assertUnauthorized(t, await get(gw, '/private', oldToken), D.unknownKid, 'withdrawn key');
  assertOk(t, await get(gw, '/private', await issuer.sign()), 'the newest key');
  t.equal(issuer.fetches.jwks, 3);
});

t.test('cooldown: unknown kids do not hammer the issuer', async (t) => {
  const { clock, issuer, gw } = await setup(t);
  assertOk(t, await get(gw, '/private', await issuer.sign()));
  const strangers = await Promise.all(
    Array.from({ length: 5 }, () => issuer.addKey({ publish: false })),
  );
  const tokens = await Promise.all(strangers.map((key) => issuer.sign({}, { key })));

  for (const token of tokens) assertUnauthorized(t, await get(gw, '/private', token), D.unknownKid);
  t.equal(issuer.fetches.jwks, 1, 'within the cooldown after the first fetch: no refetch');

  clock.advance(UNKNOWN_KID_COOLDOWN_MS);
  for (const token of tokens) assertUnauthorized(t, await get(gw, '/private', token), D.unknownKid);
  t.equal(issuer.fetches.jwks, 2, 'after the cooldown: one refetch for five unknown kids');

  clock.advance(UNKNOWN_KID_COOLDOWN_MS - 1);
  assertUnauthorized(t, await get(gw, '/private', tokens[0]!), D.unknownKid);
  t.equal(issuer.fetches.jwks, 2, 'a millisecond short of the cooldown: still none');
  clock.advance(1);
  strangers[0]!.published = true;
  assertOk(t, await get(gw, '/private', tokens[0]!), 'the cooldown over, the kid now published');
  t.equal(issuer.fetches.jwks, 3);
});

/** The gateway behind a second listener that counts requests after handing them over. */
async function countingListener(t: Test, gateway: Gateway) {
  let entered = 0;
  const front = await startHttpUpstream(t, (req, res) => {
    gateway.handle(req, res);
    entered++;
    front.server.emit('entered');
  });
  return {
    url: front.origin,
    /** Resolves once `n` requests have entered the gateway (the authorizer runs synchronously up to its key lookup). */
    async entered(n: number) {
      while (entered < n) await once(front.server, 'entered');
    },
  };
}

t.test('no stampede: concurrent requests share one fetch', async (t) => {
  const { clock, issuer, gw } = await setup(t);
  const front = await countingListener(t, gw.gateway);
  const N = 25;
  const token = await issuer.sign();

  const release = issuer.hold('discovery');
  const replies = Array.from({ length: N }, () =>
    request(`${front.url}/private`, { headers: { authorization: `Bearer ${token}` } }),
  );
  await front.entered(N);
  await issuer.waitForFetches('discovery', 1);
  release();
  for (const res of await Promise.all(replies)) assertOk(t, res, 'cold start');
  t.same(
    issuer.fetches,
    { discovery: 1, jwks: 1 },
    `${N} cold requests: one discovery, one key-set fetch`,
  );

  clock.advance(UNKNOWN_KID_COOLDOWN_MS);
  await issuer.rotate();
  const rotated = await issuer.sign();
  const releaseKeys = issuer.hold('jwks');
  const more = Array.from({ length: N }, () =>
    request(`${front.url}/private`, { headers: { authorization: `Bearer ${rotated}` } }),
  );
  await front.entered(2 * N);
  await issuer.waitForFetches('jwks', 2);
  releaseKeys();
  for (const res of await Promise.all(more)) assertOk(t, res, 'new kid');
  t.same(issuer.fetches, { discovery: 1, jwks: 2 }, `${N} requests with a new kid: one refetch`);
});

t.test(
  'an unreachable issuer fails closed, quickly, and is logged without the token',
  async (t) => {
    const clock = new ManualClock();
    const port = await closedPort();
    const issuer = `http://127.0.0.1:${port}/realms/gone`;
    const gw = await serve(t, clock, { issuer }); // deploying does not need the issuer
    const signer = await startOidcIssuer(t, { now: clock.now, audience: AUDIENCE });
    const token = await signer.sign({ iss: issuer });

    const started = performance.now();
    assertUnauthorized(t, await get(gw, '/private', token), D.unavailable);
    t.ok(performance.now() - started < 1500, 'answered within the fetch timeout');
    const warnings = gw.logs.filter((l) => l.level === 'warn');
    t.equal(warnings.length, 1, 'one warning');
    t.match(warnings[0], {
      msg: 'JWT authorizer: could not fetch signing keys',
      obj: {
        authorizer: 'jwt',
        url: `${issuer}/.well-known/openid-configuration`,
        reason: /ECONNREFUSED/,
      },
    });

    assertUnauthorized(t, await get(gw, '/private', token), D.unavailable, 'during the backoff');
    t.equal(
      gw.logs.filter((l) => l.level === 'warn').length,
      1,
      'no new attempt during the backoff',
    );
    clock.advance(FAILURE_BACKOFF_MS);
    assertUnauthorized(t, await get(gw, '/private', token), D.unavailable, 'after the backoff');
    t.equal(gw.logs.filter((l) => l.level === 'warn').length, 2, 'tried again after the backoff');
    assertNoTokenLogged(t, gw, [token]);
  },
);

t.test('a slow issuer: 401 after fetchTimeoutMs, for discovery and for the key set', async (t) => {
  for (const endpoint of ['discovery', 'jwks'] as const) {
    await t.test(endpoint, async (t) => {
      const { issuer, gw } = await setup(
        t,
        { fetchTimeoutMs: 200 },
        { explicitJwksUri: endpoint === 'jwks' },
      );
      issuer.set(endpoint, { kind: 'hang' });
      const token = await issuer.sign();
      const started = performance.now();
      assertUnauthorized(t, await get(gw, '/private', token), D.unavailable);
      const elapsed = performance.now() - started;
      t.ok(elapsed >= 190, `waited for the timeout (${Math.round(elapsed)} ms)`);
      t.ok(elapsed < 1500, 'and no longer than it');
      t.equal(issuer.fetches[endpoint], 1);
      t.match(gw.logs, [{ level: 'warn', obj: { reason: 'timed out after 200 ms' } }]);
      assertNoTokenLogged(t, gw, [token]);
    });
  }
});

t.test('a misbehaving issuer fails closed, then recovers', async (t) => {
  const cases: Array<[string, 'discovery' | 'jwks', Parameters<OidcIssuer['set']>[1], RegExp]> = [
    ['key set 500', 'jwks', { kind: 'status', status: 500 }, /^HTTP 500$/],
    ['key set redirect', 'jwks', { kind: 'status', status: 302 }, /^HTTP 302$/],
    ['key set not JSON', 'jwks', { kind: 'body', body: '<html>' }, /not JSON/],
    ['key set malformed', 'jwks', { kind: 'body', body: '{"keys":{}}' }, /malformed/],
    [
      `key set over ${MAX_DOCUMENT_BYTES} bytes`,
      'jwks',
      { kind: 'body', body: JSON.stringify({ keys: [], pad: 'x'.repeat(MAX_DOCUMENT_BYTES) }) },
      /larger than 150000 bytes/,
    ],
    ['discovery 404', 'discovery', { kind: 'status', status: 404 }, /^HTTP 404$/],
    [
      'discovery without jwks_uri',
      'discovery',
      { kind: 'body', body: '{"issuer":"x"}' },
      /no jwks_uri/,
    ],
    [
      'discovery with a non-http jwks_uri',
      'discovery',
      { kind: 'body', body: '{"jwks_uri":"file:///etc/passwd"}' },
      /must use https: or http:/,
    ],
  ];
  for (const [what, endpoint, behaviour, reason] of cases) {
    await t.test(what, async (t) => {
      const { clock, issuer, gw } = await setup(t);
      issuer.set(endpoint, behaviour);
      const token = await issuer.sign();
      assertUnauthorized(t, await get(gw, '/private', token), D.unavailable);
      t.match(gw.logs, [{ level: 'warn', obj: { reason } }], 'the reason is logged');
      issuer.set(endpoint, { kind: 'ok' });
      assertUnauthorized(t, await get(gw, '/private', token), D.unavailable, 'still backing off');
      clock.advance(FAILURE_BACKOFF_MS);
      assertOk(t, await get(gw, '/private', token), 'recovered');
      assertNoTokenLogged(t, gw, [token]);
    });
  }
});

t.test('cached keys outlive a failing refresh, up to a limit', async (t) => {
  const { clock, issuer, gw } = await setup(t);
  const token = await issuer.sign({ exp: Math.floor(clock.now() / 1000) + 7200 });
  assertOk(t, await get(gw, '/private', token));
  issuer.set('jwks', { kind: 'status', status: 503 });
  clock.advance(REFRESH_AFTER_MS);
  assertOk(t, await get(gw, '/private', token), 'stale keys still serve while the refresh fails');
  await issuer.waitForFetches('jwks', 2);
  clock.advance(FAILURE_BACKOFF_MS);
  assertOk(t, await get(gw, '/private', token));
  t.match(gw.logs, [{ level: 'warn', obj: { reason: 'HTTP 503', usingCachedKeys: true } }]);
  clock.advance(MAX_STALE_MS);
  assertUnauthorized(t, await get(gw, '/private', token), D.unavailable, 'too stale: fail closed');
});

t.test('static publicKey: PEM and JWK, RSA and EC; never an HMAC with it', async (t) => {
  const clock = new ManualClock();
  const issuer = await startOidcIssuer(t, { now: clock.now, audience: AUDIENCE });
  const ec = await issuer.addKey({ alg: 'ES256', publish: false });
  const rsa = issuer.signingKey;
  const variants: Array<[string, string, typeof rsa]> = [
    ['RSA PEM', rsa.publicPem, rsa],
    ['RSA JWK', JSON.stringify(rsa.publicJwk), rsa],
    ['EC PEM', ec.publicPem, ec],
    ['EC JWK', JSON.stringify(ec.publicJwk), ec],
  ];
  for (const [what, publicKey, key] of variants) {
    await t.test(what, async (t) => {
      const gw = await serve(t, clock, { issuer: issuer.issuer, publicKey });
      const token = await issuer.sign({}, { key });
      assertOk(t, await get(gw, '/private', token));
      assertOk(
        t,
        await get(gw, '/private', await issuer.sign({}, { key, kid: null })),
        'kid not needed',
      );
      const confused = await new SignJWT({
        iss: issuer.issuer,
        aud: AUDIENCE,
        exp: Math.floor(clock.now() / 1000) + 60,
      })
        .setProtectedHeader({ alg: 'HS256' })
        .sign(new TextEncoder().encode(publicKey));
      assertUnauthorized(
        t,
        await get(gw, '/private', confused),
        D.algorithm,
        'HS256 keyed with the public key',
      );
      const other = key === rsa ? ec : rsa;
      assertUnauthorized(
        t,
        await get(gw, '/private', await issuer.sign({}, { key: other })),
        D.algorithm,
        'another key type',
      );
      assertUnauthorized(
        t,
        await get(gw, '/private', await issuer.sign({ aud: 'x' }, { key })),
        D.audience,
      );
      assertNoTokenLogged(t, gw, [token, confused]);
    });
  }
  t.same(issuer.fetches, { discovery: 0, jwks: 0 }, 'static keys never touch the issuer');
});

t.test('HMAC secret (development)', async (t) => {
  const clock = new ManualClock();
  const secret = 'a-development-secret-of-at-least-32-chars';
  const iss = 'https://dev.example/';
  const gw = await serve(t, clock, { issuer: iss, secret });
  const exp = Math.floor(clock.now() / 1000) + 60;
  const sign = (alg: string, key = secret) =>
    new SignJWT({ iss, aud: AUDIENCE, exp, scope: 'orders:read' })
      .setProtectedHeader({ alg })
      .sign(new TextEncoder().encode(key));
  for (const alg of ['HS256', 'HS384', 'HS512'])
    assertOk(t, await get(gw, '/private', await sign(alg)), alg);
  assertOk(t, await get(gw, '/orders', await sign('HS256')), 'with scopes');
  assertUnauthorized(
    t,
    await get(gw, '/private', await sign('HS256', `${secret}!`)),
    D.signature,
    'another secret',
  );
  const issuer = await startOidcIssuer(t, { now: clock.now, audience: AUDIENCE });
  assertUnauthorized(
    t,
    await get(gw, '/private', await issuer.sign({ iss })),
    D.algorithm,
    'RS256 with a secret',
  );

  const limited = await serve(t, clock, { issuer: iss, secret, algorithms: ['HS512'] });
  assertUnauthorized(
    t,
    await get(limited, '/private', await sign('HS256')),
    D.algorithm,
    'algorithms narrows the list',
  );
  assertOk(t, await get(limited, '/private', await sign('HS512')));
});

t.test('identity sources: query string, cookie, another header', async (t) => {
  const clock = new ManualClock();
  const issuer = await startOidcIssuer(t, { now: clock.now, audience: AUDIENCE });
  const token = await issuer.sign();
  /** [identitySource, where the token goes: a URL for it, headers for it]. */
  const sources: Array<[string, (tok: string) => string, (tok: string) => Record<string, string>]> =
    [
      [
        '$request.querystring.access_token',
        (tok) => `/private?x=1&access_token=${tok}`,
        () => ({}),
      ],
      [
        '$request.cookie.session',
        () => '/private',
        (tok) => ({ cookie: `theme=dark; session=${tok}; lang=en` }),
      ],
      ['$request.header.X-Api-Token', () => '/private', (tok) => ({ 'x-api-token': tok })],
    ];
  for (const [identitySource, url, headers] of sources) {
    await t.test(identitySource, async (t) => {
      const gw = await serve(t, clock, { issuer: issuer.issuer, identitySource });
      assertOk(t, await get(gw, url(token), undefined, headers(token)));
      assertUnauthorized(
        t,
        await get(gw, '/private', token),
        null,
        'the Authorization header is not read',
      );
      assertUnauthorized(
        t,
        await get(gw, url('garbage'), undefined, headers('garbage')),
        D.malformed,
      );
      assertNoTokenLogged(t, gw, [token]);
    });
  }
});

t.test('clock tolerance, on an injected clock', async (t) => {
  const { clock, issuer, gw } = await setup(t, { clockToleranceSeconds: 30 });
  const s = (): number => Math.floor(clock.now() / 1000);
  assertOk(
    t,
    await get(gw, '/private', await issuer.sign({ iat: s() - 100, exp: s() - 29 })),
    'exp 29 s ago',
  );
  assertUnauthorized(
    t,
    await get(gw, '/private', await issuer.sign({ iat: s() - 100, exp: s() - 30 })),
    D.expired,
    'exp 30 s ago',
  );
  assertOk(t, await get(gw, '/private', await issuer.sign({ nbf: s() + 30 })), 'nbf in 30 s');
  assertUnauthorized(
    t,
    await get(gw, '/private', await issuer.sign({ nbf: s() + 31 })),
    D.notYetValid,
    'nbf in 31 s',
  );
  assertOk(t, await get(gw, '/private', await issuer.sign({ iat: s() + 30 })), 'iat in 30 s');
  assertUnauthorized(
    t,
    await get(gw, '/private', await issuer.sign({ iat: s() + 31 })),
    D.issuedInFuture,
    'iat in 31 s',
  );

  // The same token, moving the clock instead.
  const token = await issuer.sign({ exp: s() + 60 });
  assertOk(t, await get(gw, '/private', token), 'fresh');
  clock.advance(89_000);
  assertOk(t, await get(gw, '/private', token), '29 s past exp');
  clock.advance(1_000);
  assertUnauthorized(t, await get(gw, '/private', token), D.expired, '30 s past exp');

  const strict = await setup(t);
  const sec = Math.floor(strict.clock.now() / 1000);
  assertUnauthorized(
    t,
    await get(strict.gw, '/private', await strict.issuer.sign({ nbf: sec + 1 })),
    D.notYetValid,
    'no tolerance: nbf in 1 s',
  );
  assertOk(
    t,
    await get(strict.gw, '/private', await strict.issuer.sign({ nbf: sec, exp: sec + 1 })),
    'no tolerance: nbf now, exp in 1 s',
  );
});

t.test('claimsToHeaders: selected claims go upstream; client copies are dropped', async (t) => {
  const clock = new ManualClock();
  const issuer = await startOidcIssuer(t, { now: clock.now, audience: AUDIENCE });
  const upstream = await startRecordingUpstream(t);
  const gw = await serve(
    t,
    clock,
    {
      issuer: issuer.issuer,
      claimsToHeaders: {
        sub: 'X-User-Id',
        groups: 'x-user-groups',
        name: 'x-user-name',
        missing: 'x-missing',
      },
    },
    {
      integrations: { up: { type: 'http', url: `${upstream.origin}/hello` } },
      routes: { 'GET /up': { integration: 'up', authorizer: 'jwt' } },
    },
  );
  const token = await issuer.sign({ groups: ['a', 'b'], name: 'Zoë' });
  const res = await get(gw, '/up', token, { 'x-user-id': 'spoofed', 'x-missing': 'spoofed' });
  t.equal(res.status, 200);
  const seen = upstream.requests[0]?.headers ?? {};
  t.equal(seen['x-user-id'], 'user-123', 'sub, replacing the client copy');
  t.equal(seen['x-user-groups'], '["a","b"]', 'a list as JSON');
  t.equal(
    Buffer.from(String(seen['x-user-name']), 'latin1').toString('utf8'),
    'Zoë',
    'non-ASCII as UTF-8 bytes',
  );
  t.equal(
    seen['x-missing'],
    undefined,
    'an absent claim sends nothing, and the client copy is dropped',
  );
});

t.test('config errors are found at deploy, with paths', async (t) => {
  const clock = new ManualClock();
  const pem = (await startOidcIssuer(t, { now: clock.now })).signingKey.publicPem;
  const base = { issuer: 'https://issuer.example/' };
  const cases: Array<[string, JwtInput, RegExp]> = [
    [
      'HMAC with a key set',
      { algorithms: ['RS256', 'HS256'] },
      /authorizers\.jwt\.algorithms: HMAC algorithms \(HS256\) need a secret/,
    ],
    [
      'HMAC with a public key',
      { publicKey: pem, algorithms: ['HS256'] },
      /authorizers\.jwt\.algorithms: HMAC algorithms \(HS256\) need a secret/,
    ],
    [
      'RSA with a secret',
      { secret: 'x'.repeat(32), algorithms: ['RS256'] },
      /only HS256, HS384 and HS512 apply, not RS256/,
    ],
    [
      'an algorithm the key cannot do',
      { publicKey: pem, algorithms: ['ES256'] },
      /ES256 cannot be verified with this key/,
    ],
    [
      'a private key',
      { publicKey: '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----' },
      /private key/,
    ],
    [
      'a private JWK',
      { publicKey: '{"kty":"EC","crv":"P-256","x":"a","y":"b","d":"c"}' },
      /private key/,
    ],
    ['a symmetric JWK', { publicKey: '{"kty":"oct","k":"abc"}' }, /use `secret`/],
    [
      'not a key',
      { publicKey: 'hello' },
      /authorizers\.jwt\.publicKey: not a PEM public key or a JWK/,
    ],
    [
      'a non-http issuer',
      { issuer: 'ftp://issuer.example/' },
      /authorizers\.jwt\.issuer: expected an http\(s\) URL/,
    ],
    [
      'a non-http jwksUri',
      { jwksUri: 'file:///keys.json' },
      /authorizers\.jwt\.jwksUri: expected an http\(s\) URL/,
    ],
    [
      'a reserved header',
      { claimsToHeaders: { sub: 'Content-Length' } },
      /claimsToHeaders\.sub: "Content-Length" is set by the gateway/,
    ],
    [
      'a header used twice',
      { claimsToHeaders: { sub: 'x-user', email: 'X-User' } },
      /claimsToHeaders\.email: "X-User" is already used/,
    ],
  ];
  for (const [what, jwt, message] of cases) {
    const err = await createGateway(
      {
        integrations: { ok: { type: 'mock' } },
        authorizers: { jwt: { type: 'jwt', audience: [AUDIENCE], ...base, ...jwt } },
        routes: { 'GET /': { integration: 'ok', authorizer: 'jwt' } },
      },
      { logger: memoryLogger([]) },
    ).then(
      () => null,
      (e: unknown) => e,
    );
    t.type(err, ConfigError, `${what}: ConfigError`);
    t.match((err as Error).message, message, what);
  }
});

t.test('close() aborts a fetch under way and fails closed', async (t) => {
  const clock = new ManualClock();
  const issuer = await startOidcIssuer(t, { now: clock.now, audience: AUDIENCE });
  issuer.set('discovery', { kind: 'hang' });
  const logs: RunningGateway['logs'] = [];
  const authorizer = await createJwtAuthorizer(
    'direct',
    {
      type: 'jwt',
      issuer: issuer.issuer,
      audience: [AUDIENCE],
      identitySource: '$request.header.Authorization',
      clockToleranceSeconds: 0,
      fetchTimeoutMs: 30_000,
    },
    { logger: memoryLogger(logs), baseDir: '.', now: clock.now },
  );
  t.equal(authorizer.type, 'jwt');
  t.same(authorizer.upstreamHeaderNames, []);
  const token = await issuer.sign();
  const ex = { req: { headers: { authorization: `Bearer ${token}` } } } as unknown as Exchange;
  const pending = authorizer.authorize(ex, null);
  await issuer.waitForFetches('discovery', 1);
  authorizer.close?.();
  t.same(await pending, {
    ok: false,
    code: 'PORTICO_UNAUTHORIZED',
    wwwAuthenticate: challenge(D.unavailable),
  });
  t.same(
    await authorizer.authorize(ex, null),
    {
      ok: false,
      code: 'PORTICO_UNAUTHORIZED',
      wwwAuthenticate: challenge(D.unavailable),
    },
    'a closed authorizer does not fetch again',
  );
  t.equal(issuer.fetches.discovery, 1);
  t.same(logs, [], 'aborting on close is not a warning');
});

t.test(
  'the key set of an unchanged authorizer survives a redeploy; a changed one refetches',
  async (t) => {
    const { issuer, gw } = await setup(t);
    const token = await issuer.sign();
    t.equal((await get(gw, '/private', token)).status, 200);
    const fetched = { ...issuer.fetches };
    const config = (audience: string[], body: string): GatewayConfigInput => ({
      integrations: { ok: { type: 'mock', body } },
      authorizers: { jwt: { type: 'jwt', issuer: issuer.issuer, audience } },
      routes: { 'GET /private': { integration: 'ok', authorizer: 'jwt' } },
    });
    await gw.gateway.deploy(config([AUDIENCE], 'second'));
    const res = await get(gw, '/private', token);
    t.same([res.status, res.text], [200, 'second']);
    t.same(issuer.fetches, fetched, 'no discovery or key-set fetch after the redeploy');
    await gw.gateway.deploy(config([AUDIENCE, 'other'], 'third'));
    t.equal((await get(gw, '/private', token)).text, 'third');
    t.equal(issuer.fetches.jwks, fetched.jwks + 1, 'a changed authorizer fetches its keys anew');
  },
);
