/**
 * Test helpers for the `portico` command as a user runs it: `node dist/bin/portico.js ...` in
 * a child process (never npx, which does not forward signals), its output awaited line by
 * line, and local servers for it to call. `npm test` builds dist/ first (the `pretest` script).
 */
import type { Test } from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from './gateway.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = join(ROOT, 'dist/bin/portico.js');

/** The environment a user's shell would give: none of tap's loaders, coverage or settings. */
export function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(NODE_OPTIONS|NODE_V8_COVERAGE|TAP|_TAPJS|TS_NODE|PORTICO_)/.test(k)) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface SpawnOptions {
  readonly cwd?: string;
  readonly env?: Record<string, string>;
  /** Node options before the script, e.g. ['--import', file]. */
  readonly nodeArgs?: readonly string[];
  readonly script?: string;
  /** More command-line arguments (startCli only), e.g. ['--workers', '2']. */
  readonly args?: readonly string[];
  /**
   * Start Node through `env -u NODE_OPTIONS`: tap's process tracking injects NODE_OPTIONS
   * (and with it node:crypto and a few packages) into every child, whatever env it is given,
   * which checks on what start-up loads must not see. The child then has no coverage.
   */
  readonly untracked?: boolean;
}

/** A running `portico` process: its output so far, and waits on lines and exit (no sleeps). */
export class Cli {
  readonly proc: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<Exit>;
  #waiters: {
    re: RegExp;
    stream: 'stdout' | 'stderr';
    from: number;
    resolve: (m: RegExpExecArray) => void;
    reject: (e: Error) => void;
  }[] = [];

  constructor(args: readonly string[], options: SpawnOptions = {}) {
    const node = [process.execPath, ...(options.nodeArgs ?? []), options.script ?? BIN, ...args];
    this.proc = spawn(
      options.untracked === true ? 'env' : node[0]!,
      options.untracked === true ? ['-u', 'NODE_OPTIONS', ...node] : node.slice(1),
      {
        cwd: options.cwd ?? ROOT,
        env: userEnv(options.env),
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout += chunk;
      this.#check();
    });
    this.proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
      this.#check();
    });
    // 'close' (not 'exit'): fires once stdout and stderr are fully read.
    this.exited = once(this.proc, 'close').then(([code, signal]) => {
      const exit = { code, signal, stdout: this.stdout, stderr: this.stderr } as Exit;
      for (const w of this.#waiters.splice(0)) {
        w.reject(
          new Error(`portico exited (${code ?? signal}) before printing ${w.re}\n${this.stderr}`),
        );
      }
      return exit;
    });
  }

  /** Resolves with the first complete stdout line matching `re`. */
  line(re: RegExp): Promise<RegExpExecArray> {
    return this.lineAfter(re, 0);
  }

  /** Resolves with the first complete stdout line matching `re` printed from now on. */
  nextLine(re: RegExp): Promise<RegExpExecArray> {
    return this.lineAfter(re, this.stdout.length);
  }

  /** Resolves with the first complete stderr line matching `re` printed from now on. */
  nextErrorLine(re: RegExp): Promise<RegExpExecArray> {
    return this.lineAfter(re, this.stderr.length, 'stderr');
  }

  lineAfter(
    re: RegExp,
    from: number,
    stream: 'stdout' | 'stderr' = 'stdout',
  ): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      this.#waiters.push({ re, stream, from, resolve, reject });
      this.#check();
    });
  }

  #check(): void {
    this.#waiters = this.#waiters.filter((w) => {
      // Only lines that start at or after `from` count.
      const lines = this[w.stream].slice(w.from).split('\n').slice(0, -1);
      for (const l of lines) {
        const m = w.re.exec(l);
        if (m !== null) {
          w.resolve(m);
          return false;
        }
      }
      return true;
    });
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }
}

/** Spawns portico; it is killed at teardown if the test did not stop it. */
export function spawnCli(t: Test, args: readonly string[], options: SpawnOptions = {}): Cli {
  const cli = new Cli(args, options);
  t.teardown(async () => {
    if (cli.running) {
      cli.proc.kill('SIGKILL');
      await cli.exited;
    }
  });
  return cli;
}

/** Runs a command to completion. */
export function runCli(
  t: Test,
  args: readonly string[],
  options: SpawnOptions = {},
): Promise<Exit> {
  return spawnCli(t, args, options).exited;
}

/** Starts `portico --config FILE --port 0` and waits for its "listening on URL" line. */
export async function startCli(
  t: Test,
  config: string,
  options: SpawnOptions = {},
): Promise<{ cli: Cli; url: string; port: number }> {
  const cli = spawnCli(
    t,
    ['--config', config, '--port', '0', '--host', '127.0.0.1', ...(options.args ?? [])],
    options,
  );
  const m = await cli.line(/^portico listening on (https?:\/\/127\.0\.0\.1:(\d+)) /);
  return { cli, url: m[1]!, port: Number(m[2]) };
}

/** A local server on 127.0.0.1:0, closed at teardown. */
export async function listen(
  t: Test,
  handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end(),
): Promise<{ server: Server; port: number }> {
  const server = createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  return { server, port: (server.address() as AddressInfo).port };
}

/** An upstream that holds every request until released, to have requests in flight. */
export async function holdingUpstream(t: Test) {
  const held: ServerResponse[] = [];
  const waiting: { n: number; resolve: () => void }[] = [];
  /** Resolves once `n` requests are held. */
  const holding = (n: number): Promise<void> =>
    new Promise((resolve) => {
      waiting.push({ n, resolve });
      check();
    });
  const check = (): void => {
    for (const w of waiting) if (held.length >= w.n) w.resolve();
  };
  const { port } = await listen(t, (_req, res) => {
    held.push(res);
    check();
  });
  t.teardown(() => held.forEach((res) => res.destroy()));
  return { port, held, firstArrival: holding(1), holding };
}

export function upstreamConfig(port: number): string {
  return `integrations:
  slow: { type: http, url: "http://127.0.0.1:${port}/slow" }
routes:
  GET /slow: { integration: slow }
`;
}

/** Asserts that a second SIGINT while a request is in flight exits 130 at once, cutting it. */
export async function secondSignalCutsDrain(t: Test, args: readonly string[] = []): Promise<void> {
  const upstream = await holdingUpstream(t);
  const dir = t.testdir({ 'gw.yaml': upstreamConfig(upstream.port) });
  const { cli, url } = await startCli(t, join(dir, 'gw.yaml'), { args });
  const inFlight = request(`${url}/slow`).catch((err: Error) => err);
  await upstream.firstArrival;
  cli.proc.kill('SIGINT');
  await cli.line(/^portico: SIGINT, draining/);
  cli.proc.kill('SIGINT');
  const exit = await cli.exited;
  t.equal(exit.code, 130, '128 + SIGINT');
  t.equal(exit.stderr, 'portico: SIGINT again, exiting without waiting for in-flight requests\n');
  t.type(await inFlight, Error, 'the held request was cut');
}
