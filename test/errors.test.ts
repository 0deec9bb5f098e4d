import t from 'tap';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { ERRORS, GatewayError, ConfigError, type ErrorCode } from '../lib/errors.ts';
import { sendError, toGatewayError } from '../lib/error-response.ts';
import { request } from './helpers/gateway.ts';

const codes = Object.keys(ERRORS) as ErrorCode[];

t.test('every code maps to an AWS-style status and JSON body, and nothing else', async (t) => {
  let next: ErrorCode = codes[0]!;
  const server = createServer((_req, res) => sendError(res, next, 'REQID'));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => new Promise((r) => server.close(r)));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  for (const code of codes) {
    next = code;
    const res = await request(url);
    t.equal(res.status, ERRORS[code].status, `${code} status`);
    t.equal(res.text, JSON.stringify({ message: ERRORS[code].message }), `${code} body`);
    t.equal(res.headers['content-type'], 'application/json');
    t.equal(res.headers['apigw-requestid'], 'REQID');
  }
});

t.test(
  'GatewayError carries its code and status; unknown errors become PORTICO_INTERNAL',
  async (t) => {
    const cause = new Error('connect ECONNREFUSED 10.0.0.7:5432');
    const err = new GatewayError('PORTICO_UPSTREAM_TIMEOUT', undefined, { cause });
    t.equal(err.code, 'PORTICO_UPSTREAM_TIMEOUT');
    t.equal(err.statusCode, 503);
    t.equal(err.cause, cause);
    t.equal(toGatewayError(err), err);
    t.match(toGatewayError(cause), { code: 'PORTICO_INTERNAL', statusCode: 500, cause });
    t.equal(new ConfigError([{ path: 'a', message: 'b' }]).code, 'PORTICO_INVALID_CONFIG');
  },
);

t.test('the README error table lists every code with its status and body', async (t) => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const rows = new Map<string, { status: number; body: string }>();
  for (const line of readme.split('\n')) {
    const m = /^\|\s*`(PORTICO_[A-Z_]+)`\s*\|\s*(\d{3})\s*\|\s*`([^`]+)`\s*\|/.exec(line);
    if (m) rows.set(m[1]!, { status: Number(m[2]), body: m[3]! });
  }
  for (const code of codes) {
    t.same(
      rows.get(code),
      { status: ERRORS[code].status, body: JSON.stringify({ message: ERRORS[code].message }) },
      code,
    );
  }
  t.same(
    [...rows.keys()].filter((c) => !(c in ERRORS)),
    [],
    'no stale codes in the README',
  );
});
