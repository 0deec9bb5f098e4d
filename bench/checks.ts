/**
 * The targets of issue #3, evaluated on medians of the same run (ratios taken pair by
 * pair within a round). Each check is one entry; N/A when a side could not be measured.
 */
import {
  pairDiff,
  pairRatio,
  type CheckResult,
  type CheckStatus,
  type RoundSample,
  type ScenarioResult,
  type StartResult,
} from './results.ts';

const rps = (s: RoundSample): number => s.rps;
const cpu = (s: RoundSample): number => s.cpuUsPerReq;
const added = (s: RoundSample): number | null => s.addedP50Us;

const fmt = (x: number, digits = 2): string => x.toFixed(digits);

export function evaluateChecks(
  scenarios: readonly ScenarioResult[],
  start: readonly StartResult[],
): CheckResult[] {
  const get = (id: string): ScenarioResult | undefined => scenarios.find((s) => s.id === id);
  const out: CheckResult[] = [];

  const ratioCheck = (
    name: string,
    a: string,
    b: string,
    metric: typeof rps,
    op: '>=' | '<=',
    limit: number,
  ): void => {
    const sa = get(a);
    const sb = get(b);
    const r = pairRatio(sa, sb, metric);
    if (r === null) {
      out.push({ name, status: 'N/A', detail: unavailable(sa, sb, a, b) });
      return;
    }
    const ok = op === '>=' ? r >= limit : r <= limit;
    out.push({
      name,
      status: verdict(ok),
      detail: `${fmt(r)}× (limit ${op} ${limit}×)${errorNote(sa, sb)}`,
    });
  };

  // Small JSON GET through the http route.
  ratioCheck(
    'http route throughput ≥ 1.0× minimal proxy',
    'portico-http/small',
    'minimal/small',
    rps,
    '>=',
    1.0,
  );
  ratioCheck(
    'http route throughput ≥ 1.5× fast-gateway',
    'portico-http/small',
    'fast-gateway/small',
    rps,
    '>=',
    1.5,
  );
  ratioCheck(
    'http route throughput ≥ 1.5× @fastify/http-proxy',
    'portico-http/small',
    'fastify-http-proxy/small',
    rps,
    '>=',
    1.5,
  );
  ratioCheck(
    'http route CPU/request ≤ minimal proxy',
    'portico-http/small',
    'minimal/small',
    cpu,
    '<=',
    1.0,
  );
  {
    const name = 'http route added p50 at 1 connection ≤ minimal proxy';
    const a = get('portico-http/small');
    const b = get('minimal/small');
    const d = pairDiff(a, b, added);
    if (d === null || a?.median?.addedP50Us == null || b?.median?.addedP50Us == null) {
      out.push({
        name,
        status: 'N/A',
        detail: unavailable(a, b, 'portico-http/small', 'minimal/small'),
      });
    } else {
      out.push({
        name,
        status: verdict(d <= 0),
        detail: `${fmt(a.median.addedP50Us, 0)} µs vs ${fmt(b.median.addedP50Us, 0)} µs (paired difference ${d >= 0 ? '+' : ''}${fmt(d, 0)} µs)`,
      });
    }
  }

  // In-process routes against a bare node:http server.
  ratioCheck(
    'function route throughput ≥ 0.9× bare node:http',
    'portico-function/small',
    'bare/small',
    rps,
    '>=',
    0.9,
  );
  ratioCheck(
    'mock route throughput ≥ 0.9× bare node:http',
    'portico-mock/small',
    'bare/small',
    rps,
    '>=',
    0.9,
  );

  // Start-up and memory.
  {
    const name = 'CLI start to listening (one mock route) ≤ 1.3× bare node:http';
    const s = start.find((x) => x.target === 'portico-mock');
    const bare = start.find((x) => x.target === 'bare');
    if (s?.vsBare == null || s.medianMs === null || bare?.medianMs == null) {
      out.push({ name, status: 'N/A', detail: s?.unavailable ?? 'not measured' });
    } else {
      out.push({
        name,
        status: verdict(s.vsBare <= 1.3),
        detail: `${fmt(s.medianMs, 0)} ms vs ${fmt(bare.medianMs, 0)} ms: ${fmt(s.vsBare)}× (limit <= 1.3×)`,
      });
    }
  }
  {
    const name = 'RSS after load ≤ 100 MiB (every single-process Portico target)';
    // A cluster's RSS is the sum of its processes; it is reported, not checked.
    const measured = scenarios.filter(
      (s) => s.kind === 'portico' && s.median !== null && s.workers === 1,
    );
    if (measured.length === 0) out.push({ name, status: 'N/A', detail: 'no Portico scenario ran' });
    else {
      const worst = Math.max(...measured.map((s) => Math.max(...s.rounds.map((r) => r.rssMiB))));
      const perTarget = [...new Set(measured.map((s) => s.target))].map((t) => {
        const max = Math.max(
          ...measured.filter((s) => s.target === t).flatMap((s) => s.rounds.map((r) => r.rssMiB)),
        );
        return `${t} ${fmt(max, 1)}`;
      });
      out.push({ name, status: verdict(worst <= 100), detail: `max MiB: ${perTarget.join(', ')}` });
    }
  }

  // Streaming bodies: the same ratios, within 10 %.
  for (const [w, label] of [
    ['large', '64 KiB GET'],
    ['post', '1 KiB POST'],
  ] as const) {
    ratioCheck(
      `${label}: http route throughput ≥ 0.9× minimal proxy`,
      `portico-http/${w}`,
      `minimal/${w}`,
      rps,
      '>=',
      0.9,
    );
    ratioCheck(
      `${label}: http route throughput ≥ 1.35× fast-gateway`,
      `portico-http/${w}`,
      `fast-gateway/${w}`,
      rps,
      '>=',
      1.35,
    );
    ratioCheck(
      `${label}: http route throughput ≥ 1.35× @fastify/http-proxy`,
      `portico-http/${w}`,
      `fastify-http-proxy/${w}`,
      rps,
      '>=',
      1.35,
    );
    ratioCheck(
      `${label}: http route CPU/request ≤ 1.1× minimal proxy`,
      `portico-http/${w}`,
      `minimal/${w}`,
      cpu,
      '<=',
      1.1,
    );
  }
  return out;
}

function verdict(ok: boolean): CheckStatus {
  return ok ? 'PASS' : 'FAIL';
}

function unavailable(
  a: ScenarioResult | undefined,
  b: ScenarioResult | undefined,
  ida: string,
  idb: string,
): string {
  if (a === undefined) return `${ida} not run`;
  if (b === undefined) return `${idb} not run`;
  if (a.unavailable !== null) return `${ida} unavailable: ${a.unavailable}`;
  if (b.unavailable !== null) return `${idb} unavailable: ${b.unavailable}`;
  return 'not measured';
}

function errorNote(a: ScenarioResult | undefined, b: ScenarioResult | undefined): string {
  const errors = (a?.median?.errors ?? 0) + (b?.median?.errors ?? 0);
  return errors > 0 ? ` — warning: ${errors} failed responses` : '';
}
