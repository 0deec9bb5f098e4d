/** Writes the results: markdown table, JSON, and a hand-written SVG bar chart. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BenchResults, Ratios, ScenarioResult, StartResult } from './results.ts';
import { WORKLOADS, type Kind, type WorkloadId } from './scenarios.ts';

export async function writeReport(results: BenchResults, outDir: string): Promise<string[]> {
  await mkdir(outDir, { recursive: true });
  const files = {
    md: join(outDir, 'latest.md'),
    json: join(outDir, 'latest.json'),
    svg: join(outDir, 'latest.svg'),
  };
  await writeFile(files.md, markdown(results));
  await writeFile(files.json, `${JSON.stringify(results, null, 2)}\n`);
  await writeFile(files.svg, svg(results));
  return Object.values(files);
}

// ---------- formatting ----------

const int = (x: number): string => Math.round(x).toLocaleString('en-US');
const num = (x: number | null | undefined, digits: number): string =>
  x == null ? '—' : x.toFixed(digits);
const ratio = (x: number | null | undefined): string => (x == null ? '—' : `${x.toFixed(2)}×`);

export function micros(us: number | null | undefined): string {
  if (us == null) return '—';
  if (Math.abs(us) >= 1000) return `${(us / 1000).toFixed(2)} ms`;
  return `${Math.round(us)} µs`;
}

export function machineLine(r: BenchResults): string {
  const m = r.meta;
  return `${m.cpuModel}, ${m.cpus} CPUs, ${m.memoryGiB} GiB, ${m.os}; Node ${m.node}`;
}

// ---------- markdown ----------

export function markdown(r: BenchResults): string {
  const m = r.meta;
  const lines: string[] = [];
  lines.push(`# Portico benchmark`, '');
  lines.push(`- **When**: ${m.date} (took ${Math.round(m.elapsedSec)} s)`);
  lines.push(`- **Machine**: ${machineLine(r)}`);
  lines.push(`- **CPU pinning**: ${m.pinning}`);
  lines.push(
    `- **Load average** (1 min) before / after: ${m.loadAverage[0].toFixed(2)} / ${m.loadAverage[1].toFixed(2)}` +
      (Math.max(...m.loadAverage) > 1
        ? ' — the machine was busy with other work; read ratios, not absolutes'
        : ''),
  );
  const other = r.scenarios.map((s) => s.median?.otherCores ?? 0);
  if (other.length > 0 && Math.max(...other) > 0.05) {
    lines.push(
      `- **Warning**: other work took up to ${Math.max(...other).toFixed(2)} of the gateway's CPU during load phases ` +
        '(column "other work on CPU 0"); rows with a high value understate their target.',
    );
  }
  lines.push(
    `- **Load**: ${m.loadTool}, ${m.connections} connections, ${m.rounds} interleaved rounds × ${m.durationSec} s ` +
      `after a ${m.warmupSec} s warm-up per scenario; p50 at 1 connection over ${m.latencyDurationSec} s; ` +
      `start-up: ${m.startRuns} interleaved runs per target` +
      (m.pinning.startsWith('taskset')
        ? `; a load phase is re-run (up to ${m.retries}×, least disturbed kept) when other work took > ${m.maxOther} of CPU 0`
        : ''),
  );
  lines.push(
    `- **Peers**: ${Object.entries(m.packages)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  );
  lines.push('');
  lines.push(
    'Medians over rounds. Ratios are taken pair by pair within a round (same workload), then the median.',
  );
  lines.push('');
  lines.push(
    '| Target | Workload | req/s | × minimal | × direct | p50 | p99 | CPU µs/req | CPU × minimal | cores busy | other work on CPU 0 | RSS MiB | added p50 @ 1 conn | errors |',
  );
  lines.push(`| --- | --- |${' ---: |'.repeat(12)}`);
  for (const s of r.scenarios) {
    if (s.median === null) {
      lines.push(
        `| ${s.label} | ${s.workloadLabel} | unavailable: ${escapeMd(s.unavailable ?? 'no data')} |${' |'.repeat(11)}`,
      );
      continue;
    }
    const md = s.median;
    lines.push(
      `| ${s.label} | ${s.workloadLabel} | ${int(md.rps)} | ${ratio(s.vsMinimal?.rps)} | ${ratio(s.vsDirect?.rps)} | ` +
        `${micros(md.p50Us)} | ${micros(md.p99Us)} | ${num(md.cpuUsPerReq, 1)} | ${ratio(s.vsMinimal?.cpuUsPerReq)} | ` +
        `${num(md.cpuCores, 2)} | ${num(md.otherCores, 2)} | ${num(md.rssMiB, 1)} | ${micros(md.addedP50Us)} | ${md.errors} |`,
    );
  }
  lines.push('');
  lines.push(...workersTable(r.scenarios));
  lines.push('## Start to listening', '');
  lines.push(
    'Spawn of `node …` until the process prints its "listening" line (Portico: the real CLI).',
    '',
  );
  lines.push('| Target | median | × bare node:http | runs |');
  lines.push('| --- | ---: | ---: | ---: |');
  for (const s of r.start) {
    const ok = s.samplesMs.filter((x) => Number.isFinite(x)).length;
    lines.push(
      s.medianMs === null
        ? `| ${s.label} | unavailable: ${escapeMd(s.unavailable ?? 'no data')} | | 0 |`
        : `| ${s.label} | ${num(s.medianMs, 0)} ms | ${ratio(s.vsBare)} | ${ok} |`,
    );
  }
  lines.push('');
  lines.push('## Targets (issue #3)', '');
  for (const c of r.checks) lines.push(`- **${c.status}** ${c.name}: ${c.detail}`);
  lines.push('');
  lines.push('## Notes', '');
  lines.push(
    '- *CPU µs/req*: user + system time of the target process (from `/proc/PID/stat`) during the load phase, over the requests served; ' +
      'for proxies it excludes the upstream. *cores busy*: that CPU time over the wall time (1.00 = one core saturated).',
  );
  lines.push(
    "- *other work on CPU 0* (pinned runs): busy time of the gateway's CPU not spent by the target, in cores. " +
      "Above about 0.05 another process shared the gateway's CPU and that row understates the target.",
  );
  lines.push(
    '- *added p50 @ 1 conn*: p50 at one connection minus the direct upstream p50 at one connection in the same round.',
  );
  if (m.loadTool.startsWith('autocannon')) {
    lines.push(
      '- autocannon reports latency in whole milliseconds: the added p50 at 1 connection is too coarse to compare.',
    );
  }
  lines.push(
    '- 64 KiB and POST targets: "the same ratios within 10 %" read as ≥ 0.9× the minimal proxy, ≥ 1.35× each peer, CPU ≤ 1.1× minimal.',
  );
  lines.push('');
  return `${lines.join('\n')}`;
}

/** Clusters against their 1-worker run: the multi-core scaling the bench shows. */
function workersTable(scenarios: readonly ScenarioResult[]): string[] {
  const pairs = scenarios.flatMap((s) => {
    const one = scenarios.find((b) => b.target === s.baseline && b.workload === s.workload);
    return s.workers > 1 && one !== undefined ? [{ many: s, one }] : [];
  });
  if (pairs.length === 0) return [];
  const lines = [
    '## Workers (unpinned)',
    '',
    '`portico --workers N` against the same config as one process, both on every CPU (not pinned), ' +
      'with the upstream and load generator on the same machine. CPU and RSS are summed over the primary and its workers.',
    '',
    '| Route | Workload | 1 worker req/s | N workers req/s | × 1 worker | cores busy (1 / N) | RSS MiB (1 / N) |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const { many, one } of pairs) {
    const a = one.median;
    const b = many.median;
    lines.push(
      `| ${many.label} | ${many.workloadLabel} | ${a ? int(a.rps) : '—'} | ${b ? int(b.rps) : '—'} | ` +
        `${ratio(many.vsBaseline?.rps)} | ${num(a?.cpuCores, 2)} / ${num(b?.cpuCores, 2)} | ` +
        `${num(a?.rssMiB, 1)} / ${num(b?.rssMiB, 1)} |`,
    );
  }
  lines.push('');
  return lines;
}

function escapeMd(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

// ---------- SVG ----------

const COLORS: Record<Kind, string> = {
  portico: '#e8590c',
  floor: '#1c7ed6',
  peer: '#868e96',
  direct: '#2f9e44',
};

interface Bar {
  readonly label: string;
  readonly kind: Kind;
  readonly value: number | null;
  readonly text: string;
}

interface Panel {
  readonly title: string;
  readonly bars: readonly Bar[];
}

function throughputPanel(r: BenchResults, w: WorkloadId): Panel {
  return {
    title: `Throughput, ${WORKLOADS[w].label}, ${r.meta.connections} connections — req/s, higher is better`,
    bars: r.scenarios
      .filter((s) => s.workload === w)
      .map((s) => bar(s, s.median?.rps ?? null, (v) => `${int(v)}${vs(s, (x) => x.rps)}`)),
  };
}

/** "  ·  1.05× minimal": the ratio to the scenario's floor, when it is not the floor itself. */
function vs(s: ScenarioResult, metric: (r: Ratios) => number | null): string {
  const x = s.vsBaseline === null ? null : metric(s.vsBaseline);
  return x === null || s.target === s.baseline || s.kind === 'direct'
    ? ''
    : `  ·  ${ratio(x)} ${s.baseline}`;
}

function bar(s: ScenarioResult, value: number | null, text: (v: number) => string): Bar {
  return {
    label: s.label,
    kind: s.kind,
    value: s.unavailable !== null ? null : value,
    text:
      s.unavailable !== null
        ? `unavailable: ${truncate(s.unavailable, 60)}`
        : value === null
          ? '—'
          : text(value),
  };
}

function startBar(s: StartResult, kind: Kind): Bar {
  return {
    label: s.label,
    kind,
    value: s.medianMs,
    text:
      s.medianMs === null
        ? `unavailable: ${truncate(s.unavailable ?? '', 60)}`
        : `${Math.round(s.medianMs)} ms${s.vsBare != null && s.target !== 'bare' ? `  ·  ${ratio(s.vsBare)} bare` : ''}`,
  };
}

export function svg(r: BenchResults): string {
  const small = r.scenarios.filter((s) => s.workload === 'small');
  const kindOf = new Map(r.scenarios.map((s) => [s.target, s.kind]));
  const panels: Panel[] = [
    throughputPanel(r, 'small'),
    {
      title: 'CPU per request, ~100 B JSON GET — µs of the target process, lower is better',
      bars: small.map((s) =>
        bar(
          s,
          s.median?.cpuUsPerReq ?? null,
          (v) => `${v.toFixed(1)} µs${vs(s, (x) => x.cpuUsPerReq)}`,
        ),
      ),
    },
    {
      title: 'p50 latency added at 1 connection over the direct upstream — µs, lower is better',
      bars: small
        .filter((s) => s.kind !== 'direct')
        .map((s) => bar(s, s.median?.addedP50Us ?? null, (v) => `${Math.round(v)} µs`)),
    },
    throughputPanel(r, 'large'),
    throughputPanel(r, 'post'),
    {
      title: 'Start to listening — ms from spawn, lower is better',
      bars: r.start.map((s) => startBar(s, kindOf.get(s.target) ?? 'floor')),
    },
  ].filter((p) => p.bars.length > 0);

  const W = 980;
  const labelW = 200;
  const barMax = 470;
  const rowH = 22;
  const x0 = 16 + labelW;
  const out: string[] = [];
  let y = 24;
  const pass = r.checks.filter((c) => c.status === 'PASS').length;
  const fail = r.checks.filter((c) => c.status === 'FAIL').length;
  out.push(text(16, y, 'Portico benchmark', { size: 18, weight: 'bold' }));
  y += 20;
  out.push(
    text(16, y, `${machineLine(r)} · ${r.meta.loadTool} · ${r.meta.date.slice(0, 10)}`, {
      size: 12,
      fill: '#495057',
    }),
  );
  y += 16;
  out.push(
    text(
      16,
      y,
      `${r.meta.rounds} rounds × ${r.meta.durationSec} s, medians · ${r.meta.pinning} · targets: ${pass} PASS, ${fail} FAIL`,
      { size: 12, fill: '#495057' },
    ),
  );
  y += 20;
  let lx = 16;
  for (const [kind, name] of [
    ['portico', 'Portico'],
    ['floor', 'hand-written floor'],
    ['peer', 'peer gateway'],
    ['direct', 'upstream, direct'],
  ] as const) {
    out.push(`<rect x="${lx}" y="${y - 10}" width="12" height="12" fill="${COLORS[kind]}"/>`);
    out.push(text(lx + 17, y, name, { size: 12 }));
    lx += 40 + name.length * 7;
  }
  y += 14;

  for (const p of panels) {
    y += 22;
    out.push(text(16, y, p.title, { size: 13, weight: 'bold' }));
    y += 8;
    const max = Math.max(1e-9, ...p.bars.map((b) => Math.abs(b.value ?? 0)));
    for (const b of p.bars) {
      const w = b.value === null ? 0 : Math.max(1, (Math.max(0, b.value) / max) * barMax);
      out.push(text(16 + labelW - 8, y + 15, b.label, { size: 12, anchor: 'end' }));
      if (b.value !== null) {
        out.push(
          `<rect x="${x0}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowH - 6}" fill="${COLORS[b.kind]}" rx="2"/>`,
        );
      }
      out.push(
        text(x0 + w + 6, y + 15, b.text, {
          size: 12,
          fill: b.value === null ? '#c92a2a' : '#212529',
        }),
      );
      y += rowH;
    }
  }
  y += 16;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${y}" viewBox="0 0 ${W} ${y}" ` +
    `font-family="system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif">\n` +
    `<rect width="100%" height="100%" fill="#ffffff"/>\n${out.join('\n')}\n</svg>\n`
  );
}

function text(
  x: number,
  y: number,
  s: string,
  o: { size: number; weight?: string; fill?: string; anchor?: 'start' | 'end' },
): string {
  const attrs = [
    `x="${x.toFixed(1)}"`,
    `y="${y.toFixed(1)}"`,
    `font-size="${o.size}"`,
    ...(o.weight ? [`font-weight="${o.weight}"`] : []),
    `fill="${o.fill ?? '#212529'}"`,
    ...(o.anchor === 'end' ? ['text-anchor="end"'] : []),
  ];
  return `<text ${attrs.join(' ')}>${escapeXml(s)}</text>`;
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function truncate(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}
