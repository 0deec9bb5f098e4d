/**
 * `portico --workers N` (lib/cluster.ts): node:cluster processes sharing one port, run as a
 * user runs them, with real sockets. Which process answered is told by a function route
 * that returns its pid.
 */
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import {
  holdingUpstream,
  listen,
  runCli,
  secondSignalCutsDrain,
  startCli,
  upstreamConfig,
} from './helpers/cli.ts';
import { request } from './helpers/gateway.ts';

// Each subtest runs its own processes on its own ports: run a few at once.
t.jobs = 3;

const MOCK_CONFIG = `integrations:
  ping: { type: mock, body: pong }
routes:
  GET /ping: { integration: ping }
`;

/** A function route answering with the pid of the process that ran it. */
const PID_CONFIG = {
  'gw.yaml': `integrations:
  pid: { type: function, handler: ./pid.mjs#handler }
routes:
  GET /pid: { integration: pid }
`,
  'pid.mjs': `export async function handler() {
  return { statusCode: 200, body: String(process.pid) };
}
`,
};

/**
 * Pids that answered, over fresh connections, until `enough` says stop: the primary hands
 * connections to its workers in turn, so a few requests reach each. Bounded in count.
 */
async function answeringPids(url: string, enough: (pids: Set<number>) => boolean) {
  const pids = new Set<number>();
  for (let i = 0; i < 200 && !enough(pids); i++) {
    const reply = await request(`${url}/pid`);
    if (reply.status === 200) pids.add(Number(reply.text));
  }
  return pids;
}

/** A GET's body, or null on an error or after `ms` (a worker may die holding the connection). */
function textWithin(url: string, ms: number): Promise<string | null> {
  return new Promise((resolve) => {
    const req = get(url, { agent: false, timeout: ms }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve(body));
      res.on('error', () => resolve(null));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

t.test(
  '--workers 2: two processes serve one port; one that dies is replaced; SIGTERM stops all',
  async (t) => {
    const dir = t.testdir(PID_CONFIG);
    const { cli, url } = await startCli(t, join(dir, 'gw.yaml'), { args: ['--workers', '2'] });
    t.match(
      cli.stdout,
      /^portico listening on http:\/\/127\.0\.0\.1:\d+ \(1 route; stages: \$default at \/; 2 workers\)\n$/,
      'one line for the cluster',
    );
    const first = await answeringPids(url, (p) => p.size >= 2);
    t.equal(first.size, 2, 'two processes answered');
    t.notOk(first.has(cli.proc.pid!), 'the primary serves nothing');

    const [victim, survivor] = [...first] as [number, number];
    process.kill(victim, 'SIGKILL');
    const again = await cli.line(/^portico: worker \d listening again \(pid (\d+)\)$/);
    const replacement = Number(again[1]);
    t.match(cli.stderr, `(pid ${victim}) exited (SIGKILL); starting another in 100 ms\n`);
    const after = await answeringPids(url, (p) => p.has(replacement) && p.has(survivor));
    t.same([...after].sort(), [survivor, replacement].sort(), 'the replacement serves');

    cli.proc.kill('SIGTERM');
    const exit = await cli.exited;
    t.equal(exit.code, 0, 'SIGTERM exits 0');
    t.match(exit.stdout, /\nportico: SIGTERM, draining in-flight requests .*\nportico: stopped\n$/);
    t.equal(exit.stdout.match(/draining/g)?.length, 1, 'the primary alone reports the drain');
    t.notOk(alive(survivor) || alive(replacement), 'every worker has exited');
  },
);

t.test('--workers: SIGTERM lets in-flight requests finish in every worker', async (t) => {
  const upstream = await holdingUpstream(t);
  const dir = t.testdir({ 'gw.yaml': upstreamConfig(upstream.port) });
  const { cli, url } = await startCli(t, join(dir, 'gw.yaml'), { args: ['--workers', '2'] });

  // Two requests on fresh connections: one for each worker.
  const inFlight = [request(`${url}/slow`), request(`${url}/slow`)];
  await upstream.holding(2);
  cli.proc.kill('SIGTERM');
  await cli.line(/^portico: SIGTERM, draining/);
  for (const res of upstream.held) res.end('finished');
  for (const reply of await Promise.all(inFlight)) {
    t.same([reply.status, reply.text], [200, 'finished'], 'an in-flight request completed');
  }
  const exit = await cli.exited;
  t.equal(exit.code, 0);
  t.match(exit.stdout, /portico: stopped\n$/);
});

t.test('--workers: a second signal while draining exits at once', async (t) => {
  await secondSignalCutsDrain(t, ['--workers', '2']);
});

t.test('server.workers starts a cluster; --workers 1 overrides it', async (t) => {
  const dir = t.testdir({
    ...PID_CONFIG,
    'gw.yaml': `server: { workers: 2 }\n${PID_CONFIG['gw.yaml']}`,
  });
  const clustered = await startCli(t, join(dir, 'gw.yaml'));
  t.match(clustered.cli.stdout, /; 2 workers\)\n$/);
  const pids = await answeringPids(clustered.url, (p) => p.size >= 2);
  t.equal(pids.size, 2);
  clustered.cli.proc.kill('SIGTERM');
  t.equal((await clustered.cli.exited).code, 0);

  const single = await startCli(t, join(dir, 'gw.yaml'), { args: ['--workers', '1'] });
  // A single process: no "N workers" in its line (the watcher's line may follow it).
  t.match(single.cli.stdout, /^portico listening on \S+ \(1 route; stages: \$default at \/\)$/m);
  const reply = await request(`${single.url}/pid`);
  t.equal(Number(reply.text), single.cli.proc.pid, 'the process itself serves');
  single.cli.proc.kill('SIGTERM');
  t.equal((await single.cli.exited).code, 0);
});

t.test('--workers: a port in use is reported once, exit 1', async (t) => {
  const { port } = await listen(t);
  const dir = t.testdir({ 'gw.yaml': MOCK_CONFIG });
  const out = await runCli(
    t,
    ['--config', 'gw.yaml', '--port', String(port), '--host', '127.0.0.1', '--workers', '3'],
    { cwd: dir },
  );
  t.same(
    [out.code, out.stdout, out.stderr],
    [1, '', `portico: port ${port} is already in use on 127.0.0.1 (choose another with --port)\n`],
  );
});

t.test('--workers: SIGHUP reaches every worker, which then serves the edited file', async (t) => {
  const dir = t.testdir({
    'gw.yaml': `integrations:
  m: { type: mock, body: one }
routes:
  GET /m: { integration: m }
`,
  });
  const { cli, url } = await startCli(t, join(dir, 'gw.yaml'), { args: ['--workers', '2'] });
  t.equal((await request(`${url}/m`)).text, 'one');
  writeFileSync(
    join(dir, 'gw.yaml'),
    readFileSync(join(dir, 'gw.yaml'), 'utf8').replace('one', 'two'),
  );
  cli.proc.kill('SIGHUP');
  // Connections alternate between the workers: ten "two" in a row means both have it.
  // Bounded poll: the reload happens in other processes, with nothing to await here.
  let streak = 0;
  const deadline = Date.now() + 20_000;
  while (streak < 10 && Date.now() < deadline) {
    streak = (await textWithin(`${url}/m`, 2_000)) === 'two' ? streak + 1 : 0;
  }
  t.equal(streak, 10, 'every worker serves the new config', {
    stdout: cli.stdout,
    stderr: cli.stderr,
  });
  t.ok(cli.running, 'the primary kept running');
  cli.proc.kill('SIGTERM');
  t.equal((await cli.exited).code, 0);
});

t.test('server.workers is checked like every key', async (t) => {
  const dir = t.testdir({ 'gw.yaml': `server: { workers: 0 }\n${MOCK_CONFIG}` });
  const out = await runCli(t, ['validate', 'gw.yaml'], { cwd: dir });
  t.equal(out.code, 1);
  t.match(out.stderr, /^gw\.yaml:1:20: server\.workers: Too small: expected number to be >=1\n/);
});
