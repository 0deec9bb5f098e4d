/**
 * API keys and usage plans: keys by value, SHA-256 and environment variable; AWS's 403 and
 * 429 bodies; per-key plan throttles and DAY/WEEK/MONTH quotas that reset at UTC boundaries
 * (with `offset`); one plan per key and stage. The gateway's clock is a number the test moves.
 */
import t, { type Test } from 'tap';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { ConfigError, validateConfig, type GatewayConfigInput } from '../lib/index.ts';
import { ApiKeyFilter, ApiKeyTable, requestApiKey } from '../lib/api-keys.ts';
import type { ConfigIssue } from '../lib/errors.ts';
import type { Exchange } from '../lib/exchange.ts';
import { quotaPeriodEnd, quotaPeriodStart } from '../lib/usage-plans.ts';
import { request, startGateway, type Reply } from './helpers/gateway.ts';

const FORBIDDEN = '{"message":"Forbidden"}';
const LIMIT_EXCEEDED = '{"message":"Limit Exceeded"}';
const KEY_A = 'key-a-0123456789abcdefghij';
const KEY_B = 'key-b-0123456789abcdefghij';
const KEY_C = 'key-c-0123456789abcdefghij';
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const ok = { type: 'mock', body: 'ok' } as const;
const iso = (ms: number) => new Date(ms).toISOString();

t.test('quota periods start at UTC day, week and month boundaries, with offset', async (t) => {
  const at = (s: string) => Date.parse(s);
  const period = (now: string, p: 'DAY' | 'WEEK' | 'MONTH', offset = 0) => {
    const start = quotaPeriodStart(at(now), p, offset);
    return [iso(start), iso(quotaPeriodEnd(start, p, offset))];
  };
  t.same(period('2030-03-05T13:00:00Z', 'DAY'), [
    '2030-03-05T00:00:00.000Z',
    '2030-03-06T00:00:00.000Z',
  ]);
  t.same(period('2030-03-05T23:59:59.999Z', 'DAY')[1], '2030-03-06T00:00:00.000Z');
  // 2030-03-05 is a Tuesday.
  t.same(
    period('2030-03-05T10:00:00Z', 'WEEK'),
    ['2030-03-03T00:00:00.000Z', '2030-03-10T00:00:00.000Z'],
    'offset 0: weeks start on Sunday',
  );
  t.same(
    period('2030-03-05T10:00:00Z', 'WEEK', 1),
    ['2030-03-04T00:00:00.000Z', '2030-03-11T00:00:00.000Z'],
    'offset 1: Monday',
  );
  t.same(period('2030-03-03T23:59:59Z', 'WEEK', 1)[0], '2030-02-25T00:00:00.000Z', 'Sunday night');
  t.same(period('2030-03-04T00:00:00Z', 'WEEK', 1)[0], '2030-03-04T00:00:00.000Z', 'Monday 0:00');
  t.same(period('2030-03-05T10:00:00Z', 'WEEK', 2)[0], '2030-03-05T00:00:00.000Z', 'Tuesday');
  t.same(period('2030-03-05T10:00:00Z', 'WEEK', 6)[0], '2030-03-02T00:00:00.000Z', 'Saturday');
  t.same(period('2030-03-05T10:00:00Z', 'MONTH'), [
    '2030-03-01T00:00:00.000Z',
    '2030-04-01T00:00:00.000Z',
  ]);
  t.same(
    period('2030-03-05T10:00:00Z', 'MONTH', 14),
    ['2030-02-15T00:00:00.000Z', '2030-03-15T00:00:00.000Z'],
    'offset 14: periods start on the 15th',
  );
  t.same(period('2030-03-15T00:00:00Z', 'MONTH', 14)[0], '2030-03-15T00:00:00.000Z');
  t.same(
    period('2031-01-10T00:00:00Z', 'MONTH', 27),
    ['2030-12-28T00:00:00.000Z', '2031-01-28T00:00:00.000Z'],
    'across a year',
  );
  t.same(period('2032-02-29T12:00:00Z', 'MONTH')[1], '2032-03-01T00:00:00.000Z', 'leap day');
});

t.test('keys by value, by SHA-256 and from the environment; 403 otherwise', async (t) => {
  process.env.PORTICO_TEST_KEY = KEY_C;
  t.teardown(() => delete process.env.PORTICO_TEST_KEY);
  const gw = await startGateway(
    {
      apiKeys: {
        plain: { value: KEY_A },
        hashed: { sha256: sha256(KEY_B).toUpperCase() },
        fromEnv: { env: 'PORTICO_TEST_KEY' },
        off: { value: 'disabled-key-0123456789', enabled: false },
      },
      integrations: { ok },
      routes: {
        'GET /private': { integration: 'ok', apiKeyRequired: true },
        'GET /public': { integration: 'ok' },
      },
    },
    { t },
  );
  const get = (key?: string | string[]) =>
    request(`${gw.url}/private`, key === undefined ? {} : { headers: { 'x-api-key': key } });
  for (const key of [KEY_A, KEY_B, KEY_C]) t.equal((await get(key)).text, 'ok');
  for (const [why, key] of [
    ['missing', undefined],
    ['unknown', 'unknown-key-0123456789'],
    ['disabled', 'disabled-key-0123456789'],
    ['a hash is not a key', sha256(KEY_B)],
    ['repeated', [KEY_A, KEY_A]],
  ] as const) {
    const res = await get(key as string | undefined);
    t.equal(res.status, 403, why);
    t.equal(res.text, FORBIDDEN, why);
    t.equal(res.headers['content-type'], 'application/json');
  }
  t.equal((await request(`${gw.url}/public`)).text, 'ok', 'routes without apiKeyRequired');
  t.notMatch(JSON.stringify(gw.logs), /key-[abc]-0123/, 'no key in the logs');
});

t.test('the key header is configurable', async (t) => {
  const gw = await startGateway(
    {
      apiKeyHeader: 'X-Client-Token',
      apiKeys: { a: { value: KEY_A } },
      integrations: { ok },
      routes: { 'GET /p': { integration: 'ok', apiKeyRequired: true } },
    },
    { t },
  );
  t.equal((await request(`${gw.url}/p`, { headers: { 'x-client-token': KEY_A } })).status, 200);
  t.equal((await request(`${gw.url}/p`, { headers: { 'x-api-key': KEY_A } })).status, 403);
});

t.test('AUTHORIZER key source: the key a function authorizer returned', async (t) => {
  const issues: ConfigIssue[] = [];
  const table = new ApiKeyTable({ a: { value: KEY_A, enabled: true } }, {}, issues);
  t.same(issues, []);
  const filter = new ApiKeyFilter(table, 'AUTHORIZER', 'x-api-key', null);
  const exchange = (usageIdentifierKey: string | null) => {
    const res = {
      headersSent: false,
      status: 0,
      writeHead(status: number) {
        this.status = status;
        this.headersSent = true;
      },
      end() {},
    };
    const req = { method: 'GET', headers: { 'x-api-key': KEY_A } };
    return {
      req,
      res,
      usageIdentifierKey,
      apiKey: null,
      requestId: 'r',
      responseHeaders: null,
    } as unknown as Exchange & { res: typeof res };
  };
  const admitted = exchange(KEY_A);
  filter.run(admitted);
  t.equal(admitted.res.status, 0, 'let through');
  t.equal(requestApiKey(admitted)?.name, 'a');
  const refused = exchange(null);
  filter.run(refused);
  t.equal(refused.res.status, 403, 'the header does not count with this source');
  t.equal(requestApiKey(refused), null);
});

t.test('AUTHORIZER key source end to end: the key drives the plan', async (t) => {
  const gw = await startGateway(
    {
      apiKeySource: 'AUTHORIZER',
      apiKeys: { a: { value: KEY_A }, b: { value: KEY_B } },
      usagePlans: { p: { apiKeys: ['a', 'b'], quota: { limit: 1, period: 'DAY' } } },
      authorizers: {
        keys: {
          type: 'function',
          handler: 'key-authorizer.mjs#handler',
          enableSimpleResponses: true,
        },
      },
      integrations: { ok },
      routes: { 'GET /p': { integration: 'ok', authorizer: 'keys', apiKeyRequired: true } },
    },
    { t, baseDir: fileURLToPath(new URL('fixtures/traffic/', import.meta.url)) },
  );
  const get = (headers: Record<string, string>) => request(`${gw.url}/p`, { headers });
  t.equal((await get({ tenant: 'a' })).status, 200);
  t.equal((await get({ tenant: 'a' })).text, LIMIT_EXCEEDED, "a's quota");
  t.equal((await get({ tenant: 'b' })).status, 200, "b's own quota");
  t.equal((await get({ 'x-api-key': KEY_B })).status, 403, 'no key from the authorizer');
});

t.test('key problems only a deploy sees: unset variables and duplicate keys', async (t) => {
  const issues: ConfigIssue[] = [];
  new ApiKeyTable(
    {
      a: { value: KEY_A, enabled: true },
      again: { sha256: sha256(KEY_A), enabled: true },
      unset: { env: 'PORTICO_TEST_UNSET', enabled: true },
      short: { env: 'PORTICO_TEST_SHORT', enabled: true },
    },
    { PORTICO_TEST_SHORT: 'tiny' },
    issues,
  );
  t.same(issues, [
    { path: 'apiKeys.again', message: 'the same key as apiKeys.a' },
    { path: 'apiKeys.unset.env', message: 'environment variable PORTICO_TEST_UNSET is not set' },
    {
      path: 'apiKeys.short.env',
      message: 'environment variable PORTICO_TEST_SHORT must hold 20-128 visible ASCII characters',
    },
  ]);
  await t.rejects(
    startGateway(
      {
        apiKeys: { e: { env: 'PORTICO_TEST_UNSET' } },
        integrations: { ok },
        routes: { 'GET /p': { integration: 'ok', apiKeyRequired: true } },
      },
      { t },
    ),
    { code: 'PORTICO_INVALID_CONFIG', issues: [{ path: 'apiKeys.e.env' }] },
  );
});

/** A gateway with one plan on `GET /p`, at 2030-03-05T12:00Z (a Tuesday) unless moved. */
async function planGateway(
  t: Test,
  plan: Record<string, unknown>,
  extra: Partial<GatewayConfigInput> = {},
) {
  const clock = { now: Date.parse('2030-03-05T12:00:00Z') };
  const config = {
    apiKeys: { a: { value: KEY_A }, b: { value: KEY_B } },
    usagePlans: { basic: { apiKeys: ['a', 'b'], ...plan } },
    integrations: { ok },
    routes: {
      'GET /p': { integration: 'ok', apiKeyRequired: true },
      'GET /q': { integration: 'ok', apiKeyRequired: true },
    },
    ...extra,
  } as GatewayConfigInput;
  const gw = await startGateway(config, { t, clock: () => clock.now });
  const get = (key: string, path = '/p') =>
    request(`${gw.url}${path}`, { headers: { 'x-api-key': key } });
  return { gw, clock, get, config };
}

const rate = (r: Reply) => [
  r.headers['x-ratelimit-limit'],
  r.headers['x-ratelimit-remaining'],
  r.headers['x-ratelimit-reset'],
];

t.test('a daily quota: 429 Limit Exceeded until the next UTC midnight', async (t) => {
  const { get, clock } = await planGateway(t, {
    quota: { limit: 2, period: 'DAY' },
  });
  const first = await get(KEY_A);
  t.equal(first.status, 200);
  t.same(rate(first), ['2', '1', String(12 * 3600)], 'reset: seconds until midnight');
  t.same(rate(await get(KEY_A, '/q')), ['2', '0', String(12 * 3600)], 'shared by the routes');
  const over = await get(KEY_A);
  t.equal(over.status, 429);
  t.equal(over.text, LIMIT_EXCEEDED);
  t.equal(over.headers['retry-after'], String(12 * 3600));
  t.same(rate(over), ['2', '0', String(12 * 3600)]);
  t.equal((await get(KEY_B)).status, 200, 'per key');
  clock.now = Date.parse('2030-03-05T23:59:59.999Z');
  t.equal((await get(KEY_A)).status, 429);
  t.equal((await get(KEY_A)).headers['retry-after'], '1');
  clock.now = Date.parse('2030-03-06T00:00:00Z');
  t.same(rate(await get(KEY_A)), ['2', '1', '86400'], 'a new day');
});

t.test('a weekly quota with offset 1 resets on Monday 00:00 UTC', async (t) => {
  const { get, clock } = await planGateway(t, {
    quota: { limit: 1, period: 'WEEK', offset: 1 },
  });
  clock.now = Date.parse('2030-03-09T10:00:00Z'); // Saturday
  t.equal((await get(KEY_A)).status, 200);
  clock.now = Date.parse('2030-03-10T23:59:59Z'); // Sunday
  const sunday = await get(KEY_A);
  t.equal(sunday.status, 429);
  t.equal(sunday.headers['retry-after'], '1');
  clock.now = Date.parse('2030-03-11T00:00:00Z'); // Monday
  t.equal((await get(KEY_A)).status, 200);
});

t.test('a monthly quota with offset 14 resets on the 15th', async (t) => {
  const { get, clock } = await planGateway(t, {
    quota: { limit: 1, period: 'MONTH', offset: 14 },
  });
  clock.now = Date.parse('2030-03-01T00:00:00Z');
  t.equal((await get(KEY_A)).status, 200);
  clock.now = Date.parse('2030-03-14T23:00:00Z');
  const before = await get(KEY_A);
  t.equal(before.status, 429);
  t.equal(before.headers['retry-after'], '3600');
  clock.now = Date.parse('2030-03-15T00:00:00Z');
  t.equal((await get(KEY_A)).status, 200);
  clock.now = Date.parse('2030-04-14T12:00:00Z');
  t.equal((await get(KEY_A)).status, 429, 'the period runs to April 15');
});

t.test(
  'plan throttle per key, a per-route override, and which limit the headers show',
  async (t) => {
    const { get, clock } = await planGateway(t, {
      throttle: { rateLimit: 1, burstLimit: 2 },
      quota: { limit: 100, period: 'DAY' },
      routes: { 'GET /q': { throttle: { rateLimit: 1, burstLimit: 5 } } },
    });
    const first = await get(KEY_A);
    t.same(rate(first), ['2', '1', '1'], 'the bucket: fewer remaining than the quota');
    t.equal((await get(KEY_A)).status, 200);
    const throttled = await get(KEY_A);
    t.equal(throttled.status, 429);
    t.equal(throttled.text, '{"message":"Too Many Requests"}');
    t.equal(throttled.headers['retry-after'], '1');
    t.equal((await get(KEY_B)).status, 200, 'each key has its bucket');
    t.same(rate(await get(KEY_A, '/q')), ['5', '4', '1'], 'the route override, its own bucket');
    clock.now += 1000;
    t.equal((await get(KEY_A)).status, 200);
  },
);

t.test('the quota counts only requests every throttle let through', async (t) => {
  const { get } = await planGateway(
    t,
    { quota: { limit: 10, period: 'DAY' } },
    {
      routes: {
        'GET /p': {
          integration: 'ok',
          apiKeyRequired: true,
          throttle: { rateLimit: 1, burstLimit: 1 },
        },
        'GET /q': { integration: 'ok', apiKeyRequired: true },
      },
    },
  );
  t.equal((await get(KEY_A)).status, 200);
  t.equal((await get(KEY_A)).status, 429, 'the route throttle');
  t.equal((await get(KEY_A)).status, 429);
  t.same(rate(await get(KEY_A, '/q')), ['10', '8', String(12 * 3600)], 'two requests counted');
});

t.test('a key must be in a plan of the stage when a plan covers it', async (t) => {
  const gw = await startGateway(
    {
      stages: { $default: {}, prod: {} },
      apiKeys: { a: { value: KEY_A }, b: { value: KEY_B } },
      usagePlans: { prodPlan: { stages: ['prod'], apiKeys: ['a'] } },
      integrations: { ok },
      routes: { 'GET /p': { integration: 'ok', apiKeyRequired: true } },
    },
    { t },
  );
  const get = (path: string, key: string) =>
    request(`${gw.url}${path}`, { headers: { 'x-api-key': key } });
  t.equal((await get('/prod/p', KEY_A)).status, 200);
  t.equal((await get('/prod/p', KEY_B)).status, 403, 'b is in no plan for prod');
  t.equal((await get('/p', KEY_B)).status, 200, 'no plan covers $default: any key');
});

t.test('quota counters survive a redeploy and restart when the quota changes', async (t) => {
  const { gw, get, config } = await planGateway(t, {
    quota: { limit: 1, period: 'DAY' },
  });
  t.equal((await get(KEY_A)).status, 200);
  t.equal((await get(KEY_A)).status, 429);
  await gw.gateway.deploy(config);
  t.equal((await get(KEY_A)).status, 429, 'same quota: same counter');
  await gw.gateway.deploy({
    ...config,
    usagePlans: { basic: { apiKeys: ['a'], quota: { limit: 2, period: 'DAY' } } },
  });
  t.equal((await get(KEY_A)).status, 200, 'a new limit starts a new count');
});

t.test('usage-plan config errors name their path', async (t) => {
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
      stages: { $default: {}, prod: {} },
      apiKeys: { a: { value: KEY_A }, b: { value: KEY_B, sha256: sha256(KEY_B) }, c: {} },
      usagePlans: {
        p1: { apiKeys: ['a'] },
        p2: {
          stages: ['prod', 'nope'],
          apiKeys: ['a', 'zz'],
          quota: { limit: 1, period: 'WEEK', offset: 7 },
          routes: { 'GET /x': { throttle: { rateLimit: 1, burstLimit: 1 } } },
        },
        p3: { quota: { limit: 1, period: 'DAY', offset: 1 } },
        p4: { routes: { 'GET /open': { throttle: { rateLimit: 1, burstLimit: 1 } } } },
      },
      integrations: { ok },
      routes: {
        'GET /open': { integration: 'ok' },
        'GET /fn': { integration: 'ok', apiKeyRequired: true },
      },
    }),
    [
      'apiKeys.b: use only one of value, sha256',
      'apiKeys.c: set one of value, sha256, env',
      'usagePlans.p2.stages[1]: no stage named "nope"; defined: $default, prod',
      'usagePlans.p2.apiKeys[0]: API key "a" is already in usage plan "p1" for stage "prod"; a key belongs to one plan per stage',
      'usagePlans.p2.apiKeys[1]: no API key named "zz"',
      'usagePlans.p2.routes["GET /x"]: no route "GET /x" in routes',
      'usagePlans.p2.quota.offset: offset for WEEK is 0-6',
      'usagePlans.p3.quota.offset: offset for DAY is 0',
      'usagePlans.p4.routes["GET /open"]: usage plans apply only to routes with apiKeyRequired: true',
    ],
  );
  t.same(
    issues({
      apiKeySource: 'AUTHORIZER',
      integrations: { ok },
      routes: { 'GET /a': { integration: 'ok', apiKeyRequired: true } },
    }),
    ['routes["GET /a"].apiKeyRequired: no apiKeys are defined'],
  );
  t.same(
    issues({
      apiKeySource: 'AUTHORIZER',
      apiKeys: { a: { value: KEY_A } },
      integrations: { ok },
      routes: { 'GET /a': { integration: 'ok', apiKeyRequired: true } },
    }),
    [
      'routes["GET /a"].apiKeyRequired: apiKeySource AUTHORIZER needs a function authorizer on the route (it returns usageIdentifierKey)',
    ],
  );
});
