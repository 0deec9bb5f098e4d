/**
 * lib/trust-proxy.ts and lib/client-ip.ts: address and CIDR parsing, the client address from
 * an X-Forwarded-For chain, and end to end that the upstream, per-IP throttling and Lambda
 * events see the same client.
 */
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { ConfigError, validateConfig } from '../lib/index.ts';
import {
  clientAddress,
  compileTrustProxy,
  normalizeIp,
  parseCidr,
  parseIPv4,
} from '../lib/trust-proxy.ts';
import { request, startGateway } from './helpers/gateway.ts';
import { startRecordingUpstream } from './helpers/upstream.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

t.test('IPv4 and CIDR parsing', async (t) => {
  t.equal(parseIPv4('0.0.0.0'), 0);
  t.equal(parseIPv4('255.255.255.255'), 0xffffffff);
  t.equal(parseIPv4('10.1.2.3'), (10 << 24) + (1 << 16) + (2 << 8) + 3);
  for (const bad of [
    '',
    '1.2.3',
    '1.2.3.4.5',
    '256.1.1.1',
    '01.2.3.4',
    '1..2.3',
    'a.b.c.d',
    '1.2.3.4 ',
  ])
    t.equal(parseIPv4(bad), -1, JSON.stringify(bad));
  t.match(parseCidr('10.0.0.0/8'), { v6: false, bits: 8 });
  t.match(parseCidr('192.168.1.7'), { v6: false, bits: 32 });
  t.match(parseCidr('::1'), { v6: true, bits: 128, words: [0, 0, 0, 0, 0, 0, 0, 1] });
  t.match(parseCidr('fd00::/8'), { v6: true, bits: 8, words: [0xfd00, 0, 0, 0, 0, 0, 0, 0] });
  t.match(parseCidr('2001:db8::ff00:42:8329/64'), {
    words: [0x2001, 0xdb8, 0, 0, 0, 0xff00, 0x42, 0x8329],
  });
  t.match(parseCidr('::ffff:10.0.0.1'), { words: [0, 0, 0, 0, 0, 0xffff, 0x0a00, 1] });
  t.match(parseCidr('1:2:3:4:5:6:7:8'), { words: [1, 2, 3, 4, 5, 6, 7, 8] });
  for (const bad of [
    '10.0.0.0/33',
    '::/129',
    '10.0.0.0/',
    '10.0.0.0/x',
    '1:2:3:4:5:6:7:8:9',
    '1::2::3',
    '12345::',
    'fe80::1%eth0',
    'localhost',
    ':1',
    '1:',
  ])
    t.equal(parseCidr(bad), null, bad);
  t.equal(normalizeIp('::ffff:10.0.0.7'), '10.0.0.7');
  t.equal(normalizeIp('::ffff:abcd'), '::ffff:abcd', 'not an IPv4-mapped address');
  t.equal(normalizeIp('2001:db8::1'), '2001:db8::1');
});

t.test('trusts(): IPv4 and IPv6 ranges, true and false', async (t) => {
  const trust = compileTrustProxy(['10.0.0.0/8', '192.168.1.7', 'fd00::/8', '::1'])!;
  t.ok(trust.trusts('10.255.0.1'));
  t.notOk(trust.trusts('11.0.0.1'));
  t.ok(trust.trusts('192.168.1.7'));
  t.notOk(trust.trusts('192.168.1.8'));
  t.ok(trust.trusts('fd12:3456::1'));
  t.notOk(trust.trusts('fe80::1'));
  t.ok(trust.trusts('::1'));
  t.notOk(trust.trusts('not-an-ip'));
  t.equal(compileTrustProxy(false), null);
  t.ok(compileTrustProxy(true)!.trusts('203.0.113.1'));
  const all4 = compileTrustProxy(['0.0.0.0/0'])!;
  t.ok(all4.trusts('203.0.113.1'));
  t.notOk(all4.trusts('2001:db8::1'));
});

t.test('clientAddress(): the rightmost untrusted hop', async (t) => {
  const trust = compileTrustProxy(['10.0.0.0/8', '2001:db8::/32']);
  // Untrusted peer: its X-Forwarded-For is ignored whatever it says.
  t.equal(clientAddress('203.0.113.5', '1.1.1.1', trust), '203.0.113.5');
  t.equal(clientAddress('::ffff:203.0.113.5', undefined, trust), '203.0.113.5');
  // Trusted peer: walk the chain from the right, skipping trusted hops.
  t.equal(clientAddress('10.0.0.1', '198.51.100.7', trust), '198.51.100.7');
  t.equal(clientAddress('10.0.0.1', '6.6.6.6, 198.51.100.7, 10.0.0.2', trust), '198.51.100.7');
  t.equal(
    clientAddress('10.0.0.1', 'spoofed, 198.51.100.7', trust),
    '198.51.100.7',
    'what the client wrote at the left does not matter',
  );
  t.equal(clientAddress('10.0.0.1', '10.0.0.3, 10.0.0.2', trust), '10.0.0.3', 'all trusted');
  t.equal(clientAddress('10.0.0.1', ' 198.51.100.7:4711 ', trust), '198.51.100.7');
  t.equal(clientAddress('10.0.0.1', '[2001:db9::1]:443', trust), '2001:db9::1');
  t.equal(clientAddress('10.0.0.1', '::ffff:198.51.100.9', trust), '198.51.100.9');
  t.equal(
    clientAddress('10.0.0.1', '198.51.100.7, garbage', trust),
    '10.0.0.1',
    'a hop that is no address ends the walk at the last trusted one',
  );
  t.equal(clientAddress('10.0.0.1', '', trust), '10.0.0.1');
  t.equal(clientAddress('10.0.0.1', '198.51.100.7', null), '10.0.0.1', 'nothing trusted');
});

t.test('trustProxy is validated', async (t) => {
  const base = {
    integrations: { m: { type: 'mock' } },
    routes: { $default: { integration: 'm' } },
  };
  t.same(validateConfig({ ...base, trustProxy: ['10.0.0.0/8', '::1'] }).trustProxy, [
    '10.0.0.0/8',
    '::1',
  ]);
  t.equal(validateConfig({ ...base, trustProxy: true }).trustProxy, true);
  t.throws(() => validateConfig({ ...base, trustProxy: ['10.0.0.0/40'] } as never), ConfigError);
  t.throws(() => validateConfig({ ...base, trustProxy: [] } as never), ConfigError);
});

const THROTTLED = {
  integrations: { m: { type: 'mock', body: 'ok' } },
  routes: { 'GET /t': { integration: 'm', throttle: { rateLimit: 0, burstLimit: 1, by: 'ip' } } },
} as const;

t.test('untrusted peer: X-Forwarded-* are replaced, Forwarded is dropped', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const gw = await startGateway(
    {
      integrations: { up: { type: 'http', url: upstream.origin }, m: THROTTLED.integrations.m },
      routes: { ...THROTTLED.routes, $default: { integration: 'up' } },
    },
    { t },
  );
  await request(`${gw.url}/x`, {
    headers: {
      'x-forwarded-for': '203.0.113.9',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'evil.example',
      forwarded: 'for=203.0.113.9;proto=https',
    },
  });
  const seen = (await upstream.next()).headers;
  t.equal(seen['x-forwarded-for'], '127.0.0.1');
  t.equal(seen['x-forwarded-proto'], 'http');
  t.equal(seen['x-forwarded-host'], `127.0.0.1:${gw.port}`);
  t.equal(seen.forwarded, undefined);
  // Per-IP throttling keys on the peer: a forged X-Forwarded-For does not get a new bucket.
  const headers = (ip: string) => ({ headers: { 'x-forwarded-for': ip } });
  t.equal((await request(`${gw.url}/t`, headers('1.1.1.1'))).status, 200);
  t.equal((await request(`${gw.url}/t`, headers('2.2.2.2'))).status, 429);
});

t.test(
  'trusted peer: the chain names the client for upstream, throttling and Lambda',
  async (t) => {
    const upstream = await startRecordingUpstream(t);
    const gw = await startGateway(
      {
        trustProxy: ['127.0.0.0/8'],
        integrations: {
          up: { type: 'http', url: upstream.origin },
          echo: { type: 'function', handler: 'handlers/echo.mjs#handler' },
          m: THROTTLED.integrations.m,
        },
        routes: {
          ...THROTTLED.routes,
          'GET /echo': { integration: 'echo' },
          $default: { integration: 'up' },
        },
      },
      { t, baseDir: FIXTURES },
    );
    await request(`${gw.url}/x`, {
      headers: {
        'x-forwarded-for': '6.6.6.6, 198.51.100.7',
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'api.example.com',
        forwarded: 'for=6.6.6.6',
      },
    });
    const seen = (await upstream.next()).headers;
    t.equal(seen['x-forwarded-for'], '6.6.6.6, 198.51.100.7, 127.0.0.1', 'the chain is extended');
    t.equal(seen['x-forwarded-proto'], 'https', "the trusted proxy's scheme");
    t.equal(seen['x-forwarded-host'], 'api.example.com');
    t.equal(seen.forwarded, undefined);

    const event = (
      await request(`${gw.url}/echo`, { headers: { 'x-forwarded-for': '6.6.6.6, 198.51.100.7' } })
    ).json<{ event: { requestContext: { http: { sourceIp: string } } } }>().event;
    t.equal(event.requestContext.http.sourceIp, '198.51.100.7', 'the Lambda event agrees');

    const from = (ip: string) => request(`${gw.url}/t`, { headers: { 'x-forwarded-for': ip } });
    t.equal((await from('198.51.100.1')).status, 200);
    t.equal((await from('198.51.100.2')).status, 200, 'another client, another bucket');
    t.equal((await from('6.6.6.6, 198.51.100.1')).status, 429, 'the same client again');
  },
);
