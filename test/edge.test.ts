/**
 * The edge of the gateway, driven with raw sockets: listener limits (lib/listener-options.ts),
 * request smuggling and malformed requests (refused with a JSON 400 and a closed connection,
 * never forwarded), the re-serialised upstream request, and response splitting.
 */
import t from 'tap';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { GatewayConfigInput } from '../lib/index.ts';
import { startGateway, type RunningGateway } from './helpers/gateway.ts';
import {
  readRequestHead,
  startRawUpstream,
  startRecordingUpstream,
  type Teardown,
} from './helpers/upstream.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const SMUGGLED = 'GET /admin HTTP/1.1\r\nHost: x\r\n\r\n';

/** An upstream that keeps every byte it receives and answers each request head with 200. */
async function rawRecorder(t: Teardown) {
  const received: Buffer[] = [];
  const upstream = await startRawUpstream(t, (socket) => {
    socket.on('data', (chunk: Buffer) => {
      received.push(chunk);
      // The gateway's requests here have no body: a head's end is a request's end.
      if (chunk.includes('\r\n\r\n'))
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    });
  });
  return { upstream, bytes: () => Buffer.concat(received).toString('latin1') };
}

/** Writes raw bytes on a new connection (without half-closing) and reads until it closes. */
async function exchange(port: number, payload: string): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(Buffer.from(payload, 'latin1'));
  return readAll(socket);
}

async function readAll(socket: Socket): Promise<string> {
  let out = '';
  socket.setEncoding('latin1');
  try {
    for await (const chunk of socket) out += chunk;
  } catch {
    // A reset after the answer is still a closed connection.
  }
  return out;
}

function statusOf(reply: string): number {
  return Number(/^HTTP\/1\.1 (\d{3}) /.exec(reply)?.[1] ?? 0);
}

function httpGateway(origin: string, extra: Partial<GatewayConfigInput> = {}) {
  return {
    ...extra,
    integrations: {
      up: { type: 'http', url: origin },
      echo: { type: 'function', handler: 'handlers/echo.mjs#handler' },
    },
    routes: { 'POST /fn': { integration: 'echo' }, $default: { integration: 'up' } },
  } as const satisfies GatewayConfigInput;
}

t.test('ambiguous or malformed requests: 400, connection closed, nothing forwarded', async (t) => {
  const { upstream, bytes } = await rawRecorder(t);
  const gw = await startGateway(httpGateway(upstream.origin), { t, baseDir: FIXTURES });
  const post = (headers: string, body: string) =>
    `POST /x HTTP/1.1\r\nHost: gw.test\r\n${headers}\r\n${body}${SMUGGLED}`;
  const cases: Record<string, string> = {
    'Content-Length with Transfer-Encoding': post(
      'Content-Length: 6\r\nTransfer-Encoding: chunked\r\n',
      '0\r\n\r\n',
    ),
    'Transfer-Encoding with Content-Length': post(
      'Transfer-Encoding: chunked\r\nContent-Length: 6\r\n',
      '0\r\n\r\n',
    ),
    'duplicate Content-Length': post('Content-Length: 1\r\nContent-Length: 1\r\n', 'a'),
    'Content-Length list': post('Content-Length: 1, 1\r\n', 'a'),
    'Content-Length with a sign': post('Content-Length: +1\r\n', 'a'),
    'negative Content-Length': post('Content-Length: -1\r\n', 'a'),
    'hex Content-Length': post('Content-Length: 0x1\r\n', 'a'),
    'Content-Length with a space': post('Content-Length: 1 1\r\n', 'a'),
    'Transfer-Encoding not ending in chunked': post(
      'Transfer-Encoding: chunked, identity\r\n',
      '0\r\n\r\n',
    ),
    'unknown Transfer-Encoding': post('Transfer-Encoding: xchunked\r\n', '0\r\n\r\n'),
    'two Transfer-Encoding lines': post(
      'Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n',
      '0\r\n\r\n',
    ),
    'space before the colon': post('Transfer-Encoding : chunked\r\n', '0\r\n\r\n'),
    'NUL in a header value': post('X-A: b\x00c\r\nContent-Length: 0\r\n', ''),
    'control character in a header value': post('X-A: b\x01c\r\nContent-Length: 0\r\n', ''),
    'bare CR in a header value': post('X-A: b\rc\r\nContent-Length: 0\r\n', ''),
    'space in a header name': post('X A: b\r\nContent-Length: 0\r\n', ''),
    'obsolete line folding': post('X-A: b\r\n c\r\nContent-Length: 0\r\n', ''),
    'bare LF line endings': `GET /x HTTP/1.1\nHost: gw.test\n\n${SMUGGLED}`,
    'two Host lines': `GET /x HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n${SMUGGLED}`,
    'no Host': `GET /x HTTP/1.1\r\n\r\n${SMUGGLED}`,
    'non-ASCII in the target': `GET /caf\xe9 HTTP/1.1\r\nHost: gw.test\r\n\r\n${SMUGGLED}`,
  };
  for (const [name, payload] of Object.entries(cases)) {
    const reply = await exchange(gw.port, payload);
    t.equal(statusOf(reply), 400, name);
    t.match(reply, /\r\ncontent-type: application\/json\r\n/i, `${name}: JSON`);
    t.match(reply, /\{"message":"Bad Request"\}$/, `${name}: AWS-style body, then the end`);
    t.notMatch(reply, /HTTP\/1\.1 [0-9]{3}[^]*HTTP\/1\.1/, `${name}: one response only`);
  }
  t.equal(bytes(), '', 'the upstream received nothing at all');

  // A bad chunk size is found after the head was routed: the upstream may see the start
  // of that request, never a complete one, and never what followed it.
  const reply = await exchange(
    gw.port,
    post('Transfer-Encoding: chunked\r\n', 'fffffffffffffffffff\r\n'),
  );
  t.equal(statusOf(reply), 400, 'chunk size overflow');
  t.notMatch(bytes(), /\/admin/, 'the smuggled request never reached the upstream');
  t.equal(
    statusOf(
      await exchange(gw.port, 'GET /ok HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n'),
    ),
    200,
  );
});

t.test('the upstream request is written by the gateway, not copied', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const gw = await startGateway(httpGateway(upstream.origin), { t, baseDir: FIXTURES });
  const reply = await exchange(
    gw.port,
    'POST /a HTTP/1.1\r\nHOST: gw.test\r\nContent-Length: 005\r\nX-Spaced:   padded value  \r\n' +
      'Connection: close\r\n\r\nhello',
  );
  t.equal(statusOf(reply), 200);
  const seen = await upstream.next();
  t.equal(seen.headers['content-length'], '5', 'the length is re-serialised');
  t.equal(seen.headers['x-spaced'], 'padded value', 'values trimmed as parsed');
  t.equal(seen.body.toString(), 'hello');
  await exchange(
    gw.port,
    'POST /b HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n' +
      '3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n',
  );
  const chunked = await upstream.next();
  t.equal(chunked.body.toString(), 'abcde', 'chunk extensions and trailers are not forwarded');
  t.notOk(
    chunked.rawHeaders.some((h) => /ext=|x-trailer/i.test(h)),
    'nothing of the client framing reaches the upstream',
  );
});

t.test('limits: 431, 414, 413 (chunked too), each with a JSON body', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const gw = await startGateway(
    httpGateway(upstream.origin, { limits: { maxBodyBytes: 1000, maxUrlLength: 2048 } }),
    { t, baseDir: FIXTURES },
  );
  const big = await exchange(
    gw.port,
    `GET / HTTP/1.1\r\nHost: gw.test\r\nX-Big: ${'a'.repeat(10 * 1024)}\r\n\r\n`,
  );
  t.equal(statusOf(big), 431, 'request line and headers over 10 KB');
  t.match(big, /\{"message":"Request Header Fields Too Large"\}$/);
  const fits = await exchange(
    gw.port,
    `GET / HTTP/1.1\r\nHost: gw.test\r\nX-Big: ${'a'.repeat(9 * 1024)}\r\nConnection: close\r\n\r\n`,
  );
  t.equal(statusOf(fits), 200, 'a 9 KB header fits');
  t.equal((await upstream.next()).headers['x-big']?.length, 9 * 1024);

  const long = await exchange(
    gw.port,
    `GET /${'a'.repeat(2048)} HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n`,
  );
  t.equal(statusOf(long), 414);
  t.match(long, /\{"message":"Request-URI Too Long"\}$/);

  for (const target of ['/x', '/fn']) {
    const chunked = await exchange(
      gw.port,
      `POST ${target} HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: chunked\r\n\r\n` +
        `400\r\n${'a'.repeat(1024)}\r\n`,
    );
    t.equal(statusOf(chunked), 413, `${target}: a chunked body over maxBodyBytes`);
    t.match(chunked, /\{"message":"Request Entity Too Large"\}$/);
  }
  t.equal(upstream.requests.length, 1, 'only the request that fitted was forwarded');

  // A deploy applies new limits to the running listener.
  await gw.gateway.deploy(httpGateway(upstream.origin, { limits: { maxUrlLength: 64 } }));
  const after = await exchange(
    gw.port,
    `GET /${'b'.repeat(80)} HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n`,
  );
  t.equal(statusOf(after), 414);
});

t.test('slow clients are answered 408 and dropped; idle connections are closed', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const gw = await startGateway(
    httpGateway(upstream.origin, {
      limits: { headersTimeoutMs: 200, requestTimeoutMs: 400, keepAliveTimeoutMs: 200 },
    }),
    { t, baseDir: FIXTURES },
  );
  // Headers that never end (slowloris).
  const headers = await exchange(gw.port, 'GET / HTTP/1.1\r\nHost: gw.test\r\nX-A: 1\r\n');
  t.equal(statusOf(headers), 408, 'unfinished headers');
  t.match(headers, /\{"message":"Request Timeout"\}$/);
  // A connection that sends nothing.
  const silent = await exchange(gw.port, '');
  t.ok(silent === '' || statusOf(silent) === 408, 'a silent connection is closed');
  // A body that never ends, to a function integration (which waits for the whole body).
  const body = await exchange(
    gw.port,
    'POST /fn HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 10\r\n\r\nabc',
  );
  t.equal(statusOf(body), 408, 'an unfinished body');
  // An idle keep-alive connection is closed after keepAliveTimeoutMs.
  const socket = connect(gw.port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write('GET /k HTTP/1.1\r\nHost: gw.test\r\n\r\n');
  const idle = await readAll(socket);
  t.equal(statusOf(idle), 200);
  t.match(idle, /keep-alive/i, 'the connection was kept alive, then closed by the gateway');
  t.equal(upstream.requests.length, 1, 'only the complete request was forwarded');
});

t.test('maxConnections: connections over the limit are closed on accept', async (t) => {
  const gw: RunningGateway = await startGateway(
    {
      limits: { maxConnections: 2 },
      integrations: { m: { type: 'mock', body: 'ok' } },
      routes: { $default: { integration: 'm' } },
    },
    { t },
  );
  const open: Socket[] = [];
  t.teardown(() => open.forEach((s) => s.destroy()));
  for (let i = 0; i < 2; i++) {
    const s = connect(gw.port, '127.0.0.1');
    open.push(s);
    await once(s, 'connect');
    s.write('GET / HTTP/1.1\r\nHost: gw.test\r\n\r\n');
    // An answer proves the gateway accepted and counts this connection.
    await once(s, 'data');
  }
  const refused = await exchange(gw.port, 'GET / HTTP/1.1\r\nHost: gw.test\r\n\r\n');
  t.equal(refused, '', 'the third connection is closed without an answer');
  open.pop()!.destroy();
  // Wait until the server has seen that close (a bounded poll on an OS event).
  const deadline = Date.now() + 5_000;
  let reply = '';
  while (Date.now() < deadline) {
    reply = await exchange(gw.port, 'GET / HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n');
    if (reply !== '') break;
  }
  t.equal(statusOf(reply), 200, 'a slot freed is a slot reused');
});

t.test(
  'response splitting: CR/LF from upstreams or functions never reach the client',
  async (t) => {
    let payload = '';
    const upstream = await startRawUpstream(t, (socket) => {
      void readRequestHead(socket).then(
        () => socket.end(payload),
        () => socket.destroy(),
      );
    });
    const gw = await startGateway(httpGateway(upstream.origin), { t, baseDir: FIXTURES });
    for (const [name, head] of [
      ['bare CR', 'X-A: a\rSet-Cookie: evil=1\r\n'],
      ['bare LF', 'X-A: a\nSet-Cookie: evil=1\r\n'],
      ['obsolete folding', 'X-A: a\r\n Set-Cookie: evil=1\r\n'],
      ['NUL', 'X-A: a\x00b\r\n'],
    ] as const) {
      payload = `HTTP/1.1 200 OK\r\n${head}Content-Length: 2\r\n\r\nok`;
      const reply = await exchange(
        gw.port,
        'GET /x HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n',
      );
      t.notMatch(reply, /\r\nset-cookie:/i, `${name}: no header injected`);
      t.equal(statusOf(reply), 502, `${name}: the upstream response is refused`);
    }
    t.equal(
      statusOf(
        await exchange(
          gw.port,
          'POST /fn HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
        ),
      ),
      200,
      'the gateway is still serving',
    );
  },
);
