/**
 * `npm run bench -- --profile`: runs Portico's http route and the minimal proxy under the
 * same load with `node --cpu-prof`, then summarises where each spends its CPU time.
 * Writes bench/results/profile.md; the .cpuprofile files go to bench/results/profiles/
 * (open them in Chrome DevTools or speedscope).
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  readProfile,
  summarise,
  summaryMarkdown,
  type ProfileSummary,
} from './cpuprofile-summary.ts';
import { detectLoadTool, runLoad, type LoadTool } from './load.ts';
import { removeOnExit, startServer, stop } from './procs.ts';
import { micros } from './report.ts';
import { TARGETS, WORKLOADS, type TargetContext } from './scenarios.ts';

export interface ProfileOptions {
  readonly rootDir: string;
  readonly benchDir: string;
  readonly outDir: string;
  readonly durationSec: number;
  readonly connections: number;
  readonly load: 'auto' | LoadTool;
  /** Target ids to profile side by side (default: Portico's http route and the minimal proxy). */
  readonly targets?: readonly string[] | undefined;
  /** Workload ids (default: small and large). */
  readonly workloads?: readonly string[] | undefined;
}

export async function profile(o: ProfileOptions): Promise<number> {
  const { tool, version } = detectLoadTool(o.load);
  const profDir = join(o.outDir, 'profiles');
  await mkdir(profDir, { recursive: true });
  await writeFile(join(o.outDir, '.gitignore'), 'profiles/\n');
  const scratchDir = await mkdtemp(join(tmpdir(), 'portico-profile-'));
  removeOnExit(scratchDir);
  const sections: string[] = [];
  try {
    const upstream = await startServer({
      role: 'support',
      args: [join(o.benchDir, 'upstream.js')],
    });
    const ctx: TargetContext = {
      upstreamUrl: upstream.url,
      benchDir: o.benchDir,
      rootDir: o.rootDir,
      scratchDir,
    };
    const workloads = (o.workloads ?? ['small', 'large']).map((id) => {
      const w = WORKLOADS[id as keyof typeof WORKLOADS];
      if (w === undefined) throw new Error(`unknown workload "${id}"`);
      return w;
    });
    for (const w of workloads) {
      const perRequest: { label: string; summary: ProfileSummary; requests: number }[] = [];
      const parts: string[] = [];
      for (const id of o.targets ?? ['portico-http', 'minimal']) {
        const target = TARGETS.find((t) => t.id === id);
        if (target === undefined) throw new Error(`unknown target "${id}"`);
        const name = `${id}-${w.id}.cpuprofile`;
        const file = join(profDir, name);
        await rm(file, { force: true });
        const server = await startServer({
          role: 'gateway',
          args: [
            '--cpu-prof',
            `--cpu-prof-dir=${profDir}`,
            `--cpu-prof-name=${name}`,
            ...(await target.command(ctx)),
          ],
        });
        process.stdout.write(
          `profile: ${target.label}: ${o.durationSec} s of ${w.label} at ${o.connections} connections (${version})\n`,
        );
        const load = await runLoad(
          tool,
          {
            url: server.url + w.path,
            method: w.method,
            connections: o.connections,
            durationSec: o.durationSec,
          },
          scratchDir,
        );
        // A clean exit writes the profile (Portico drains on SIGINT; the bench scripts exit on it).
        await stop(server.child, 'SIGINT', 20_000);
        if (!existsSync(file)) {
          throw new Error(
            `${target.label} wrote no profile (${server.stderrTail() || 'no stderr'})`,
          );
        }
        const summary = summarise(readProfile(file));
        const title =
          `${target.label}, ${w.label}: ${Math.round(load.rps).toLocaleString('en-US')} req/s, p50 ${micros(load.p50Us)}, ` +
          `${((summary.busyMs * 1000) / load.requests).toFixed(1)} µs busy per request (profiler on)`;
        parts.push(summaryMarkdown(title, summary, 15));
        perRequest.push({ label: target.label, summary, requests: load.requests });
        process.stdout.write(`${parts.at(-1)}\n`);
      }
      sections.push(`## ${w.label}\n`, comparison(perRequest), ...parts);
    }
    await upstream.stop();
    const md = [
      '# CPU profiles under load',
      '',
      `\`node --cpu-prof\`, ${o.connections} connections, ${o.durationSec} s, ${version}, ` +
        `Node ${process.version}. Self time by function (top 15) and by where the code lives. ` +
        'The profile includes start-up and the idle tail; shares are of busy time.',
      '',
      ...sections,
    ].join('\n');
    await writeFile(join(o.outDir, 'profile.md'), md);
    process.stdout.write(
      `profile: wrote ${join(o.outDir, 'profile.md')} and ${profDir}/*.cpuprofile\n`,
    );
    return 0;
  } finally {
    await rm(scratchDir, { recursive: true, force: true });
  }
}

/** Self time per request by where the code lives, side by side (µs/request). */
function comparison(rows: { label: string; summary: ProfileSummary; requests: number }[]): string {
  const groups = [...new Set(rows.flatMap((r) => r.summary.groups.map((g) => g.group)))];
  const us = (r: (typeof rows)[number], group: string): number =>
    ((r.summary.groups.find((g) => g.group === group)?.selfMs ?? 0) * 1000) / r.requests;
  const total = (r: (typeof rows)[number]): number => (r.summary.busyMs * 1000) / r.requests;
  groups.sort(
    (a, b) => Math.max(...rows.map((r) => us(r, b))) - Math.max(...rows.map((r) => us(r, a))),
  );
  const lines = [
    '### Where the time goes, per request',
    '',
    'Busy self time divided by the requests served (start-up included, so read the small rows with care).',
    '',
    `| where | ${rows.map((r) => `${r.label} µs/req`).join(' | ')} |`,
    `| --- | ${rows.map(() => '---:').join(' | ')} |`,
    `| **total busy** | ${rows.map((r) => `**${total(r).toFixed(1)}**`).join(' | ')} |`,
    ...groups.map((g) => `| ${g} | ${rows.map((r) => us(r, g).toFixed(2)).join(' | ')} |`),
    '',
  ];
  return lines.join('\n');
}
