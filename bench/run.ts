/**
 * `npm run bench`: Portico against a hand-written undici proxy, bare node:http and peer
 * gateways, on 127.0.0.1, interleaved over rounds. See --help.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem, type } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { evaluateChecks } from './checks.ts';
import { detectLoadTool, runLoad, type LoadTool } from './load.ts';
import {
  cpuBusyMicros,
  gatewayCpu,
  installCleanup,
  killAll,
  removeOnExit,
  processTree,
  rssMiB,
  setupPinning,
  startServer,
  treeCpuMicros,
  type Server,
} from './procs.ts';
import { micros, markdown, writeReport } from './report.ts';
import {
  summarise,
  summariseStart,
  type BenchResults,
  type ScenarioResult,
  type StartResult,
} from './results.ts';
import {
  TARGETS,
  scenarios as buildScenarios,
  type Scenario,
  type TargetContext,
  type TargetSpec,
} from './scenarios.ts';

const USAGE = `Usage: npm run bench -- [options]
       node dist/bench/run.js [options]

  --rounds N            interleaved rounds (default 5; --quick 3)
  --duration S          seconds of load per scenario per round (default 10; --quick 3)
  --warmup S            warm-up seconds per scenario before round 1 (default 5; --quick 2)
  --latency-duration S  seconds at 1 connection for the added p50 (default 5; --quick 2)
  --connections N       connections for throughput (default 50)
  --start-runs N        start-to-listening runs per target (default 9; --quick 5)
  --only LIST           comma-separated scenario ids or parts of them (e.g. portico-http,mock);
                        the direct upstream, minimal proxy and bare server are kept for ratios
  --quick               a short run (a few minutes)
  --load wrk|autocannon load generator (default: wrk if installed, else autocannon)
  --pin auto|on|off     taskset pinning: gateway on CPU 0, the rest on CPU 1 (default auto)
  --retries N           re-run a load phase when other work took more than --max-other
                        of the gateway's CPU (pinned runs only; default 2)
  --max-other F         that threshold, in cores (default 0.1)
  --out DIR             results folder (default bench/results)
  --profile             instead: CPU-profile Portico's http route and the minimal proxy
                        under load and summarise the top self-time functions; with
                        --only TARGET[/WORKLOAD],... profile those instead
  -h, --help
`;

const benchDir = dirname(fileURLToPath(import.meta.url));
const rootDir = resolve(benchDir, '../..');

interface Options {
  rounds: number;
  durationSec: number;
  warmupSec: number;
  latencyDurationSec: number;
  connections: number;
  startRuns: number;
  only: string[] | null;
  load: 'auto' | LoadTool;
  pin: 'auto' | 'on' | 'off';
  outDir: string;
  profile: boolean;
  retries: number;
  maxOther: number;
}

function parseOptions(argv: string[]): Options | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      rounds: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      'latency-duration': { type: 'string' },
      connections: { type: 'string' },
      'start-runs': { type: 'string' },
      only: { type: 'string' },
      quick: { type: 'boolean' },
      load: { type: 'string' },
      pin: { type: 'string' },
      out: { type: 'string' },
      profile: { type: 'boolean' },
      retries: { type: 'string' },
      'max-other': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return null;
  }
  const quick = values.quick === true;
  const n = (v: string | undefined, def: number, name: string, min = 1): number => {
    if (v === undefined) return def;
    const x = Number(v);
    if (!Number.isInteger(x) || x < min)
      throw new Error(`--${name} must be an integer ≥ ${min}, got "${v}"`);
    return x;
  };
  const oneOf = <T extends string>(
    v: string | undefined,
    allowed: readonly T[],
    def: T,
    name: string,
  ): T => {
    if (v === undefined) return def;
    if (!(allowed as readonly string[]).includes(v))
      throw new Error(`--${name} must be one of ${allowed.join(', ')}`);
    return v as T;
  };
  return {
    rounds: n(values.rounds, quick ? 3 : 5, 'rounds'),
    durationSec: n(values.duration, quick ? 3 : 10, 'duration'),
    warmupSec: n(values.warmup, quick ? 2 : 5, 'warmup', 0),
    latencyDurationSec: n(values['latency-duration'], quick ? 2 : 5, 'latency-duration'),
    connections: n(values.connections, 50, 'connections'),
    startRuns: n(values['start-runs'], quick ? 5 : 9, 'start-runs', 0),
    only:
      values.only === undefined
        ? null
        : values.only
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean),
    load: oneOf(values.load, ['auto', 'wrk', 'autocannon'] as const, 'auto', 'load'),
    pin: oneOf(values.pin, ['auto', 'on', 'off'] as const, 'auto', 'pin'),
    outDir: resolve(values.out ?? join(rootDir, 'bench/results')),
    profile: values.profile === true,
    retries: n(values.retries, 2, 'retries', 0),
    maxOther: maxOther(values['max-other']),
  };
}

function maxOther(v: string | undefined): number {
  if (v === undefined) return 0.1;
  const x = Number(v);
  if (!(x >= 0 && x <= 1)) throw new Error(`--max-other must be between 0 and 1, got "${v}"`);
  return x;
}

/** Scenarios matching --only, plus the baselines their ratios and checks need. */
function select(all: Scenario[], only: string[] | null): Scenario[] {
  if (only === null) return all;
  const wanted = all.filter((s) => only.some((o) => s.id.includes(o)));
  const keep = new Set(wanted.map((s) => s.id));
  for (const s of wanted) {
    keep.add(`upstream/${s.workload.id}`);
    keep.add(`minimal/${s.workload.id}`);
    if (s.target.kind === 'portico' && s.workload.id === 'small') keep.add('bare/small');
  }
  return all.filter((s) => keep.has(s.id));
}

/** `--only portico-http-obs/small,portico-http` → the targets and workloads to profile. */
function profileSelection(only: string[] | null): { targets?: string[]; workloads?: string[] } {
  if (only === null) return {};
  const targets = new Set<string>();
  const workloads = new Set<string>();
  for (const o of only) {
    const [target, workload] = o.split('/');
    targets.add(target!);
    if (workload !== undefined) workloads.add(workload);
  }
  return { targets: [...targets], ...(workloads.size > 0 ? { workloads: [...workloads] } : {}) };
}

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  if (options === null) return 0;
  installCleanup();
  const pinning = setupPinning(options.pin);
  log(`bench: ${pinning.description}`);
  if (options.profile) {
    const { profile } = await import('./profile.ts');
    return profile({
      rootDir,
      benchDir,
      outDir: options.outDir,
      durationSec: Math.max(options.durationSec, 10),
      connections: options.connections,
      load: options.load,
      ...profileSelection(options.only),
    });
  }
  const { tool, version } = detectLoadTool(options.load);
  log(
    `bench: load generator ${version}${tool === 'autocannon' && options.load === 'auto' ? ' (wrk not installed: apt-get install -y wrk)' : ''}`,
  );

  const t0 = performance.now();
  const load0 = loadavg()[0]!;
  if (load0 > 0.5)
    log(
      `bench: warning: load average ${load0.toFixed(2)} before start; other work skews the results`,
    );
  const scratchDir = await mkdtemp(join(tmpdir(), 'portico-bench-'));
  removeOnExit(scratchDir);
  try {
    const upstream = await startServer({ role: 'support', args: [join(benchDir, 'upstream.js')] });
    const ctx: TargetContext = { upstreamUrl: upstream.url, benchDir, rootDir, scratchDir };
    const scenarios = select(buildScenarios(TARGETS), options.only);
    const targets = TARGETS.filter((t) => scenarios.some((s) => s.target === t));

    const at1 = scenarios.filter((s) => s.latencyAt1).length;
    const estimate =
      scenarios.length * options.warmupSec +
      options.rounds *
        (scenarios.length * (options.durationSec + 0.5) +
          at1 * (options.latencyDurationSec + 0.3)) +
      options.startRuns * targets.length +
      20;
    log(
      `bench: ${scenarios.length} scenarios × ${options.rounds} rounds; about ${Math.ceil(estimate / 60)} min`,
    );
    // Bounded in time whatever happens.
    setTimeout(
      () => {
        process.stderr.write('bench: over the time limit, stopping\n');
        killAll();
        process.exit(1);
      },
      (estimate * (2 + options.retries) + 120) * 1000,
    ).unref();

    const start = await measureStart(targets, ctx, options.startRuns);

    // Long-lived target processes for the load phases.
    const servers = new Map<string, Server>();
    const failed = new Map<string, string>();
    servers.set('upstream', upstream);
    for (const t of targets) {
      if (t.kind === 'direct') continue;
      try {
        servers.set(t.id, await startServer({ role: roleOf(t), args: await t.command(ctx) }));
      } catch (err) {
        failed.set(t.id, (err as Error).message);
        log(`bench: ${t.id} unavailable: ${(err as Error).message}`);
      }
    }

    const results: ScenarioResult[] = scenarios.map((s) => ({
      id: s.id,
      target: s.target.id,
      label: s.target.label,
      kind: s.target.kind,
      workload: s.workload.id,
      workloadLabel: s.workload.label,
      baseline: s.target.baseline ?? 'minimal',
      workers: s.target.workers ?? 1,
      unpinned: s.target.unpinned === true,
      unavailable: failed.get(s.target.id) ?? null,
      rounds: [],
      median: null,
      vsMinimal: null,
      vsDirect: null,
      vsBaseline: null,
    }));

    const request = (s: Scenario, server: Server, connections: number, durationSec: number) =>
      runLoad(
        tool,
        {
          url: server.url + s.workload.path,
          method: s.workload.method,
          ...(s.workload.body !== undefined ? { body: s.workload.body } : {}),
          ...(s.workload.headers !== undefined || s.target.headers !== undefined
            ? { headers: { ...s.workload.headers, ...s.target.headers } }
            : {}),
          connections,
          durationSec,
        },
        scratchDir,
      );

    /** One load phase at full connections, with the target's CPU time and its CPU's other work. */
    const measure = async (s: Scenario, server: Server) => {
      const gw = s.target.kind === 'direct' || s.target.unpinned ? null : gatewayCpu();
      const busy0 = gw === null ? 0 : cpuBusyMicros(gw);
      // A cluster is its primary and workers: CPU and RSS are their sums.
      const pids = processTree(server.pid);
      const cpu0 = treeCpuMicros(pids);
      const w0 = performance.now();
      const load = await request(s, server, options.connections, options.durationSec);
      const wall = (performance.now() - w0) * 1000;
      const cpu = treeCpuMicros(pids) - cpu0;
      const busy = gw === null ? 0 : cpuBusyMicros(gw) - busy0;
      const otherCores = gw === null ? null : Math.max(0, busy - cpu) / wall;
      const rss = pids.reduce((sum, pid) => sum + rssMiB(pid), 0);
      return { load, cpu, wall, otherCores, rss };
    };

    if (options.warmupSec > 0) {
      log(`bench: warm-up, ${options.warmupSec} s per scenario`);
      for (const [i, s] of scenarios.entries()) {
        const r = results[i]!;
        const server = servers.get(s.target.id);
        if (server === undefined || r.unavailable !== null) continue;
        try {
          await request(s, server, options.connections, options.warmupSec);
        } catch (err) {
          r.unavailable = `warm-up failed: ${(err as Error).message.split('\n')[0]}`;
          log(`bench: ${s.id} ${r.unavailable}`);
        }
      }
    }

    for (let round = 1; round <= options.rounds; round++) {
      log(`bench: round ${round}/${options.rounds}`);
      for (const [i, s] of scenarios.entries()) {
        const r = results[i]!;
        const server = servers.get(s.target.id);
        if (server === undefined || r.unavailable !== null) continue;
        try {
          // A load phase during which other processes took the gateway's CPU is re-run
          // (up to --retries times); the least disturbed attempt is kept.
          let best: Awaited<ReturnType<typeof measure>> | null = null;
          for (let attempt = 0; attempt <= options.retries; attempt++) {
            const m = await measure(s, server);
            if (best === null || (m.otherCores ?? 0) < (best.otherCores ?? 0)) best = m;
            if (m.otherCores === null || m.otherCores <= options.maxOther) break;
            if (attempt < options.retries) {
              log(
                `  ${s.id.padEnd(28)} other work took ${m.otherCores.toFixed(2)} of CPU 0: again`,
              );
            }
          }
          const { load, cpu, wall, otherCores, rss } = best!;
          const at1 = s.latencyAt1 ? await request(s, server, 1, options.latencyDurationSec) : null;
          const sample = {
            round,
            requests: load.requests,
            rps: load.rps,
            p50Us: load.p50Us,
            p99Us: load.p99Us,
            errors: load.errors + (at1?.errors ?? 0),
            cpuUsPerReq: load.requests > 0 ? cpu / load.requests : Number.NaN,
            cpuCores: cpu / wall,
            otherCores,
            rssMiB: rss,
            p50At1Us: at1?.p50Us ?? null,
            addedP50Us: null,
          };
          r.rounds.push(sample);
          log(
            `  ${s.id.padEnd(28)} ${Math.round(sample.rps).toLocaleString('en-US').padStart(7)} req/s  p50 ${micros(sample.p50Us).padStart(8)}  ` +
              `p99 ${micros(sample.p99Us).padStart(8)}  cpu ${sample.cpuUsPerReq.toFixed(1).padStart(6)} µs/req (${sample.cpuCores.toFixed(2)} cores${sample.otherCores !== null ? `, other ${sample.otherCores.toFixed(2)}` : ''})  ` +
              `rss ${rss.toFixed(0)} MiB${at1 ? `  p50@1 ${micros(at1.p50Us)}` : ''}${sample.errors ? `  ERRORS ${sample.errors}` : ''}`,
          );
        } catch (err) {
          const alive = server.child.exitCode === null && server.child.signalCode === null;
          r.unavailable = alive
            ? `load failed: ${(err as Error).message.split('\n')[0]}`
            : `process died: ${server.stderrTail().split('\n')[0]}`;
          log(`  ${s.id}: ${r.unavailable}`);
        }
      }
    }
    for (const server of servers.values()) await server.stop();

    summarise(results);
    summariseStart(start);
    const checks = evaluateChecks(results, start);
    const report: BenchResults = {
      meta: {
        date: new Date().toISOString(),
        node: process.version,
        v8: process.versions.v8,
        os: `${type()} ${release()}`,
        cpuModel: cpus()[0]?.model.trim() ?? 'unknown CPU',
        cpus: cpus().length,
        memoryGiB: Math.round(totalmem() / 2 ** 30),
        loadTool: version,
        pinning: pinning.description,
        rounds: options.rounds,
        durationSec: options.durationSec,
        warmupSec: options.warmupSec,
        latencyDurationSec: options.latencyDurationSec,
        connections: options.connections,
        startRuns: options.startRuns,
        retries: options.retries,
        maxOther: options.maxOther,
        elapsedSec: (performance.now() - t0) / 1000,
        loadAverage: [load0, loadavg()[0]!],
        packages: packageVersions(['undici', 'fast-gateway', 'fastify', '@fastify/http-proxy']),
      },
      scenarios: results,
      start,
      checks,
    };
    const files = await writeReport(report, options.outDir);
    log('');
    log(markdown(report));
    log(`bench: wrote ${files.join(', ')}`);
    return 0;
  } finally {
    killAll();
    await rm(scratchDir, { recursive: true, force: true });
  }
}

/** Spawn-to-listening for each target, interleaved run by run (A B C … A B C …). */
async function measureStart(
  targets: readonly TargetSpec[],
  ctx: TargetContext,
  runs: number,
): Promise<StartResult[]> {
  const list = targets.filter((t) => t.kind !== 'direct');
  const out: StartResult[] = list.map((t) => ({
    target: t.id,
    label: t.label,
    samplesMs: [],
    medianMs: null,
    vsBare: null,
    unavailable: null,
  }));
  if (runs === 0) return out;
  log(`bench: start to listening, ${runs} runs per target`);
  for (let i = 0; i < runs; i++) {
    for (const [j, t] of list.entries()) {
      const r = out[j]!;
      if (r.unavailable !== null && r.samplesMs.every((x) => !Number.isFinite(x))) {
        r.samplesMs.push(Number.NaN);
        continue;
      }
      try {
        const server = await startServer({ role: roleOf(t), args: await t.command(ctx) });
        r.samplesMs.push(server.startMs);
        await server.stop();
      } catch (err) {
        r.samplesMs.push(Number.NaN);
        r.unavailable = (err as Error).message;
      }
    }
  }
  for (const r of out) {
    const ok = r.samplesMs.filter((x) => Number.isFinite(x));
    log(
      `  ${r.target.padEnd(20)} ${ok.length ? ok.map((x) => x.toFixed(0)).join(' ') + ' ms' : `unavailable: ${r.unavailable}`}`,
    );
  }
  return out;
}

/** Unpinned targets run on every CPU; the rest on the gateway's CPU when pinning. */
function roleOf(t: TargetSpec): 'gateway' | 'free' {
  return t.unpinned === true ? 'free' : 'gateway';
}

function packageVersions(names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of names) {
    try {
      out[name] = (
        JSON.parse(readFileSync(join(rootDir, 'node_modules', name, 'package.json'), 'utf8')) as {
          version: string;
        }
      ).version;
    } catch {
      out[name] = 'not installed';
    }
  }
  return out;
}

main().then(
  (code) => {
    killAll();
    process.exit(code);
  },
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
    killAll();
    process.exit(1);
  },
);
