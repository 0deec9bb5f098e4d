/**
 * W3C trace context: validation of `traceparent`, generation when missing or invalid, and
 * propagation to HTTP upstreams and function events; the request ID in log, event, response.
 */
import t from 'tap';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isValidTraceparent, newTraceparent } from '../../lib/observability/tracing.ts';
import { request, startGateway } from '../helpers/gateway.ts';
import { lineSink } from '../helpers/log-sink.ts';
import { startRecordingUpstream } from '../helpers/upstream.ts';

const fixtures = fileURLToPath(new URL('../fixtures/', import.meta.url));
const VALID = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

t.test('traceparent validation follows the W3C grammar', async (t) => {
  t.ok(isValidTraceparent(VALID));
  t.ok(
    isValidTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00'),
    'not sampled',
  );
  t.ok(isValidTraceparent(`01-${VALID.slice(3)}-extra`), 'a later version may append fields');
  for (const bad of [
    VALID.toUpperCase(),
    '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
    '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
    `ff-${VALID.slice(3)}`,
    `${VALID}-x`,
    VALID.slice(0, 54),
    VALID.replace(/-/g, '_'),
    '00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01',
    `01-${VALID.slice(3)}x`,
  ])
    t.notOk(isValidTraceparent(bad), `refused: ${bad}`);
  const seen = new Set<string>();
  const invalid: string[] = [];
  for (let i = 0; i < 1000; i++) {
    const v = newTraceparent();
    if (!isValidTraceparent(v)) invalid.push(v);
    seen.add(v.slice(3, 35));
  }
  t.same(invalid, [], 'generated values are valid');
  t.equal(seen.size, 1000, 'fresh trace IDs');
});

t.test('upstreams and functions get a traceparent; a valid one passes unchanged', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const sink = lineSink();
  const gw = await startGateway(
    {
      tracing: true,
      accessLog: {},
      integrations: {
        up: { type: 'http', url: `${upstream.origin}/` },
        fn: { type: 'function', handler: join(fixtures, 'handlers/echo.mjs#handler') },
        fn1: {
          type: 'function',
          handler: join(fixtures, 'handlers/echo.mjs#handler'),
          payloadFormatVersion: '1.0',
        },
      },
      routes: {
        'GET /up': { integration: 'up' },
        'GET /fn': { integration: 'fn' },
        'GET /fn1': { integration: 'fn1' },
      },
    },
    { t, logStream: sink },
  );
  await request(`${gw.url}/up`);
  const generated = (await upstream.next()).headers;
  t.ok(isValidTraceparent(generated.traceparent as string), 'generated when missing');
  await sink.until(1);
  t.equal(sink.json()[0]!.traceparent, generated.traceparent, 'the access log has it too');

  await request(`${gw.url}/up`, { headers: { traceparent: VALID, tracestate: 'v=1' } });
  const kept = (await upstream.next()).headers;
  t.equal(kept.traceparent, VALID, 'forwarded unchanged');
  t.equal(kept.tracestate, 'v=1');

  await request(`${gw.url}/up`, {
    headers: { traceparent: VALID.toUpperCase(), tracestate: 'v=2' },
  });
  const replaced = (await upstream.next()).headers;
  t.ok(isValidTraceparent(replaced.traceparent as string));
  t.not(replaced.traceparent, VALID.toUpperCase(), 'an invalid one is replaced');
  t.equal(replaced.tracestate, undefined, 'and its tracestate dropped');

  const fn = await request(`${gw.url}/fn`);
  const event = fn.json<{
    event: { headers: Record<string, string>; requestContext: { requestId: string } };
  }>().event;
  t.ok(isValidTraceparent(event.headers.traceparent!), 'function events carry one');
  t.equal(
    event.requestContext.requestId,
    fn.headers['apigw-requestid'],
    'event and response share the request ID',
  );
  const v1 = await request(`${gw.url}/fn1`, { headers: { traceparent: VALID } });
  const e1 = v1.json<{
    event: { headers: Record<string, string>; multiValueHeaders: Record<string, string[]> };
  }>().event;
  t.equal(e1.headers.traceparent, VALID);
  t.same(e1.multiValueHeaders.traceparent, [VALID], 'once, not duplicated');
});

t.test('tracing is off by default, as in AWS HTTP APIs', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const gw = await startGateway(
    {
      integrations: { up: { type: 'http', url: `${upstream.origin}/` } },
      routes: { 'GET /': { integration: 'up' } },
    },
    { t },
  );
  await request(`${gw.url}/`);
  t.equal((await upstream.next()).headers.traceparent, undefined);
});
