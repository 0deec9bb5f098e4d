/**
 * The live view in headless Chromium: the page loads from the admin listener, polls its JSON
 * endpoint, and its numbers change as traffic arrives. With PORTICO_SCREENSHOT=FILE set, the
 * test also saves a screenshot (how docs/live-view.png is made).
 */
import t from 'tap';
import { writeFile } from 'node:fs/promises';
import { liveSnapshot } from '../../lib/observability/live-view.ts';
import { percentile, BUCKETS_MS, StatsBook } from '../../lib/observability/stats.ts';
import { RequestRecord } from '../../lib/observability/record.ts';
import { findChromium, openDevToolsPage, type DevToolsPage } from '../helpers/browser.ts';
import { request, startGateway } from '../helpers/gateway.ts';
import { startHttpUpstream } from '../helpers/upstream.ts';

interface Row {
  route: string;
  rps: string;
  count: string;
  e4xx: string;
  e5xx: string;
  p50: string;
  p99: string;
}

// Runs in the page: waits (bounded by the page's own timer) until it has polled more than
// `after` times, then returns the table. Resolves null on timeout.
const readAfter = (after: number) => `new Promise((resolve) => {
  const deadline = Date.now() + 10000;
  (function check() {
    const polls = Number(document.body && document.body.dataset.polls || 0);
    if (polls > ${after}) {
      resolve({ polls, rows: [...document.querySelectorAll('tr[data-route]')].map((tr) => {
        const o = { route: tr.dataset.route };
        for (const td of tr.querySelectorAll('td[data-field]')) o[td.dataset.field] = td.textContent;
        return o;
      }) });
    } else if (Date.now() > deadline) resolve(null);
    else setTimeout(check, 50);
  })();
})`;

async function read(page: DevToolsPage, after: number): Promise<{ polls: number; rows: Row[] }> {
  // The first evaluation may race the initial navigation; retry a bounded number of times.
  for (let attempt = 0; ; attempt++) {
    try {
      const r = await page.evaluate<{ polls: number; rows: Row[] } | null>(readAfter(after));
      if (r === null) throw new Error('the page did not refresh within 10 s');
      return r;
    } catch (err) {
      if (attempt >= 5 || /did not refresh/.test(String(err))) throw err;
    }
  }
}

const chromium = findChromium();

t.test(
  'the page shows per-route numbers that change with traffic',
  { skip: chromium === null ? 'chromium is not installed' : false },
  async (t) => {
    let n = 0;
    const upstream = await startHttpUpstream(t, (_req, res) => {
      // Latencies spread over a few milliseconds, so the percentiles differ.
      setTimeout(() => res.end('{"ok":true}'), (n++ % 7) * 3);
    });
    const gw = await startGateway(
      {
        admin: { port: 0 },
        integrations: {
          pets: { type: 'http', url: `${upstream.origin}/pets/{id}` },
          ok: { type: 'mock', body: 'ok' },
          broken: { type: 'mock', statusCode: 503, body: 'down' },
        },
        routes: {
          'GET /pets/{id}': { integration: 'pets' },
          'GET /health': { integration: 'ok' },
          'POST /orders': { integration: 'broken' },
        },
      },
      { t },
    );
    const admin = gw.gateway.adminAddress()!;
    const page = await openDevToolsPage(chromium!, `http://127.0.0.1:${admin.port}/`, {
      width: 1000,
      height: 280,
    });
    t.teardown(() => page.close());

    const before = await read(page, 0);
    t.same(
      before.rows.map((r) => r.route),
      ['$default GET /pets/{id}', '$default GET /health', '$default POST /orders'],
      'the live routes',
    );
    t.ok(
      before.rows.every((r) => r.count === '0' && r.p50 === '–'),
      'no traffic yet',
    );

    for (let i = 0; i < 20; i++) t.equal((await request(`${gw.url}/pets/${i}`)).status, 200);
    for (let i = 0; i < 5; i++) await request(`${gw.url}/health`);
    for (let i = 0; i < 3; i++) await request(`${gw.url}/orders`, { method: 'POST' });
    await request(`${gw.url}/orders`); // 404: not a live route's row

    // A refresh already under way may have read the stats mid-traffic: wait for one that
    // started after the traffic ended (two completions past the count seen now).
    const now = await read(page, 0);
    const after = await read(page, now.polls + 1);
    const [pets, health, orders] = after.rows as [Row, Row, Row];
    t.equal(pets.count, '20');
    t.equal(pets.rps, (20 / 60).toFixed(2), 'requests per second over the last minute');
    t.equal(pets.e5xx, '0.0%');
    t.not(pets.p50, '–');
    t.ok(Number(pets.p99) >= Number(pets.p50), 'p99 ≥ p50');
    t.equal(health.count, '5');
    t.equal(orders.count, '3');
    t.equal(orders.e5xx, '100.0%', 'error rate');

    const screenshot = process.env.PORTICO_SCREENSHOT;
    if (screenshot) await writeFile(screenshot, await page.screenshot());
  },
);

t.test('percentiles come from fixed buckets; the ring forgets old seconds', async (t) => {
  const counts = new Array<number>(BUCKETS_MS.length + 1).fill(0);
  counts[2] = 50; // (0.5, 1] ms
  counts[4] = 50; // (2.5, 5] ms
  t.equal(percentile(counts, 100, 0.5), 1, 'the upper edge of the bucket holding the median');
  t.equal(percentile(counts, 100, 0.99), 2.5 + 2.5 * (49 / 50));
  t.equal(percentile(counts, 0, 0.5), null);

  const book = new StatsBook();
  const s = book.get('$default', 'GET /x', 'x');
  book.live = [s];
  const fake = (startTime: number) => {
    const req = { socket: { bytesWritten: 0 }, headers: {}, method: 'GET', httpVersion: '1.1' };
    const res = { writableFinished: true, headersSent: true, statusCode: 200, _header: '' };
    const r = new RequestRecord({ finish() {} }, req as never, res as never, 'id');
    r.close();
    (r as { startTime: number }).startTime = startTime;
    return r;
  };
  const t0 = 1_700_000_000_000;
  s.record(fake(t0));
  s.record(fake(t0 + 1000));
  t.match(liveSnapshot(book, 'd-1', 60, t0 + 1500), { routes: [{ count: 2 }] });
  t.match(liveSnapshot(book, 'd-1', 1, t0 + 1500), { routes: [{ count: 1 }] });
  // 300 s later the same ring slot holds a new second; the old count is gone.
  s.record(fake(t0 + 300_000));
  t.match(liveSnapshot(book, 'd-1', 300, t0 + 300_500), { routes: [{ count: 2 }] });
});
