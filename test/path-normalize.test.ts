/**
 * lib/path-normalize.ts: the canonical path, and end to end that a route behind an
 * authorizer cannot be reached by another spelling of its path, with what the client got
 * and what the upstream received asserted for each spelling.
 */
import t from 'tap';
import { connect } from 'node:net';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { normalizePath } from '../lib/path-normalize.ts';
import { startGateway, type RunningGateway } from './helpers/gateway.ts';
import { startRecordingUpstream } from './helpers/upstream.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

t.test('normalizePath: the canonical form', async (t) => {
  const same = ['/', '/a', '/a/b', '/pets/{id}', '/a-b_c~d', '/caf%C3%A9', '/a:b@c', '/A/B'];
  for (const path of same) t.equal(normalizePath(path), path, `${path} is canonical`);
  const unchanged = '/already/canonical/path';
  t.equal(normalizePath(unchanged), unchanged, 'the fast path returns the same string');
  const cases: Array<[string, string]> = [
    ['//admin', '/admin'],
    ['/a//b///c', '/a/b/c'],
    ['/admin/', '/admin'],
    ['/admin//', '/admin'],
    ['/%61dmin', '/admin'],
    ['/%7Euser/%2D%5F', '/~user/-_'],
    ['/public/../admin', '/admin'],
    ['/a/./b/.', '/a/b'],
    ['/a/b/..', '/a'],
    ['/..', '/'],
    ['/../../x', '/x'],
    ['/%2e%2e/admin', '/admin'],
    ['/public/%2E%2e/admin', '/admin'],
    ['/public/.%2e/admin', '/admin'],
    ['/admin%2F..', '/'],
    ['/public/..%2fadmin', '/admin'],
    ['/a%2Fb', '/a/b'],
    ['/a%252Fb', '/a%252Fb'],
    ['/a%3bb', '/a%3Bb'],
    ['/a%3Fb%23c', '/a%3Fb%23c'],
    ['/caf%c3%a9', '/caf%C3%A9'],
    ['/a..b/.hidden/...', '/a..b/.hidden/...'],
    ['/a%20b', '/a%20b'],
  ];
  for (const [input, expected] of cases) t.equal(normalizePath(input), expected, input);
  for (const refused of [
    '/admin;x',
    '/a;b/c',
    '/a\\b',
    '/a%5Cb',
    '/a%5cb',
    '/a%00b',
    '/a#b',
    '/a%',
    '/a%2',
    '/a%zz',
    '/a%2G',
  ]) {
    t.equal(normalizePath(refused), null, `${refused} is refused`);
  }
  t.equal(normalizePath('/ADMIN'), '/ADMIN', 'case is kept: routes are case-sensitive');
  for (const path of ['/a/./b/', '//x//', '/%2e/%2E%2e/y/']) {
    const once = normalizePath(path)!;
    t.equal(normalizePath(once), once, `${path}: normalising twice changes nothing`);
  }
});

/** Sends one request with an exact target (no client-side URL cleaning) on a fresh socket. */
async function send(gw: RunningGateway, target: string): Promise<number> {
  const socket = connect(gw.port, '127.0.0.1');
  await once(socket, 'connect');
  // write(), not end(): the gateway reads a half-closed connection as a client that left.
  socket.write(`GET ${target} HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n`);
  let out = '';
  socket.setEncoding('latin1');
  for await (const chunk of socket) out += chunk;
  return Number(/^HTTP\/1\.1 (\d{3}) /.exec(out)?.[1] ?? 0);
}

t.test('a route behind an authorizer cannot be reached by another spelling', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const gw = await startGateway(
    {
      integrations: {
        admin: { type: 'http', url: `${upstream.origin}/admin` },
        adminTree: { type: 'http', url: `${upstream.origin}/admin/{proxy}` },
        pub: { type: 'http', url: `${upstream.origin}/public/{proxy}` },
        rest: { type: 'http', url: upstream.origin },
      },
      authorizers: {
        fn: {
          type: 'function',
          handler: 'authorizers/token.mjs#simple',
          enableSimpleResponses: true,
          identitySource: ['$request.header.Authorization'],
        },
      },
      routes: {
        'ANY /admin': { integration: 'admin', authorizer: 'fn' },
        'ANY /admin/{proxy+}': { integration: 'adminTree', authorizer: 'fn' },
        'GET /public/{proxy+}': { integration: 'pub' },
        $default: { integration: 'rest' },
      },
    },
    { t, baseDir: FIXTURES },
  );
  // No credentials: a spelling that reaches /admin must meet the authorizer (401).
  const protectedSpellings = [
    '/admin',
    '//admin',
    '/admin/',
    '/%61dmin',
    '/%61%64%6d%69%6e',
    '/public/../admin',
    '/public/%2e%2e/admin',
    '/public/..%2Fadmin',
    '/%2e%2e/admin',
    '/./admin/.',
    '/admin/x/..',
    '/admin/secret',
    '//admin//secret',
    '/public/../admin/secret',
  ];
  for (const target of protectedSpellings) {
    t.equal(await send(gw, target), 401, `${target}: the authorizer ran`);
  }
  t.equal(upstream.requests.length, 0, 'no unauthenticated request reached the upstream');

  for (const target of ['/admin;x', '/admin;x/secret', '/a\\..\\admin', '/admin%5C', '/adm%00in']) {
    t.equal(await send(gw, target), 400, `${target}: refused`);
  }
  t.equal(upstream.requests.length, 0);

  // Spellings that route elsewhere are forwarded as routed, never as /admin.
  const elsewhere: Array<[string, string]> = [
    ['/ADMIN', '/ADMIN'],
    ['/Admin/secret', '/Admin/secret'],
    ['/admin%2F..', '/'],
    ['/public/a/%2e%2e/b', '/public/b'],
    ['/public/x%3Badmin', '/public/x%3Badmin'],
    ['/adminx', '/adminx'],
  ];
  for (const [target, forwarded] of elsewhere) {
    t.equal(await send(gw, target), 200, target);
    t.equal(
      (await upstream.next()).url,
      forwarded,
      `${target} reaches the upstream as ${forwarded}`,
    );
  }
  t.equal(upstream.requests.length, elsewhere.length);
});
