/**
 * The HTTPS listener (lib/tls.ts) against certificates made at test time with openssl in a
 * temporary folder (no private key is committed): a request verified against the test CA,
 * certificate rotation by deploy() on a live keep-alive connection, mTLS required and
 * optional, and the client certificate as AWS hands it to functions (payload 2.0 and 1.0).
 */
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent, request as httpsRequest, type RequestOptions } from 'node:https';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import t from 'tap';
import { ConfigError } from '../lib/errors.ts';
import { startCli } from './helpers/cli.ts';
import { startGateway, type RunningGateway } from './helpers/gateway.ts';

interface Pair {
  readonly cert: string;
  readonly key: string;
}

// A fresh P-256 key, unencrypted (fast to make; only ever in the test's temp folder).
const NEW_EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** A self-signed CA in `dir`, named `name`. */
function makeCa(dir: string, name: string, cn: string): Pair {
  const pair = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  openssl([
    'req',
    '-x509',
    ...NEW_EC_KEY,
    '-keyout',
    pair.key,
    '-out',
    pair.cert,
    '-subj',
    `/CN=${cn}`,
    '-days',
    '2',
  ]);
  return pair;
}

/** A leaf certificate signed by `ca`, with the given subject, serial and extensions. */
function makeLeaf(
  dir: string,
  name: string,
  ca: Pair,
  subject: string,
  serial: string,
  extensions: string,
): Pair {
  const pair = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, extensions);
  openssl(['req', '-new', ...NEW_EC_KEY, '-keyout', pair.key, '-out', csr, '-subj', subject]);
  openssl([
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.cert,
    '-CAkey',
    ca.key,
    '-set_serial',
    serial,
    '-days',
    '2',
    '-out',
    pair.cert,
    '-extfile',
    ext,
  ]);
  return pair;
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

const SERVER_EXT = 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n';
const CLIENT_EXT = 'extendedKeyUsage=clientAuth\n';

/** Every certificate the tests use, made once in one temporary folder. */
function makePki(dir: string) {
  const ca = makeCa(dir, 'ca', 'Portico Test CA');
  const clientCa = makeCa(dir, 'client-ca', 'Portico Client CA');
  const strangerCa = makeCa(dir, 'stranger-ca', 'Stranger CA');
  return {
    ca,
    clientCa,
    server1: makeLeaf(dir, 'server-1', ca, '/CN=server-1', '0x01', SERVER_EXT),
    server2: makeLeaf(dir, 'server-2', ca, '/CN=server-2', '0x02', SERVER_EXT),
    client: makeLeaf(
      dir,
      'client',
      clientCa,
      '/CN=client-1/O=Portico Tests',
      '0x0a1b2c',
      CLIENT_EXT,
    ),
    stranger: makeLeaf(dir, 'stranger', strangerCa, '/CN=stranger', '0x03', CLIENT_EXT),
  };
}

const dir = t.testdir({
  'echo.mjs': `export const handler = async (event) => ({
    statusCode: 200,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(event.requestContext),
  });\n`,
});
const pki = makePki(dir);

/** Writes `gateway.json` in the temp folder: cert/key as `live.crt`/`live.key`, copied from `pair`. */
function writeConfig(
  pair: Pair,
  tls: { clientCa?: string; requireClientCert?: boolean } = {},
  file = 'gateway.json',
): string {
  copyFileSync(pair.cert, join(dir, 'live.crt'));
  copyFileSync(pair.key, join(dir, 'live.key'));
  const config = {
    tls: { cert: 'live.crt', key: 'live.key', ...tls },
    integrations: {
      fn2: { type: 'function', handler: './echo.mjs#handler' },
      fn1: { type: 'function', handler: './echo.mjs#handler', payloadFormatVersion: '1.0' },
      hello: { type: 'mock', body: 'hello over tls' },
    },
    routes: {
      'GET /hello': { integration: 'hello' },
      'GET /v2': { integration: 'fn2' },
      'GET /v1': { integration: 'fn1' },
    },
  };
  const path = join(dir, file);
  writeFileSync(path, JSON.stringify(config));
  return path;
}

interface TlsReply {
  readonly status: number;
  readonly body: string;
  readonly socket: TLSSocket;
}

function get(gw: RunningGateway, path: string, options: RequestOptions = {}): Promise<TlsReply> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      `${gw.url}${path}`,
      { ca: readFileSync(pki.ca.cert), agent: false, ...options },
      (res: IncomingMessage) => {
        // Read now: a keep-alive agent detaches the socket once the response ends.
        const socket = res.socket as TLSSocket;
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, body, socket }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

function clientOptions(pair: Pair): RequestOptions {
  return { cert: readFileSync(pair.cert), key: readFileSync(pair.key) };
}

t.test('serves HTTPS with the configured certificate', async (t) => {
  const gw = await startGateway(writeConfig(pki.server1), { t });
  t.match(gw.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const reply = await get(gw, '/hello');
  t.equal(reply.status, 200);
  t.equal(reply.body, 'hello over tls');
  t.equal(reply.socket.getPeerCertificate().subject.CN, 'server-1');
  await t.rejects(
    get(gw, '/hello', { ca: readFileSync(pki.clientCa.cert) }),
    { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' },
    'a client that does not trust the CA refuses the server',
  );
  const v2 = JSON.parse((await get(gw, '/v2')).body) as Record<string, unknown>;
  t.equal(v2.authentication, undefined, 'no client certificate, no authentication');
});

t.test('the CLI redeploys by itself when a certificate file is replaced', async (t) => {
  const { cli, url } = await startCli(t, writeConfig(pki.server1, {}, 'cli.json'));
  // The config, the handler, the certificate and its key; the snapshot is taken before this
  // line, so later writes are changes.
  await cli.line(/^portico: watching 4 files for changes$/);
  const at = { url } as RunningGateway;
  t.equal((await get(at, '/hello')).socket.getPeerCertificate().subject.CN, 'server-1');
  // As a certificate manager renews: the new pair written over the live files.
  copyFileSync(pki.server2.key, join(dir, 'live.key'));
  copyFileSync(pki.server2.cert, join(dir, 'live.crt'));
  await cli.line(/^portico: deployed d-\w+ /);
  t.equal((await get(at, '/hello')).socket.getPeerCertificate().subject.CN, 'server-2');
  cli.proc.kill('SIGTERM');
  t.equal((await cli.exited).code, 0);
});

t.test('deploy() rotates the certificate without dropping open connections', async (t) => {
  const config = writeConfig(pki.server1);
  const gw = await startGateway(config, { t });
  const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: readFileSync(pki.ca.cert) });
  t.teardown(() => agent.destroy());
  const first = await get(gw, '/hello', { agent });
  t.equal(first.socket.getPeerCertificate().subject.CN, 'server-1');
  const port = first.socket.localPort;

  writeConfig(pki.server2);
  await gw.gateway.deploy(config);

  const again = await get(gw, '/hello', { agent });
  t.equal(again.status, 200);
  t.equal(again.socket.localPort, port, 'the keep-alive connection was kept and reused');
  t.equal(
    again.socket.getPeerCertificate().subject.CN,
    'server-1',
    'an open connection keeps the context it was made with',
  );
  const fresh = await get(gw, '/hello');
  t.equal(fresh.socket.getPeerCertificate().subject.CN, 'server-2', 'new connections: new cert');

  // A deploy whose certificate cannot be read changes nothing.
  writeFileSync(
    config,
    JSON.stringify({
      ...JSON.parse(readFileSync(config, 'utf8')),
      tls: { cert: 'missing.crt', key: 'live.key' },
    }),
  );
  await t.rejects(gw.gateway.deploy(config), ConfigError);
  await t.rejects(
    gw.gateway.deploy(writeConfigWithMismatch()),
    { name: 'ConfigError', issues: [{ path: 'tls' }] },
    'a key that does not match its certificate is refused at deploy',
  );
  const still = await get(gw, '/hello');
  t.equal(still.status, 200);
  t.equal(still.socket.getPeerCertificate().subject.CN, 'server-2');

  // Dropping `tls` cannot turn a live HTTPS listener into HTTP: it says so and stays HTTPS.
  const plain = JSON.parse(readFileSync(config, 'utf8')) as Record<string, unknown>;
  delete plain.tls;
  writeFileSync(config, JSON.stringify(plain));
  await gw.gateway.deploy(config);
  t.match(
    gw.logs.filter((l) => l.level === 'warn'),
    [{ level: 'warn', msg: /tls was removed/ }],
  );
  t.equal((await get(gw, '/hello')).status, 200, 'still HTTPS with the last certificate');
});

/** A config whose key belongs to another certificate. */
function writeConfigWithMismatch(): string {
  const path = join(dir, 'mismatch.json');
  writeFileSync(
    path,
    JSON.stringify({
      tls: { cert: 'server-1.crt', key: 'server-2.key' },
      integrations: { hello: { type: 'mock' } },
      routes: { 'GET /hello': { integration: 'hello' } },
    }),
  );
  return path;
}

t.test('mTLS required: only clients with a certificate from clientCa get in', async (t) => {
  const gw = await startGateway(writeConfig(pki.server1, { clientCa: 'client-ca.crt' }), { t });
  await t.rejects(get(gw, '/hello'), 'no client certificate: refused in the handshake');
  await t.rejects(get(gw, '/hello', clientOptions(pki.stranger)), 'an untrusted one: refused');
  const ok = await get(gw, '/hello', clientOptions(pki.client));
  t.equal(ok.status, 200);
  t.equal(ok.body, 'hello over tls');

  const pem = readFileSync(pki.client.cert, 'utf8');
  const expected = {
    clientCertPem: pem,
    subjectDN: 'CN=client-1,O=Portico Tests',
    issuerDN: 'CN=Portico Client CA',
    serialNumber: '0a:1b:2c',
    validity: {
      notBefore: /^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4} GMT$/,
      notAfter: /^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4} GMT$/,
    },
  };
  const v2 = JSON.parse((await get(gw, '/v2', clientOptions(pki.client))).body) as {
    authentication: { clientCert: Record<string, unknown> };
  };
  t.match(v2.authentication.clientCert, expected, 'payload 2.0: requestContext.authentication');
  t.equal(
    (v2.authentication.clientCert.clientCertPem as string).trim(),
    pem.trim(),
    'the PEM as sent',
  );
  const v1 = JSON.parse((await get(gw, '/v1', clientOptions(pki.client))).body) as {
    identity: { clientCert: Record<string, unknown> };
  };
  t.match(v1.identity.clientCert, expected, 'payload 1.0: requestContext.identity');
});

t.test('mTLS optional: a certificate is passed on when valid, and not needed', async (t) => {
  const gw = await startGateway(
    writeConfig(pki.server1, { clientCa: 'client-ca.crt', requireClientCert: false }),
    { t },
  );
  const anonymous = JSON.parse((await get(gw, '/v2')).body) as Record<string, unknown>;
  t.equal(anonymous.authentication, undefined);
  const stranger = JSON.parse((await get(gw, '/v2', clientOptions(pki.stranger))).body) as Record<
    string,
    unknown
  >;
  t.equal(stranger.authentication, undefined, 'an unverified certificate is never reported');
  const known = JSON.parse((await get(gw, '/v2', clientOptions(pki.client))).body) as {
    authentication?: { clientCert: { subjectDN: string } };
  };
  t.equal(known.authentication?.clientCert.subjectDN, 'CN=client-1,O=Portico Tests');
});

t.test('plain HTTP on the TLS port is dropped, the listener keeps serving', async (t) => {
  const gw = await startGateway(writeConfig(pki.server1), { t });
  const { connect } = await import('node:net');
  const socket = connect(gw.port, '127.0.0.1');
  socket.on('error', () => {});
  socket.write('GET /hello HTTP/1.1\r\nHost: x\r\n\r\n');
  await once(socket, 'close');
  t.equal((await get(gw, '/hello')).status, 200);
});
