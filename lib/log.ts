/**
 * The logger contract the gateway writes to (pino's method shape), and the default: pino,
 * writing JSON lines to stderr. pino is required on the first log call, not at import, so a
 * gateway that logs nothing at start-up never loads it. Callers never pass secrets; `err`
 * values are logged with their stack here and never sent to clients.
 */
import { createRequire } from 'node:module';
import type { pino, Logger as PinoLogger } from 'pino';
import { prettyStream } from './observability/pretty.ts';

export interface Logger {
  error(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
}

/** Something pino can write lines to. */
export interface LineSink {
  write(line: string): unknown;
}

type PinoModule = typeof pino;

let pinoModule: PinoModule | null = null;

/** pino itself, loaded on first use (it is CommonJS, so this can be synchronous). */
export function loadPino(): PinoModule {
  pinoModule ??= createRequire(import.meta.url)('pino') as PinoModule;
  return pinoModule;
}

/**
 * Where log lines go: a file descriptor (1, 2), a file path (appended), or a given sink.
 * `pretty` rewrites lines for a human (a terminal on stdout or stderr).
 */
export function openDestination(dest: number | string | LineSink, pretty = false): LineSink {
  if (typeof dest === 'object') return dest;
  if (pretty && typeof dest === 'number')
    return prettyStream(dest === 1 ? process.stdout : process.stderr, true);
  return new BatchedSink(
    loadPino().destination(
      typeof dest === 'number'
        ? { fd: dest, sync: false }
        : { dest, sync: false, mkdir: true, append: true },
    ),
  );
}

/** The part of sonic-boom (pino's destination) a BatchedSink forwards to. */
interface FlushableSink extends LineSink {
  flush(cb: (err?: Error | null) => void): void;
  flushSync(): void;
}

/** How long a line may wait for others (ms), and the size (UTF-16 units) that writes at once. */
const BATCH_MS = 50;
const BATCH_LIMIT = 64 * 1024;

/** Live batches, written synchronously if the process exits with lines still pending. */
const batches = new Set<WeakRef<BatchedSink>>();
let exitHook = false;
function flushBatchesOnExit(): void {
  for (const ref of batches) ref.deref()?.flushSync();
}

/**
 * Joins lines into few large writes. Measured under load (bench, access log to a file), the
 * gateway spent ~9 µs of CPU per line in sonic-boom's fs.write (the libuv pool thread's write
 * runs on the same cores); sonic-boom alone already coalesces lines while a write is in
 * flight, and joining one event-loop turn's lines changed nothing measurable, while waiting
 * up to 50 ms roughly halved the access log's cost. So a line waits at most 50 ms, or none
 * once 64 KiB are pending; flush() (the gateway's close) and process exit write it out.
 */
export class BatchedSink implements LineSink {
  readonly #inner: FlushableSink;
  #pending = '';
  #scheduled = false;
  readonly #drain = (): void => {
    this.#scheduled = false;
    this.#write();
  };

  constructor(inner: FlushableSink) {
    this.#inner = inner;
    batches.add(new WeakRef(this));
    if (!exitHook) {
      exitHook = true;
      process.once('exit', flushBatchesOnExit);
    }
  }

  write(line: string): boolean {
    this.#pending += line;
    if (this.#pending.length >= BATCH_LIMIT) this.#write();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      setTimeout(this.#drain, BATCH_MS).unref();
    }
    return true;
  }

  /** pino's logger.flush() lands here: pending lines first, then sonic-boom's own buffer. */
  flush(cb: (err?: Error | null) => void): void {
    this.#write();
    this.#inner.flush(cb);
  }

  flushSync(): void {
    this.#write();
    try {
      this.#inner.flushSync();
    } catch {
      // sonic-boom refuses while an async write is in flight; its own exit hook retries.
    }
  }

  #write(): void {
    if (this.#pending === '') return;
    const batch = this.#pending;
    this.#pending = '';
    this.#inner.write(batch);
  }
}

/** A pino logger with string levels (`"level":"info"`), epoch-ms `time` and no pid/hostname. */
export function createPinoLogger(stream: LineSink): PinoLogger {
  return loadPino()(
    { base: null, formatters: { level: (label: string) => ({ level: label }) } },
    stream as Parameters<PinoModule>[1] & object,
  );
}

let defaultPino: PinoLogger | null = null;
function stderrPino(): PinoLogger {
  // Synchronous on stderr so a line logged just before exit is never lost; a terminal gets
  // human-readable lines, a pipe JSON.
  defaultPino ??= createPinoLogger(
    process.stderr.isTTY === true
      ? openDestination(2, true)
      : loadPino().destination({ fd: 2, sync: true }),
  );
  return defaultPino;
}

/** The default: pino on stderr, loaded on the first line logged. */
export const defaultLogger: Logger = {
  error: (obj, msg) => stderrPino().error(obj, msg),
  warn: (obj, msg) => stderrPino().warn(obj, msg),
  info: (obj, msg) => stderrPino().info(obj, msg),
};

export const silentLogger: Logger = { error() {}, warn() {}, info() {} };
