/**
 * The logger contract the gateway writes to (pino's method shape), and the default: pino,
 * writing JSON lines to stderr. pino is required on the first log call, not at import, so a
 * gateway that logs nothing at start-up never loads it. Callers never pass secrets; `err`
 * values are logged with their stack here and never sent to clients.
 */
import { writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { pino, Logger as PinoLogger } from 'pino';
import type { SonicBoom, SonicBoomOpts } from 'sonic-boom';
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
 *
 * Files and descriptors are written by sonic-boom (pino's own writer) in buffer mode behind a
 * BatchedSink. sonic-boom is a direct dependency, on its 5.x line, rather than reached through
 * pino.destination(): 4.x (pino's) retries a failing synchronous flush forever, so a full disk
 * hung the process at exit, and pino.destination() adds an exit hook of its own that does
 * such a flush.
 */
export function openDestination(dest: number | string | LineSink, pretty = false): LineSink {
  if (typeof dest === 'object') return dest;
  if (pretty && typeof dest === 'number')
    return prettyStream(dest === 1 ? process.stdout : process.stderr, true);
  const opts: SonicBoomOpts =
    typeof dest === 'number'
      ? { fd: dest, sync: false, contentMode: 'buffer' }
      : { dest, sync: false, mkdir: true, append: true, contentMode: 'buffer' };
  // Its types predate buffer mode: in it, write() takes Buffers.
  return new BatchedSink(new (loadSonicBoom())(opts) as unknown as BufferSink);
}

type SonicBoomClass = typeof SonicBoom;
let sonicBoom: SonicBoomClass | null = null;
function loadSonicBoom(): SonicBoomClass {
  sonicBoom ??= createRequire(import.meta.url)('sonic-boom') as SonicBoomClass;
  return sonicBoom;
}

/** The part of sonic-boom (in buffer mode) a BatchedSink forwards to. */
interface BufferSink {
  /** The open file descriptor, or -1 while a file is still being opened. */
  readonly fd: number;
  write(chunk: Buffer): unknown;
  flushSync(): void;
  on(event: 'write', listener: (bytes: number) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
}

type FlushCallback = (err?: Error | null) => void;

/** How long a line may wait for others (ms), and the batch size (bytes) that writes at once. */
const BATCH_MS = 50;
const BATCH_BYTES = 64 * 1024;

/** Live batches, written synchronously if the process exits with lines still pending. */
const batches = new Set<WeakRef<BatchedSink>>();
let exitHook = false;
function flushBatchesOnExit(): void {
  for (const ref of batches) ref.deref()?.flushSync();
}

/**
 * Joins lines into few large writes. Measured under load (bench, access log to a file), the
 * gateway spent ~9 µs of CPU per line in sonic-boom's fs.write, one write per line; waiting
 * up to 50 ms for other lines roughly halved the access log's cost. A line waits at most
 * 50 ms, or none once 64 KiB are pending; flush() (the gateway's close) and process exit
 * write it out. Lines are encoded into a Buffer as they arrive rather than joined as one
 * string: a long joined string is a deep rope that sonic-boom measured (Buffer.byteLength)
 * and fs.write encoded again, and it lived long enough to be promoted, so the garbage
 * collector paid for it too.
 */
export class BatchedSink implements LineSink {
  readonly #inner: BufferSink;
  #buf = Buffer.allocUnsafe(BATCH_BYTES);
  #len = 0;
  #scheduled = false;
  readonly #drain = (): void => {
    this.#scheduled = false;
    this.#write();
  };
  /** Bytes handed to sonic-boom and bytes it reports written: equal when nothing is queued. */
  #handed = 0;
  #written = 0;
  /** flush() callers waiting for the queue to reach the file. */
  #waiters: FlushCallback[] = [];
  /** The last write error, until a write succeeds again (sonic-boom retries on the next). */
  #failed: Error | null = null;

  /** `inner` must take Buffers (sonic-boom with `contentMode: 'buffer'`). */
  constructor(inner: BufferSink) {
    this.#inner = inner;
    inner.on('write', (bytes) => {
      this.#failed = null;
      this.#written += bytes;
      if (this.#written >= this.#handed) this.#settle(null);
    });
    // A log that cannot be written must not take the gateway down (without a listener the
    // error would be thrown): say so on stderr (once until a write succeeds again), keep
    // serving, and let the next batch retry.
    inner.on('error', (err) => {
      const code = errorCode(err);
      if (this.#failed === null || errorCode(this.#failed) !== code)
        process.stderr.write(`portico: log lines could not be written: ${code}\n`);
      this.#failed = err;
      this.#settle(err);
    });
    batches.add(new WeakRef(this));
    if (!exitHook) {
      exitHook = true;
      process.once('exit', flushBatchesOnExit);
    }
  }

  write(line: string): boolean {
    // A UTF-16 unit takes at most 3 bytes in UTF-8; write out first if the line might not fit.
    const most = line.length * 3;
    if (this.#len + most > this.#buf.length) {
      this.#write();
      if (most > this.#buf.length) this.#buf = Buffer.allocUnsafe(most);
    }
    this.#len += this.#buf.write(line, this.#len);
    if (this.#len >= BATCH_BYTES) this.#write();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      setTimeout(this.#drain, BATCH_MS).unref();
    }
    return true;
  }

  /**
   * pino's logger.flush() lands here (the gateway's close): pending lines, then a callback
   * once sonic-boom has written all it was given. (sonic-boom's own flush() calls back at
   * once with its default minLength of 0, before the write reaches the file.)
   */
  flush(cb: FlushCallback): void {
    this.#write();
    if (this.#written >= this.#handed || this.#failed !== null) process.nextTick(cb, this.#failed);
    else this.#waiters.push(cb);
  }

  #settle(err: Error | null): void {
    if (this.#waiters.length === 0) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const cb of waiters) cb(err);
  }

  /**
   * At process exit: sonic-boom's queue (the earlier lines) first, then the pending batch,
   * written here with writeSync. Handed to sonic-boom it would start an async write, which
   * exit does not wait for. Lines that cannot be written now (a full disk, a pipe that is
   * full, a file not open yet) are lost rather than holding up the exit.
   */
  flushSync(): void {
    try {
      this.#inner.flushSync();
    } catch {
      // Not open yet, or the write failed: see above.
    }
    const fd = this.#inner.fd;
    if (this.#len === 0 || fd < 0) return;
    let rest = this.#buf.subarray(0, this.#len);
    this.#len = 0;
    try {
      while (rest.length > 0) rest = rest.subarray(writeSync(fd, rest));
    } catch {
      // See above.
    }
  }

  #write(): void {
    if (this.#len === 0) return;
    // sonic-boom keeps the chunk until its write completes, so the next batch gets a new one.
    const chunk = this.#buf.subarray(0, this.#len);
    this.#buf = Buffer.allocUnsafe(BATCH_BYTES);
    this.#len = 0;
    this.#handed += chunk.length;
    this.#inner.write(chunk);
  }
}

function errorCode(err: Error): string {
  return (err as NodeJS.ErrnoException).code ?? err.message;
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
