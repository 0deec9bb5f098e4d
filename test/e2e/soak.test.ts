/**
 * A bounded soak: about 18 s of good requests mixed with hostile traffic (smuggling
 * attempts, malformed heads, oversized headers and bodies, slowloris, bad paths, clients
 * that leave mid-request) at concurrency, against `node dist/bin/portico.js` in a child
 * process. Asserts the gateway stays up, its RSS stays bounded, its file descriptors return
 * to the baseline, and every good request the upstream saw is a 2xx the client saw.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startHttpUpstream } from '../helpers/upstream.ts';

const BIN = fileURLToPath(new URL('../../dist/bin/portico.js', import.meta.url));
const DURATION_MS = 18_000;
const CONCURRENCY = 24;

function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) * 1024;
}

/** Writes raw bytes, reads until the gateway closes the connection; resolves with the text. */
async function raw(port: number, payload: string, end = false): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  socket.setEncoding('latin1');
  let out = '';
  socket.on('data', (c: string) => (out += c));
  await once(socket, 'connect');
  if (end) socket.end(payload);
  else socket.write(payload);
  await once(socket, 'close');
  return out;
}

t.test('soak: mixed good and hostile traffic', { timeout: 90_000 }, async (t) => {
  let upstreamGood = 0;
  const upstream = await startHttpUpstream(t, (req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url === '/good') upstreamGood++;
      res.end('ok');
    });
  });
  // Idle upstream connections are dropped soon, so the gateway's pool sockets settle too.
  upstream.server.keepAliveTimeout = 1_000;

  const dir = t.testdir({});
  const configFile = join(dir, 'portico.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      limits: {
        maxBodyBytes: 16 * 1024,
        headersTimeoutMs: 1_000,
        requestTimeoutMs: 2_000,
        keepAliveTimeoutMs: 1_000,
      },
      integrations: {
        up: { type: 'http', url: `${upstream.origin}/{proxy}` },
        m: { type: 'mock', body: 'mock' },
      },
      routes: { 'ANY /{proxy+}': { integration: 'up' }, 'GET /': { integration: 'm' } },
    }),
  );
  const child = spawn(
    process.execPath,
    [BIN, '--config', configFile, '--port', '0', '--host', '127.0.0.1'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  // Keep reading stdout for the child's whole life: leaving a `for await` over it would
  // destroy the pipe, and the gateway's next line (the watcher's) would then fail with EPIPE.
  let stdout = '';
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(stdout);
      if (m !== null) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`gateway exited (${code}): ${stderr}`)));
  });
  const pid = child.pid!;

  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  t.teardown(() => agent.destroy());
  const get = (path: string, body?: Buffer) =>
    new Promise<number>((resolve) => {
      const req = httpRequest(
        { port, host: '127.0.0.1', path, method: body ? 'POST' : 'GET', agent },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode!));
          res.on('error', () => resolve(0));
        },
      );
      req.on('error', () => resolve(0));
      req.end(body);
    });

  // Warm up (upstream pool, lazily loaded modules), then take the baseline.
  let warm = 0;
  for (let i = 0; i < 20; i++) if ((await get('/warm')) === 200) warm++;
  t.equal(warm, 20, 'warm-up requests');
  agent.destroy();
  const fdBefore = fdCount(pid);
  const rssBefore = rssBytes(pid);

  let clientGood = 0;
  let goodSent = 0;
  const hostile: Record<string, number> = {};
  const expectStatus = (kind: string, reply: string, status: number) => {
    hostile[kind] = (hostile[kind] ?? 0) + 1;
    if (!reply.startsWith(`HTTP/1.1 ${status} `) && reply !== '')
      t.fail(`${kind}: expected ${status}, got ${JSON.stringify(reply.slice(0, 40))}`);
  };
  const body = Buffer.alloc(1024, 'b');
  const kinds = [
    async () => {
      goodSent++;
      if ((await get('/good')) === 200) clientGood++;
    },
    async () => {
      goodSent++;
      if ((await get('/good', body)) === 200) clientGood++;
    },
    async () =>
      expectStatus(
        'smuggle',
        await raw(
          port,
          'POST /good HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /good HTTP/1.1\r\nHost: x\r\n\r\n',
        ),
        400,
      ),
    async () =>
      expectStatus(
        'badHeader',
        await raw(port, 'GET /good HTTP/1.1\r\nHost: x\r\nX: a\x01b\r\n\r\n'),
        400,
      ),
    async () =>
      expectStatus(
        'bigHeader',
        await raw(port, `GET /good HTTP/1.1\r\nHost: x\r\nX: ${'a'.repeat(12_000)}\r\n\r\n`),
        431,
      ),
    async () =>
      expectStatus(
        'bigBody',
        await raw(
          port,
          `POST /good HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n8000\r\n${'c'.repeat(0x8000)}\r\n`,
        ),
        413,
      ),
    async () =>
      expectStatus(
        'slowloris',
        await raw(port, 'GET /good HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n'),
        408,
      ),
    async () =>
      expectStatus(
        'badPath',
        await raw(port, 'GET /good;x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
        400,
      ),
    async () => {
      // A client that leaves mid-upload.
      hostile.abort = (hostile.abort ?? 0) + 1;
      const s = connect(port, '127.0.0.1');
      await once(s, 'connect');
      s.write('POST /aborted HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc');
      s.destroy();
    },
  ];

  const deadline = Date.now() + DURATION_MS;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, w) => {
      for (let i = w; Date.now() < deadline; i++) await kinds[i % kinds.length]!();
    }),
  );
  agent.destroy();

  t.equal(child.exitCode, null, 'the gateway is still running');
  t.equal(await get('/'), 200, 'and still serving');
  t.ok(goodSent > 100, `good requests sent: ${goodSent}`);
  t.equal(
    upstreamGood,
    clientGood,
    `upstream saw ${upstreamGood} good requests, the client ${clientGood} 2xx`,
  );
  t.equal(clientGood, goodSent, 'every good request succeeded');
  t.ok(Object.keys(hostile).length >= 7, `hostile requests: ${JSON.stringify(hostile)}`);

  // Descriptors return once idle connections time out (a bounded poll on an OS state).
  let fdAfter = fdCount(pid);
  const settle = Date.now() + 15_000;
  while (fdAfter > fdBefore && Date.now() < settle) {
    await new Promise((r) => setTimeout(r, 200));
    fdAfter = fdCount(pid);
  }
  t.ok(fdAfter <= fdBefore, `file descriptors: ${fdBefore} before, ${fdAfter} after`);
  const rssAfter = rssBytes(pid);
  t.ok(
    rssAfter < rssBefore + 128 * 1024 * 1024,
    `RSS: ${(rssBefore / 1048576).toFixed(1)} MB before, ${(rssAfter / 1048576).toFixed(1)} MB after`,
  );
  t.notMatch(stderr, /uncaught|FATAL|heap out of memory/i, 'no crash logged');

  child.kill('SIGTERM');
  const [code] = (await once(child, 'exit')) as [number | null];
  t.equal(code, 0, 'a clean exit on SIGTERM');
});
