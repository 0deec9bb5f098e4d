import t from 'tap';
import { Agent, createServer, request as httpRequest, type ServerResponse } from 'node:http';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createGateway, ConfigError } from '../lib/index.ts';
import type { DeployErrorEvent, DeployEvent } from '../lib/index.ts';
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

// ---------------------------------------------------------------------------------------
// Deploys under load (issue #6): each deployment answers with its generation number.

/** GET over a keep-alive agent; resolves with status and text, rejects on any failure. */
function get(agent: Agent, url: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode!, text }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Route `GET /r{k}` exists in generation g unless (g + k) % 3 == 0. */
const OPTIONAL_ROUTES = [0, 1, 2];
function hasRoute(gen: number, k: number): boolean {
  return (gen + k) % 3 !== 0;
}

function generationYaml(gen: number, upstreams: readonly string[]): string {
  const lines = [
    'integrations:',
    `  m: { type: mock, body: { gen: ${gen} } }`,
    // The upstream alternates, and its path names the generation.
    `  up: { type: http, url: "${upstreams[gen % 2]}/gen/${gen}" }`,
    'routes:',
    '  GET /m: { integration: m }',
    '  GET /up: { integration: up }',
  ];
  for (const k of OPTIONAL_ROUTES)
    if (hasRoute(gen, k)) lines.push(`  GET /r${k}: { integration: m }`);
  return `${lines.join('\n')}\n`;
}

const INVALID_CONFIGS = [
  'integrations:\n  m: { type: mock, body: "x"\nroutes: {}\n', // YAML syntax
  'integrations:\n  m: { type: mock, statusCode: 99 }\nroutes:\n  GET /m: { integration: m }\n', // schema
  'integrations:\n  m: { type: mock }\nroutes:\n  GET /m: { integration: nope }\n', // reference
  'integrations:\n  f: { type: function, handler: ./missing.mjs#handler }\nroutes:\n  GET /m: { integration: f }\n',
];

t.test(
  '60 config rewrites under concurrent traffic: no failed request, each answer from one deployment',
  async (t) => {
    const upstreams = await Promise.all(
      ['A', 'B'].map((name) =>
        startHttpUpstream(t, (req, res) => {
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify({ upstream: name, url: req.url }));
        }),
      ),
    );
    const origins = upstreams.map((u) => u.origin);
    const dir = t.testdir({ 'portico.yaml': generationYaml(0, origins) });
    const file = `${dir}/portico.yaml`;
    const gw = await startGateway(file, { t });

    // The generation that is live; set by the `deploy` event, emitted right at the swap.
    let live = 0;
    let pending = 0;
    const deployEvents: DeployEvent[] = [];
    const errorEvents: DeployErrorEvent[] = [];
    gw.gateway.on('deploy', (e) => {
      live = pending;
      deployEvents.push(e);
    });
    gw.gateway.on('deployError', (e) => errorEvents.push(e));

    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    t.teardown(() => agent.destroy());
    const problems: string[] = [];
    let served = 0;
    let stop = false;
    const paths = ['/m', '/up', ...OPTIONAL_ROUTES.map((k) => `/r${k}`)];

    const check = (
      path: string,
      from: number,
      to: number,
      res: { status: number; text: string },
    ) => {
      const k = path.startsWith('/r') ? Number(path.slice(2)) : null;
      if (res.status === 404) {
        // Only a route missing from some generation live during the request may 404.
        let possible = false;
        for (let g = from; g <= to; g++) if (k !== null && !hasRoute(g, k)) possible = true;
        if (!possible) problems.push(`${path}: 404 during generations ${from}..${to}`);
        return;
      }
      if (res.status !== 200) {
        problems.push(`${path}: status ${res.status} ${res.text}`);
        return;
      }
      let gen: number;
      if (path === '/up') {
        const body = JSON.parse(res.text) as { upstream: string; url: string };
        gen = Number(/^\/gen\/(\d+)$/.exec(body.url)?.[1]);
        if (body.upstream !== (gen % 2 === 0 ? 'A' : 'B'))
          problems.push(`/up: generation ${gen} answered by upstream ${body.upstream}`);
      } else {
        gen = (JSON.parse(res.text) as { gen: number }).gen;
      }
      if (!(gen >= from && gen <= to)) problems.push(`${path}: gen ${gen} outside ${from}..${to}`);
      if (k !== null && !hasRoute(gen, k))
        problems.push(`${path}: served by gen ${gen} without it`);
    };

    const client = async (worker: number): Promise<void> => {
      // Bounded in count; in practice it stops when the rewrites are done.
      for (let i = 0; i < 20_000 && !stop; i++) {
        const path = paths[(worker + i) % paths.length]!;
        const from = live;
        try {
          const res = await get(agent, `${gw.url}${path}`);
          check(path, from, live, res);
          served++;
        } catch (err) {
          problems.push(`${path}: ${(err as Error).message}`);
        }
      }
    };
    const clients = Array.from({ length: 8 }, (_, w) => client(w));

    let gen = 0;
    let refused = 0;
    for (let i = 0; i < 60; i++) {
      if (i % 2 === 0) {
        pending = ++gen;
        writeFileSync(file, generationYaml(gen, origins));
        const summary = await gw.gateway.deploy(file);
        t.equal(live, gen, `generation ${gen} is live once deploy() resolves`);
        t.equal(gw.gateway.deployment.id, summary.id);
      } else {
        writeFileSync(file, INVALID_CONFIGS[(i >> 1) % INVALID_CONFIGS.length]!);
        await t.rejects(gw.gateway.deploy(file), ConfigError);
        refused++;
      }
      // Let traffic run on each deployment before the next rewrite.
      const before = served;
      while (served < before + 16 && problems.length === 0) await new Promise(setImmediate);
    }
    stop = true;
    await Promise.all(clients);

    t.same(problems, [], 'no failed, dropped or inconsistent request');
    t.ok(served > 60 * 16, `${served} requests served`);
    t.equal(deployEvents.length, 30);
    t.equal(errorEvents.length, refused);
    t.ok(
      errorEvents.every((e) => e.issues.length > 0 && e.activeId !== ''),
      'each refusal names its problems and the deployment still serving',
    );
    t.ok(
      errorEvents.some((e) => e.issues.some((i) => i.line !== undefined && i.column !== undefined)),
      'problems carry line and column',
    );
    const last = deployEvents.at(-1)!;
    t.equal(last.id, gw.gateway.deployment.id);
    t.same(
      last.summary.routes.map((r) => r.routeKey).sort(),
      [
        'GET /m',
        'GET /up',
        ...OPTIONAL_ROUTES.filter((k) => hasRoute(30, k)).map((k) => `GET /r${k}`),
      ].sort(),
      'the final route set is generation 30s',
    );
    // Generation 29 → 30: /r1 comes back, /r0 leaves, /r2 stays (with a new body).
    t.same(
      { added: last.changes.added, removed: last.changes.removed },
      {
        added: [{ stage: '$default', routeKey: 'GET /r1' }],
        removed: [{ stage: '$default', routeKey: 'GET /r0' }],
      },
    );
    t.same(
      last.changes.changed.map((r) => r.routeKey).sort(),
      ['GET /m', 'GET /r2', 'GET /up'],
      'routes whose integration changed',
    );
    t.equal((await get(agent, `${gw.url}/m`)).text, '{"gen":30}');
  },
);

t.test('a streaming response spans several deploys, even one removing its origin', async (t) => {
  const chunks: Array<(text: string | null) => void> = [];
  const arrivals: Array<() => void> = [];
  const socketClosed: Array<Promise<unknown>> = [];
  const up = await startHttpUpstream(t, (req, res) => {
    socketClosed.push(once(req.socket, 'close'));
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.flushHeaders();
    chunks.push((text) => (text === null ? res.end() : res.write(text)));
    arrivals.shift()?.();
  });
  const gw = await startGateway(
    {
      integrations: { up: { type: 'http', url: `${up.origin}/stream` } },
      routes: { 'GET /stream': { integration: 'up' } },
    },
    { t },
  );
  const arrived = new Promise<void>((r) => arrivals.push(r));
  const received: string[] = [];
  let firstChunk: () => void = () => {};
  const gotFirst = new Promise<void>((r) => (firstChunk = r));
  const done = new Promise<{ status: number; text: string }>((resolve, reject) => {
    httpRequest(`${gw.url}/stream`, { agent: false }, (res) => {
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        received.push(c);
        firstChunk();
      });
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode!, text: received.join('') }));
    })
      .on('error', reject)
      .end();
  });
  await arrived;
  chunks[0]!('part 0;');
  await gotFirst;
  const mocks = (n: number) =>
    ({
      integrations: { m: { type: 'mock', body: `deploy ${n}` } },
      routes: { 'GET /stream': { integration: 'm' } },
    }) as const;
  const ids: string[] = [];
  for (let n = 1; n <= 3; n++) {
    // The origin is gone from the config from the first of these deploys on.
    ids.push((await gw.gateway.deploy(mocks(n))).id);
    t.equal((await request(`${gw.url}/stream`)).text, `deploy ${n}`, 'new requests: new config');
    chunks[0]!(`part ${n};`);
  }
  chunks[0]!(null);
  const res = await done;
  t.equal(res.status, 200);
  t.equal(res.text, 'part 0;part 1;part 2;part 3;', 'the stream completed intact');
  // Its deployment retired once the stream ended; the origin's pool, used by no deployment,
  // is closed, so the upstream sees its connection end.
  await socketClosed[0];
  t.equal(new Set(ids).size, 3);
});

t.test(
  'an unchanged function authorizer keeps its cache across deploys; a changed one does not',
  async (t) => {
    const authorizer = `globalThis.__porticoAuthCalls = (globalThis.__porticoAuthCalls ?? 0);
export async function handler(event) {
  globalThis.__porticoAuthCalls++;
  return { isAuthorized: event.headers.authorization === 'let-me-in' };
}
`;
    const dir = t.testdir({ 'auth.mjs': authorizer });
    const g = globalThis as { __porticoAuthCalls?: number };
    const config = (body: string, ttl: number) => ({
      integrations: { m: { type: 'mock' as const, body } },
      authorizers: {
        a: {
          type: 'function' as const,
          handler: './auth.mjs#handler',
          enableSimpleResponses: true,
          identitySource: ['$request.header.Authorization'],
          resultTtlInSeconds: ttl,
        },
      },
      routes: { 'GET /p': { integration: 'm', authorizer: 'a' } },
    });
    const gw = await startGateway(config('one', 300), { t, baseDir: dir });
    const call = () => request(`${gw.url}/p`, { headers: { authorization: 'let-me-in' } });
    t.equal((await call()).text, 'one');
    const calls = g.__porticoAuthCalls!;
    await gw.gateway.deploy(config('two', 300));
    t.equal((await call()).text, 'two');
    t.equal(g.__porticoAuthCalls, calls, 'answered from the cache that survived the deploy');
    await gw.gateway.deploy(config('three', 301));
    t.equal((await call()).text, 'three');
    t.equal(g.__porticoAuthCalls, calls + 1, 'a changed authorizer starts with an empty cache');
    writeFileSync(`${dir}/auth.mjs`, `${authorizer}// edited\n`);
    await gw.gateway.deploy(config('four', 301));
    t.equal((await call()).text, 'four');
    t.equal(g.__porticoAuthCalls, calls + 2, 'so does one whose module changed');
  },
);

t.test('an unchanged origin keeps its upstream connections across deploys', async (t) => {
  const ports: number[] = [];
  const up = await startHttpUpstream(t, (req, res) => {
    ports.push(req.socket.remotePort!);
    res.end('up');
  });
  const config = (extra: string) =>
    ({
      integrations: {
        up: { type: 'http', url: `${up.origin}/x` },
        m: { type: 'mock', body: extra },
      },
      routes: { 'GET /up': { integration: 'up' }, [`GET /${extra}`]: { integration: 'm' } },
    }) as const;
  const gw = await startGateway(config('one'), { t });
  t.equal((await request(`${gw.url}/up`)).text, 'up');
  await gw.gateway.deploy(config('two'));
  t.equal((await request(`${gw.url}/two`)).text, 'two');
  t.equal((await request(`${gw.url}/up`)).text, 'up');
  t.equal(up.connections, 1, 'one upstream connection for both deployments');
  t.equal(ports[0], ports[1]);
});
