/**
 * The `portico` command as a user runs it: `node dist/bin/portico.js ...` in a child process
 * (never npx, which does not forward signals), with real config files and real sockets.
 * `npm test` builds dist/ first (the `pretest` script).
 */
import t from 'tap';
import { once } from 'node:events';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { SignJWT } from 'jose';
import {
  ROOT,
  holdingUpstream,
  listen,
  runCli,
  secondSignalCutsDrain,
  spawnCli,
  startCli,
  upstreamConfig,
} from '../helpers/cli.ts';
import { request } from '../helpers/gateway.ts';

const VERSION = (
  JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }
).version;

const NO_STACK = /^\s+at /m;
// AWS's shape: 16 characters, the last '='.
const REQUEST_ID = /^[A-Za-z0-9+/]{15}=$/;

// Each subtest runs its own processes on its own ports: run a few at once.
t.jobs = 3;

const MOCK_CONFIG = `integrations:
  ping: { type: mock, statusCode: 200, headers: { content-type: text/plain }, body: pong }
  health: { type: mock, body: { status: ok } }
routes:
  GET /ping: { integration: ping }
  GET /health: { integration: health }
`;

t.test('--help prints usage and --version the package version, both exit 0', async (t) => {
  {
    const help = await runCli(t, ['--help']);
    t.equal(help.code, 0);
    t.match(
      help.stdout,
      /^Usage:\n {2}portico \[start\] \[FILE\] \[--port N\] \[--host H\] \[--workers N\] \[--no-watch\]\n {17}\[--drain-timeout MS\]\n/,
    );
    for (const word of [
      'start [FILE]',
      '--config FILE',
      'validate [FILE]',
      'routes [FILE]',
      'init [DIR]',
      'schema',
      '--version',
      'Exit codes',
    ]) {
      t.ok(help.stdout.includes(word), `usage mentions ${word}`);
    }
    t.equal(help.stderr, '');
  }
  const version = await runCli(t, ['--version']);
  t.same([version.code, version.stdout, version.stderr], [0, `${VERSION}\n`, '']);
});

const runsTypeScript = Boolean((process.features as { typescript?: unknown }).typescript);

t.test(
  '--version works from source on a Node that runs TypeScript',
  { skip: !runsTypeScript && 'this Node cannot run .ts files' },
  async (t) => {
    const version = await runCli(t, ['--version'], {
      script: join(ROOT, 'bin/portico.ts'),
      cwd: t.testdir(),
    });
    t.same([version.code, version.stdout], [0, `${VERSION}\n`]);
  },
);

t.test('start serves a config on --port 0 and stops cleanly on SIGTERM', async (t) => {
  const dir = t.testdir({ 'gw.yaml': MOCK_CONFIG });
  const { cli, url, port } = await startCli(t, join(dir, 'gw.yaml'));
  t.match(
    cli.stdout,
    /^portico listening on http:\/\/127\.0\.0\.1:\d+ \(2 routes; stages: \$default at \/\)\n/,
  );

  const ping = await request(`${url}/ping`);
  t.equal(ping.status, 200);
  t.equal(ping.text, 'pong');
  t.equal(ping.headers['content-type'], 'text/plain');
  t.match(ping.headers['apigw-requestid'], REQUEST_ID);

  const health = await request(`${url}/health`);
  t.same(
    [health.status, health.headers['content-type'], health.text],
    [200, 'application/json', '{"status":"ok"}'],
  );

  const missing = await request(`${url}/nope?x=1`);
  t.equal(missing.status, 404);
  t.equal(missing.text, '{"message":"Not Found"}', 'exactly AWS body');
  t.equal(missing.headers['content-type'], 'application/json');
  t.match(missing.headers['apigw-requestid'], REQUEST_ID);
  t.not(
    missing.headers['apigw-requestid'],
    ping.headers['apigw-requestid'],
    'a new id per request',
  );

  cli.proc.kill('SIGTERM');
  const exit = await cli.exited;
  t.equal(exit.code, 0, 'SIGTERM exits 0');
  t.match(exit.stdout, /\nportico: SIGTERM, draining in-flight requests .*\nportico: stopped\n$/);
  t.equal(exit.stderr, '', 'nothing on stderr');

  // The port was released: another server can bind it at once.
  const again = createServer();
  again.listen(port, '127.0.0.1');
  await once(again, 'listening');
  await new Promise((resolve) => again.close(resolve));
  t.pass(`port ${port} could be bound again`);
});

t.test('start-up loads only what the config uses', async (t) => {
  // A mock-only config: no TLS, no upstream, no access log, no metrics, no JWT.
  const dir = t.testdir({
    'gw.yaml': MOCK_CONFIG,
    'http.yaml': `integrations:
  up: { type: http, url: 'http://127.0.0.1:9' }
routes:
  ANY /{proxy+}: { integration: up }
`,
  });
  const preload = join(ROOT, 'test/fixtures/report-modules.mjs');
  const { cli } = await startCli(t, join(dir, 'gw.yaml'), {
    nodeArgs: ['--import', preload],
    untracked: true,
  });
  const m = await cli.lineAfter(/^modules: (.*)$/, 0, 'stderr');
  const { builtins, packages } = JSON.parse(m[1]!) as { builtins: string[]; packages: string[] };
  // The same report from a bare node:http server: what Node itself loads (Node 24's own
  // node:http loads more than Node 20's, with its bundled undici).
  const bare = spawnCli(t, [], {
    script: join(ROOT, 'dist/bench/bare.js'),
    nodeArgs: ['--import', preload],
    untracked: true,
  });
  const b = await bare.lineAfter(/^modules: (.*)$/, 0, 'stderr');
  const node = (JSON.parse(b[1]!) as { builtins: string[] }).builtins;
  // lib/tls.ts is what imports node:https.
  t.same(
    builtins.filter((x) => !node.includes(x)),
    [],
    'node:https is not loaded without a tls key (beyond what node:http loads)',
  );
  // (zod and yaml load when the config is not in the validated-config cache yet.)
  const optional = ['undici', 'jose', 'pino', 'sonic-boom', 'prom-client'];
  t.same(
    packages.filter((p) => optional.includes(p)),
    [],
    'no upstream client, JWT, logger or metrics packages',
  );
  // The control: the same check on a config with an http route sees undici. (The router's
  // packages are bundled into the CLI, so they are no signal.)
  const http = await startCli(t, join(dir, 'http.yaml'), {
    nodeArgs: ['--import', preload],
    untracked: true,
  });
  const m2 = await http.cli.lineAfter(/^modules: (.*)$/, 0, 'stderr');
  t.ok(
    (JSON.parse(m2[1]!) as { packages: string[] }).packages.includes('undici'),
    'an http route loads undici (the check sees packages)',
  );
});

t.test(
  'the bundled command require()s only CommonJS packages (Node 20.18 has no require(esm))',
  async (t) => {
    const bundle = join(ROOT, 'dist/bin/portico.js');
    const source = readFileSync(bundle, 'utf8');
    const required = [
      ...new Set([...source.matchAll(/\brequire\("([^".][^"]*)"\)/g)].map((m) => m[1]!)),
    ].filter((id) => !id.startsWith('node:'));
    t.ok(required.includes('zod') && required.includes('yaml'), `found: ${required.join(', ')}`);
    const resolve = createRequire(bundle).resolve;
    for (const id of required) {
      const file = resolve(id);
      let format = file.endsWith('.cjs') ? 'commonjs' : file.endsWith('.mjs') ? 'module' : null;
      for (let dir = dirname(file); format === null; dir = dirname(dir)) {
        const pkg = join(dir, 'package.json');
        if (existsSync(pkg))
          format = (JSON.parse(readFileSync(pkg, 'utf8')) as { type?: string }).type ?? 'commonjs';
      }
      t.equal(format, 'commonjs', `${id} resolves to CommonJS (${file})`);
    }
  },
);

t.test('a JWT authorizer works from the bundled command (jose is loaded on demand)', async (t) => {
  const secret = 'a-development-secret-of-at-least-32-chars';
  const dir = t.testdir({
    'gw.yaml': `authorizers:
  dev: { type: jwt, issuer: 'https://dev.localhost/', audience: [local], secret: ${secret} }
integrations:
  ping: { type: mock, body: pong }
routes:
  GET /private: { integration: ping, authorizer: dev }
`,
  });
  const { cli, url } = await startCli(t, join(dir, 'gw.yaml'));
  const exp = Math.floor(Date.now() / 1000) + 300;
  const sign = (key: string) =>
    new SignJWT({ iss: 'https://dev.localhost/', aud: 'local', exp })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode(key));
  const ok = await request(`${url}/private`, {
    headers: { authorization: `Bearer ${await sign(secret)}` },
  });
  t.same([ok.status, ok.text], [200, 'pong']);
  const forged = await request(`${url}/private`, {
    headers: { authorization: `Bearer ${await sign(`${secret}!`)}` },
  });
  t.equal(forged.status, 401, 'a token signed with another secret');
  t.equal(forged.text, '{"message":"Unauthorized"}');
  cli.proc.kill('SIGTERM');
  t.equal((await cli.exited).code, 0);
});

t.test('the config file can be given as an argument: start FILE, or FILE alone', async (t) => {
  const dir = t.testdir({ 'gw.yaml': MOCK_CONFIG, 'gw.yml': MOCK_CONFIG });
  for (const args of [['start', 'gw.yaml'], ['gw.yml']]) {
    const cli = spawnCli(t, [...args, '--port', '0', '--host', '127.0.0.1'], { cwd: dir });
    const m = await cli.line(/^portico listening on (http:\/\/127\.0\.0\.1:\d+) /);
    t.equal((await request(`${m[1]!}/ping`)).text, 'pong', args.join(' '));
    cli.proc.kill('SIGTERM');
    t.equal((await cli.exited).code, 0);
  }
  // A file that is not there is the usual one-line error, not a usage error.
  const missing = await runCli(t, ['nope.yaml'], { cwd: dir });
  t.same([missing.code, missing.stderr], [1, 'portico: nope.yaml: config file not found\n']);
});

t.test('start serves a function route with the handler output', async (t) => {
  const dir = t.testdir({
    'gw.yaml': `integrations:
  hello: { type: function, handler: ./handler.mjs#handler }
routes:
  GET /hello/{name}: { integration: hello }
`,
    'handler.mjs': `export async function handler(event) {
  return { statusCode: 201, headers: { 'content-type': 'text/plain' }, body: 'hi ' + event.pathParameters.name + ' at ' + event.rawPath };
}
`,
  });
  const { cli, url } = await startCli(t, join(dir, 'gw.yaml'));
  const reply = await request(`${url}/hello/ada`);
  t.equal(reply.status, 201);
  t.equal(reply.headers['content-type'], 'text/plain');
  t.equal(reply.text, 'hi ada at /hello/ada');
  t.match(reply.headers['apigw-requestid'], REQUEST_ID);
  cli.proc.kill('SIGTERM');
  t.equal((await cli.exited).code, 0);
});

t.test('SIGTERM lets in-flight requests finish and refuses new connections', async (t) => {
  const upstream = await holdingUpstream(t);
  const dir = t.testdir({ 'gw.yaml': upstreamConfig(upstream.port) });
  const { cli, url } = await startCli(t, join(dir, 'gw.yaml'));

  const inFlight = request(`${url}/slow`);
  await upstream.firstArrival;
  cli.proc.kill('SIGTERM');
  await cli.line(/^portico: SIGTERM, draining/);
  // Refused, or reset if it reached the kernel's backlog just before the listener closed.
  await t.rejects(
    request(`${url}/slow`),
    { code: /^ECONN(REFUSED|RESET)$/ },
    'no new connections while draining',
  );

  upstream.held[0]!.end('finished');
  const reply = await inFlight;
  t.same([reply.status, reply.text], [200, 'finished'], 'the in-flight request completed');
  const exit = await cli.exited;
  t.equal(exit.code, 0);
  t.match(exit.stdout, /portico: stopped\n$/);
});

t.test('a second signal while draining exits at once', async (t) => {
  await secondSignalCutsDrain(t);
});

t.test('validate: ok line and exit 0 for a good config', async (t) => {
  const dir = t.testdir({ 'good.yaml': MOCK_CONFIG });
  const ok = await runCli(t, ['validate', 'good.yaml'], { cwd: dir });
  t.same(ok, {
    code: 0,
    signal: null,
    stdout: 'good.yaml: ok (2 routes; stages: $default)\n',
    stderr: '',
  });
});

t.test('validate: one line per problem with file:line:col and config path, exit 1', async (t) => {
  const dir = t.testdir({
    'bad.yaml': [
      'server:',
      '  port: 70000',
      'integrations:',
      '  m: { type: mock, statusCode: 99 }',
      'routes:',
      '  "GET /a": { integration: m }',
      '  "GET /b": { integration: nope }',
      '',
    ].join('\n'),
    // Found when compiling, not by the schema: still located in the file.
    'compile.yaml': [
      'stages:',
      '  prod: { variables: { other: x } }',
      'integrations:',
      '  up: { type: http, url: "${stageVariables.backend}/{proxy}" }',
      'routes:',
      '  "ANY /{proxy+}": { integration: up }',
      '',
    ].join('\n'),
  });
  const bad = await runCli(t, ['validate', 'bad.yaml'], { cwd: dir });
  t.equal(bad.code, 1);
  t.equal(bad.stdout, '');
  t.same(bad.stderr.split('\n'), [
    'bad.yaml:2:9: server.port: Too big: expected number to be <=65535',
    'bad.yaml:4:32: integrations.m.statusCode: Too small: expected number to be >=200',
    'bad.yaml:7:28: routes["GET /b"].integration: no integration named "nope"; defined: m',
    'portico: bad.yaml: invalid config (3 problems)',
    '',
  ]);

  const compiled = await runCli(t, ['validate', 'compile.yaml'], { cwd: dir });
  t.equal(compiled.code, 1);
  t.same(compiled.stderr.split('\n'), [
    'compile.yaml:2:22: stages.prod.variables: stage "prod" does not define "backend", used by integrations.up.url',
    'portico: compile.yaml: invalid config (1 problem)',
    '',
  ]);
});

t.test('validate: YAML syntax errors give line and column', async (t) => {
  const dir = t.testdir({
    'quote.yaml': 'integrations:\n  m: { type: mock }\nroutes:\n  "GET /a: { integration: m }\n',
    'dup.yaml':
      'integrations:\n  m: { type: mock }\nroutes:\n  GET /a: { integration: m }\n  GET /a: { integration: m }\n',
  });
  const quote = await runCli(t, ['validate', 'quote.yaml'], { cwd: dir });
  t.equal(quote.code, 1);
  t.equal(
    quote.stderr,
    'quote.yaml:5:1: MISSING_CHAR: Missing closing "quote\nportico: quote.yaml: invalid config (1 problem)\n',
  );
  const dup = await runCli(t, ['validate', 'dup.yaml'], { cwd: dir });
  t.equal(dup.code, 1);
  t.equal(
    dup.stderr,
    'dup.yaml:5:3: DUPLICATE_KEY: Map keys must be unique\nportico: dup.yaml: invalid config (1 problem)\n',
  );
});

t.test('routes prints the table: stage, route key, integration, target', async (t) => {
  const dir = t.testdir({
    'gw.yaml': `stages:
  $default: { variables: { up: "http://127.0.0.1:9" } }
  beta: { variables: { up: "http://127.0.0.1:9/beta" } }
integrations:
  users: { type: http, url: "\${stageVariables.up}/users/{proxy}" }
  ping: { type: mock }
routes:
  ANY /users/{proxy+}: { integration: users }
  GET /ping: { integration: ping }
`,
  });
  const out = await runCli(t, ['routes', 'gw.yaml'], { cwd: dir });
  t.equal(out.code, 0);
  t.equal(out.stderr, '');
  t.equal(
    out.stdout,
    [
      'STAGE     ROUTE                INTEGRATION   TARGET',
      '$default  ANY /users/{proxy+}  users (http)  http://127.0.0.1:9/users/{proxy}',
      '$default  GET /ping            ping (mock)   mock 200',
      'beta      ANY /users/{proxy+}  users (http)  http://127.0.0.1:9/beta/users/{proxy}',
      'beta      GET /ping            ping (mock)   mock 200',
      '',
    ].join('\n'),
  );
});

t.test('schema prints the JSON Schema that config files point at', async (t) => {
  const out = await runCli(t, ['schema']);
  t.equal(out.code, 0);
  const schema = JSON.parse(out.stdout) as { title: string; properties: Record<string, unknown> };
  t.equal(schema.title, 'Portico gateway configuration');
  t.ok(schema.properties.routes && schema.properties.integrations, 'has the top-level keys');
});

t.test(
  'init writes a starter config and handler that validate, and refuses to overwrite',
  async (t) => {
    const dir = t.testdir({});
    const out = await runCli(t, ['init', 'site'], { cwd: dir });
    t.equal(out.code, 0, out.stderr);
    t.equal(
      out.stdout,
      'wrote site/portico.yaml and site/handlers/hello.mjs\n' +
        'check it:  portico validate site/portico.yaml\n' +
        'start it:  portico --config site/portico.yaml\n',
    );
    const config = readFileSync(join(dir, 'site/portico.yaml'), 'utf8');
    const schemaRef = /^# yaml-language-server: \$schema=(\S+)\n/.exec(config)?.[1];
    t.ok(
      schemaRef && existsSync(join(dir, 'site', schemaRef)),
      'the $schema modeline points at schema.json',
    );
    t.ok(existsSync(join(dir, 'site/handlers/hello.mjs')));
    const valid = await runCli(t, ['validate', 'site/portico.yaml'], { cwd: dir });
    t.same(
      [valid.code, valid.stdout, valid.stderr],
      [0, 'site/portico.yaml: ok (3 routes; stages: $default)\n', ''],
      'the starter config validates',
    );

    writeFileSync(join(dir, 'site/portico.yaml'), 'mine\n');
    const again = await runCli(t, ['init', 'site'], { cwd: dir });
    t.equal(again.code, 1);
    t.equal(
      again.stderr,
      'portico: site/portico.yaml already exists; not overwriting it (nothing was written)\n',
    );
    t.equal(readFileSync(join(dir, 'site/portico.yaml'), 'utf8'), 'mine\n', 'left as it was');
  },
);

t.test('a missing config file is one line and exit 1', async (t) => {
  const dir = t.testdir({});
  const named = await runCli(t, ['--config', 'nope.yaml'], { cwd: dir });
  t.same(
    [named.code, named.stdout, named.stderr],
    [1, '', 'portico: nope.yaml: config file not found\n'],
  );
  const byDefault = await runCli(t, [], { cwd: dir });
  t.same(
    [byDefault.code, byDefault.stderr],
    [
      1,
      'portico: portico.yaml: config file not found (create one with "portico init", or pass --config FILE)\n',
    ],
  );
});

t.test('a port in use is one line and exit 1', async (t) => {
  const { port } = await listen(t);
  const dir = t.testdir({ 'gw.yaml': MOCK_CONFIG });
  const out = await runCli(
    t,
    ['--config', 'gw.yaml', '--port', String(port), '--host', '127.0.0.1'],
    { cwd: dir },
  );
  t.same(
    [out.code, out.stdout, out.stderr],
    [1, '', `portico: port ${port} is already in use on 127.0.0.1 (choose another with --port)\n`],
  );
});

t.test('usage errors exit 2 with one line and a pointer to --help', async (t) => {
  const cases: [string[], string][] = [
    [['--bogus'], 'unknown option "--bogus"'],
    [['--port'], '--port needs a value'],
    [['--port', 'http'], '--port must be a number from 0 to 65535, got "http"'],
    [['frob'], 'unknown command "frob"'],
    [['start', 'a.yaml', 'b.yaml'], 'unexpected argument "b.yaml"'],
    [
      ['gw.yaml', '--config', 'other.yaml'],
      'give the config file once: as an argument or with --config, not both',
    ],
    [['validate', '--port', '1'], '--port applies only to "portico start"'],
    [['--workers', '0'], '--workers must be a number from 1 to 64, got "0"'],
    [['--workers', 'all'], '--workers must be a number from 1 to 64, got "all"'],
    [['-w', '65'], '--workers must be a number from 1 to 64, got "65"'],
    [['routes', '--workers', '2'], '--workers applies only to "portico start"'],
  ];
  const dir = t.testdir({});
  const results = await Promise.all(cases.map(([args]) => runCli(t, args, { cwd: dir })));
  cases.forEach(([args, message], i) => {
    const out = results[i]!;
    t.same(
      [out.code, out.stdout, out.stderr],
      [2, '', `portico: ${message}\nRun "portico --help" for usage.\n`],
      args.join(' '),
    );
  });
});

t.test('no stack traces, unless PORTICO_DEBUG=1', async (t) => {
  const dir = t.testdir({ file: 'not a folder\n' });
  // init into a path below a regular file: an unexpected filesystem error.
  const plain = await runCli(t, ['init', 'file/sub'], { cwd: dir });
  t.equal(plain.code, 1);
  t.match(plain.stderr, /^portico: ENOTDIR: not a directory, mkdir '.*'\n$/);
  t.notMatch(plain.stderr, NO_STACK);
  const debug = await runCli(t, ['init', 'file/sub'], { cwd: dir, env: { PORTICO_DEBUG: '1' } });
  t.equal(debug.code, 1);
  t.match(debug.stderr, NO_STACK, 'the stack is shown on request');
});

t.test('the bundled example serves its function, proxy and mock routes', async (t) => {
  // As `npm start` runs it, on free ports: examples/upstream.mjs preloaded into the gateway.
  const probe = await listen(t);
  const upstreamPort = probe.port;
  await new Promise((resolve) => probe.server.close(resolve));
  const dir = t.testdir({
    'portico.yaml': readFileSync(join(ROOT, 'examples/portico.yaml'), 'utf8')
      .replaceAll('127.0.0.1:8081', `127.0.0.1:${upstreamPort}`)
      .replace('port: 9090', 'port: 0'),
    handlers: { 'hello.mjs': readFileSync(join(ROOT, 'examples/handlers/hello.mjs'), 'utf8') },
  });
  const { cli, url } = await startCli(t, join(dir, 'portico.yaml'), {
    nodeArgs: ['--import', join(ROOT, 'examples/upstream.mjs')],
    env: { EXAMPLE_UPSTREAM_PORT: String(upstreamPort) },
  });
  t.match(cli.stdout, `example upstream listening on http://127.0.0.1:${upstreamPort}\n`);
  t.match(cli.stdout, '(4 routes; stages: $default at /, beta at /beta/)\n');

  const hello = await request(`${url}/hello?name=Ada`);
  t.equal(hello.status, 200);
  t.equal(hello.headers['content-type'], 'application/json');
  t.match(hello.json(), { message: 'Hello, Ada!', routeKey: 'GET /hello', stage: '$default' });
  const beta = await request(`${url}/beta/hello/Grace`);
  t.match(beta.json(), { message: 'Hi, Grace!', routeKey: 'GET /hello/{name}', stage: 'beta' });

  const proxied = await request(`${url}/api/orders/7?x=1`);
  t.equal(proxied.status, 200);
  t.match(proxied.json(), { method: 'GET', path: '/orders/7', query: 'x=1' });
  t.match((await request(`${url}/beta/api/orders/7`)).json(), { path: '/beta/orders/7' });

  const health = await request(`${url}/health`);
  t.same([health.status, health.text], [200, '{"status":"ok"}']);

  // The example's admin listener: probes and metrics count what was just served.
  const admin = await cli.line(/^portico admin on (http:\/\/127\.0\.0\.1:\d+) /);
  t.equal((await request(`${admin[1]}/readyz`)).status, 200);
  t.match(
    (await request(`${admin[1]}/metrics`)).text,
    /portico_requests_total\{[^}]*route="GET \/health"/,
  );
  cli.proc.kill('SIGTERM');
  t.equal((await cli.exited).code, 0);
});

t.test(
  'observability from the CLI: admin address printed, JSON access lines when piped',
  async (t) => {
    const dir = t.testdir({
      'gw.yaml': `accessLog: {}
admin: { port: 0 }
integrations:
  m: { type: mock, body: hi }
routes:
  GET /hi: { integration: m }
`,
    });
    const { cli, url } = await startCli(t, join(dir, 'gw.yaml'));
    const admin = await cli.line(/^portico admin on (http:\/\/127\.0\.0\.1:\d+) /);
    const reply = await request(`${url}/hi`, {
      headers: { authorization: 'Bearer cli-secret-token' },
    });
    t.equal(reply.status, 200);
    const line = await cli.line(/^\{.*"msg":"request"\}$/);
    t.match(JSON.parse(line[0]), {
      level: 'info',
      requestId: reply.headers['apigw-requestid'],
      routeKey: 'GET /hi',
      status: 200,
    });
    t.equal((await request(`${admin[1]}/readyz`)).status, 200);
    cli.proc.kill('SIGTERM');
    const exit = await cli.exited;
    t.equal(exit.code, 0);
    t.notOk(exit.stdout.includes('cli-secret-token'), 'no token in the output');
  },
);
