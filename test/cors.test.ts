/**
 * CORS, AWS HTTP API semantics (issue #4): the policy itself (origin matching, the headers
 * it adds), then the gateway over HTTP (preflights answered before routing to integrations
 * or authorizers, actual responses, per-route overrides, config errors), then a real
 * headless Chromium loading a page from one loopback origin and fetch()ing the gateway on
 * another, to check which requests a browser actually lets through.
 */
import t from 'tap';
import { once } from 'node:events';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT } from 'jose';
import { CorsSchema, type CorsConfig } from '../lib/config/schema.ts';
import { CorsPolicy, isPreflight } from '../lib/cors.ts';
import { ConfigError, createGateway } from '../lib/index.ts';
import { silentLogger } from '../lib/log.ts';
import { findChromium, openPage } from './helpers/browser.ts';
import { request, startGateway, type Reply } from './helpers/gateway.ts';
import { startHttpUpstream, type Teardown } from './helpers/upstream.ts';

const policy = (cfg: Partial<CorsConfig>): CorsPolicy => new CorsPolicy(CorsSchema.parse(cfg));

/** The flat header list as an object (names are unique in what CorsPolicy returns). */
function asObject(flat: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
  return out;
}

/** The access-control-* response headers, for exact comparisons. */
function cors(headers: IncomingHttpHeaders): Record<string, string | string[] | undefined> {
  const out: Record<string, string | string[] | undefined> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith('access-control-')) out[name] = value;
  }
  return out;
}

/** A port nothing listens on: an integration pointed at it fails if it is ever reached. */
async function closedPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A tiny upstream on 127.0.0.1:0 answering every request with `respond`. */
async function upstream(
  t: Teardown,
  respond: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ origin: string; hits: () => number }> {
  let hits = 0;
  const up = await startHttpUpstream(t, (req, res) => {
    hits++;
    req.resume();
    req.on('end', () => respond(req, res));
  });
  return { origin: up.origin, hits: () => hits };
}

// ---------------------------------------------------------------------------------------
// The policy on its own
// ---------------------------------------------------------------------------------------

t.test('policy: exact origins', async (t) => {
  const p = policy({
    allowOrigins: ['https://app.example.com', 'HTTPS://Admin.Example.com/', 'https://x.test:443'],
  });
  t.same(asObject(p.responseHeaders('https://app.example.com')), {
    'access-control-allow-origin': 'https://app.example.com',
    vary: 'Origin',
  });
  // Configured origins are compared as browsers serialise them: case, slash, default port.
  t.equal(
    asObject(p.responseHeaders('https://admin.example.com'))['access-control-allow-origin'],
    'https://admin.example.com',
  );
  t.equal(
    asObject(p.responseHeaders('https://x.test'))['access-control-allow-origin'],
    'https://x.test',
  );
  // A client sending upper case still matches; the echo is what it sent.
  t.equal(
    asObject(p.responseHeaders('https://APP.example.com'))['access-control-allow-origin'],
    'https://APP.example.com',
  );
  for (const origin of [
    'http://app.example.com',
    'https://app.example.com:8443',
    'https://app.example.com.evil.com',
    'https://evil.com',
    'https://sub.app.example.com',
    'null',
    '',
  ]) {
    t.same(p.responseHeaders(origin), ['vary', 'Origin'], `${JSON.stringify(origin)} refused`);
  }
  t.same(p.responseHeaders(undefined), ['vary', 'Origin'], 'no Origin: only Vary');
});

t.test('policy: wildcard subdomains', async (t) => {
  const p = policy({ allowOrigins: ['https://*.example.com', 'http://*.local.test:8080'] });
  const allowed = (origin: string): boolean =>
    asObject(p.responseHeaders(origin))['access-control-allow-origin'] === origin;
  t.ok(allowed('https://a.example.com'));
  t.ok(allowed('https://a.b.example.com'), 'deeper subdomains too');
  t.ok(allowed('https://x-1.example.com'));
  t.ok(allowed('https://A.EXAMPLE.COM'), 'case-insensitive');
  t.ok(allowed('http://app.local.test:8080'), 'the port the pattern names');
  for (const origin of [
    'https://example.com',
    'https://.example.com',
    'https://a..example.com',
    'https://evil.com/.example.com',
    'https://evil.com?.example.com',
    'https://evil.com#.example.com',
    'https://user@evil.com.example.com:443',
    'https://a@b.example.com',
    'https://a.example.com.evil.com',
    'https://a.example.com:8443',
    'https://a.example.com:443',
    'https://evilexample.com',
    'http://a.example.com',
    'wss://a.example.com',
    'https://a.example.com, https://evil.com',
    'http://app.local.test',
    'http://app.local.test:8081',
  ]) {
    t.notOk(allowed(origin), `${origin} refused`);
    t.same(p.responseHeaders(origin), ['vary', 'Origin'], `${origin}: no CORS headers`);
  }
  // Matched origins are remembered (bounded); the answers stay right past the bound.
  const wrong: string[] = [];
  for (let i = 0; i < 1500; i++) {
    if (!allowed(`https://n${i}.example.com`)) wrong.push(`n${i}`);
    if (allowed(`https://n${i}.example.com.evil`)) wrong.push(`n${i}.evil`);
  }
  t.same(wrong, [], 'answers stay right past the cache bound');
  t.notOk(allowed('https://example.com'));
});

t.test('policy: scheme wildcard https://* (AWS console form)', async (t) => {
  const p = policy({ allowOrigins: ['https://*'] });
  const allowed = (origin: string): boolean =>
    asObject(p.responseHeaders(origin))['access-control-allow-origin'] === origin;
  t.ok(allowed('https://anything.example'));
  t.ok(allowed('https://localhost:8443'));
  t.ok(allowed('https://[::1]:8443'));
  t.notOk(allowed('http://anything.example'));
  t.notOk(allowed('https://'));
  t.notOk(allowed('https://a.com/path'));
  t.notOk(allowed('https://a.com, https://b.com'));
});

t.test('policy: "*" answers every origin the same, without Vary', async (t) => {
  const p = policy({ allowOrigins: ['*'], exposeHeaders: ['x-a', 'x-b'] });
  const expected = {
    'access-control-allow-origin': '*',
    'access-control-expose-headers': 'x-a, x-b',
  };
  t.same(asObject(p.responseHeaders('https://a.example')), expected);
  t.same(asObject(p.responseHeaders('https://b.example')), expected);
  t.same(p.responseHeaders(undefined), [], 'no Origin: nothing at all');
  t.equal(
    p.responseHeaders('https://a.example'),
    p.responseHeaders('https://b.example'),
    'precomputed',
  );
});

t.test(
  'policy: actual responses carry credentials and exposed headers, not preflight-only ones',
  async (t) => {
    const p = policy({
      allowOrigins: ['https://app.example.com'],
      allowMethods: ['GET'],
      allowHeaders: ['x-custom'],
      exposeHeaders: ['x-exposed'],
      maxAge: 600,
      allowCredentials: true,
    });
    t.same(asObject(p.responseHeaders('https://app.example.com')), {
      'access-control-allow-origin': 'https://app.example.com',
      vary: 'Origin',
      'access-control-allow-credentials': 'true',
      'access-control-expose-headers': 'x-exposed',
    });
    t.equal(
      p.responseHeaders('https://app.example.com'),
      p.responseHeaders('https://app.example.com'),
      'exact origins are precomputed: no allocation per request',
    );
  },
);

t.test('isPreflight needs OPTIONS, Origin and Access-Control-Request-Method', async (t) => {
  const req = (method: string, headers: IncomingHttpHeaders) =>
    ({ method, headers }) as IncomingMessage;
  const origin = 'https://a.example';
  t.ok(isPreflight(req('OPTIONS', { origin, 'access-control-request-method': 'PUT' })));
  t.notOk(isPreflight(req('OPTIONS', { origin })));
  t.notOk(isPreflight(req('OPTIONS', { 'access-control-request-method': 'PUT' })));
  t.notOk(isPreflight(req('GET', { origin, 'access-control-request-method': 'PUT' })));
});

// ---------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------

t.test(
  'allowCredentials with the "*" origin is a config error naming cors.allowOrigins',
  async (t) => {
    const base = {
      integrations: { m: { type: 'mock' as const } },
      routes: { 'GET /': { integration: 'm' } },
    };
    const topLevel = await createGateway(
      { ...base, cors: { allowOrigins: ['https://a.example', '*'], allowCredentials: true } },
      { logger: silentLogger },
    ).catch((err: unknown) => err);
    t.type(topLevel, ConfigError);
    t.match((topLevel as ConfigError).issues, [
      { path: 'cors.allowOrigins', message: /allowCredentials/ },
    ]);

    const perRoute = await createGateway(
      {
        ...base,
        routes: {
          'GET /': { integration: 'm', cors: { allowOrigins: ['*'], allowCredentials: true } },
        },
      },
      { logger: silentLogger },
    ).catch((err: unknown) => err);
    t.type(perRoute, ConfigError);
    t.match((perRoute as ConfigError).issues, [{ path: /^routes.*GET \/.*\.cors\.allowOrigins$/ }]);

    const fine = await createGateway(
      { ...base, cors: { allowOrigins: ['*'], allowCredentials: false } },
      { logger: silentLogger },
    );
    await fine.close();
  },
);

// ---------------------------------------------------------------------------------------
// The gateway over HTTP
// ---------------------------------------------------------------------------------------

const APP = 'https://app.example.com';
const EVIL = 'https://evil.example';

const topLevelCors = {
  allowOrigins: [APP, 'https://*.example.org'],
  allowMethods: ['GET', 'put'],
  allowHeaders: ['x-custom', 'content-type'],
  exposeHeaders: ['x-exposed'],
  maxAge: 300,
  allowCredentials: true,
};

function preflight(url: string, origin: string, method: string, headers?: string): Promise<Reply> {
  return request(url, {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': method,
      ...(headers !== undefined ? { 'access-control-request-headers': headers } : {}),
    },
  });
}

t.test('preflight: answered by the gateway with 204 and the configured headers', async (t) => {
  const gw = await startGateway(
    {
      integrations: {
        // Reached only if the gateway forwarded the preflight: it would answer 502.
        down: { type: 'http', url: `http://127.0.0.1:${await closedPort()}/` },
      },
      cors: topLevelCors,
      routes: { 'PUT /items/{id}': { integration: 'down' } },
    },
    { t },
  );
  const res = await preflight(`${gw.url}/items/1`, APP, 'PUT', 'x-custom, content-type');
  t.equal(res.status, 204);
  t.equal(res.text, '');
  t.equal(res.headers['content-length'], undefined, 'no Content-Length on a 204');
  t.match(res.headers['apigw-requestid'], /^[A-Za-z0-9+/]{15}=$/);
  t.same(cors(res.headers), {
    'access-control-allow-origin': APP,
    'access-control-allow-credentials': 'true',
    'access-control-allow-methods': 'GET, PUT',
    'access-control-allow-headers': 'x-custom, content-type',
    'access-control-max-age': '300',
  });
  t.equal(res.headers.vary, 'Origin');

  // Wildcard subdomain, and a path no route has: AWS answers preflights without a route.
  const sub = await preflight(`${gw.url}/nowhere`, 'https://eu.shop.example.org', 'GET');
  t.equal(sub.status, 204);
  t.equal(sub.headers['access-control-allow-origin'], 'https://eu.shop.example.org');

  t.equal(gw.logs.filter((l) => l.level === 'error').length, 0, 'the integration was never called');
});

t.test('preflight from a disallowed origin: no CORS headers at all', async (t) => {
  const gw = await startGateway(
    {
      integrations: { m: { type: 'mock', body: 'reached' } },
      cors: topLevelCors,
      routes: { 'PUT /items': { integration: 'm' }, 'OPTIONS /items': { integration: 'm' } },
    },
    { t },
  );
  for (const origin of [EVIL, 'https://example.org', 'https://a.example.org.evil.com', 'null']) {
    const res = await preflight(`${gw.url}/items`, origin, 'PUT', 'x-custom');
    t.equal(res.status, 204, origin);
    t.equal(res.text, '', 'not routed to the OPTIONS route either');
    t.same(cors(res.headers), {}, `${origin}: no access-control-*`);
    t.equal(res.headers.vary, 'Origin');
  }
});

t.test('preflight never reaches the route: no authorizer, no integration', async (t) => {
  const up = await upstream(t, (_req, res) => res.end('upstream'));
  const gw = await startGateway(
    {
      integrations: { up: { type: 'http', url: `${up.origin}/` } },
      cors: topLevelCors,
      routes: {
        'PUT /secure': { integration: 'up' },
        'DELETE /secure': { integration: 'up' },
        $default: { integration: 'up' },
      },
    },
    { t },
  );
  for (const method of ['PUT', 'DELETE', 'PATCH']) {
    const res = await preflight(`${gw.url}/secure`, APP, method, 'authorization');
    t.equal(res.status, 204, method);
    t.equal(res.headers['access-control-allow-origin'], APP);
  }
  t.equal(up.hits(), 0, 'the upstream saw no preflight');
  // An OPTIONS without Access-Control-Request-Method is not a preflight: routed as usual.
  const plain = await request(`${gw.url}/secure`, { method: 'OPTIONS', headers: { origin: APP } });
  t.equal(plain.text, 'upstream');
  t.equal(up.hits(), 1);
});

t.test(
  'a route with an authorizer: preflight needs no token; its 401 carries CORS headers',
  async (t) => {
    const secret = 'cors-test-secret-of-at-least-32-chars';
    const gw = await startGateway(
      {
        integrations: { m: { type: 'mock', body: 'private' } },
        authorizers: {
          jwt: { type: 'jwt', issuer: 'https://issuer.example', audience: ['api'], secret },
        },
        cors: {
          allowOrigins: [APP],
          allowHeaders: ['authorization'],
          exposeHeaders: ['x-exposed'],
        },
        routes: { 'GET /me': { integration: 'm', authorizer: 'jwt' } },
      },
      { t },
    );
    const pre = await preflight(`${gw.url}/me`, APP, 'GET', 'authorization');
    t.equal(pre.status, 204, 'no Authorization header, yet no 401');
    t.same(cors(pre.headers), {
      'access-control-allow-origin': APP,
      'access-control-allow-headers': 'authorization',
    });

    const denied = await request(`${gw.url}/me`, { headers: { origin: APP } });
    t.equal(denied.status, 401);
    t.same(denied.json(), { message: 'Unauthorized' });
    t.same(cors(denied.headers), {
      'access-control-allow-origin': APP,
      'access-control-expose-headers': 'x-exposed',
    });
    t.equal(denied.headers.vary, 'Origin');
    const deniedEvil = await request(`${gw.url}/me`, { headers: { origin: EVIL } });
    t.equal(deniedEvil.status, 401);
    t.same(cors(deniedEvil.headers), {});

    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('https://issuer.example')
      .setAudience('api')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(secret));
    const ok = await request(`${gw.url}/me`, {
      headers: { origin: APP, authorization: `Bearer ${token}` },
    });
    t.equal(ok.status, 200);
    t.equal(ok.text, 'private');
    t.equal(ok.headers['access-control-allow-origin'], APP);
  },
);

t.test('"*" methods and headers echo what the preflight asks for', async (t) => {
  const gw = await startGateway(
    {
      integrations: { m: { type: 'mock' } },
      cors: { allowOrigins: ['*'], allowMethods: ['*'], allowHeaders: ['*'] },
      routes: { $default: { integration: 'm' } },
    },
    { t },
  );
  const res = await preflight(`${gw.url}/x`, EVIL, 'PATCH', 'x-one, x-two');
  t.equal(res.status, 204);
  t.same(cors(res.headers), {
    'access-control-allow-origin': '*',
    'access-control-allow-methods': 'PATCH',
    'access-control-allow-headers': 'x-one, x-two',
  });
  t.equal(res.headers.vary, 'Access-Control-Request-Method, Access-Control-Request-Headers');

  const noHeaders = await preflight(`${gw.url}/x`, EVIL, 'DELETE');
  t.equal(noHeaders.headers['access-control-allow-methods'], 'DELETE');
  t.equal(noHeaders.headers['access-control-allow-headers'], undefined);

  const credentialed = await startGateway(
    {
      integrations: { m: { type: 'mock' } },
      cors: {
        allowOrigins: [APP],
        allowMethods: ['*'],
        allowHeaders: ['*'],
        allowCredentials: true,
      },
      routes: { $default: { integration: 'm' } },
    },
    { t },
  );
  const c = await preflight(`${credentialed.url}/x`, APP, 'PUT', 'x-one');
  t.same(cors(c.headers), {
    'access-control-allow-origin': APP,
    'access-control-allow-credentials': 'true',
    'access-control-allow-methods': 'PUT',
    'access-control-allow-headers': 'x-one',
  });
  t.equal(c.headers.vary, 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers');
});

t.test("actual responses: CORS headers set, the integration's own replaced", async (t) => {
  const gw = await startGateway(
    {
      integrations: {
        m: {
          type: 'mock',
          headers: {
            'Access-Control-Allow-Origin': EVIL,
            'access-control-allow-credentials': 'true',
            'access-control-expose-headers': 'x-secret',
            'x-exposed': 'yes',
          },
          body: { ok: true },
        },
      },
      cors: topLevelCors,
      routes: { 'GET /data': { integration: 'm' } },
    },
    { t },
  );
  const res = await request(`${gw.url}/data`, { headers: { origin: APP } });
  t.equal(res.status, 200);
  t.same(res.json(), { ok: true });
  t.equal(res.headers['x-exposed'], 'yes');
  t.same(cors(res.headers), {
    'access-control-allow-origin': APP,
    'access-control-allow-credentials': 'true',
    'access-control-expose-headers': 'x-exposed',
  });
  t.equal(res.headers.vary, 'Origin');
  t.equal(
    res.rawHeaders.filter((h) => h.toLowerCase() === 'access-control-allow-origin').length,
    1,
    'one Access-Control-Allow-Origin line',
  );

  const wild = await request(`${gw.url}/data`, { headers: { origin: 'https://a.example.org' } });
  t.equal(wild.headers['access-control-allow-origin'], 'https://a.example.org');

  const evil = await request(`${gw.url}/data`, { headers: { origin: EVIL } });
  t.equal(evil.status, 200, 'the request is served: the browser, not the gateway, withholds it');
  t.same(
    cors(evil.headers),
    {},
    "a disallowed origin gets no CORS headers (nor the integration's)",
  );
  t.equal(evil.headers.vary, 'Origin');

  const none = await request(`${gw.url}/data`);
  t.same(cors(none.headers), {}, 'no Origin, no CORS headers');
  t.equal(none.headers.vary, 'Origin', 'but caches must know the answer depends on Origin');
});

t.test(
  'per-route cors: false turns CORS off; an explicit OPTIONS route then gets the preflight',
  async (t) => {
    const gw = await startGateway(
      {
        integrations: {
          own: { type: 'mock', headers: { 'access-control-allow-origin': '*' }, body: 'own cors' },
          options: {
            type: 'mock',
            statusCode: 200,
            headers: { 'x-route': 'options' },
            body: 'options route',
          },
          m: { type: 'mock', body: 'with cors' },
        },
        cors: topLevelCors,
        routes: {
          'GET /open': { integration: 'own', cors: false },
          'OPTIONS /open': { integration: 'options', cors: false },
          'GET /closed': { integration: 'm' },
        },
      },
      { t },
    );
    const pre = await preflight(`${gw.url}/open`, APP, 'GET', 'x-custom');
    t.equal(pre.status, 200);
    t.equal(pre.text, 'options route');
    t.equal(pre.headers['x-route'], 'options');
    t.same(cors(pre.headers), {});

    const actual = await request(`${gw.url}/open`, { headers: { origin: APP } });
    t.equal(actual.text, 'own cors');
    t.same(
      cors(actual.headers),
      { 'access-control-allow-origin': '*' },
      "the integration's own headers pass",
    );
    t.equal(actual.headers.vary, undefined);

    // The other route keeps the top-level policy.
    const closed = await request(`${gw.url}/closed`, { headers: { origin: APP } });
    t.equal(closed.headers['access-control-allow-origin'], APP);
  },
);

t.test('a per-route block replaces the top-level one', async (t) => {
  const gw = await startGateway(
    {
      integrations: { m: { type: 'mock', body: 'ok' } },
      cors: topLevelCors,
      routes: {
        'GET /partner': {
          integration: 'm',
          cors: { allowOrigins: ['https://partner.example'], allowMethods: ['GET', 'DELETE'] },
        },
        'DELETE /partner': {
          integration: 'm',
          cors: { allowOrigins: ['https://partner.example'], allowMethods: ['GET', 'DELETE'] },
        },
        'GET /main': { integration: 'm' },
      },
    },
    { t },
  );
  const pre = await preflight(`${gw.url}/partner`, 'https://partner.example', 'DELETE');
  t.same(
    cors(pre.headers),
    {
      'access-control-allow-origin': 'https://partner.example',
      'access-control-allow-methods': 'GET, DELETE',
    },
    'nothing inherited from the top level (credentials, headers, max-age)',
  );
  const preApp = await preflight(`${gw.url}/partner`, APP, 'DELETE');
  t.same(cors(preApp.headers), {}, 'the top-level origin is not allowed here');

  const actual = await request(`${gw.url}/partner`, {
    headers: { origin: 'https://partner.example' },
  });
  t.same(cors(actual.headers), { 'access-control-allow-origin': 'https://partner.example' });
  const actualApp = await request(`${gw.url}/partner`, { headers: { origin: APP } });
  t.same(cors(actualApp.headers), {});

  const main = await request(`${gw.url}/main`, { headers: { origin: 'https://partner.example' } });
  t.same(cors(main.headers), {});
});

t.test('not configured: no CORS headers, OPTIONS routed like any method', async (t) => {
  const gw = await startGateway(
    {
      integrations: {
        m: { type: 'mock', headers: { 'access-control-allow-origin': APP }, body: 'ok' },
        options: { type: 'mock', body: 'options route' },
      },
      routes: { 'GET /a': { integration: 'm' }, 'OPTIONS /a': { integration: 'options' } },
    },
    { t },
  );
  const pre = await preflight(`${gw.url}/a`, APP, 'GET');
  t.equal(pre.status, 200);
  t.equal(pre.text, 'options route');
  t.same(cors(pre.headers), {});
  const noRoute = await preflight(`${gw.url}/b`, APP, 'GET');
  t.equal(noRoute.status, 404);
  t.same(cors(noRoute.headers), {});
  const actual = await request(`${gw.url}/a`, { headers: { origin: EVIL } });
  t.same(
    cors(actual.headers),
    { 'access-control-allow-origin': APP },
    'integration headers untouched',
  );
  t.equal(actual.headers.vary, undefined);
});

t.test('route not found (404) is not routed through a chain: no CORS headers', async (t) => {
  const gw = await startGateway(
    {
      integrations: { m: { type: 'mock' } },
      cors: topLevelCors,
      routes: { 'GET /a': { integration: 'm' } },
    },
    { t },
  );
  const res = await request(`${gw.url}/missing`, { headers: { origin: APP } });
  t.equal(res.status, 404);
  t.same(cors(res.headers), {});
});

t.test('http integration: upstream access-control-* replaced', async (t) => {
  const up = await upstream(t, (_req, res) => {
    res.writeHead(200, {
      'access-control-allow-origin': EVIL,
      'access-control-allow-credentials': 'true',
      vary: 'Accept-Encoding',
      'content-type': 'text/plain',
    });
    res.end('from upstream');
  });
  const gw = await startGateway(
    {
      integrations: { up: { type: 'http', url: `${up.origin}/` } },
      cors: topLevelCors,
      routes: { 'GET /up': { integration: 'up' } },
    },
    { t },
  );
  const res = await request(`${gw.url}/up`, { headers: { origin: APP } });
  t.equal(res.text, 'from upstream');
  t.same(cors(res.headers), {
    'access-control-allow-origin': APP,
    'access-control-allow-credentials': 'true',
    'access-control-expose-headers': 'x-exposed',
  });
  t.match(res.headers.vary, /Origin/);
  const evil = await request(`${gw.url}/up`, { headers: { origin: EVIL } });
  t.same(cors(evil.headers), {}, "the upstream's EVIL origin is dropped");
});

t.test('error replies from an integration carry CORS headers (502, 413)', async (t) => {
  const gw = await startGateway(
    {
      limits: { maxBodyBytes: 16 },
      integrations: { down: { type: 'http', url: `http://127.0.0.1:${await closedPort()}/` } },
      cors: topLevelCors,
      routes: { 'GET /down': { integration: 'down' }, 'PUT /down': { integration: 'down' } },
    },
    { t },
  );
  const bad = await request(`${gw.url}/down`, { headers: { origin: APP } });
  t.equal(bad.status, 502);
  t.equal(bad.headers['access-control-allow-origin'], APP);
  const big = await request(`${gw.url}/down`, {
    method: 'PUT',
    headers: { origin: APP, 'content-length': '100' },
    body: 'x'.repeat(100),
  });
  t.equal(big.status, 413);
  t.equal(big.headers['access-control-allow-origin'], APP);
});

// ---------------------------------------------------------------------------------------
// A real browser
// ---------------------------------------------------------------------------------------

interface Outcome {
  readonly name: string;
  readonly ok: boolean;
  readonly status?: number;
  readonly body?: string;
  readonly error?: string;
  readonly headers?: Record<string, string | null>;
}

/** The cases the page runs, in order: [name, path, fetch init, headers to read]. */
const BROWSER_CASES: ReadonlyArray<readonly [string, string, RequestInit, string[]?]> = [
  ['simple GET', '/data?case=simple', {}, ['x-exposed', 'x-hidden']],
  [
    'PUT + custom header',
    '/data?case=put',
    { method: 'PUT', headers: { 'x-custom': '1' }, body: 'hi' },
  ],
  [
    'PUT + JSON',
    '/data?case=put-json',
    { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{}' },
  ],
  ['DELETE (method not allowed)', '/data?case=delete', { method: 'DELETE' }],
  [
    'PUT + header not allowed',
    '/data?case=put-bad-header',
    { method: 'PUT', headers: { 'x-other': '1' } },
  ],
  ['GET, origin not allowed', '/strict?case=strict', {}],
  ['credentials, allowCredentials', '/cred?case=cred', { credentials: 'include' }],
  ['credentials, no allowCredentials', '/data?case=cred-missing', { credentials: 'include' }],
  ['"*" origin', '/any?case=any', {}],
  ['"*" origin with credentials', '/any?case=any-cred', { credentials: 'include' }],
  [
    '"*" methods and headers',
    '/echo?case=echo',
    { method: 'PATCH', headers: { 'x-anything': '1' } },
  ],
  ['cors: false', '/off?case=off', {}],
  ['cors: false, integration answers CORS itself', '/own?case=own', {}],
];

function pageHtml(gateway: string): string {
  const script = `
const gateway = ${JSON.stringify(gateway)};
const cases = ${JSON.stringify(BROWSER_CASES)};
(async () => {
  const results = [];
  for (const [name, path, init, read] of cases) {
    try {
      const res = await fetch(gateway + path, { ...init, cache: 'no-store' });
      const out = { name, ok: true, status: res.status, body: await res.text(), headers: {} };
      for (const h of read || []) out.headers[h] = res.headers.get(h);
      results.push(out);
    } catch (err) {
      results.push({ name, ok: false, error: String(err && err.name) + ': ' + String(err && err.message) });
    }
  }
  return results;
})().then(
  (results) => fetch('/report', { method: 'POST', body: JSON.stringify({ results }) }),
  (err) => fetch('/report', { method: 'POST', body: JSON.stringify({ error: String(err) }) }),
);`;
  return `<!doctype html><html><head><meta charset="utf-8"><title>cors</title></head><body><script>${script}</script></body></html>`;
}

const chromium = findChromium();

t.test(
  'browser: headless Chromium lets through only what the CORS policy allows',
  {
    skip:
      chromium === null
        ? 'chromium is not installed (Debian package "chromium"; CI installs it); set $CHROMIUM to use another path'
        : false,
  },
  async (t) => {
    // The page's server: serves the page, receives the report.
    let gatewayUrl = '';
    let onReport!: (body: string) => void;
    const reported = new Promise<string>((resolve) => (onReport = resolve));
    const page = createServer((req, res) => {
      if (req.method === 'GET' && req.url === '/') {
        res.writeHead(200, {
          'content-type': 'text/html; charset=utf-8',
          'cache-control': 'no-store',
        });
        res.end(pageHtml(gatewayUrl));
      } else if (req.method === 'POST' && req.url === '/report') {
        let body = '';
        req.setEncoding('utf8');
        req.on('data', (c: string) => (body += c));
        req.on('end', () => {
          res.end('thanks');
          onReport(body);
        });
      } else {
        res.writeHead(404).end();
      }
    });
    page.listen(0, '127.0.0.1');
    await once(page, 'listening');
    t.teardown(() => {
      page.closeAllConnections();
      page.close();
    });
    const pageOrigin = `http://127.0.0.1:${(page.address() as AddressInfo).port}`;

    // The gateway, on a server that records what reached it (so blocked preflights show).
    const gateway = await createGateway(
      {
        integrations: {
          data: {
            type: 'mock',
            headers: { 'x-exposed': 'yes', 'x-hidden': 'no', 'access-control-allow-origin': EVIL },
            body: 'data',
          },
          m: { type: 'mock', body: 'ok' },
          own: { type: 'mock', headers: { 'access-control-allow-origin': '*' }, body: 'own' },
        },
        cors: {
          allowOrigins: [pageOrigin],
          allowMethods: ['GET', 'PUT'],
          allowHeaders: ['x-custom', 'content-type'],
          exposeHeaders: ['x-exposed'],
        },
        routes: {
          'GET /data': { integration: 'data' },
          'PUT /data': { integration: 'm' },
          'DELETE /data': { integration: 'm' },
          'GET /strict': { integration: 'm', cors: { allowOrigins: ['https://other.example'] } },
          'GET /cred': {
            integration: 'm',
            cors: { allowOrigins: [pageOrigin], allowCredentials: true },
          },
          'GET /any': { integration: 'm', cors: { allowOrigins: ['*'] } },
          'PATCH /echo': {
            integration: 'm',
            cors: { allowOrigins: [pageOrigin], allowMethods: ['*'], allowHeaders: ['*'] },
          },
          'GET /off': { integration: 'm', cors: false },
          'GET /own': { integration: 'own', cors: false },
        },
      },
      { logger: silentLogger },
    );
    const seen: string[] = [];
    const gwServer = createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      gateway.handle(req, res);
    });
    gwServer.listen(0, '127.0.0.1');
    await once(gwServer, 'listening');
    t.teardown(async () => {
      gwServer.closeAllConnections();
      gwServer.close();
      await gateway.close();
    });
    // 127.0.0.1 and localhost are different origins: every fetch is cross-origin.
    gatewayUrl = `http://localhost:${(gwServer.address() as AddressInfo).port}`;

    const browser = await openPage(chromium!, `${pageOrigin}/`);
    t.teardown(() => browser.close());
    let timer: NodeJS.Timeout | undefined;
    const report = await Promise.race([
      reported,
      browser.exited.then(() => {
        throw new Error(`chromium exited before the page reported:\n${browser.stderr()}`);
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new Error(
                `no report from the page within 30 s; chromium stderr:\n${browser.stderr()}`,
              ),
            ),
          30_000,
        );
      }),
    ]).finally(() => clearTimeout(timer));
    await browser.close();

    const parsed = JSON.parse(report) as { results?: Outcome[]; error?: string };
    t.equal(parsed.error, undefined, 'the page script ran');
    const by = new Map((parsed.results ?? []).map((r) => [r.name, r]));
    t.equal(by.size, BROWSER_CASES.length, 'every case reported');
    const allowed = (name: string, body: string): void => {
      t.match(by.get(name), { ok: true, status: 200, body }, `${name}: let through`);
    };
    const blocked = (name: string): void => {
      t.match(
        by.get(name),
        { ok: false, error: /^TypeError: / },
        `${name}: blocked (fetch rejects)`,
      );
    };

    allowed('simple GET', 'data');
    t.same(
      by.get('simple GET')?.headers,
      { 'x-exposed': 'yes', 'x-hidden': null },
      'only exposed headers readable',
    );
    allowed('PUT + custom header', 'ok');
    allowed('PUT + JSON', 'ok');
    blocked('DELETE (method not allowed)');
    blocked('PUT + header not allowed');
    blocked('GET, origin not allowed');
    allowed('credentials, allowCredentials', 'ok');
    blocked('credentials, no allowCredentials');
    allowed('"*" origin', 'ok');
    blocked('"*" origin with credentials');
    allowed('"*" methods and headers', 'ok');
    blocked('cors: false');
    allowed('cors: false, integration answers CORS itself', 'own');

    // What reached the gateway: preflights for the non-simple requests; the actual request
    // only when the preflight allowed it. Simple requests are sent, their answer withheld.
    const count = (line: string): number => seen.filter((s) => s === line).length;
    t.equal(count('OPTIONS /data?case=put'), 1, 'preflight for PUT + custom header');
    t.equal(count('PUT /data?case=put'), 1);
    t.equal(count('PUT /data?case=put-json'), 1);
    t.equal(count('OPTIONS /data?case=delete'), 1);
    t.equal(count('DELETE /data?case=delete'), 0, 'the browser never sent the DELETE');
    t.equal(count('OPTIONS /data?case=put-bad-header'), 1);
    t.equal(count('PUT /data?case=put-bad-header'), 0, 'nor the PUT with a header not allowed');
    t.equal(count('GET /strict?case=strict'), 1, 'a simple request is sent; its response withheld');
    t.equal(count('OPTIONS /echo?case=echo'), 1);
    t.equal(count('PATCH /echo?case=echo'), 1);
    t.equal(count('GET /data?case=simple'), 1);
    t.notOk(
      seen.some((s) => s.startsWith('OPTIONS') && s.includes('case=simple')),
      'no preflight for a simple GET',
    );
  },
);
