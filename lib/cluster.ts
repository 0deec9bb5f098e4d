/**
 * `portico --workers N`: N processes serving one port through node:cluster, each a whole
 * gateway on the same config file. The primary serves nothing: it forks the workers,
 * restarts one that dies, and relays signals. Loaded only when N > 1, so a single-process
 * gateway never pays for it.
 *
 * Stopping goes over IPC rather than by re-sending the signal: Ctrl-C (or systemd's
 * control-group kill) already signals every worker directly, and a second signal means
 * "exit now" to a worker, so relaying the same signal would cut every drain short.
 */
import cluster, { type Worker } from 'node:cluster';
import { constants as osConstants } from 'node:os';
import { fileURLToPath } from 'node:url';

/** A worker's environment names its slot (1..N); cli.ts reads the same variable. */
const WORKER_ENV = 'PORTICO_WORKER';

// A worker that keeps dying is restarted later each time: 100 ms doubling to 10 s,
// counting the deaths of the last minute.
const RESTART_BASE_MS = 100;
const RESTART_MAX_MS = 10_000;
const CRASH_WINDOW_MS = 60_000;

interface ListeningMessage {
  readonly portico: 'listening';
  readonly url: string;
  readonly detail: string;
}

const STOP = { portico: 'stop' } as const;

/** The worker's side of the link to the primary. */
export interface WorkerLink {
  /** Tells the primary this worker serves; the primary prints one line for all of them. */
  listening(url: string, detail: string): void;
  /** Calls `stop` when the primary asks this worker to drain (at once if it already has). */
  onStop(stop: () => void): void;
}

/** In a worker: listens for the primary's stop from now on, so one sent during start-up is kept. */
export function workerLink(): WorkerLink {
  let requested = false;
  let callback: (() => void) | null = null;
  const onMessage = (message: unknown): void => {
    if ((message as { portico?: unknown } | null)?.portico !== STOP.portico) return;
    process.off('message', onMessage);
    requested = true;
    callback?.();
  };
  process.on('message', onMessage);
  return {
    listening(url, detail) {
      const message: ListeningMessage = { portico: 'listening', url, detail };
      process.send?.(message);
    },
    onStop(stop) {
      callback = stop;
      if (requested) stop();
    },
  };
}

export interface ClusterOptions {
  readonly workers: number;
  /** The command-line arguments each worker is started with: the primary's own. */
  readonly args: readonly string[];
}

/**
 * The primary: resolves with the exit code once every worker has exited, 0 after a
 * SIGTERM/SIGINT drain, 1 when the first workers could not start (they say why).
 */
export function runCluster(options: ClusterOptions): Promise<number> {
  return new Primary(options.workers).run(options.args);
}

interface Slot {
  readonly id: number;
  worker: Worker | null;
  listening: boolean;
  /** Whether its worker was told the bound port rather than the configured 0 (see #fork). */
  pinned: boolean;
  /** When its recent workers died, for the restart delay. */
  deaths: number[];
  restart: NodeJS.Timeout | null;
}

class Primary {
  readonly #slots: Slot[];
  #args: readonly string[] = [];
  /** The port the first workers bound, once they have. */
  #port: string | null = null;
  /** Set once every worker of the first generation listens. */
  #started = false;
  /** Why the workers are being stopped: a signal (a drain, exit 0) or a failed start (exit 1). */
  #stopping: 'signal' | 'failed' | null = null;
  #failed = false;
  #resolve: (code: number) => void = () => {};

  constructor(workers: number) {
    this.#slots = Array.from({ length: workers }, (_, i) => ({
      id: i + 1,
      worker: null,
      listening: false,
      pinned: false,
      deaths: [],
      restart: null,
    }));
  }

  run(args: readonly string[]): Promise<number> {
    this.#args = args;
    cluster.setupPrimary({ exec: binPath() });
    process.on('SIGTERM', this.#onStopSignal);
    process.on('SIGINT', this.#onStopSignal);
    process.on('SIGHUP', this.#onReloadSignal);
    return new Promise<number>((resolve) => {
      this.#resolve = resolve;
      // The first worker alone, so a bad config or a busy port is reported once, not N times.
      this.#fork(this.#slots[0]!);
    });
  }

  #fork(slot: Slot): void {
    slot.restart = null;
    slot.listening = false;
    // The primary keeps one socket per address and port *as asked*, for as long as a worker
    // uses it: a new worker asks like the listening ones, so port 0 joins their socket rather
    // than picking a new port; with none listening, it asks for the port they had.
    const peer = this.#slots.find((s) => s.listening);
    slot.pinned = peer !== undefined ? peer.pinned : this.#port !== null;
    cluster.setupPrimary({
      args: slot.pinned ? [...this.#args, '--port', this.#port!] : [...this.#args],
    });
    const worker = cluster.fork({ [WORKER_ENV]: String(slot.id) });
    slot.worker = worker;
    worker.on('message', (message: ListeningMessage | null) => {
      if (message?.portico === 'listening') this.#onListening(slot, worker, message);
    });
    worker.on('exit', (code: number | null, signal: string | null) =>
      this.#onExit(slot, worker, code, signal),
    );
  }

  #onListening(slot: Slot, worker: Worker, message: ListeningMessage): void {
    slot.listening = true;
    if (this.#stopping !== null) return;
    if (this.#started) {
      process.stdout.write(
        `portico: worker ${slot.id} listening again (pid ${worker.process.pid})\n`,
      );
      return;
    }
    if (slot.id === 1) for (const other of this.#slots.slice(1)) this.#fork(other);
    if (this.#slots.every((s) => s.listening)) {
      this.#started = true;
      this.#port = new URL(message.url).port;
      process.stdout.write(
        `portico listening on ${message.url} (${message.detail}; ${this.#slots.length} workers)\n`,
      );
    }
  }

  #onExit(slot: Slot, worker: Worker, code: number | null, signal: string | null): void {
    if (slot.worker !== worker) return;
    slot.worker = null;
    slot.listening = false;
    if (this.#stopping !== null) {
      // A worker still starting is stopped with SIGTERM, which may kill it before it can
      // handle signals: only an error exit code counts as a failed drain.
      if (code !== null && code !== 0) this.#failed = true;
      this.#finishIfIdle();
      return;
    }
    if (!this.#started) {
      // A worker that exits with a code has printed why; a signal leaves nothing behind.
      if (signal !== null)
        process.stderr.write(`portico: worker ${slot.id} was killed (${signal}) while starting\n`);
      this.#failed = true;
      this.#stop('failed');
      return;
    }
    const now = Date.now();
    slot.deaths = slot.deaths.filter((t) => now - t < CRASH_WINDOW_MS);
    slot.deaths.push(now);
    const delay = Math.min(RESTART_BASE_MS * 2 ** (slot.deaths.length - 1), RESTART_MAX_MS);
    process.stderr.write(
      `portico: worker ${slot.id} (pid ${worker.process.pid}) exited (${signal ?? `code ${code}`}); starting another in ${delay} ms\n`,
    );
    slot.restart = setTimeout(() => this.#fork(slot), delay);
  }

  /** First SIGTERM/SIGINT: every worker drains, then the primary exits. A second: exit now. */
  readonly #onStopSignal = (signal: NodeJS.Signals): void => {
    if (this.#stopping !== null) {
      process.stderr.write(
        `portico: ${signal} again, exiting without waiting for in-flight requests\n`,
      );
      for (const slot of this.#slots) slot.worker?.process.kill('SIGKILL');
      process.exit(128 + (osConstants.signals[signal] ?? 0));
    }
    process.stdout.write(
      `portico: ${signal}, draining in-flight requests (send it again to exit now)\n`,
    );
    this.#stop('signal');
  };

  /** SIGHUP: each listening worker redeploys its config itself. */
  readonly #onReloadSignal = (): void => {
    if (this.#stopping !== null) return;
    for (const slot of this.#slots) if (slot.listening) slot.worker?.process.kill('SIGHUP');
  };

  #stop(reason: 'signal' | 'failed'): void {
    this.#stopping = reason;
    for (const slot of this.#slots) {
      if (slot.restart !== null) clearTimeout(slot.restart);
      slot.restart = null;
      const worker = slot.worker;
      if (worker === null) continue;
      // A message sent before a starting worker listens for it would be lost.
      if (slot.listening && worker.isConnected()) worker.send(STOP, undefined, undefined, ignore);
      else worker.process.kill('SIGTERM');
    }
    this.#finishIfIdle();
  }

  #finishIfIdle(): void {
    if (this.#slots.some((s) => s.worker !== null)) return;
    process.off('SIGTERM', this.#onStopSignal);
    process.off('SIGINT', this.#onStopSignal);
    process.off('SIGHUP', this.#onReloadSignal);
    if (this.#stopping === 'signal' && !this.#failed) process.stdout.write('portico: stopped\n');
    this.#resolve(this.#failed ? 1 : 0);
  }
}

function ignore(): void {}

/** The `portico` bin next to this module: dist/bin/portico.js, or bin/portico.ts from source. */
function binPath(): string {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  return fileURLToPath(new URL(`../bin/portico${ext}`, import.meta.url));
}
