/**
 * Access logs end to end: one line per request with every AWS `$context` field, AWS-style
 * templates and presets per stage, a file destination shared with gateway events, and no
 * secret (token, API key, query string) in any line.
 */
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SignJWT } from 'jose';
import { ConfigError } from '../../lib/errors.ts';
import { openDestination, type BatchedSink } from '../../lib/log.ts';
import { prettyLine } from '../../lib/observability/pretty.ts';
import { clfTime, compileFormat, PRESETS } from '../../lib/observability/log-format.ts';
import { RequestRecord } from '../../lib/observability/record.ts';
import { request, startGateway } from '../helpers/gateway.ts';
import { lineSink } from '../helpers/log-sink.ts';
import { closedPort, startRecordingUpstream } from '../helpers/upstream.ts';

const fixtures = fileURLToPath(new URL('../fixtures/', import.meta.url));
const SECRET = 'a-development-secret-of-at-least-32-chars';
const API_KEY = 'obs-test-api-key-0123456789';
const ISSUER = 'https://issuer.example';

const token = (): Promise<string> =>
  new SignJWT({ sub: 'alice' })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer(ISSUER)
    .setAudience('api')
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(SECRET));

t.test('one structured line per request, every field as AWS names it', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const down = await closedPort();
  const sink = lineSink();
  const gw = await startGateway(
    {
      accessLog: {},
      apiKeys: { k: { value: API_KEY } },
      authorizers: { jwt: { type: 'jwt', issuer: ISSUER, audience: ['api'], secret: SECRET } },
      integrations: {
        up: { type: 'http', url: `${upstream.origin}/items/{id}` },
        down: { type: 'http', url: `http://127.0.0.1:${down}/` },
        fn: { type: 'function', handler: join(fixtures, 'handlers/echo.mjs#handler') },
        ok: { type: 'mock', statusCode: 200, body: 'ok' },
      },
      routes: {
        'GET /items/{id}': { integration: 'up', authorizer: 'jwt', apiKeyRequired: true },
        'POST /fn': { integration: 'fn' },
        'GET /secure': { integration: 'ok', authorizer: 'jwt' },
        'GET /down': { integration: 'down' },
      },
    },
    { t, logStream: sink },
  );
  const bearer = await token();
  const before = Date.now();
  const ok = await request(`${gw.url}/items/42?token=QUERYSECRET123`, {
    headers: {
      authorization: `Bearer ${bearer}`,
      'x-api-key': API_KEY,
      'user-agent': 'obs-test/1',
    },
  });
  t.equal(ok.status, 200);
  await sink.until(1);
  const fn = await request(`${gw.url}/fn`, { method: 'POST', body: '{"a":1}' });
  t.equal(fn.status, 200);
  await sink.until(2);
  const denied = await request(`${gw.url}/secure`, {
    headers: { authorization: 'Bearer not.a.valid-token-SECRETISH' },
  });
  t.equal(denied.status, 401);
  await sink.until(3);
  t.equal((await request(`${gw.url}/down`)).status, 502);
  await sink.until(4);
  t.equal((await request(`${gw.url}/nowhere?x=1`)).status, 404);
  const lines = await sink.until(5);
  const access = sink.json().filter((l) => l.msg === 'request');
  t.equal(access.length, 5, 'one line per request');

  const [a, b, c, d, e] = access as [
    Record<string, unknown>,
    Record<string, unknown>,
    Record<string, unknown>,
    Record<string, unknown>,
    Record<string, unknown>,
  ];
  t.match(a, {
    level: 'info',
    requestId: ok.headers['apigw-requestid'],
    ip: '127.0.0.1',
    httpMethod: 'GET',
    routeKey: 'GET /items/{id}',
    path: '/items/42',
    stage: '$default',
    status: 200,
    protocol: 'HTTP/1.1',
    responseLength: ok.body.length,
    integrationStatus: 200,
    integrationErrorMessage: null,
    authorizerError: null,
    errorMessage: null,
    userAgent: 'obs-test/1',
  });
  t.ok((a.requestTimeEpoch as number) >= before && (a.requestTimeEpoch as number) <= Date.now());
  t.equal(a.requestTime, clfTime(a.requestTimeEpoch as number), 'CLF time, as AWS logs it');
  t.match(a.requestTime, /^\d\d\/[A-Z][a-z]{2}\/\d{4}:\d\d:\d\d:\d\d \+0000$/);
  t.type(a.responseLatency, 'number');
  t.type(a.integrationLatency, 'number');
  t.ok(
    (a.integrationLatency as number) <= (a.responseLatency as number),
    'integration within request',
  );

  const event = JSON.parse(fn.text) as { event: { requestContext: { requestId: string } } };
  t.match(b, {
    routeKey: 'POST /fn',
    status: 200,
    integrationStatus: 200,
    responseLength: fn.body.length,
    requestId: fn.headers['apigw-requestid'],
  });
  t.equal(b.requestId, event.event.requestContext.requestId, 'log, event and response agree');

  t.match(c, {
    routeKey: 'GET /secure',
    status: 401,
    authorizerError: 'Unauthorized',
    errorMessage: 'Unauthorized',
    integrationLatency: null,
    integrationStatus: null,
  });
  t.match(d, {
    routeKey: 'GET /down',
    status: 502,
    errorMessage: 'Bad Gateway',
    errorCode: 'PORTICO_UPSTREAM_UNREACHABLE',
    integrationErrorMessage: /ECONNREFUSED/,
  });
  t.match(e, {
    routeKey: '-',
    stage: '-',
    path: '/nowhere',
    status: 404,
    errorMessage: 'Not Found',
  });

  const all = lines.join('\n') + JSON.stringify(gw.logs);
  for (const secret of [bearer, API_KEY, 'QUERYSECRET123', 'SECRETISH', SECRET])
    t.notOk(all.includes(secret), `no log line contains ${secret.slice(0, 12)}…`);
});

t.test('templates and presets render per stage as AWS renders them', async (t) => {
  const sink = lineSink();
  const gw = await startGateway(
    {
      accessLog: { format: 'clf' },
      stages: {
        $default: {},
        prod: { accessLog: { format: 'json' } },
        dev: { accessLog: false },
        xml: { accessLog: { format: 'xml' } },
        csv: {
          accessLog: {
            format:
              '{"id":"$context.requestId","route":"$context.routeKey","err":"$context.error.message","agent":"$context.identity.userAgent","st":"$context.integrationStatus","x":"$context.status.$context.stage"}',
          },
        },
      },
      integrations: { ok: { type: 'mock', statusCode: 200, body: 'hello' } },
      routes: { 'GET /hi': { integration: 'ok' } },
    },
    { t, logStream: sink },
  );
  const r1 = await request(`${gw.url}/hi`);
  await sink.until(1);
  const r2 = await request(`${gw.url}/prod/hi`);
  await sink.until(2);
  t.equal((await request(`${gw.url}/dev/hi`)).status, 200);
  const r4 = await request(`${gw.url}/xml/hi`);
  await sink.until(3);
  const r5 = await request(`${gw.url}/csv/nope`, { headers: { 'user-agent': 'say "hi"' } });
  t.equal(r5.status, 404);
  // The 404 under /csv matched no route: it follows the top-level (CLF) format.
  const r6 = await request(`${gw.url}/csv/hi`, { headers: { 'user-agent': 'say "hi"' } });
  const lines = await sink.until(5);
  t.equal(lines.length, 5, 'the dev stage logs nothing');
  const [clf, json, xml, notFound, custom] = lines as [string, string, string, string, string];
  const time = /\[(\d\d\/[A-Z][a-z]{2}\/\d{4}:\d\d:\d\d:\d\d \+0000)\]/;
  t.match(clf, time);
  t.equal(
    clf,
    `127.0.0.1 - - [${time.exec(clf)![1]}] "GET GET /hi HTTP/1.1" 200 5 ${r1.headers['apigw-requestid']}`,
    'CLF preset',
  );
  t.same(JSON.parse(json), {
    requestId: r2.headers['apigw-requestid'],
    ip: '127.0.0.1',
    requestTime: JSON.parse(json).requestTime,
    httpMethod: 'GET',
    routeKey: 'GET /hi',
    status: '200',
    protocol: 'HTTP/1.1',
    responseLength: '5',
  });
  // A request ID may hold '+' and '/', so compare the prefix as text, not as a pattern.
  t.ok(
    xml.startsWith(
      `<request id="${r4.headers['apigw-requestid']}"> <ip>127.0.0.1</ip> <requestTime>`,
    ),
    'XML preset',
  );
  t.match(xml, /<routeKey>GET \/hi<\/routeKey> <status>200<\/status>/);
  t.match(notFound, / "GET - HTTP\/1.1" 404 23 /);
  t.same(JSON.parse(custom), {
    id: r6.headers['apigw-requestid'],
    route: 'GET /hi',
    err: '-',
    agent: 'say "hi"',
    st: '-',
    x: '200.csv',
  });
});

t.test('a template is compiled once; unknown variables are config errors', async (t) => {
  // A response the gateway answered itself (404), as the 'close' listener sees it.
  const req = {
    socket: { bytesWritten: 100, remoteAddress: '10.0.0.1' },
    headers: { 'user-agent': 'ua' },
    method: 'DELETE',
    url: '/a/b?secret=1',
    httpVersion: '1.1',
  };
  const res = {
    writableFinished: true,
    headersSent: true,
    statusCode: 404,
    _header: 'x'.repeat(10),
  };
  const record = new RequestRecord({ finish() {} }, req as never, res as never, 'REQ1');
  req.socket.bytesWritten = 133;
  record.close();
  const render = compileFormat(
    '{"e":$context.error.messageString,"m":"$context.error.message","p":"$context.path","n":$context.responseLength,"s":"$context.integrationStatus","r":"$context.routeKey"}',
  );
  t.same(JSON.parse(render(record)), {
    e: 'Not Found',
    m: 'Not Found',
    p: '/a/b',
    n: 23,
    s: '-',
    r: '-',
  });
  t.equal(
    compileFormat('$context.httpMethod $context.status.x $context.requestIdz')(record),
    'DELETE 404.x $context.requestIdz',
    'a variable name ends where known names end; unknown text stays literal',
  );
  t.ok(PRESETS.clf.includes('$context.requestTime'));
  const err = await startGateway(
    {
      accessLog: { format: '$context.requestId $context.nope' },
      integrations: { ok: { type: 'mock' } },
      routes: { 'GET /': { integration: 'ok' } },
    },
    { t },
  ).catch((e: unknown) => e);
  t.ok(err instanceof ConfigError);
  t.match((err as ConfigError).issues, [
    { path: 'accessLog.format', message: /unknown variable \$context\.nope/ },
  ]);
});

t.test('a file destination gets access lines and gateway events', async (t) => {
  const dir = t.testdir({});
  const file = join(dir, 'logs', 'access.log');
  const { createGateway } = await import('../../lib/index.ts');
  const config = {
    accessLog: { destination: file },
    integrations: { ok: { type: 'mock' as const, body: 'ok' } },
    routes: { 'GET /': { integration: 'ok' } },
  };
  const gateway = await createGateway(config);
  t.teardown(() => gateway.close());
  const { url } = await gateway.listen({ port: 0, host: '127.0.0.1' });
  t.equal((await request(`${url}/`)).status, 200);
  await gateway.deploy({ ...config, routes: { 'GET /two': { integration: 'ok' } } });
  await t.rejects(gateway.deploy({ ...config, routes: { 'GET /x': { integration: 'missing' } } }));
  await gateway.close();
  const lines = (await readFile(file, 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  t.match(lines[0], { level: 'info', msg: 'request', routeKey: 'GET /', status: 200 });
  t.match(lines[1], { level: 'info', msg: 'deployed', routes: 1, stages: ['$default'] });
  t.match(lines[2], { level: 'error', msg: 'deploy failed', code: 'PORTICO_INVALID_CONFIG' });
});

t.test('the file sink keeps every line, in order, whatever its size or encoding', async (t) => {
  const dir = t.testdir({});
  const file = join(dir, 'sink.log');
  const sink = openDestination(file) as BatchedSink;
  // Multi-byte UTF-8 (2, 3 and 4 bytes), lines that straddle batches, one larger than a batch.
  const lines: string[] = [];
  for (let i = 0; i < 3000; i++) lines.push(`${i} é€😀 ${'x'.repeat(i % 97)}`);
  lines.splice(1500, 0, `big ${'ü'.repeat(70_000)}`);
  for (const l of lines) sink.write(`${l}\n`);
  await new Promise<void>((resolve, reject) =>
    sink.flush((err) => (err ? reject(err) : resolve())),
  );
  t.same((await readFile(file, 'utf8')).split('\n').slice(0, -1), lines);
});

// /dev/full takes the open and fails every write with ENOSPC, as a full disk would.
const devFull = { skip: existsSync('/dev/full') ? false : 'no /dev/full here' };

t.test('a log that cannot be written does not stop the gateway', devFull, async (t) => {
  const { createGateway } = await import('../../lib/index.ts');
  const config = {
    accessLog: { destination: '/dev/full' },
    integrations: { ok: { type: 'mock' as const, body: 'ok' } },
    routes: { 'GET /': { integration: 'ok' } },
  };
  const stderr: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string) => (stderr.push(String(chunk)), true)) as typeof write;
  t.teardown(() => void (process.stderr.write = write));
  const gateway = await createGateway(config);
  const { url } = await gateway.listen({ port: 0, host: '127.0.0.1' });
  for (let i = 0; i < 3; i++) t.equal((await request(`${url}/`)).status, 200);
  // close() flushes the log: it must finish (with the error reported), not hang.
  await gateway.close();
  process.stderr.write = write;
  t.match(stderr.join(''), /portico: log lines could not be written: ENOSPC/);
});

/**
 * Runs a process that writes 100 lines to `dest` and exits at once; resolves its exit code.
 * The first 50 go out on the batch timer (50 ms); the last 50 only through the exit hook.
 */
async function writeAndExit(t: Test, dest: string): Promise<number | null> {
  const log = new URL('../../dist/lib/log.js', import.meta.url).href;
  const script = `const { openDestination } = await import(${JSON.stringify(log)});
const s = openDestination(${JSON.stringify(dest)});
const wait = (ms) => new Promise((r) => setTimeout(r, ms));
await wait(20);
for (let i = 0; i < 50; i++) s.write('line ' + i + '\\n');
await wait(150);
for (let i = 50; i < 100; i++) s.write('line ' + i + '\\n');
process.exit(0);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'inherit', 'ignore'],
  });
  // A process that hangs at exit (the bug this guards against) is killed with the test.
  t.teardown(() => void child.kill('SIGKILL'));
  return ((await once(child, 'exit')) as [number | null])[0];
}

t.test('lines still waiting for their batch are written when the process exits', async (t) => {
  const file = join(t.testdir({}), 'exit.log');
  t.equal(await writeAndExit(t, file), 0);
  const got = (await readFile(file, 'utf8')).split('\n').slice(0, -1);
  t.same(
    got,
    Array.from({ length: 100 }, (_, i) => `line ${i}`),
  );
});

t.test('a process whose log cannot be written still exits', devFull, async (t) => {
  // sonic-boom 4 retried this flush forever (every 100 ms): the process never exited.
  t.equal(await writeAndExit(t, '/dev/full'), 0);
});

t.test('a terminal gets human-readable lines', async (t) => {
  t.equal(
    prettyLine({
      level: 'info',
      time: Date.UTC(2026, 0, 2, 3, 4, 5, 6),
      msg: 'request',
      httpMethod: 'GET',
      path: '/pets/1',
      status: 200,
      responseLatency: 3,
      stage: 'prod',
      routeKey: 'GET /pets/{id}',
      requestId: 'abc',
    }),
    '03:04:05.006 INFO  GET /pets/1 200 3ms [prod] GET /pets/{id} id=abc',
  );
  t.equal(
    prettyLine({
      level: 'error',
      time: 0,
      msg: 'deploy failed',
      code: 'X',
      err: { type: 'Error', message: 'bad' },
    }),
    '00:00:00.000 ERROR deploy failed code=X err="Error: bad"',
  );
});
