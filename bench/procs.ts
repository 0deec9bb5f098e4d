/**
 * Child processes for the bench: spawn (optionally pinned with taskset), wait for the
 * "listening on URL" line, read CPU time and RSS from /proc, and kill every child on
 * exit, Ctrl-C or a crash.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';

/**
 * Which CPU a process goes on when pinning: the gateway's, or the one shared by upstream and
 * load; `free` is never pinned (a multi-process target that should use every CPU).
 */
export type CpuRole = 'gateway' | 'support' | 'free';

export interface Pinning {
  readonly enabled: boolean;
  readonly description: string;
}

let pinning: Pinning = { enabled: false, description: 'not pinned' };

/** Decides pinning once: `auto` pins when taskset exists and there are at least 2 CPUs. */
export function setupPinning(mode: 'auto' | 'on' | 'off'): Pinning {
  const cpus = availableParallelism();
  const hasTaskset = spawnSync('taskset', ['--version'], { stdio: 'ignore' }).status === 0;
  if (mode === 'off') {
    pinning = { enabled: false, description: 'not pinned (--pin off)' };
  } else if (!hasTaskset || cpus < 2) {
    const why = !hasTaskset ? 'taskset not found' : `only ${cpus} CPU`;
    if (mode === 'on') throw new Error(`--pin on: cannot pin (${why})`);
    pinning = { enabled: false, description: `not pinned (${why})` };
  } else {
    // The orchestrator (this process) mostly waits, but keep it off the gateway's CPU too.
    spawnSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });
    pinning = {
      enabled: true,
      description:
        'taskset: gateway/server under test on CPU 0; upstream, load generator and orchestrator on CPU 1',
    };
  }
  return pinning;
}

/** The command line for a process in `role`, wrapped in taskset when pinning. taskset execs, so the pid is the program's. */
export function pinned(
  role: CpuRole,
  command: string,
  args: readonly string[],
): [string, string[]] {
  if (!pinning.enabled || role === 'free') return [command, [...args]];
  return ['taskset', ['-c', role === 'gateway' ? '0' : '1', command, ...args]];
}

const children = new Set<ChildProcess>();

/** Registers a child so that it is killed when the bench exits, however it exits. */
export function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

const scratchDirs = new Set<string>();

/** A temporary folder removed when the bench exits, however it exits. */
export function removeOnExit(dir: string): void {
  scratchDirs.add(dir);
}

/** Kills every tracked child and removes the scratch folders. Synchronous: safe in 'exit'. */
export function killAll(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  children.clear();
  for (const dir of scratchDirs) rmSync(dir, { recursive: true, force: true });
  scratchDirs.clear();
}

let installed = false;
/** Kills every child on exit, SIGINT, SIGTERM and uncaught errors. */
export function installCleanup(): void {
  if (installed) return;
  installed = true;
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      process.stderr.write(`\nbench: ${signal}, stopping every child process\n`);
      killAll();
      process.exit(130);
    });
  }
  process.on('uncaughtException', (err) => {
    process.stderr.write(`bench: ${err.stack ?? String(err)}\n`);
    killAll();
    process.exit(1);
  });
}

export interface Server {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly url: string;
  /** Spawn to the "listening" line, ms. */
  readonly startMs: number;
  /** The last few KB of stderr, for error messages. */
  stderrTail(): string;
  stop(): Promise<void>;
}

export interface StartOptions {
  readonly role: CpuRole;
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  readonly timeoutMs?: number;
  readonly cwd?: string;
}

const LISTENING = /listening on (http:\/\/[^\s)]+)/;

/** Spawns `node ARGS` and resolves once it prints "listening on URL"; rejects if it exits first. */
export function startServer(options: StartOptions): Promise<Server> {
  const [command, args] = pinned(options.role, process.execPath, options.args);
  const t0 = performance.now();
  const child = track(
    spawn(command, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: options.env ?? process.env,
      cwd: options.cwd ?? process.cwd(),
    }),
  );
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4096);
  });
  const stderrTail = (): string => stderr.trim();
  return new Promise<Server>((resolve, reject) => {
    let stdout = '';
    let done = false;
    const timer = setTimeout(() => {
      finish(new Error(`no "listening" line within ${options.timeoutMs ?? 20_000} ms`));
      child.kill('SIGKILL');
    }, options.timeoutMs ?? 20_000);
    const onData = (chunk: string): void => {
      stdout = (stdout + chunk).slice(-4096);
      const m = LISTENING.exec(stdout);
      if (m === null) return;
      const startMs = performance.now() - t0;
      finish(null, m[1]!, startMs);
    };
    const onExit = (code: number | null, signal: string | null): void => {
      // Give stderr a moment to arrive for the message.
      setTimeout(() => {
        const detail = firstLine(stderrTail()) || `exit ${code ?? signal}`;
        finish(new Error(detail));
      }, 50);
    };
    function finish(err: Error | null, url?: string, startMs?: number): void {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      child.off('exit', onExit);
      // Keep draining stdout so the child never blocks on a full pipe.
      child.stdout!.resume();
      if (err !== null) {
        reject(err);
        return;
      }
      resolve({
        child,
        pid: child.pid!,
        url: url!,
        startMs: startMs!,
        stderrTail,
        stop: () => stop(child),
      });
    }
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', onData);
    child.once('exit', onExit);
    child.once('error', (err) => finish(err));
  });
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
export function stop(
  child: ChildProcess,
  signal: NodeJS.Signals = 'SIGKILL',
  graceMs = 5_000,
): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill(signal);
  });
}

function firstLine(text: string): string {
  // Prefer the line that says what went wrong over a stack frame.
  const lines = text.split('\n').map((l) => l.trim());
  return (
    lines.find((l) => /^portico: |Error|error/.test(l) && !l.startsWith('at ')) ?? lines[0] ?? ''
  );
}

let clockTicks = 0;
function ticksPerSecond(): number {
  if (clockTicks === 0) {
    const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    clockTicks = Number(out.stdout?.trim()) || 100;
  }
  return clockTicks;
}

/** User + system CPU time of a process so far, in µs (from /proc/PID/stat; resolution 1/CLK_TCK). */
export function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the ")" that ends the command name: state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1e6) / ticksPerSecond();
}

/** Busy time (everything but idle and iowait) of one CPU so far, in µs (from /proc/stat). */
export function cpuBusyMicros(cpu: number): number {
  const line = readFileSync('/proc/stat', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`cpu${cpu} `));
  if (line === undefined) return Number.NaN;
  // user nice system idle iowait irq softirq steal ...
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const busy = f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + (f[7] ?? 0);
  return (busy * 1e6) / ticksPerSecond();
}

/** The gateway's CPU when pinning, else null. */
export function gatewayCpu(): number | null {
  return pinning.enabled ? 0 : null;
}

/** A process and its children (a cluster primary and its workers), from /proc/PID/task/TID/children. */
export function processTree(pid: number): number[] {
  const out = [pid];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const children = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (children !== '') out.push(...children.split(' ').map(Number));
    }
  } catch {
    // Gone, or a kernel without the children file: the process alone.
  }
  return out;
}

/** CPU time of a process and its children, µs (children that exit in between are not counted). */
export function treeCpuMicros(pids: readonly number[]): number {
  let sum = 0;
  for (const pid of pids) sum += cpuMicros(pid);
  return sum;
}

/** Resident set size of a process, in MiB (VmRSS from /proc/PID/status). */
export function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
  return m === null ? Number.NaN : Number(m[1]) / 1024;
}
