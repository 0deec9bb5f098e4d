/**
 * The admin listener: Prometheus metrics after known traffic (counts, histogram buckets,
 * refusals by kind, upstream errors, in-flight, deploys, process metrics), health and
 * readiness across a deploy and a draining shutdown, and `/_portico/routes` without secrets.
 */
import t from 'tap';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Gateway } from '../../lib/index.ts';
import { request, startGateway, type Reply } from '../helpers/gateway.ts';
import { closedPort, startHttpUpstream } from '../helpers/upstream.ts';

const API_KEY = 'metrics-test-key-0123456789';

function admin(gateway: Gateway): string {
  const a = gateway.adminAddress();
  if (a === null) throw new Error('admin listener is off');
  return `http://127.0.0.1:${a.port}`;
}

/** `name{labels} value` lines of a scrape as a map (exact label order, as prom-client prints). */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    out.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return out;
}

t.test('metrics count requests, refusals, upstream errors and latency by route key', async (t) => {
  const down = await closedPort();
  const held: ServerResponse[] = [];
  let arrived: () => void = () => {};
  const upstream = await startHttpUpstream(t, (_req: IncomingMessage, res: ServerResponse) => {
    held.push(res);
    arrived();
  });
  const gw = await startGateway(
    {
      admin: { port: 0 },
      apiKeys: { k: { value: API_KEY } },
      usagePlans: { p: { apiKeys: ['k'], quota: { limit: 1, period: 'DAY' } } },
      integrations: {
        ok: { type: 'mock', statusCode: 200, body: 'ok' },
        down: { type: 'http', url: `http://127.0.0.1:${down}/` },
        slow: { type: 'http', url: `${upstream.origin}/` },
      },
      routes: {
        'GET /items/{id}': { integration: 'ok' },
        'GET /throttled': { integration: 'ok', throttle: { rateLimit: 0, burstLimit: 0 } },
        'GET /quota': { integration: 'ok', apiKeyRequired: true },
        'GET /down': { integration: 'down' },
        'GET /slow': { integration: 'slow' },
      },
    },
    { t },
  );
  const base = admin(gw.gateway);
  for (const id of ['1', '2', '3']) t.equal((await request(`${gw.url}/items/${id}`)).status, 200);
  t.equal((await request(`${gw.url}/items/4`, { method: 'POST' })).status, 404);
  t.equal((await request(`${gw.url}/throttled`)).status, 429);
  t.equal((await request(`${gw.url}/quota`, { headers: { 'x-api-key': API_KEY } })).status, 200);
  t.equal((await request(`${gw.url}/quota`, { headers: { 'x-api-key': API_KEY } })).status, 429);
  t.equal((await request(`${gw.url}/quota`)).status, 403);
  t.equal((await request(`${gw.url}/down`)).status, 502);

  // One request held upstream: in flight while we scrape.
  const upstreamGotIt = new Promise<void>((resolve) => (arrived = resolve));
  const slow = request(`${gw.url}/slow`);
  await upstreamGotIt;
  const scrape = await request(`${base}/metrics`);
  t.equal(scrape.status, 200);
  t.match(scrape.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  const m = samples(scrape.text);
  const r = (route: string) => `stage="$default",route="${route}"`;
  t.equal(
    m.get(`portico_requests_total{${r('GET /items/{id}')},method="GET",status_class="2xx"}`),
    3,
  );
  t.equal(m.get('portico_requests_total{stage="-",route="-",method="POST",status_class="4xx"}'), 1);
  t.equal(m.get(`portico_requests_total{${r('GET /quota')},method="GET",status_class="4xx"}`), 2);
  t.equal(m.get(`portico_throttled_total{${r('GET /throttled')}}`), 1);
  t.equal(m.get(`portico_quota_exceeded_total{${r('GET /quota')}}`), 1);
  t.equal(m.get(`portico_unauthorized_total{${r('GET /quota')}}`), 1);
  t.equal(
    m.get(`portico_upstream_errors_total{${r('GET /down')},integration="down",kind="unreachable"}`),
    1,
  );
  t.equal(m.get('portico_requests_in_flight'), 1);
  t.equal(m.get(`portico_deployment_info{id="${gw.gateway.deployment.id}"}`), 1);
  t.equal(m.get('portico_deploys_total{result="ok"}'), 1);

  // Histogram: cumulative buckets ending in +Inf == count; sum in seconds.
  const h = `portico_request_duration_seconds_bucket{${r('GET /items/{id}')},le=`;
  const buckets = [...m].filter(([k]) => k.startsWith(h));
  t.equal(buckets.length, 16, 'fixed buckets');
  for (let i = 1; i < buckets.length; i++) t.ok(buckets[i]![1] >= buckets[i - 1]![1], 'cumulative');
  t.equal(buckets.at(-1)![0], `${h}"+Inf"}`);
  t.equal(buckets.at(-1)![1], 3);
  t.equal(m.get(`portico_request_duration_seconds_count{${r('GET /items/{id}')}}`), 3);
  const sum = m.get(`portico_request_duration_seconds_sum{${r('GET /items/{id}')}}`)!;
  t.ok(sum > 0 && sum < 3, 'sum in seconds');
  t.equal(
    m.get(`portico_integration_duration_seconds_count{${r('GET /down')},integration="down"}`),
    1,
    'integration latency observed for the failed upstream call',
  );
  t.notOk(scrape.text.includes('/items/1'), 'labels are route keys, never raw paths');
  t.ok(m.has('process_cpu_user_seconds_total'), 'Node process metrics');
  t.ok([...m.keys()].some((k) => k.startsWith('nodejs_heap_size_used_bytes')));

  held[0]!.end('late');
  t.equal((await slow).status, 200);
  const after = samples((await request(`${base}/metrics`)).text);
  t.equal(after.get('portico_requests_in_flight'), 0);
  t.equal(
    after.get(`portico_integration_duration_seconds_count{${r('GET /slow')},integration="slow"}`),
    1,
  );
  t.equal((await request(`${base}/nope`)).status, 404);
  t.equal((await request(`${base}/metrics`, { method: 'POST' })).status, 405);
});

t.test('health: /healthz, /readyz across a deploy and a draining shutdown', async (t) => {
  const held: ServerResponse[] = [];
  let arrived: () => void = () => {};
  const upstream = await startHttpUpstream(t, (_req, res) => {
    held.push(res);
    arrived();
  });
  const config = {
    admin: { port: 0 },
    integrations: { slow: { type: 'http' as const, url: `${upstream.origin}/` } },
    routes: { 'GET /slow': { integration: 'slow' } },
  };
  const gw = await startGateway(config, { t, drainTimeoutMs: 30_000 });
  const base = admin(gw.gateway);
  t.same((await request(`${base}/healthz`)).json(), { status: 'ok' });
  const first = await request(`${base}/readyz`);
  t.equal(first.status, 200);
  t.same(first.json(), { status: 'ready', deploymentId: gw.gateway.deployment.id });

  const summary = await gw.gateway.deploy({
    ...config,
    routes: { 'GET /slow2': { integration: 'slow' } },
  });
  const second = await request(`${base}/readyz`);
  t.equal(second.status, 200);
  t.equal(second.json<{ deploymentId: string }>().deploymentId, summary.id, 'the new deployment');
  t.not(summary.id, first.json<{ deploymentId: string }>().deploymentId);
  t.equal(
    samples((await request(`${base}/metrics`)).text).get('portico_deploys_total{result="ok"}'),
    2,
  );
  await t.rejects(gw.gateway.deploy({ ...config, routes: { 'GET /x': { integration: 'nope' } } }));
  t.equal(
    samples((await request(`${base}/metrics`)).text).get('portico_deploys_total{result="error"}'),
    1,
  );
  t.equal((await request(`${base}/readyz`)).status, 200, 'a failed deploy leaves the old one live');

  const gotIt = new Promise<void>((resolve) => (arrived = resolve));
  const inFlight = request(`${gw.url}/slow2`);
  await gotIt;
  const closing = gw.gateway.close();
  const draining: Reply = await request(`${base}/readyz`);
  t.equal(draining.status, 503, 'not ready while draining');
  t.same(draining.json(), { status: 'not ready', deploymentId: summary.id });
  t.equal((await request(`${base}/healthz`)).status, 200, 'still alive while draining');
  held[0]!.end('done');
  t.equal((await inFlight).status, 200, 'the in-flight request finished');
  await closing;
  await t.rejects(request(`${base}/healthz`), { code: 'ECONNREFUSED' }, 'admin closed last');
});

t.test('/_portico/routes shows the live deployment and no secret', async (t) => {
  process.env.PORTICO_TEST_KEY_ENV = 'env-secret-value-0123456789';
  t.teardown(() => void delete process.env.PORTICO_TEST_KEY_ENV);
  const gw = await startGateway(
    {
      admin: { port: 0, host: '127.0.0.1' },
      stages: {
        $default: { variables: { backend: 'http://127.0.0.1:9', token: 'stagepass' } },
      },
      apiKeys: { a: { value: API_KEY }, b: { env: 'PORTICO_TEST_KEY_ENV' } },
      authorizers: {
        jwt: {
          type: 'jwt',
          issuer: 'https://issuer.example',
          audience: ['api'],
          secret: 'jwt-hmac-secret-of-at-least-32-characters',
        },
      },
      integrations: {
        up: { type: 'http', url: '${stageVariables.backend}/x?token=${stageVariables.token}' },
        ok: { type: 'mock', body: 'mock-body-secret' },
      },
      routes: {
        'GET /a': { integration: 'up', authorizer: 'jwt' },
        'GET /b': { integration: 'ok', apiKeyRequired: true },
      },
    },
    { t },
  );
  const reply = await request(`${admin(gw.gateway)}/_portico/routes`);
  t.equal(reply.status, 200);
  const body = reply.json<Record<string, unknown>>();
  t.match(body, {
    id: gw.gateway.deployment.id,
    stages: [{ name: '$default', path: '/', variables: ['backend', 'token'] }],
    routes: [
      { stage: '$default', routeKey: 'GET /a', integration: 'up', type: 'http', authorizer: 'jwt' },
      {
        stage: '$default',
        routeKey: 'GET /b',
        integration: 'ok',
        type: 'mock',
        apiKeyRequired: true,
      },
    ],
    integrations: { up: { type: 'http' }, ok: { type: 'mock', statusCode: 200 } },
    authorizers: { jwt: { type: 'jwt', issuer: 'https://issuer.example', keys: 'secret' } },
    apiKeys: ['a', 'b'],
  });
  for (const secret of [
    API_KEY,
    'env-secret-value',
    'stagepass',
    'jwt-hmac-secret',
    'mock-body-secret',
  ])
    t.notOk(reply.text.includes(secret), `no ${secret}`);
});

t.test('without admin, access logs or tracing nothing observes requests', async (t) => {
  const gw = await startGateway(
    { integrations: { ok: { type: 'mock' } }, routes: { 'GET /': { integration: 'ok' } } },
    { t },
  );
  t.equal(gw.gateway.adminAddress(), null);
  t.equal((await request(`${gw.url}/`)).status, 200);
});
