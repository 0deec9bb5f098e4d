import t from 'tap';
import { createServer, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createGateway, ConfigError } from '../lib/index.ts';
import { silentLogger } from '../lib/log.ts';
import { request, startGateway } from './helpers/gateway.ts';
import { startHttpUpstream, type Teardown } from './helpers/upstream.ts';

const mocks = {
  integrations: {
    root: { type: 'mock', body: 'root' },
    prod: { type: 'mock', body: { stage: 'any' } },
    fallback: { type: 'mock', statusCode: 418, headers: { 'X-Kind': 'default' }, body: 'teapot' },
  },
  routes: {
    'GET /': { integration: 'root' },
    'GET /items/{id}': { integration: 'prod' },
    $default: { integration: 'fallback' },
  },
} as const;

/** An upstream that holds each request until the test releases it. */
async function heldUpstream(t: Teardown) {
  const held: ServerResponse[] = [];
  const arrived: Array<() => void> = [];
  const up = await startHttpUpstream(t, (_req, res) => {
    held.push(res);
    arrived.shift()?.();
  });
  return {
    url: up.origin,
    nextArrival: () => new Promise<void>((r) => arrived.push(r)),
    release: (body: string) => held.shift()!.end(body),
  };
}

t.test('404 is AWS-shaped: JSON body, content-type and a request id', async (t) => {
  const gw = await startGateway(
    { integrations: mocks.integrations, routes: { 'GET /': { integration: 'root' } } },
    { t },
  );
  const res = await request(`${gw.url}/missing?x=1`);
  t.equal(res.status, 404);
  t.equal(res.text, '{"message":"Not Found"}');
  t.equal(res.headers['content-type'], 'application/json');
  t.match(res.headers['apigw-requestid'], /^[A-Za-z0-9+/]{15}=$/);
});

t.test('mock responses, request ids unique per response', async (t) => {
  const gw = await startGateway(mocks, { t });
  const a = await request(`${gw.url}/`);
  const b = await request(`${gw.url}/items/1`);
  const c = await request(`${gw.url}/zzz`, { method: 'DELETE' });
  t.equal(a.text, 'root');
  t.equal(b.text, '{"stage":"any"}');
  t.equal(b.headers['content-type'], 'application/json');
  t.equal(c.status, 418);
  t.equal(c.headers['x-kind'], 'default');
  const ids = new Set([a, b, c].map((r) => r.headers['apigw-requestid']));
  t.equal(ids.size, 3);
  // HEAD is its own method: a GET route does not take it (as AWS), so $default answers.
  const head = await request(`${gw.url}/`, { method: 'HEAD' });
  t.equal(head.status, 418);
  t.equal(head.body.length, 0, 'no body for HEAD');
  t.equal(head.headers['content-length'], '6', 'the length GET would have had');
});

t.test('the stage is chosen by path prefix before the route', async (t) => {
  const config = {
    stages: { $default: {}, prod: {} },
    integrations: {
      items: { type: 'mock', body: 'items' },
      prodRoot: { type: 'mock', body: 'prod-root' },
      other: { type: 'mock', body: 'default-route' },
    },
    routes: {
      'GET /items/{id}': { integration: 'items' },
      'GET /prod/items/{id}': { integration: 'prodRoot' },
      'GET /': { integration: 'prodRoot' },
      $default: { integration: 'other' },
    },
  } as const;
  const gw = await startGateway(config, { t });
  t.equal((await request(`${gw.url}/items/1`)).text, 'items');
  // "/prod" names a stage, so it is stripped even though a route spells it out.
  t.equal((await request(`${gw.url}/prod/items/1`)).text, 'items');
  t.equal((await request(`${gw.url}/prod`)).text, 'prod-root');
  t.equal((await request(`${gw.url}/prod/`)).text, 'prod-root');
  t.equal(
    (await request(`${gw.url}/production/items/1`)).text,
    'default-route',
    'prefix is a whole segment',
  );
});

t.test('without a $default stage, paths outside a named stage are 404', async (t) => {
  const gw = await startGateway(
    {
      stages: { v1: {} },
      integrations: mocks.integrations,
      routes: { $default: { integration: 'root' } },
    },
    { t },
  );
  t.equal((await request(`${gw.url}/v1/anything`)).text, 'root');
  const res = await request(`${gw.url}/anything`);
  t.equal(res.status, 404);
  t.equal(res.text, '{"message":"Not Found"}');
});

t.test('handle() serves from an existing node:http server', async (t) => {
  const gateway = await createGateway(mocks, { logger: silentLogger });
  const server = createServer(gateway.handle);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => new Promise((r) => server.close(r)));
  const res = await request(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  t.equal(res.text, 'root');
});

t.test('listen() resolves with the bound address; a second listen() is refused', async (t) => {
  const gw = await startGateway(mocks, { t });
  t.match(gw.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  t.equal(gw.gateway.address()?.port, gw.port);
  await t.rejects(gw.gateway.listen({ port: 0 }), TypeError);
});

t.test('createGateway refuses what is not a config', async (t) => {
  await t.rejects(createGateway(42 as never), TypeError);
  await t.rejects(createGateway({ routes: {} } as never, { logger: silentLogger }), ConfigError);
});

t.test(
  'deploy() swaps atomically; a bad config is refused and the old one keeps serving',
  async (t) => {
    const gw = await startGateway(mocks, { t });
    const first = gw.gateway.deployment.id;
    const summary = await gw.gateway.deploy({
      integrations: { v2: { type: 'mock', body: 'v2' } },
      routes: { 'GET /': { integration: 'v2' } },
    });
    t.not(summary.id, first);
    t.same(summary.routes, [
      { stage: '$default', routeKey: 'GET /', integration: 'v2', type: 'mock', target: 'mock 200' },
    ]);
    t.equal((await request(`${gw.url}/`)).text, 'v2');
    const err = await gw.gateway
      .deploy({ integrations: {}, routes: { 'GET /': { integration: 'gone' } } })
      .catch((e: unknown) => e);
    t.ok(err instanceof ConfigError);
    t.equal(gw.gateway.deployment.id, summary.id);
    t.equal((await request(`${gw.url}/`)).text, 'v2');
  },
);

t.test('a request in flight finishes on the deployment it started on', async (t) => {
  const up = await heldUpstream(t);
  const gw = await startGateway(
    {
      integrations: { up: { type: 'http', url: `${up.url}/old` } },
      routes: { 'GET /': { integration: 'up' } },
    },
    { t },
  );
  const arrived = up.nextArrival();
  const inFlight = request(`${gw.url}/`);
  await arrived;
  await gw.gateway.deploy({
    integrations: { m: { type: 'mock', body: 'new' } },
    routes: { 'GET /': { integration: 'm' } },
  });
  t.equal((await request(`${gw.url}/`)).text, 'new');
  up.release('old');
  t.equal((await inFlight).text, 'old');
});

t.test('close() stops accepting and drains in-flight requests', async (t) => {
  const up = await heldUpstream(t);
  const gw = await startGateway(
    {
      integrations: { up: { type: 'http', url: up.url } },
      routes: { $default: { integration: 'up' } },
    },
    { t },
  );
  const arrived = up.nextArrival();
  const inFlight = request(`${gw.url}/slow`);
  await arrived;
  let closed = false;
  const closing = gw.gateway.close().then(() => (closed = true));
  await t.rejects(
    request(`${gw.url}/new`),
    { code: 'ECONNREFUSED' },
    'new connections are refused',
  );
  t.equal(closed, false, 'close() waits for the in-flight request');
  up.release('done');
  const res = await inFlight;
  t.equal(res.text, 'done');
  t.equal(
    res.headers.connection,
    'close',
    'the draining response tells the client not to reuse the connection',
  );
  await closing;
  t.equal(closed, true);
});

t.test('close() cuts connections still busy after the drain timeout', async (t) => {
  const up = await heldUpstream(t);
  const gw = await startGateway(
    {
      integrations: { up: { type: 'http', url: up.url } },
      routes: { $default: { integration: 'up' } },
    },
    { t, drainTimeoutMs: 50 },
  );
  const arrived = up.nextArrival();
  const inFlight = request(`${gw.url}/stuck`).catch((e: NodeJS.ErrnoException) => e.code);
  await arrived;
  await gw.gateway.close();
  t.equal(await inFlight, 'ECONNRESET');
});

async function rawExchange(port: number, payload: string): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.end(payload);
  let out = '';
  socket.setEncoding('utf8');
  for await (const chunk of socket) out += chunk;
  return out;
}

t.test('unparseable requests get a JSON 400 and a closed connection', async (t) => {
  const gw = await startGateway(mocks, { t });
  const reply = await rawExchange(
    gw.port,
    'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab',
  );
  t.match(reply, /^HTTP\/1\.1 400 Bad Request\r\n/);
  t.match(reply, /\r\ncontent-type: application\/json\r\n/);
  t.match(reply, /\r\napigw-requestid: [A-Za-z0-9+/]{15}=\r\n/);
  t.match(reply, /\r\n\r\n\{"message":"Bad Request"\}$/);
  const big = await rawExchange(
    gw.port,
    `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
  );
  t.match(big, /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
  t.match(big, /\{"message":"Request Header Fields Too Large"\}$/);
});
