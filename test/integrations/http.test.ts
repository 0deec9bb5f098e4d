/**
 * The `http` integration against real servers on 127.0.0.1: what reaches the upstream
 * (method, target, headers, body bytes), what reaches the client, streaming and
 * backpressure both ways, and each failure mode's status and exact body.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import {
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
} from 'node:http';
import { connect, type Socket } from 'node:net';
import t, { type Test } from 'tap';
import type { GatewayConfigInput, UpstreamStats } from '../../lib/index.ts';

import { memoryLogger, request, startGateway, type RunningGateway } from '../helpers/gateway.ts';
import {
  closedPort,
  readRequestHead,
  startHttpUpstream,
  startRawUpstream,
  startRecordingUpstream,
  type Teardown,
} from '../helpers/upstream.ts';

const MB = 1024 * 1024;
const REQUEST_ID = /^[A-Za-z0-9+/]{13}EM=$/;

/** A config where each route key maps to its own http integration with the given URL. */
function httpConfig(
  routes: Record<string, string>,
  extra: {
    stages?: GatewayConfigInput['stages'];
    timeoutMs?: number;
    maxBodyBytes?: number;
    connections?: number;
    bodyTimeoutMs?: number;
    maxResponseHeaderBytes?: number;
    retries?: { attempts: number; backoffMs?: number };
  } = {},
): GatewayConfigInput {
  const integrations: GatewayConfigInput['integrations'] = {};
  const routeTable: GatewayConfigInput['routes'] = {};
  let i = 0;
  for (const [key, url] of Object.entries(routes)) {
    const name = `up${i++}`;
    integrations[name] = {
      type: 'http',
      url,
      ...(extra.timeoutMs ? { timeoutMs: extra.timeoutMs } : {}),
      ...(extra.connections ? { connections: extra.connections } : {}),
      ...(extra.bodyTimeoutMs ? { bodyTimeoutMs: extra.bodyTimeoutMs } : {}),
      ...(extra.maxResponseHeaderBytes
        ? { maxResponseHeaderBytes: extra.maxResponseHeaderBytes }
        : {}),
      ...(extra.retries ? { retries: extra.retries } : {}),
    };
    routeTable[key] = { integration: name };
  }
  return {
    ...(extra.stages ? { stages: extra.stages } : {}),
    ...(extra.maxBodyBytes !== undefined ? { limits: { maxBodyBytes: extra.maxBodyBytes } } : {}),
    integrations,
    routes: routeTable,
  };
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Fails with `what` if `p` has not settled within `ms`: a bound on a wait, not a delay. */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, bound]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves true on 'drain', false if the stream closes first; leaves no listener behind. */
function drained(stream: NodeJS.WritableStream & NodeJS.EventEmitter): Promise<boolean> {
  return new Promise((resolve) => {
    const onDrain = (): void => {
      stream.off('close', onClose);
      resolve(true);
    };
    const onClose = (): void => {
      stream.off('drain', onDrain);
      resolve(false);
    };
    stream.once('drain', onDrain);
    stream.once('close', onClose);
  });
}

interface Outcome {
  readonly status: number | null;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  /** The response ended normally (its framing was complete). */
  readonly complete: boolean;
  readonly error: string | null;
}

/** A GET whose failure is a result, not a rejection: for responses that are cut short. */
function outcome(url: string | { host: string; port: number; path: string }): Promise<Outcome> {
  return new Promise((resolve) => {
    let status: number | null = null;
    let headers: IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    let settled = false;
    const settle = (complete: boolean, error: string | null): void => {
      if (settled) return;
      settled = true;
      resolve({ status, headers, body: Buffer.concat(chunks), complete, error });
    };
    const onResponse = (res: IncomingMessage): void => {
      status = res.statusCode!;
      headers = res.headers;
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => settle(res.complete, null));
      res.on('aborted', () => settle(false, 'aborted'));
      res.on('error', (err: NodeJS.ErrnoException) => settle(false, err.code ?? err.message));
    };
    const req =
      typeof url === 'string'
        ? httpRequest(url, { agent: false }, onResponse)
        : httpRequest({ ...url, agent: false }, onResponse);
    req.on('error', (err: NodeJS.ErrnoException) => settle(false, err.code ?? err.message));
    req.on('close', () => settle(false, 'closed'));
    req.end();
  });
}

/** An error body is the fixed AWS message: no stack frame, no error name, no upstream address. */
function assertNoLeak(t: Test, body: string, upstreamPort: number): void {
  t.notOk(body.includes(String(upstreamPort)), 'no upstream port in the body');
  t.notOk(body.includes('127.0.0.1'), 'no upstream host in the body');
  t.notMatch(body, /Error|\bat /, 'no error name or stack frame in the body');
}

/**
 * The gateway's upstream pools once no request is in flight any more (bounded poll: undici
 * updates its counts as sockets close, an OS event).
 */
async function poolsSettled(gw: RunningGateway): Promise<UpstreamStats> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const stats = gw.gateway.upstreamStats();
    const idle =
      stats.running === 0 &&
      stats.pending === 0 &&
      stats.queued === 0 &&
      stats.connected === stats.free;
    if (idle || Date.now() > deadline) return stats;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function openConnections(server: Server): Promise<number> {
  return new Promise((resolve, reject) =>
    server.getConnections((err, count) => (err ? reject(err) : resolve(count))),
  );
}

/** Header names in a raw [name, value, ...] list, lower-cased. */
function headerNames(raw: readonly string[]): string[] {
  const names: string[] = [];
  for (let i = 0; i < raw.length; i += 2) names.push(raw[i]!.toLowerCase());
  return names;
}

/** Every value of one header in a raw list (case-insensitive). */
function headerValues(raw: readonly string[], name: string): string[] {
  const values: string[] = [];
  for (let i = 0; i < raw.length; i += 2)
    if (raw[i]!.toLowerCase() === name) values.push(raw[i + 1]!);
  return values;
}

/**
 * Sends exact request bytes to the gateway and resolves with the raw response once the
 * gateway closes the connection (the request should say `Connection: close`). The client
 * does not half-close: Node's server would abort the request.
 */
async function rawExchange(gw: RunningGateway, bytes: string): Promise<string> {
  const socket = connect(gw.port, '127.0.0.1');
  await once(socket, 'connect');
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.write(bytes);
  await once(socket, 'close');
  return Buffer.concat(chunks).toString('latin1');
}

/**
 * A GET of an exact request target: a URL string would be parsed by WHATWG URL first,
 * which resolves `.`/`..` (also as `%2e`) before anything is sent.
 */
function requestTarget(gw: RunningGateway, target: string): Promise<Outcome> {
  return outcome({ host: '127.0.0.1', port: gw.port, path: target });
}

async function gatewayFor(
  t: Teardown,
  routes: Record<string, string>,
  extra?: Parameters<typeof httpConfig>[1],
): Promise<RunningGateway> {
  return startGateway(httpConfig(routes, extra), { t });
}

t.test('method, headers, body and the query string reach the upstream as sent', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const gw = await gatewayFor(t, { 'ANY /echo': `${upstream.origin}/echo` });
  const body = Buffer.from('{"hello":"world"}');
  const reply = await request(`${gw.url}/echo?a=1&a=2&b=%20&c=%2F&d`, {
    method: 'PATCH',
    headers: {
      'content-type': 'application/json',
      'x-custom': 'One',
      'x-multi': ['first', 'second'],
      authorization: 'Bearer abc',
    },
    body,
  });
  t.equal(reply.status, 200);
  t.match(reply.headers['apigw-requestid'], REQUEST_ID);
  const seen = upstream.requests[0]!;
  t.equal(seen.method, 'PATCH');
  t.equal(seen.url, '/echo?a=1&a=2&b=%20&c=%2F&d');
  t.equal(seen.headers['content-type'], 'application/json');
  t.equal(seen.headers['x-custom'], 'One');
  t.equal(seen.headers.authorization, 'Bearer abc');
  // Node's server joins repeated lines into one list (RFC 9110 §5.3 makes them equivalent).
  t.same(headerValues(seen.rawHeaders, 'x-multi'), ['first, second']);
  t.equal(seen.headers.host, `127.0.0.1:${upstream.port}`, 'Host is the upstream origin');
  t.equal(seen.headers['content-length'], String(body.length));
  t.same(seen.body, body);
});

t.test('a GET with no body is forwarded without one', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const gw = await gatewayFor(t, { 'GET /plain': `${upstream.origin}/plain` });
  const reply = await request(`${gw.url}/plain`);
  t.equal(reply.status, 200);
  const seen = upstream.requests[0]!;
  t.equal(seen.method, 'GET');
  t.equal(seen.body.length, 0);
  t.equal(seen.headers['transfer-encoding'], undefined);
});

t.test('an empty POST is forwarded with content-length 0', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const gw = await gatewayFor(t, { 'POST /empty': `${upstream.origin}/empty` });
  const reply = await request(`${gw.url}/empty`, { method: 'POST', body: '' });
  t.equal(reply.status, 200);
  const seen = upstream.requests[0]!;
  t.equal(seen.headers['content-length'], '0');
  t.equal(seen.body.length, 0);
});

t.test('URL templates: {param}, {proxy} and stage variables, per stage', async (t) => {
  const dev = await startRecordingUpstream(t);
  const prod = await startRecordingUpstream(t);
  const stages = {
    $default: { variables: { host: `127.0.0.1:${dev.port}`, base: 'v0' } },
    prod: { variables: { host: `127.0.0.1:${prod.port}`, base: 'v1' } },
  };
  const gw = await gatewayFor(
    t,
    {
      'GET /items/{id}': 'http://${stageVariables.host}/${stageVariables.base}/items/{id}/detail',
      'GET /files/{proxy+}': 'http://${stageVariables.host}/${stageVariables.base}/files/{proxy}',
      'GET /fixed': 'http://${stageVariables.host}/static?from=template',
    },
    { stages },
  );

  t.equal((await request(`${gw.url}/items/7`)).status, 200);
  t.equal((await dev.next()).url, '/v0/items/7/detail');

  t.equal((await request(`${gw.url}/prod/items/7?x=1`)).status, 200);
  t.equal(
    (await prod.next()).url,
    '/v1/items/7/detail?x=1',
    'prod stage: its variables, prefix stripped',
  );

  t.equal((await request(`${gw.url}/files/a/b/c.txt?v=2`)).status, 200);
  t.equal((await dev.next()).url, '/v0/files/a/b/c.txt?v=2');

  t.equal((await request(`${gw.url}/prod/files/deep/er`)).status, 200);
  t.equal((await prod.next()).url, '/v1/files/deep/er');

  t.equal((await request(`${gw.url}/fixed?x=1&y=2`)).status, 200);
  t.equal(
    (await dev.next()).url,
    '/static?from=template&x=1&y=2',
    'client query appended to the fixed one',
  );

  t.equal((await request(`${gw.url}/prod/fixed`)).status, 200);
  t.equal((await prod.next()).url, '/static?from=template');
  t.equal(dev.requests.length, 3);
  t.equal(prod.requests.length, 3);
});

t.test('$default with a path-less URL forwards the full request path', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const gw = await gatewayFor(
    t,
    { $default: upstream.origin },
    { stages: { $default: {}, prod: {} } },
  );
  t.equal((await request(`${gw.url}/store/checkout?step=2&x=%20`)).status, 200);
  t.equal((await upstream.next()).url, '/store/checkout?step=2&x=%20');
  t.equal((await request(`${gw.url}/`)).status, 200);
  t.equal((await upstream.next()).url, '/');
  t.equal((await request(`${gw.url}/prod/store/a%20b`)).status, 200);
  t.equal(
    (await upstream.next()).url,
    '/store/a%20b',
    'named stage prefix stripped, path kept raw',
  );
  t.equal((await request(`${gw.url}/prod`)).status, 200);
  t.equal((await upstream.next()).url, '/');
});

t.test(
  '$default with a base path in the URL (and a fixed query) appends the request path',
  async (t) => {
    const upstream = await startRecordingUpstream(t);
    const gw = await gatewayFor(t, { $default: `${upstream.origin}/base/?k=v` });
    t.equal((await request(`${gw.url}/x/y?q=1`)).status, 200);
    t.equal((await upstream.next()).url, '/base/x/y?k=v&q=1');
  },
);

t.test('path variables are decoded for routing and re-encoded for the upstream', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const gw = await gatewayFor(t, {
    'GET /users/{id}': `${upstream.origin}/users/{id}`,
    'GET /files/{proxy+}': `${upstream.origin}/f/{proxy}`,
  });
  const cases: Array<[string, string]> = [
    ['/users/a%20b', '/users/a%20b'],
    // As on AWS, %2F is a separator; a '/' inside a value is sent double-encoded.
    ['/users/a%252Fb', '/users/a%252Fb'],
    ['/users/caf%C3%A9', '/users/caf%C3%A9'],
    ['/users/100%25', '/users/100%25'],
    ['/users/a%3Fb%23c', '/users/a%3Fb%23c'],
    ['/users/plain-id_1.2~', '/users/plain-id_1.2~'],
    ['/files/a%20b/c.txt', '/f/a%20b/c.txt'],
    ['/files/x/%3F/y', '/f/x/%3F/y'],
    // An encoded '/' is a separator (canonical path); a literal "%2F" stays one value.
    ['/files/x%2Fy', '/f/x/y'],
    ['/files/x%252Fy/z', '/f/x%252Fy/z'],
    ['/files/a%3Bb', '/f/a%3Bb'],
  ];
  for (const [sent, expected] of cases) {
    const reply = await request(`${gw.url}${sent}`);
    t.equal(reply.status, 200, sent);
    t.equal((await upstream.next()).url, expected, sent);
  }
});

t.test('x-forwarded-* are set by the gateway, replacing what the client sent', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const gw = await gatewayFor(t, { 'GET /fwd': `${upstream.origin}/fwd` });
  await request(`${gw.url}/fwd`, {
    headers: {
      'x-forwarded-for': '203.0.113.9',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'evil.example',
    },
  });
  const raw = upstream.requests[0]!.rawHeaders;
  t.same(headerValues(raw, 'x-forwarded-for'), ['127.0.0.1']);
  t.same(headerValues(raw, 'x-forwarded-proto'), ['http']);
  t.same(headerValues(raw, 'x-forwarded-host'), [`127.0.0.1:${gw.port}`]);
});

t.test(
  'hop-by-hop request headers, and those named by Connection, are not forwarded',
  async (t) => {
    const upstream = await startRecordingUpstream(t);
    const gw = await gatewayFor(t, { 'POST /hop': `${upstream.origin}/hop` });
    const raw = await rawExchange(
      gw,
      'POST /hop HTTP/1.1\r\n' +
        'Host: gateway.test\r\n' +
        'Connection: close, X-Secret, x-other\r\n' +
        'X-Secret: s3cret\r\n' +
        'X-Other: 1\r\n' +
        'Keep-Alive: timeout=99\r\n' +
        'TE: trailers\r\n' +
        'Trailer: x-checksum\r\n' +
        'Upgrade: websocket\r\n' +
        'Proxy-Authorization: Basic Zm9vOmJhcg==\r\n' +
        'Proxy-Connection: keep-alive\r\n' +
        'X-Kept: yes\r\n' +
        'Transfer-Encoding: chunked\r\n' +
        '\r\n' +
        '5\r\nhello\r\n0\r\n\r\n',
    );
    t.match(raw, /^HTTP\/1\.1 200 /);
    const seen = upstream.requests[0]!;
    const names = headerNames(seen.rawHeaders);
    for (const name of [
      'x-secret',
      'x-other',
      'keep-alive',
      'te',
      'trailer',
      'upgrade',
      'proxy-authorization',
      'proxy-connection',
    ]) {
      t.notOk(names.includes(name), `${name} not forwarded`);
    }
    t.notMatch(
      seen.headers.connection ?? '',
      /secret|other|close/i,
      "Connection is the gateway's own",
    );
    t.equal(seen.headers['x-kept'], 'yes');
    t.equal(
      seen.body.toString(),
      'hello',
      "the chunked body is re-framed, not the client's framing header",
    );
  },
);

t.test(
  'hop-by-hop response headers, and those named by Connection, are not returned',
  async (t) => {
    const upstream = await startRawUpstream(t, (socket) => {
      void readRequestHead(socket).then(() => {
        socket.write(
          'HTTP/1.1 200 OK\r\n' +
            'Content-Type: text/plain\r\n' +
            'Connection: x-internal, X-Other\r\n' +
            'X-Internal: 1\r\n' +
            'X-Other: 2\r\n' +
            'Keep-Alive: timeout=9, max=3\r\n' +
            'Proxy-Authenticate: Basic realm="up"\r\n' +
            'Proxy-Connection: keep-alive\r\n' +
            'Trailer: x-checksum\r\n' +
            'Upgrade: h2c\r\n' +
            'Apigw-Requestid: forged\r\n' +
            'X-Kept: yes\r\n' +
            'Transfer-Encoding: chunked\r\n' +
            '\r\n' +
            '5\r\nhello\r\n0\r\n\r\n',
        );
      });
    });
    const gw = await gatewayFor(t, { 'GET /hop': `${upstream.origin}/hop` });
    const reply = await request(`${gw.url}/hop`);
    t.equal(reply.status, 200);
    t.equal(reply.text, 'hello');
    const names = headerNames(reply.rawHeaders);
    for (const name of [
      'x-internal',
      'x-other',
      'proxy-authenticate',
      'proxy-connection',
      'trailer',
      'upgrade',
    ]) {
      t.notOk(names.includes(name), `${name} not returned`);
    }
    t.notMatch(
      reply.headers['keep-alive'] ?? '',
      /timeout=9|max=3/,
      "Keep-Alive is the gateway's own",
    );
    t.notMatch(
      reply.headers.connection ?? '',
      /internal|other/i,
      "Connection is the gateway's own",
    );
    t.same(headerValues(reply.rawHeaders, 'apigw-requestid').length, 1);
    t.match(
      reply.headers['apigw-requestid'],
      REQUEST_ID,
      'the upstream cannot forge the request id',
    );
    t.equal(reply.headers['x-kept'], 'yes');
    t.equal(reply.headers['content-type'], 'text/plain');
  },
);

t.test(
  'Expect: 100-continue is answered by the gateway and the body still reaches the upstream',
  async (t) => {
    const upstream = await startRecordingUpstream(t);
    const gw = await gatewayFor(t, { 'PUT /upload': `${upstream.origin}/upload` });
    const body = randomBytes(4096);
    const reply = await new Promise<{ status: number; continued: boolean }>((resolve, reject) => {
      let continued = false;
      const req = httpRequest(
        `${gw.url}/upload`,
        {
          method: 'PUT',
          agent: false,
          headers: { expect: '100-continue', 'content-length': body.length },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode!, continued }));
        },
      );
      req.on('continue', () => {
        continued = true;
        req.end(body);
      });
      req.on('error', reject);
    });
    t.ok(reply.continued, 'the client got 100 Continue');
    t.equal(reply.status, 200);
    const seen = upstream.requests[0]!;
    t.equal(
      seen.headers.expect,
      undefined,
      'Expect is not forwarded: the gateway already answered it',
    );
    t.equal(sha256(seen.body), sha256(body));
  },
);

t.test(
  'request bodies stream to the upstream: it sees bytes before the client finishes',
  async (t) => {
    const payload = randomBytes(8 * MB);
    const first = payload.subarray(0, 64 * 1024);
    for (const framing of ['chunked', 'content-length'] as const) {
      await t.test(framing, async (t) => {
        const upstreamGotBytes = deferred();
        const upstream = await startHttpUpstream(t, (req, res) => {
          const hash = createHash('sha256');
          let length = 0;
          req.on('data', (c: Buffer) => {
            hash.update(c);
            length += c.length;
            upstreamGotBytes.resolve();
          });
          req.on('end', () => {
            res.setHeader('content-type', 'application/json');
            res.end(
              JSON.stringify({
                length,
                sha: hash.digest('hex'),
                te: req.headers['transfer-encoding'] ?? null,
              }),
            );
          });
        });
        const gw = await gatewayFor(t, { 'POST /upload': `${upstream.origin}/upload` });
        let restSent = false;
        async function* body(): AsyncGenerator<Buffer> {
          yield first;
          // Nothing more is sent until the upstream has bytes: only streaming can get here.
          await within(upstreamGotBytes.promise, 10_000, 'upstream sees the first bytes');
          restSent = true;
          for (let off = first.length; off < payload.length; off += 256 * 1024) {
            yield payload.subarray(off, off + 256 * 1024);
          }
        }
        const reply = await request(`${gw.url}/upload`, {
          method: 'POST',
          headers: framing === 'content-length' ? { 'content-length': payload.length } : {},
          body: body(),
        });
        t.ok(restSent);
        t.equal(reply.status, 200);
        const got = reply.json<{ length: number; sha: string; te: string | null }>();
        t.equal(got.length, payload.length);
        t.equal(got.sha, sha256(payload));
        t.equal(got.te, framing === 'chunked' ? 'chunked' : null);
      });
    }
  },
);

t.test(
  'response bodies stream to the client: it sees bytes before the upstream finishes',
  async (t) => {
    const payload = randomBytes(8 * MB);
    for (const framing of ['chunked', 'content-length'] as const) {
      await t.test(framing, async (t) => {
        const clientGotBytes = deferred();
        let upstreamFinished = false;
        const upstream = await startHttpUpstream(t, (_req, res) => {
          void (async () => {
            res.writeHead(
              200,
              framing === 'content-length' ? { 'content-length': payload.length } : {},
            );
            res.write(payload.subarray(0, 64 * 1024));
            await within(clientGotBytes.promise, 10_000, 'client sees the first bytes');
            for (let off = 64 * 1024; off < payload.length; off += 256 * 1024) {
              if (!res.write(payload.subarray(off, off + 256 * 1024)) && !(await drained(res)))
                return;
            }
            upstreamFinished = true;
            res.end();
          })();
        });
        const gw = await gatewayFor(t, { 'GET /download': `${upstream.origin}/download` });
        const result = await new Promise<{
          status: number;
          body: Buffer;
          finishedAtFirstByte: boolean;
        }>((resolve, reject) => {
          const req = httpRequest(`${gw.url}/download`, { agent: false }, (res) => {
            const chunks: Buffer[] = [];
            let finishedAtFirstByte: boolean | null = null;
            res.on('data', (c: Buffer) => {
              finishedAtFirstByte ??= upstreamFinished;
              chunks.push(c);
              clientGotBytes.resolve();
            });
            res.on('end', () =>
              resolve({
                status: res.statusCode!,
                body: Buffer.concat(chunks),
                finishedAtFirstByte: finishedAtFirstByte!,
              }),
            );
            res.on('error', reject);
          });
          req.on('error', reject);
          req.end();
        });
        t.equal(result.status, 200);
        t.equal(
          result.finishedAtFirstByte,
          false,
          'first bytes arrived while the upstream was still writing',
        );
        t.equal(result.body.length, payload.length);
        t.equal(sha256(result.body), sha256(payload));
      });
    }
  },
);

t.test(
  'a slow-reading client holds the upstream back instead of the gateway buffering',
  async (t) => {
    const TOTAL = 128 * MB;
    const block = Buffer.alloc(64 * 1024, 0x61);
    let written = 0;
    let upstreamDone = false;
    const upstream = await startHttpUpstream(t, (_req, res) => {
      void (async () => {
        res.writeHead(200, { 'content-length': TOTAL });
        while (written < TOTAL) {
          const ok = res.write(block);
          written += block.length;
          if (!ok && !(await drained(res))) return;
        }
        upstreamDone = true;
        res.end();
      })();
    });
    const gw = await gatewayFor(t, { 'GET /big': `${upstream.origin}/big` });
    const req = httpRequest(`${gw.url}/big`, { agent: false });
    req.end();
    const [res] = (await once(req, 'response')) as [IncomingMessage];
    t.equal(res.statusCode, 200);
    // The client reads nothing yet. Wait until the upstream's writes stop making progress:
    // with backpressure they stall at socket-buffer sizes; a buffering gateway would let the
    // upstream write all 128 MB.
    let last = -1;
    for (let i = 0; i < 200 && written !== last && !upstreamDone; i++) {
      last = written;
      // An observation window (the negative can only be shown over time), not a synchronisation.
      await new Promise((r) => setTimeout(r, 100));
    }
    t.notOk(upstreamDone, 'the upstream could not finish while the client was not reading');
    t.ok(written < 64 * MB, `upstream stalled after ${(written / MB).toFixed(1)} MB`);
    let received = 0;
    res.on('data', (c: Buffer) => (received += c.length));
    await within(once(res, 'end'), 30_000, 'the rest of the body after resuming');
    t.equal(received, TOTAL);
    t.ok(upstreamDone);
  },
);

t.test('upstream sockets take a whole 64 KiB read without stopping', async (t) => {
  // undici's default high-water mark (64 KiB) equals one read, so every full read of a
  // large body stopped the socket and restarted it. The gateway is in this process, so
  // net.connect (which undici calls) can be observed.
  const net = createRequire(import.meta.url)('node:net') as { connect: typeof connect };
  const original = net.connect;
  const marks: number[] = [];
  net.connect = function (this: unknown, ...args: unknown[]) {
    const socket = (original as (...a: unknown[]) => Socket).apply(this, args);
    marks.push(socket.readableHighWaterMark);
    return socket;
  } as typeof net.connect;
  t.teardown(() => {
    net.connect = original;
  });
  const body = randomBytes(256 * 1024);
  const upstream = await startHttpUpstream(t, (_req, res) => {
    res.writeHead(200, { 'content-length': body.length });
    res.end(body);
  });
  const gw = await gatewayFor(t, { 'GET /big': `${upstream.origin}/big` });
  const reply = await request(`${gw.url}/big`);
  t.equal(reply.status, 200);
  t.equal(sha256(reply.body), sha256(body));
  t.ok(marks.length > 0, 'the gateway connected through net.connect');
  t.ok(
    marks.every((m) => m > 64 * 1024),
    `every upstream socket buffers more than one 64 KiB read (${marks.join(', ')})`,
  );
});

t.test('an upstream that never answers gets 503 after timeoutMs', async (t) => {
  const arrived = deferred();
  const upstream = await startHttpUpstream(t, () => arrived.resolve());
  const gw = await gatewayFor(t, { 'GET /slow': `${upstream.origin}/slow` }, { timeoutMs: 200 });
  const started = Date.now();
  const reply = await within(request(`${gw.url}/slow`), 5_000, '503');
  await arrived.promise;
  t.ok(Date.now() - started >= 200, 'not before timeoutMs');
  t.equal(reply.status, 503);
  t.equal(reply.text, '{"message":"Service Unavailable"}');
  assertNoLeak(t, reply.text, upstream.port);
  t.equal(reply.headers['content-type'], 'application/json');
  t.match(reply.headers['apigw-requestid'], REQUEST_ID);
  t.match(
    gw.logs,
    [{ level: 'error', obj: { code: 'PORTICO_UPSTREAM_TIMEOUT' } }],
    'the cause is logged',
  );
});

t.test('an upstream that stalls mid-body is cut off after timeoutMs', async (t) => {
  const upstream = await startHttpUpstream(t, (_req, res) => {
    res.writeHead(200, { 'content-length': 1000 });
    res.write('x'.repeat(100));
  });
  const gw = await gatewayFor(t, { 'GET /stall': `${upstream.origin}/stall` }, { timeoutMs: 200 });
  const result = await within(outcome(`${gw.url}/stall`), 5_000, 'the cut');
  t.equal(result.status, 200);
  t.equal(result.complete, false);
  t.ok(result.body.length < 1000, 'the client never sees a complete response');
});

t.test('an unreachable upstream gets 502 with no address in the response', async (t) => {
  const port = await closedPort();
  const gw = await gatewayFor(t, { 'GET /down': `http://127.0.0.1:${port}/down` });
  const reply = await within(request(`${gw.url}/down`), 5_000, '502');
  t.equal(reply.status, 502);
  t.equal(reply.text, '{"message":"Bad Gateway"}');
  assertNoLeak(t, reply.text, port);
  t.equal(reply.headers['content-type'], 'application/json');
  t.match(reply.headers['apigw-requestid'], REQUEST_ID);
  t.notOk(reply.rawHeaders.join('\n').includes(String(port)), 'no upstream port in the headers');
  t.match(gw.logs, [{ level: 'error', obj: { code: 'PORTICO_UPSTREAM_UNREACHABLE' } }]);
});

t.test('an upstream that resets mid-response never yields a complete response', async (t) => {
  for (const framing of ['content-length', 'chunked'] as const) {
    await t.test(framing, async (t) => {
      const upstream = await startRawUpstream(t, (socket) => {
        void readRequestHead(socket).then(() => {
          const head =
            framing === 'content-length'
              ? 'HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n'
              : 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000\r\n';
          socket.write(head + 'x'.repeat(4096), () => socket.resetAndDestroy());
        });
      });
      const gw = await gatewayFor(t, { 'GET /reset': `${upstream.origin}/reset` });
      const result = await within(outcome(`${gw.url}/reset`), 5_000, 'the client sees the cut');
      t.equal(result.complete, false);
      t.not(result.error, null);
      t.ok(result.body.length <= 4096);
      // On the wire: a short body, or a chunked body without its terminating chunk.
      const raw = await within(
        rawExchange(gw, 'GET /reset HTTP/1.1\r\nHost: gw\r\n\r\n'),
        5_000,
        'the gateway closes the connection',
      );
      t.match(raw, /^HTTP\/1\.1 200 /);
      const body = raw.slice(raw.indexOf('\r\n\r\n') + 4);
      if (framing === 'chunked') t.notMatch(body, /(^|\r\n)0\r\n\r\n$/, 'no last chunk');
      else t.ok(body.length < 100_000, 'fewer bytes than content-length');
    });
  }
});

t.test('an upstream that resets before answering gets 502', async (t) => {
  const upstream = await startRawUpstream(t, (socket) => {
    void readRequestHead(socket).then(() => socket.resetAndDestroy());
  });
  const gw = await gatewayFor(t, { 'GET /reset': `${upstream.origin}/reset` });
  const reply = await within(request(`${gw.url}/reset`), 5_000, '502');
  t.equal(reply.status, 502);
  t.equal(reply.text, '{"message":"Bad Gateway"}');
  assertNoLeak(t, reply.text, upstream.port);
  t.match(reply.headers['apigw-requestid'], REQUEST_ID);
});

t.test('a body over limits.maxBodyBytes gets 413', async (t) => {
  const LIMIT = 1024;

  await t.test('declared by content-length: refused before contacting the upstream', async (t) => {
    const upstream = await startRecordingUpstream(t);
    const gw = await gatewayFor(
      t,
      { 'POST /up': `${upstream.origin}/up` },
      { maxBodyBytes: LIMIT },
    );
    const reply = await request(`${gw.url}/up`, { method: 'POST', body: Buffer.alloc(LIMIT + 1) });
    t.equal(reply.status, 413);
    t.equal(reply.text, '{"message":"Request Entity Too Large"}');
    t.equal(reply.headers['content-type'], 'application/json');
    t.equal(reply.headers.connection, 'close');
    t.match(reply.headers['apigw-requestid'], REQUEST_ID);
    t.equal(upstream.connections, 0, 'the upstream was never contacted');
  });

  await t.test(
    'declared, with a large body still arriving: the client reads the 413',
    async (t) => {
      const upstream = await startRecordingUpstream(t);
      const gw = await gatewayFor(
        t,
        { 'POST /up': `${upstream.origin}/up` },
        { maxBodyBytes: LIMIT },
      );
      const status = await within(
        new Promise<number>((resolve, reject) => {
          const req = httpRequest(
            `${gw.url}/up`,
            { method: 'POST', agent: false, headers: { 'content-length': 8 * MB } },
            (res) => {
              res.resume();
              resolve(res.statusCode!);
            },
          );
          // The gateway closes the connection while the client is still writing (EPIPE / ECONNRESET);
          // what matters is that the response was read first.
          req.on('error', (err) => setImmediate(reject, err));
          req.end(Buffer.alloc(8 * MB));
        }),
        10_000,
        '413',
      );
      t.equal(status, 413);
      t.equal(upstream.connections, 0);
    },
  );

  await t.test('exactly the limit is accepted', async (t) => {
    const upstream = await startRecordingUpstream(t);
    const gw = await gatewayFor(
      t,
      { 'POST /up': `${upstream.origin}/up` },
      { maxBodyBytes: LIMIT },
    );
    t.equal(
      (await request(`${gw.url}/up`, { method: 'POST', body: Buffer.alloc(LIMIT) })).status,
      200,
    );
    async function* chunked(): AsyncGenerator<Buffer> {
      yield Buffer.alloc(LIMIT / 2);
      yield Buffer.alloc(LIMIT / 2);
    }
    t.equal((await request(`${gw.url}/up`, { method: 'POST', body: chunked() })).status, 200);
    t.same(
      upstream.requests.map((r) => r.body.length),
      [LIMIT, LIMIT],
    );
  });

  await t.test('chunked, exceeding the limit mid-stream', async (t) => {
    const upstreamGotBytes = deferred();
    const upstreamClosed = deferred();
    let upstreamComplete = false;
    const upstream = await startHttpUpstream(t, (req) => {
      req.on('data', () => upstreamGotBytes.resolve());
      req.on('end', () => (upstreamComplete = true));
      req.on('close', () => upstreamClosed.resolve());
    });
    const gw = await gatewayFor(
      t,
      { 'POST /up': `${upstream.origin}/up` },
      { maxBodyBytes: LIMIT },
    );
    const replied = deferred();
    async function* body(): AsyncGenerator<Buffer> {
      yield Buffer.alloc(LIMIT / 2, 0x61);
      await within(upstreamGotBytes.promise, 10_000, 'upstream sees the first bytes');
      yield Buffer.alloc(LIMIT, 0x62);
      // Keep the request open until the gateway has answered, as a client still uploading would.
      await replied.promise;
    }
    const pending = request(`${gw.url}/up`, { method: 'POST', body: body() });
    const reply = await within(
      pending.finally(() => replied.resolve()),
      10_000,
      '413',
    );
    t.equal(reply.status, 413);
    t.equal(reply.text, '{"message":"Request Entity Too Large"}');
    t.equal(reply.headers.connection, 'close');
    t.match(reply.headers['apigw-requestid'], REQUEST_ID);
    await within(upstreamClosed.promise, 5_000, 'upstream request aborted');
    t.notOk(upstreamComplete, 'the upstream never saw a complete request');
  });
});

t.test('a client aborting mid-download aborts the upstream request', async (t) => {
  const upstreamClosed = deferred();
  const upstream = await startHttpUpstream(t, (_req, res) => {
    res.writeHead(200, { 'content-length': 10 * MB });
    res.write(Buffer.alloc(64 * 1024));
    res.on('close', () => upstreamClosed.resolve());
  });
  const gw = await gatewayFor(t, { 'GET /dl': `${upstream.origin}/dl` });
  const req = httpRequest(`${gw.url}/dl`, { agent: false });
  req.on('error', () => {});
  req.end();
  const [res] = (await once(req, 'response')) as [IncomingMessage];
  res.on('error', () => {});
  await once(res, 'data');
  t.equal(gw.gateway.upstreamStats().running, 1, 'one request in flight upstream');
  req.destroy();
  await within(upstreamClosed.promise, 5_000, 'the upstream sees its connection close');
  // undici may open a fresh idle connection after destroying the aborted one; idle is fine.
  const stats = await poolsSettled(gw);
  t.match(stats, { running: 0, pending: 0, queued: 0, connected: stats.free }, 'pool idle');
  t.equal(
    await openConnections(upstream.server),
    stats.connected,
    'the upstream has only the idle pooled sockets open',
  );
  t.same(gw.logs, [], 'a client leaving is not an upstream failure');
});

t.test('a client aborting mid-upload aborts the upstream request', async (t) => {
  let upstreamGotBytes = deferred();
  let upstreamClosed = deferred();
  let upstreamComplete = false;
  const upstream = await startHttpUpstream(t, (req) => {
    req.on('data', () => upstreamGotBytes.resolve());
    req.on('end', () => (upstreamComplete = true));
    req.on('close', () => upstreamClosed.resolve());
  });
  const gw = await gatewayFor(t, { 'POST /ul': `${upstream.origin}/ul` });
  for (const framing of ['chunked', 'content-length'] as const) {
    upstreamGotBytes = deferred();
    upstreamClosed = deferred();
    const socket: Socket = connect(gw.port, '127.0.0.1');
    await once(socket, 'connect');
    socket.on('error', () => {});
    socket.write(
      'POST /ul HTTP/1.1\r\nHost: gw\r\n' +
        (framing === 'chunked'
          ? 'Transfer-Encoding: chunked\r\n\r\n400\r\n'
          : 'Content-Length: 100000\r\n\r\n') +
        'x'.repeat(1024),
    );
    await within(upstreamGotBytes.promise, 5_000, 'upstream sees the first bytes');
    socket.destroy();
    await within(upstreamClosed.promise, 5_000, `${framing}: the upstream sees the request close`);
    t.notOk(upstreamComplete, `${framing}: the upstream never saw a complete request`);
    const stats = await poolsSettled(gw);
    t.match(
      stats,
      { running: 0, pending: 0, queued: 0, connected: stats.free },
      `${framing}: the pool is back to idle`,
    );
    t.equal(
      await openConnections(upstream.server),
      stats.connected,
      `${framing}: the upstream has only the idle pooled sockets open`,
    );
  }
  t.same(gw.logs, [], 'a client leaving is not an upstream failure');
});

t.test('sequential requests reuse one keep-alive upstream connection', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const gw = await gatewayFor(t, { 'ANY /ka': `${upstream.origin}/ka` });
  t.equal((await request(`${gw.url}/ka`)).status, 200);
  t.equal((await request(`${gw.url}/ka`, { method: 'POST', body: 'x' })).status, 200);
  t.equal((await request(`${gw.url}/ka`)).status, 200);
  t.equal(upstream.connections, 1);
  t.same(new Set(upstream.requests.map((r) => r.remotePort)).size, 1);
});

t.test('HEAD, 204 and 304 responses carry no body', async (t) => {
  const upstream = await startRecordingUpstream(t, (req, res) => {
    if (req.url === '/head') {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 5 });
      res.end(req.method === 'HEAD' ? undefined : 'hello');
    } else if (req.url === '/204') {
      res.writeHead(204, { 'x-n': '1' });
      res.end();
    } else {
      res.writeHead(304, { etag: '"abc"' });
      res.end();
    }
  });
  const gw = await gatewayFor(t, {
    'ANY /head': `${upstream.origin}/head`,
    'GET /204': `${upstream.origin}/204`,
    'GET /304': `${upstream.origin}/304`,
  });
  const head = await within(request(`${gw.url}/head`, { method: 'HEAD' }), 5_000, 'HEAD');
  t.equal(head.status, 200);
  t.equal(head.headers['content-length'], '5');
  t.equal(head.body.length, 0);
  t.equal(upstream.requests[0]!.method, 'HEAD');
  const noContent = await within(request(`${gw.url}/204`), 5_000, '204');
  t.equal(noContent.status, 204);
  t.equal(noContent.headers['x-n'], '1');
  t.equal(noContent.body.length, 0);
  t.match(noContent.headers['apigw-requestid'], REQUEST_ID);
  const notModified = await within(
    request(`${gw.url}/304`, { headers: { 'if-none-match': '"abc"' } }),
    5_000,
    '304',
  );
  t.equal(notModified.status, 304);
  t.equal(notModified.headers.etag, '"abc"');
  t.equal(notModified.body.length, 0);
  t.equal(upstream.requests[2]!.headers['if-none-match'], '"abc"');
  // The connection stays usable after bodiless responses.
  t.equal((await request(`${gw.url}/head`)).text, 'hello');
});

t.test('upstream statuses, bodies and repeated headers pass through as-is', async (t) => {
  const upstream = await startRecordingUpstream(t, (req, res) => {
    const status = Number(req.url!.slice(1));
    res.statusCode = status;
    res.setHeader('content-type', 'application/json');
    res.setHeader('set-cookie', ['a=1; Path=/', 'b=2; HttpOnly']);
    res.end(JSON.stringify({ status, message: 'from upstream' }));
  });
  const gw = await gatewayFor(t, { 'GET /{status}': `${upstream.origin}/{status}` });
  for (const status of [200, 201, 301, 404, 418, 429, 500, 502, 503, 504]) {
    const reply = await request(`${gw.url}/${status}`);
    t.equal(reply.status, status, `${status} passed through`);
    t.same(reply.json(), { status, message: 'from upstream' }, `${status}: the upstream's body`);
    t.same(
      reply.headers['set-cookie'],
      ['a=1; Path=/', 'b=2; HttpOnly'],
      `${status}: both cookies`,
    );
    t.match(reply.headers['apigw-requestid'], REQUEST_ID);
  }
  t.equal(gw.logs.length, 0, 'an upstream error status is not a gateway error');
});

t.test(
  'interim 1xx responses from the upstream are not relayed as the final response',
  async (t) => {
    const upstream = await startRawUpstream(t, (socket) => {
      void readRequestHead(socket).then(() => {
        socket.write(
          'HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n' +
            'HTTP/1.1 102 Processing\r\n\r\n' +
            'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nfinal',
        );
      });
    });
    const gw = await gatewayFor(t, { 'GET /hints': `${upstream.origin}/hints` });
    const reply = await within(request(`${gw.url}/hints`), 5_000, 'the final response');
    t.equal(reply.status, 200);
    t.equal(reply.text, 'final');
    t.match(reply.headers['apigw-requestid'], REQUEST_ID);
  },
);

t.test('path variables cannot climb out of their place in the upstream URL', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const gw = await gatewayFor(t, {
    'GET /users/{id}': `${upstream.origin}/users/{id}/profile`,
    'GET /files/{proxy+}': `${upstream.origin}/public/{proxy}`,
  });
  // Dot segments are resolved before routing (lib/path-normalize.ts): these paths leave
  // the route, so they are routed, or not, as the path they resolve to.
  for (const target of [
    '/users/..',
    '/users/%2E%2E',
    '/users/.',
    '/users/%2e',
    '/files/../admin',
    '/files/a/%2e%2e/%2e%2e/admin',
    '/files/..',
    '/files/x/..',
  ]) {
    const reply = await requestTarget(gw, target);
    t.equal(reply.status, 404, target);
    t.match(reply.headers['apigw-requestid'], REQUEST_ID);
  }
  t.equal(upstream.requests.length, 0, 'nothing was forwarded');
  t.equal((await requestTarget(gw, '/files/a/./b')).status, 200);
  t.equal((await upstream.next()).url, '/public/a/b');
  // Dots inside a segment are ordinary characters.
  t.equal((await requestTarget(gw, '/files/a..b/.hidden/c.tar.gz')).status, 200);
  t.equal((await upstream.next()).url, '/public/a..b/.hidden/c.tar.gz');
  t.equal((await requestTarget(gw, '/users/...')).status, 200);
  t.equal((await upstream.next()).url, '/users/.../profile');
  // A value that decodes to "%2e%2e" is re-encoded, so it is no dot segment upstream.
  t.equal((await requestTarget(gw, '/users/%252e%252e')).status, 200);
  t.equal((await upstream.next()).url, '/users/%252e%252e/profile');
});

t.test('$default forwards the resolved path, under a base path or not', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const based = await gatewayFor(t, { $default: `${upstream.origin}/api` });
  for (const [target, expected] of [
    ['/../admin', '/api/admin'],
    ['/a/%2e%2E/admin', '/api/admin'],
    ['/a/.', '/api/a'],
    ['/a/..b/c.d', '/api/a/..b/c.d'],
  ] as const) {
    t.equal((await requestTarget(based, target)).status, 200, target);
    t.equal((await upstream.next()).url, expected, target);
  }
  t.equal((await requestTarget(based, '/a/..\\..\\admin')).status, 400, 'a backslash');
  const bare = await gatewayFor(t, { $default: upstream.origin });
  t.equal((await requestTarget(bare, '/a/../b')).status, 200);
  t.equal((await upstream.next()).url, '/b');
  t.equal(upstream.requests.length, 5);
});

t.test('a path variable in the URL template query is encoded as a query value', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const gw = await gatewayFor(t, {
    'GET /search/{term}': `${upstream.origin}/search?q={term}&lang=en`,
    'GET /bare': `http://127.0.0.1:${upstream.port}?fixed=1`,
  });
  t.equal((await request(`${gw.url}/search/a%26admin%3Dtrue%20x?page=2`)).status, 200);
  t.equal((await upstream.next()).url, '/search?q=a%26admin%3Dtrue%20x&lang=en&page=2');
  t.equal((await request(`${gw.url}/bare?x=1`)).status, 200);
  t.equal((await upstream.next()).url, '/?fixed=1&x=1', 'a URL with no path has path "/"');
});

t.test(
  'a request whose client leaves while it waits for a pool connection is never sent',
  async (t) => {
    const release = deferred();
    const upstream = await startRecordingUpstream(t, (req, res) => {
      if (req.url === '/hold') void release.promise.then(() => res.end('held'));
      else res.end('ok');
    });
    const gw = await gatewayFor(
      t,
      { 'GET /{what}': `${upstream.origin}/{what}` },
      { connections: 1 },
    );
    const held = request(`${gw.url}/hold`);
    await upstream.next();
    // The 100 Continue shows the gateway has the request, queued behind /hold.
    const queued = httpRequest(`${gw.url}/queued`, {
      agent: false,
      headers: { expect: '100-continue' },
    });
    queued.on('error', () => {});
    queued.flushHeaders();
    await within(once(queued, 'continue'), 5_000, '100 Continue');
    queued.destroy();
    release.resolve();
    t.equal((await held).text, 'held');
    t.equal((await request(`${gw.url}/after`)).text, 'ok');
    t.same(
      upstream.requests.map((r) => r.url),
      ['/hold', '/after'],
    );
  },
);

t.test(
  'an upstream that answers before reading the upload: the client gets that answer',
  async (t) => {
    const upstream = await startHttpUpstream(t, (_req, res) => {
      res.writeHead(401, { 'content-type': 'text/plain' });
      res.end('no');
    });
    const gw = await gatewayFor(t, { 'POST /early': `${upstream.origin}/early` });
    for (const framing of ['content-length', 'chunked'] as const) {
      const result = await within(
        new Promise<{ status: number; body: string }>((resolve, reject) => {
          const req = httpRequest(
            `${gw.url}/early`,
            {
              method: 'POST',
              agent: false,
              headers: framing === 'content-length' ? { 'content-length': 8 * MB } : {},
            },
            (res) => {
              let body = '';
              res.setEncoding('utf8');
              res.on('data', (c: string) => (body += c));
              res.on('end', () => resolve({ status: res.statusCode!, body }));
            },
          );
          // The rest of the upload is refused once the response is done (EPIPE): expected.
          req.on('error', (err) => setImmediate(reject, err));
          req.write(Buffer.alloc(4 * MB));
          req.end(Buffer.alloc(4 * MB));
        }),
        10_000,
        framing,
      );
      t.same(result, { status: 401, body: 'no' }, framing);
    }
  },
);

t.test(
  'a malformed upstream response gets 502; loosely framed valid ones are relayed',
  async (t) => {
    const cases: Array<[string, string, number, string]> = [
      [
        'invalid header byte',
        'HTTP/1.1 200 OK\r\nX-Bad: a\x7fb\r\nContent-Length: 2\r\n\r\nok',
        502,
        '{"message":"Bad Gateway"}',
      ],
      ['not HTTP', 'SSH-2.0-OpenSSH_9.6\r\n', 502, '{"message":"Bad Gateway"}'],
      ['closed without a response', '', 502, '{"message":"Bad Gateway"}'],
      [
        'two different lengths',
        'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok',
        502,
        '{"message":"Bad Gateway"}',
      ],
      ['body delimited by close', 'HTTP/1.1 200 OK\r\n\r\nuntil close', 200, 'until close'],
      ['HTTP/1.0', 'HTTP/1.0 200 OK\r\n\r\nold server', 200, 'old server'],
    ];
    for (const [name, bytes, status, body] of cases) {
      const upstream = await startRawUpstream(t, (socket) => {
        void readRequestHead(socket).then(() => socket.end(Buffer.from(bytes, 'latin1')));
      });
      const gw = await gatewayFor(t, { 'GET /x': `${upstream.origin}/x` });
      const reply = await within(request(`${gw.url}/x`), 5_000, name);
      t.equal(reply.status, status, name);
      t.equal(reply.text, body, name);
      t.match(reply.headers['apigw-requestid'], REQUEST_ID, name);
    }
  },
);

t.test('connecting is bounded by timeoutMs, not only undici’s 10 s: 503', async (t) => {
  // A TLS upstream whose handshake never completes: connected at TCP level, never usable,
  // which is what a blackholed host looks like to undici's connect timeout.
  const accepted = deferred();
  const upstream = await startRawUpstream(t, () => accepted.resolve());
  const gw = await gatewayFor(
    t,
    { 'GET /hole': `https://127.0.0.1:${upstream.port}/hole` },
    { timeoutMs: 300 },
  );
  const reply = await within(request(`${gw.url}/hole`), 5_000, 'a 503 well before 10 s');
  await accepted.promise;
  t.equal(reply.status, 503);
  t.equal(reply.text, '{"message":"Service Unavailable"}');
  assertNoLeak(t, reply.text, upstream.port);
  t.match(gw.logs, [{ level: 'error', obj: { code: 'PORTICO_UPSTREAM_CONNECT_TIMEOUT' } }]);
});

t.test('bodyTimeoutMs bounds a slow body separately from timeoutMs', async (t) => {
  const upstream = await startHttpUpstream(t, (_req, res) => {
    res.writeHead(200, { 'content-length': 1000 });
    res.write('x'.repeat(10));
  });
  const gw = await gatewayFor(
    t,
    { 'GET /trickle': `${upstream.origin}/trickle` },
    { timeoutMs: 60_000, bodyTimeoutMs: 200 },
  );
  const result = await within(outcome(`${gw.url}/trickle`), 5_000, 'the cut');
  t.equal(result.status, 200, 'the headers were already relayed');
  t.equal(result.complete, false, 'the client sees an incomplete response, not a complete one');
  t.equal(result.body.toString(), 'x'.repeat(10));
  t.match(gw.logs, [{ level: 'error', obj: { code: 'PORTICO_UPSTREAM_TIMEOUT' } }]);
  const stats = await poolsSettled(gw);
  t.match(stats, { running: 0, connected: stats.free }, 'no upstream request left in flight');
});

t.test('an upstream response head over maxResponseHeaderBytes gets 502', async (t) => {
  // Within the test client's own 16 KB limit, over the gateway's configured 8 KB.
  const big = 'v'.repeat(12 * 1024);
  const upstream = await startRawUpstream(t, (socket) => {
    void readRequestHead(socket).then(() =>
      socket.end(`HTTP/1.1 200 OK\r\nX-Big: ${big}\r\nContent-Length: 2\r\n\r\nok`),
    );
  });
  const strict = await gatewayFor(
    t,
    { 'GET /big': `${upstream.origin}/big` },
    { maxResponseHeaderBytes: 8 * 1024 },
  );
  const reply = await within(request(`${strict.url}/big`), 5_000, '502');
  t.equal(reply.status, 502);
  t.equal(reply.text, '{"message":"Bad Gateway"}');
  assertNoLeak(t, reply.text, upstream.port);
  t.match(strict.logs, [{ level: 'error', obj: { code: 'PORTICO_UPSTREAM_HEADERS_TOO_LARGE' } }]);
  // The default, 16 KB, lets it through.
  const roomy = await gatewayFor(t, { 'GET /big': `${upstream.origin}/big` });
  const relayed = await within(request(`${roomy.url}/big`), 5_000, '200');
  t.equal(relayed.status, 200);
  t.equal(relayed.headers['x-big'], big);
});

t.test('retries: idempotent requests retry a refused connect, others never', async (t) => {
  const port = await closedPort();
  const retrying = deferred();
  const logs: RunningGateway['logs'] = [];
  const logger = {
    ...memoryLogger(logs),
    warn: (obj: object, msg?: string) => {
      logs.push({ level: 'warn', msg, obj });
      retrying.resolve();
    },
  };
  const gw = await startGateway(
    httpConfig(
      { 'ANY /r': `http://127.0.0.1:${port}/r` },
      { retries: { attempts: 5, backoffMs: 200 } },
    ),
    { t, logger },
  );

  await t.test('POST is not retried', async (t) => {
    const reply = await within(request(`${gw.url}/r`, { method: 'POST', body: 'x' }), 5_000, '502');
    t.equal(reply.status, 502);
    t.equal(logs.filter((l) => l.level === 'warn').length, 0, 'no retry');
    t.match(logs, [{ level: 'error', obj: { code: 'PORTICO_UPSTREAM_UNREACHABLE' } }]);
  });

  await t.test('PUT with a body: retried until the upstream is up, sent once', async (t) => {
    logs.length = 0;
    const pending = request(`${gw.url}/r`, { method: 'PUT', body: 'payload' });
    await within(retrying.promise, 5_000, 'the first attempt fails');
    // Backoff doubles from 200 ms over 5 attempts (6 s in all): ample for a listen().
    const bodies: string[] = [];
    await startHttpUpstream(
      t,
      (req, res) => {
        let body = '';
        req.setEncoding('utf8');
        req.on('data', (c: string) => (body += c));
        req.on('end', () => {
          bodies.push(body);
          res.end('ok');
        });
      },
      port,
    );
    const reply = await within(pending, 10_000, 'the retried request');
    t.equal(reply.status, 200);
    t.same(bodies, ['payload'], 'the upstream got the request exactly once, whole');
    t.match(logs[0], { level: 'warn', obj: { code: 'PORTICO_UPSTREAM_UNREACHABLE', attempt: 1 } });
    t.equal(logs.filter((l) => l.level === 'error').length, 0);
  });
});

t.test('retries give up after their attempts with the last failure', async (t) => {
  const port = await closedPort();
  const gw = await gatewayFor(
    t,
    { 'GET /r': `http://127.0.0.1:${port}/r` },
    { retries: { attempts: 2, backoffMs: 0 } },
  );
  const reply = await within(request(`${gw.url}/r`), 5_000, '502');
  t.equal(reply.status, 502);
  t.same(
    gw.logs.map((l) => l.level),
    ['warn', 'warn', 'error'],
    'two retries, then the failure',
  );
});

t.test('a reset after the request was sent is never retried', async (t) => {
  const upstream = await startRawUpstream(t, (socket) => {
    void readRequestHead(socket).then(() => socket.resetAndDestroy());
  });
  const gw = await gatewayFor(
    t,
    { 'GET /reset': `${upstream.origin}/reset` },
    { retries: { attempts: 3, backoffMs: 0 } },
  );
  const reply = await within(request(`${gw.url}/reset`), 5_000, '502');
  t.equal(reply.status, 502);
  t.equal(upstream.connections, 1, 'the upstream saw the request once');
  t.equal(gw.logs.filter((l) => l.level === 'warn').length, 0);
});
