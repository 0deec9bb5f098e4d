/**
 * Throttling and concurrency protection through a real gateway: AWS's 429 body, Retry-After
 * and the x-ratelimit-* headers, route > stage > top-level precedence, per-client buckets,
 * buckets across redeploys, and the per-integration concurrency queue. The gateway's clock
 * is a number the test moves; nothing sleeps.
 */
import t from 'tap';
import { EventEmitter } from 'node:events';
import { request as httpRequest, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import { SignJWT } from 'jose';
import { ConfigError, type GatewayConfigInput } from '../lib/index.ts';
import { ConcurrencyLimiter, ConcurrencyLimiters } from '../lib/concurrency.ts';
import { clientKeyer } from '../lib/throttle/filter.ts';
import type { Exchange } from '../lib/exchange.ts';
import { request, startGateway } from './helpers/gateway.ts';
import { startHttpUpstream } from './helpers/upstream.ts';

const T0 = Date.UTC(2030, 0, 1);
const TOO_MANY = '{"message":"Too Many Requests"}';
const KEY_A = 'aaaaaaaaaaaaaaaaaaaaaaaa';
const KEY_B = 'bbbbbbbbbbbbbbbbbbbbbbbb';

function manualClock() {
  const clock = { now: T0, read: () => clock.now };
  return clock;
}

interface Got {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/** A GET over a fresh connection, optionally from another loopback address. */
function get(url: string, headers: Record<string, string> = {}, from?: string): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers, agent: false, localAddress: from }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end();
  });
}

const limits = (r: Got) => [
  r.headers['x-ratelimit-limit'],
  r.headers['x-ratelimit-remaining'],
  r.headers['x-ratelimit-reset'],
];

const ok = { type: 'mock', body: 'ok' } as const;

t.test(
  'a route allows its burst, then 429 with Retry-After; tokens refill with time',
  async (t) => {
    const clock = manualClock();
    const gw = await startGateway(
      {
        throttle: { rateLimit: 1, burstLimit: 2 },
        integrations: { ok },
        routes: { 'GET /a': { integration: 'ok' } },
      },
      { t, clock: clock.read },
    );
    const first = await get(`${gw.url}/a`);
    t.equal(first.status, 200);
    t.same(limits(first), ['2', '1', '1'], 'limit = burst, reset = seconds until full');
    t.same(limits(await get(`${gw.url}/a`)), ['2', '0', '2']);
    const refused = await get(`${gw.url}/a`);
    t.equal(refused.status, 429);
    t.equal(refused.text, TOO_MANY);
    t.equal(refused.headers['content-type'], 'application/json');
    t.ok(refused.headers['apigw-requestid']);
    t.equal(refused.headers['retry-after'], '1');
    t.same(limits(refused), ['2', '0', '2']);
    clock.now += 999;
    t.equal((await get(`${gw.url}/a`)).status, 429, 'not a whole token yet');
    clock.now += 1;
    t.equal((await get(`${gw.url}/a`)).status, 200);
    clock.now += 10_000;
    t.same(limits(await get(`${gw.url}/a`)), ['2', '1', '1'], 'refill stops at the burst');
  },
);

t.test('fractional rates: 0.5/s lets one request through every 2 s', async (t) => {
  const clock = manualClock();
  const gw = await startGateway(
    {
      integrations: { ok },
      routes: { 'GET /slow': { integration: 'ok', throttle: { rateLimit: 0.5, burstLimit: 1 } } },
    },
    { t, clock: clock.read },
  );
  t.equal((await get(`${gw.url}/slow`)).status, 200);
  const refused = await get(`${gw.url}/slow`);
  t.equal(refused.headers['retry-after'], '2');
  clock.now += 1500;
  t.equal((await get(`${gw.url}/slow`)).headers['retry-after'], '1', 'rounded up');
  clock.now += 500;
  t.equal((await get(`${gw.url}/slow`)).status, 200);
});

t.test('route beats stage beats top level; buckets are per stage and route', async (t) => {
  const gw = await startGateway(
    {
      throttle: { rateLimit: 1, burstLimit: 3 },
      stages: { $default: {}, prod: { throttle: { rateLimit: 1, burstLimit: 1 } }, dev: {} },
      integrations: { ok },
      routes: {
        'GET /a': { integration: 'ok' },
        'GET /b': { integration: 'ok', throttle: { rateLimit: 1, burstLimit: 2 } },
        'GET /off': { integration: 'ok', throttle: false },
      },
    },
    { t, clock: () => T0 },
  );
  const burst = async (path: string): Promise<number> => {
    for (let n = 0; n < 10; n++) if ((await get(gw.url + path)).status === 429) return n;
    return 10;
  };
  t.equal(await burst('/a'), 3, 'top level');
  t.equal(await burst('/dev/a'), 3, 'top level, its own bucket in another stage');
  t.equal(await burst('/prod/a'), 1, 'stage over top level');
  t.equal(await burst('/b'), 2, 'route over top level');
  t.equal(await burst('/prod/b'), 2, 'route over stage');
  t.equal(await burst('/off'), 10, 'throttle: false turns it off');
  t.notOk((await get(`${gw.url}/off`)).headers['x-ratelimit-limit'], 'no headers without a limit');
});

t.test('per-client buckets: by ip', async (t) => {
  const gw = await startGateway(
    {
      integrations: { ok },
      routes: {
        'GET /ip': { integration: 'ok', throttle: { rateLimit: 1, burstLimit: 1, by: 'ip' } },
        'GET /shared': { integration: 'ok', throttle: { rateLimit: 1, burstLimit: 1 } },
      },
    },
    { t, clock: () => T0 },
  );
  t.equal((await get(`${gw.url}/ip`, {}, '127.0.0.1')).status, 200);
  t.equal((await get(`${gw.url}/ip`, {}, '127.0.0.1')).status, 429);
  t.equal((await get(`${gw.url}/ip`, {}, '127.0.0.2')).status, 200, 'another client');
  t.equal((await get(`${gw.url}/shared`, {}, '127.0.0.1')).status, 200);
  t.equal((await get(`${gw.url}/shared`, {}, '127.0.0.2')).status, 429, 'by route: one bucket');
});

t.test('per-client buckets: by apiKey and by a JWT claim', async (t) => {
  const secret = 'a-development-secret-of-at-least-32-chars';
  const issuer = 'https://issuer.example';
  const token = (sub: string) =>
    new SignJWT({ sub })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(issuer)
      .setAudience('api')
      // Issued on the gateway's clock (T0): tokens and throttles share one clock.
      .setIssuedAt(T0 / 1000)
      .setExpirationTime(T0 / 1000 + 3600)
      .sign(new TextEncoder().encode(secret));
  const gw = await startGateway(
    {
      apiKeys: { a: { value: KEY_A }, b: { value: KEY_B } },
      authorizers: { jwt: { type: 'jwt', issuer, audience: ['api'], secret } },
      integrations: { ok },
      routes: {
        'GET /key': {
          integration: 'ok',
          apiKeyRequired: true,
          throttle: { rateLimit: 1, burstLimit: 1, by: 'apiKey' },
        },
        'GET /sub': {
          integration: 'ok',
          authorizer: 'jwt',
          throttle: { rateLimit: 1, burstLimit: 1, by: 'claim:sub' },
        },
      },
    },
    { t, clock: () => T0 },
  );
  t.equal((await get(`${gw.url}/key`, { 'x-api-key': KEY_A })).status, 200);
  t.equal((await get(`${gw.url}/key`, { 'x-api-key': KEY_A })).status, 429);
  t.equal((await get(`${gw.url}/key`, { 'x-api-key': KEY_B })).status, 200);
  const alice = { authorization: `Bearer ${await token('alice')}` };
  const bob = { authorization: `Bearer ${await token('bob')}` };
  t.equal((await get(`${gw.url}/sub`, alice)).status, 200);
  t.equal((await get(`${gw.url}/sub`, alice)).status, 429);
  t.equal((await get(`${gw.url}/sub`, bob)).status, 200);
});

t.test('a client without the identity asked for is keyed by its IP', async (t) => {
  const keyer = clientKeyer('claim:tenant')!;
  const ex = (authorizer: unknown) =>
    ({
      authorizer,
      apiKey: null,
      clientIp: null,
      stage: { trustProxy: null },
      req: { headers: {}, socket: { remoteAddress: '10.0.0.9' } },
    }) as unknown as Exchange;
  t.equal(keyer(ex({ jwt: { claims: { tenant: 'acme' }, scopes: null } })), 'c:acme');
  t.equal(keyer(ex({ jwt: { claims: { tenant: 42 }, scopes: null } })), 'c:42');
  t.equal(keyer(ex({ lambda: { tenant: 'beta' } })), 'c:beta', 'a function authorizer context');
  t.equal(keyer(ex({ jwt: { claims: { tenant: ['x'] }, scopes: null } })), 'ip:10.0.0.9');
  t.equal(keyer(ex(null)), 'ip:10.0.0.9');
  t.equal(clientKeyer('apiKey')!(ex(null)), 'ip:10.0.0.9', 'no API key on the route');
  t.equal(clientKeyer('route'), null);
});

t.test(
  'a 429 keeps the CORS headers and reports the limit; preflights are not throttled',
  async (t) => {
    const gw = await startGateway(
      {
        cors: { allowOrigins: ['https://app.example'], exposeHeaders: ['x-ratelimit-remaining'] },
        throttle: { rateLimit: 1, burstLimit: 1 },
        integrations: { ok },
        routes: { 'GET /a': { integration: 'ok' } },
      },
      { t, clock: () => T0 },
    );
    const origin = { origin: 'https://app.example' };
    const first = await get(`${gw.url}/a`, origin);
    t.equal(first.headers['access-control-allow-origin'], 'https://app.example');
    t.equal(first.headers['x-ratelimit-remaining'], '0');
    const refused = await get(`${gw.url}/a`, origin);
    t.equal(refused.status, 429);
    t.equal(refused.headers['access-control-allow-origin'], 'https://app.example');
    t.equal(refused.headers['retry-after'], '1');
    const preflight = await request(`${gw.url}/a`, {
      method: 'OPTIONS',
      headers: { ...origin, 'access-control-request-method': 'GET' },
    });
    t.equal(preflight.status, 204);
  },
);

t.test(
  'buckets survive a redeploy with the same limits and restart when limits change',
  async (t) => {
    const config = (burstLimit: number): GatewayConfigInput => ({
      throttle: { rateLimit: 1, burstLimit },
      integrations: { ok, other: { type: 'mock', body: 'other' } },
      routes: { 'GET /a': { integration: 'ok' } },
    });
    const gw = await startGateway(config(1), { t, clock: () => T0 });
    t.equal((await get(`${gw.url}/a`)).status, 200);
    t.equal((await get(`${gw.url}/a`)).status, 429);
    await gw.gateway.deploy(config(1));
    t.equal((await get(`${gw.url}/a`)).status, 429, 'same limits: same bucket');
    await gw.gateway.deploy(config(2));
    t.equal((await get(`${gw.url}/a`)).status, 200, 'new limits: a new, full bucket');
    t.equal((await get(`${gw.url}/a`)).headers['x-ratelimit-remaining'], '0');
  },
);

/** An upstream that holds each request until the test releases it. */
async function heldUpstream(t: Parameters<typeof startHttpUpstream>[0]) {
  const held: ServerResponse[] = [];
  const waiters: Array<() => void> = [];
  const upstream = await startHttpUpstream(t, (_req, res) => {
    held.push(res);
    waiters.shift()?.();
  });
  return {
    origin: upstream.origin,
    get held() {
      return held.length;
    },
    arrival: () => new Promise<void>((resolve) => waiters.push(resolve)),
    release: () => held.shift()!.end('done'),
  };
}

t.test('concurrency: a bounded queue, then 503 at once; slots pass on in order', async (t) => {
  const upstream = await heldUpstream(t);
  const gw = await startGateway(
    {
      integrations: {
        slow: { type: 'http', url: upstream.origin, maxConcurrency: 1, maxQueue: 1 },
      },
      routes: { 'GET /slow': { integration: 'slow' }, 'GET /slow2': { integration: 'slow' } },
    },
    { t },
  );
  let arrived = upstream.arrival();
  const first = get(`${gw.url}/slow`);
  await arrived;
  // One of these is queued (the routes share the integration's limit), the other refused.
  const pending = [get(`${gw.url}/slow`), get(`${gw.url}/slow2`)];
  const full = await Promise.race(pending);
  t.equal(full.status, 503, 'queue full: refused at once');
  t.equal(full.text, '{"message":"Service Unavailable"}');
  t.equal(upstream.held, 1, 'the queued request has not reached the upstream');
  arrived = upstream.arrival();
  upstream.release();
  t.equal((await first).text, 'done');
  await arrived;
  upstream.release();
  const [a, b] = await Promise.all(pending);
  t.same([a!.status, b!.status].sort(), [200, 503]);
});

/** A stand-in exchange: a response that records what was written and emits 'close' on demand. */
function fakeExchange(id: string) {
  const res = Object.assign(new EventEmitter(), {
    headersSent: false,
    status: 0,
    writeHead(status: number) {
      this.status = status;
      this.headersSent = true;
    },
    end() {},
  });
  const ex = { res, req: { method: 'GET' }, requestId: id, responseHeaders: null };
  return ex as unknown as Exchange & { res: typeof res };
}

t.test('concurrency: a client that leaves the queue frees its place', async (t) => {
  const limiter = new ConcurrencyLimiter(1, 1);
  const started: string[] = [];
  const integration = {
    type: 'http',
    target: 'test',
    handle: (ex: Exchange) => void started.push(ex.requestId),
  } as const;
  const [a, b, c, d] = ['a', 'b', 'c', 'd'].map(fakeExchange) as [
    ReturnType<typeof fakeExchange>,
    ...ReturnType<typeof fakeExchange>[],
  ];
  limiter.submit(a, integration);
  limiter.submit(b!, integration);
  t.same([limiter.active, limiter.waiting, started], [1, 1, ['a']]);
  b!.res.emit('close'); // b's client went away while queued
  t.equal(limiter.waiting, 0);
  limiter.submit(c!, integration);
  limiter.submit(d!, integration);
  t.equal(d!.res.status, 503, 'the queue holds c only');
  a.res.emit('close');
  t.same(started, ['a', 'c'], 'b was skipped');
  c!.res.emit('close');
  t.same([limiter.active, limiter.waiting], [0, 0]);
  c!.res.emit('close');
  t.equal(limiter.active, 0, 'a second close releases nothing');
});

t.test('concurrency: limiters outlive a redeploy unless their limits change', async (t) => {
  const limiters = new ConcurrencyLimiters();
  const one = limiters.get('up', 2, 0);
  t.equal(limiters.get('up', 2, 0), one);
  t.not(limiters.get('up', 3, 0), one);
  limiters.retain(new Set([one]));
  t.equal(limiters.size, 1);
});

t.test('config errors for throttles and concurrency name their path', async (t) => {
  const { validateConfig } = await import('../lib/config/parse.ts');
  const issues = (config: unknown) => {
    try {
      validateConfig(config);
    } catch (err) {
      if (err instanceof ConfigError) return err.issues.map((i) => `${i.path}: ${i.message}`);
      throw err;
    }
    return [];
  };
  t.same(
    issues({
      integrations: { up: { type: 'http', url: 'http://127.0.0.1:1', maxQueue: 3 } },
      routes: {
        'GET /a': { integration: 'up', throttle: { rateLimit: 1, burstLimit: 1, by: 'claim:sub' } },
        'GET /b': { integration: 'up', throttle: { rateLimit: 1, burstLimit: 1, by: 'apiKey' } },
      },
    }),
    [
      'routes["GET /a"].throttle.by: keying by a claim needs an authorizer on the route',
      'routes["GET /b"].throttle.by: keying by apiKey needs apiKeyRequired: true',
      'integrations.up.maxQueue: maxQueue needs maxConcurrency',
    ],
  );
  t.match(
    issues({
      throttle: { rateLimit: -1, burstLimit: 1.5, by: 'cookie' },
      integrations: { ok },
      routes: { 'GET /a': { integration: 'ok' } },
    }).join('\n'),
    /throttle\.rateLimit: .*\n.*throttle\.burstLimit: .*\n.*throttle\.by: /,
  );
});
