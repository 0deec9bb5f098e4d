/**
 * The load generator: wrk (Debian's package) when installed, else autocannon (a
 * devDependency, run as its own process so its CPU is not the orchestrator's).
 * Both run on the "support" CPU when pinning, bounded in time.
 */
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pinned, track } from './procs.ts';

export type LoadTool = 'wrk' | 'autocannon';

export interface LoadRequest {
  readonly url: string;
  readonly method: 'GET' | 'POST';
  readonly body?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly connections: number;
  readonly durationSec: number;
}

export interface LoadResult {
  readonly requests: number;
  readonly seconds: number;
  readonly rps: number;
  readonly p50Us: number;
  readonly p99Us: number;
  /** Non-2xx/3xx responses plus socket errors and timeouts. */
  readonly errors: number;
}

export function detectLoadTool(choice: 'auto' | LoadTool): { tool: LoadTool; version: string } {
  const wrk = spawnSync('wrk', ['-v'], { encoding: 'utf8' });
  const wrkVersion = /wrk\s+(\S+(?:\s\S+)?)/.exec(`${wrk.stdout ?? ''}${wrk.stderr ?? ''}`)?.[0];
  if (choice !== 'autocannon' && wrk.error === undefined && wrkVersion !== undefined) {
    return { tool: 'wrk', version: wrkVersion.split(' [')[0]! };
  }
  if (choice === 'wrk')
    throw new Error('--load wrk: wrk is not installed (apt-get install -y wrk)');
  const pkg = createRequire(import.meta.url)('autocannon/package.json') as { version: string };
  return { tool: 'autocannon', version: `autocannon ${pkg.version}` };
}

export function runLoad(tool: LoadTool, req: LoadRequest, scratchDir: string): Promise<LoadResult> {
  return tool === 'wrk' ? runWrk(req, scratchDir) : runAutocannon(req);
}

let scriptSeq = 0;

async function runWrk(req: LoadRequest, scratchDir: string): Promise<LoadResult> {
  const args = [
    '-t1',
    `-c${req.connections}`,
    `-d${req.durationSec}s`,
    '--latency',
    '--timeout',
    '10s',
  ];
  if (req.method !== 'GET' || req.body !== undefined || req.headers !== undefined) {
    // wrk sets the method/body/headers of its request only through a script; the latency report stays wrk's own.
    const lines = [`wrk.method = ${JSON.stringify(req.method)}`];
    if (req.body !== undefined) lines.push(`wrk.body = ${luaString(req.body)}`);
    for (const [k, v] of Object.entries(req.headers ?? {}))
      lines.push(`wrk.headers[${luaString(k)}] = ${luaString(v)}`);
    const file = join(scratchDir, `wrk-${++scriptSeq}.lua`);
    writeFileSync(file, `${lines.join('\n')}\n`);
    args.push('-s', file);
  }
  args.push(req.url);
  const out = await exec('support', 'wrk', args, (req.durationSec + 30) * 1000);
  return parseWrk(out);
}

function luaString(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`).replace(/\n/g, '\\n')}"`;
}

/** Parses wrk's text report (with --latency). */
export function parseWrk(out: string): LoadResult {
  const total = /(\d+) requests in ([\d.]+)(us|ms|s|m)/.exec(out);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const p50 = /^\s+50%\s+([\d.]+)(us|ms|s|m)\s*$/m.exec(out);
  const p99 = /^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$/m.exec(out);
  if (total === null || rps === null || p50 === null || p99 === null) {
    throw new Error(`cannot parse wrk output:\n${out}`);
  }
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = sock === null ? 0 : sock.slice(1).reduce((a, b) => a + Number(b), 0);
  return {
    requests: Number(total[1]),
    seconds: toMicros(total[2]!, total[3]!) / 1e6,
    rps: Number(rps[1]),
    p50Us: toMicros(p50[1]!, p50[2]!),
    p99Us: toMicros(p99[1]!, p99[2]!),
    errors: non2xx + socketErrors,
  };
}

function toMicros(value: string, unit: string): number {
  const n = Number(value);
  switch (unit) {
    case 'us':
      return n;
    case 'ms':
      return n * 1e3;
    case 's':
      return n * 1e6;
    default:
      return n * 60e6;
  }
}

async function runAutocannon(req: LoadRequest): Promise<LoadResult> {
  const require = createRequire(import.meta.url);
  const bin = join(dirname(require.resolve('autocannon/package.json')), 'autocannon.js');
  const args = [
    bin,
    '-c',
    String(req.connections),
    '-d',
    String(req.durationSec),
    '-j',
    '-m',
    req.method,
  ];
  if (req.body !== undefined) args.push('-b', req.body);
  for (const [k, v] of Object.entries(req.headers ?? {})) args.push('-H', `${k}=${v}`);
  args.push(req.url);
  const out = await exec('support', process.execPath, args, (req.durationSec + 30) * 1000);
  const json = JSON.parse(out.slice(out.indexOf('{'))) as {
    requests: { average: number; total: number };
    latency: { p50: number; p99: number };
    duration: number;
    non2xx: number;
    errors: number;
    timeouts: number;
  };
  return {
    requests: json.requests.total,
    seconds: json.duration,
    rps: json.requests.total / json.duration,
    // autocannon reports latency in ms.
    p50Us: json.latency.p50 * 1e3,
    p99Us: json.latency.p99 * 1e3,
    errors: json.non2xx + json.errors + json.timeouts,
  };
}

/** Runs a command to completion within `timeoutMs`, returning stdout. */
function exec(
  role: 'support',
  command: string,
  args: readonly string[],
  timeoutMs: number,
): Promise<string> {
  const [cmd, argv] = pinned(role, command, args);
  return new Promise<string>((resolve, reject) => {
    const child = track(spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] }));
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child
      .stderr!.setEncoding('utf8')
      .on('data', (c: string) => (stderr = (stderr + c).slice(-4096)));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(stdout);
      else
        reject(new Error(`${command} exited ${code ?? signal}: ${stderr.trim() || stdout.trim()}`));
    });
  });
}
