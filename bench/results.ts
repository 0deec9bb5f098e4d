/** The bench's result model, medians and the pairwise (same-round) ratios. */
import type { Kind, WorkloadId } from './scenarios.ts';

/** One load phase of one scenario in one round. */
export interface RoundSample {
  readonly round: number;
  readonly requests: number;
  readonly rps: number;
  readonly p50Us: number;
  readonly p99Us: number;
  /** Non-2xx responses plus socket errors. */
  readonly errors: number;
  /** CPU time (user + system) of the target process per request, µs. */
  readonly cpuUsPerReq: number;
  /** CPU time over wall time of the load phase: 1.0 = one core busy. */
  readonly cpuCores: number;
  /**
   * Pinned runs: CPU 0's busy time not spent by the target, over wall time: other work on
   * the gateway's CPU (another process, or interrupts). Near 0 on a quiet machine.
   */
  readonly otherCores: number | null;
  /** Resident set size after the load phase; summed over a cluster's processes. */
  readonly rssMiB: number;
  /** p50 at one connection, µs; null when not measured. */
  readonly p50At1Us: number | null;
  /** p50 at one connection minus the direct upstream's in the same round, µs. */
  addedP50Us: number | null;
}

export interface ScenarioResult {
  readonly id: string;
  readonly target: string;
  readonly label: string;
  readonly kind: Kind;
  readonly workload: WorkloadId;
  readonly workloadLabel: string;
  /** Target id it is charted against: `minimal`, `bare`, or the 1-worker run of a cluster. */
  readonly baseline: string;
  /** Processes serving (a cluster's workers); CPU and RSS are summed over them and the primary. */
  readonly workers: number;
  /** Run on every CPU even when the others are pinned. */
  readonly unpinned: boolean;
  /** Why the scenario could not run (e.g. its target failed to start), else null. */
  unavailable: string | null;
  readonly rounds: RoundSample[];
  median: Medians | null;
  /** Medians of per-round ratios to the minimal proxy / direct upstream, same workload. */
  vsMinimal: Ratios | null;
  vsDirect: Ratios | null;
  /** Same, to `baseline` (equal to vsMinimal when that is `minimal`). */
  vsBaseline: Ratios | null;
}

export interface Medians {
  readonly rps: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly cpuUsPerReq: number;
  readonly cpuCores: number;
  readonly otherCores: number | null;
  readonly rssMiB: number;
  readonly p50At1Us: number | null;
  readonly addedP50Us: number | null;
  /** Summed over rounds. */
  readonly errors: number;
}

export interface Ratios {
  readonly rps: number | null;
  readonly cpuUsPerReq: number | null;
  readonly p50Us: number | null;
  readonly p99Us: number | null;
}

export interface StartResult {
  readonly target: string;
  readonly label: string;
  readonly samplesMs: number[];
  medianMs: number | null;
  /** Median of per-run ratios to the bare node:http server's start. */
  vsBare: number | null;
  unavailable: string | null;
}

export type CheckStatus = 'PASS' | 'FAIL' | 'N/A';

export interface CheckResult {
  readonly name: string;
  readonly status: CheckStatus;
  readonly detail: string;
}

export interface BenchMeta {
  readonly date: string;
  readonly node: string;
  readonly v8: string;
  readonly os: string;
  readonly cpuModel: string;
  readonly cpus: number;
  readonly memoryGiB: number;
  readonly loadTool: string;
  readonly pinning: string;
  readonly rounds: number;
  readonly durationSec: number;
  readonly warmupSec: number;
  readonly latencyDurationSec: number;
  readonly connections: number;
  readonly startRuns: number;
  /** A load phase is re-run up to `retries` times when other work took over `maxOther` cores of CPU 0. */
  readonly retries: number;
  readonly maxOther: number;
  readonly elapsedSec: number;
  /** 1-minute load average before and after the run: other work on the machine skews results. */
  readonly loadAverage: readonly [number, number];
  readonly packages: Readonly<Record<string, string>>;
}

export interface BenchResults {
  readonly meta: BenchMeta;
  readonly scenarios: ScenarioResult[];
  readonly start: StartResult[];
  readonly checks: CheckResult[];
}

export function median(values: readonly number[]): number | null {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

type Metric = (s: RoundSample) => number | null;

/** Median over rounds of a(r) / b(r), using only rounds both measured. */
export function pairRatio(
  a: ScenarioResult | undefined,
  b: ScenarioResult | undefined,
  metric: Metric,
): number | null {
  return pairwise(a, b, metric, (x, y) => (y > 0 ? x / y : Number.NaN));
}

/** Median over rounds of a(r) − b(r). */
export function pairDiff(
  a: ScenarioResult | undefined,
  b: ScenarioResult | undefined,
  metric: Metric,
): number | null {
  return pairwise(a, b, metric, (x, y) => x - y);
}

function pairwise(
  a: ScenarioResult | undefined,
  b: ScenarioResult | undefined,
  metric: Metric,
  op: (x: number, y: number) => number,
): number | null {
  if (a === undefined || b === undefined || a.unavailable !== null || b.unavailable !== null)
    return null;
  const values: number[] = [];
  for (const sa of a.rounds) {
    const sb = b.rounds.find((s) => s.round === sa.round);
    if (sb === undefined) continue;
    const x = metric(sa);
    const y = metric(sb);
    if (x === null || y === null) continue;
    values.push(op(x, y));
  }
  return median(values);
}

/** Fills in added latency, medians and ratios once every round has run. */
export function summarise(results: ScenarioResult[]): void {
  const byId = new Map(results.map((r) => [r.id, r]));
  for (const r of results) {
    const direct = byId.get(`upstream/${r.workload}`);
    for (const s of r.rounds) {
      const d = direct?.rounds.find((x) => x.round === s.round);
      s.addedP50Us = s.p50At1Us !== null && d?.p50At1Us != null ? s.p50At1Us - d.p50At1Us : null;
    }
  }
  for (const r of results) {
    if (r.unavailable !== null || r.rounds.length === 0) continue;
    const m = (f: (s: RoundSample) => number | null): number | null =>
      median(r.rounds.map(f).filter((x): x is number => x !== null));
    r.median = {
      rps: m((s) => s.rps)!,
      p50Us: m((s) => s.p50Us)!,
      p99Us: m((s) => s.p99Us)!,
      cpuUsPerReq: m((s) => s.cpuUsPerReq)!,
      cpuCores: m((s) => s.cpuCores)!,
      otherCores: m((s) => s.otherCores),
      rssMiB: m((s) => s.rssMiB)!,
      p50At1Us: m((s) => s.p50At1Us),
      addedP50Us: m((s) => s.addedP50Us),
      errors: r.rounds.reduce((a, s) => a + s.errors, 0),
    };
    r.vsMinimal = ratios(r, byId.get(`minimal/${r.workload}`));
    r.vsDirect = ratios(r, byId.get(`upstream/${r.workload}`));
    r.vsBaseline = ratios(r, byId.get(`${r.baseline}/${r.workload}`));
  }
}

function ratios(a: ScenarioResult, b: ScenarioResult | undefined): Ratios | null {
  if (b === undefined || b.unavailable !== null) return null;
  return {
    rps: pairRatio(a, b, (s) => s.rps),
    cpuUsPerReq: pairRatio(a, b, (s) => s.cpuUsPerReq),
    p50Us: pairRatio(a, b, (s) => s.p50Us),
    p99Us: pairRatio(a, b, (s) => s.p99Us),
  };
}

/** Start times: medians, and ratios to bare node:http paired run by run. */
export function summariseStart(start: StartResult[]): void {
  const bare = start.find((s) => s.target === 'bare');
  for (const s of start) {
    s.medianMs = median(s.samplesMs);
    if (bare === undefined || bare.samplesMs.length === 0 || s.samplesMs.length === 0) continue;
    const n = Math.min(bare.samplesMs.length, s.samplesMs.length);
    const r: number[] = [];
    for (let i = 0; i < n; i++) r.push(s.samplesMs[i]! / bare.samplesMs[i]!);
    s.vsBare = median(r);
  }
}
