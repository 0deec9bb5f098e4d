/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`): top functions by self time, and
 * self time grouped by where the code lives (Portico, undici, Node's http, ...).
 * Usage: node dist/bench/cpuprofile-summary.js FILE.cpuprofile [top=15]
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTimeEntry {
  readonly name: string;
  readonly where: string;
  readonly group: string;
  readonly selfMs: number;
  /** Share of the busy (non-idle) time. */
  readonly share: number;
}

export interface ProfileSummary {
  readonly totalMs: number;
  readonly busyMs: number;
  readonly functions: SelfTimeEntry[];
  readonly groups: { group: string; selfMs: number; share: number }[];
}

const SOCKET_NATIVES = new Set([
  'writev',
  'writeBuffer',
  'writeLatin1String',
  'writeUtf8String',
  'writeAsciiString',
  'readStart',
  'readStop',
  'shutdown',
  'close',
]);

/** Where a script URL lives, in a few words. */
export function groupOf(url: string, name: string): string {
  if (url === '') {
    if (name === '(garbage collector)') return 'GC';
    if (name === '(program)') return 'V8/native (program)';
    if (name === '(idle)') return 'idle';
    if (SOCKET_NATIVES.has(name)) return 'native: socket writes/reads (syscalls)';
    if (/Slice$|^(byteLengthUtf8|compare|copy|fill)$/.test(name)) return 'node: buffers/strings';
    if (name.startsWith('RegExp:')) return 'regexp';
    if (name === 'runMicrotasks') return 'node: timers/ticks';
    return 'native: other';
  }
  if (url.startsWith('wasm://')) return 'npm: undici (llhttp wasm)';
  if (/\/dist\/lib\//.test(url)) return 'Portico (dist/lib)';
  if (/\/dist\/bench\//.test(url)) return 'bench script (the proxy itself)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg !== null) return `npm: ${pkg[1]}`;
  if (/^node:(_http_|http$|internal\/http)/.test(url)) return 'node: http';
  if (/^node:(net|internal\/(stream_base_commons|net|tcp|js_stream))/.test(url))
    return 'node: net/socket';
  if (/^node:(stream|internal\/streams)/.test(url)) return 'node: streams';
  if (/^node:(events|internal\/events)/.test(url)) return 'node: events';
  if (/^node:(internal\/(process\/task_queues|timers|async_hooks)|timers)/.test(url))
    return 'node: timers/ticks';
  if (/^node:(buffer|internal\/buffer)/.test(url)) return 'node: buffers/strings';
  if (/^node:(internal\/(modules|bootstrap|fs|url|source_map|vm)|fs|module|url|vm)/.test(url)) {
    return 'node: start-up (modules, fs)';
  }
  if (/^node:/.test(url)) return 'node: other';
  return 'other';
}

function shortUrl(url: string): string {
  return url
    .replace(/^file:\/\/.*?\/node_modules\//, '')
    .replace(/^file:\/\/.*?\/dist\//, 'dist/')
    .replace(/^file:\/\//, '');
}

export function summarise(profile: CpuProfile): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  const { samples, timeDeltas } = profile;
  // timeDeltas[i] is the time since the previous sample; sample i lasts until sample i + 1.
  for (let i = 0; i < samples.length; i++) {
    const dt = timeDeltas[i + 1] ?? 0;
    self.set(samples[i]!, (self.get(samples[i]!) ?? 0) + dt);
  }
  const fn = new Map<string, { name: string; where: string; group: string; us: number }>();
  const groups = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of self) {
    const node = byId.get(id)!;
    const cf = node.callFrame;
    const name = cf.functionName || '(anonymous)';
    const group = groupOf(cf.url, name);
    total += us;
    if (group === 'idle') {
      idle += us;
      continue;
    }
    const where = cf.url === '' ? '' : `${shortUrl(cf.url)}:${cf.lineNumber + 1}`;
    const key = `${name} ${where}`;
    const e = fn.get(key) ?? { name, where, group, us: 0 };
    e.us += us;
    fn.set(key, e);
    groups.set(group, (groups.get(group) ?? 0) + us);
  }
  const busy = total - idle;
  return {
    totalMs: total / 1000,
    busyMs: busy / 1000,
    functions: [...fn.values()]
      .sort((a, b) => b.us - a.us)
      .map((e) => ({
        name: e.name,
        where: e.where,
        group: e.group,
        selfMs: e.us / 1000,
        share: e.us / busy,
      })),
    groups: [...groups.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([group, us]) => ({ group, selfMs: us / 1000, share: us / busy })),
  };
}

export function summaryMarkdown(title: string, s: ProfileSummary, top: number): string {
  const lines = [
    `### ${title}`,
    '',
    `Profiled ${(s.totalMs / 1000).toFixed(1)} s, busy ${(s.busyMs / 1000).toFixed(1)} s (shares below are of busy time).`,
    '',
    `| # | self ms | share | function | where |`,
    '| ---: | ---: | ---: | --- | --- |',
    ...s.functions
      .slice(0, top)
      .map(
        (f, i) =>
          `| ${i + 1} | ${f.selfMs.toFixed(0)} | ${(f.share * 100).toFixed(1)} % | \`${f.name}\` | ${f.where || '(native)'} |`,
      ),
    '',
    '| where | self ms | share |',
    '| --- | ---: | ---: |',
    ...s.groups.map(
      (g) => `| ${g.group} | ${g.selfMs.toFixed(0)} | ${(g.share * 100).toFixed(1)} % |`,
    ),
    '',
  ];
  return lines.join('\n');
}

export function readProfile(file: string): CpuProfile {
  return JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2];
  if (file === undefined) {
    process.stderr.write('usage: node dist/bench/cpuprofile-summary.js FILE.cpuprofile [top]\n');
    process.exit(2);
  }
  process.stdout.write(
    summaryMarkdown(file, summarise(readProfile(file)), Number(process.argv[3] ?? 15)),
  );
}
