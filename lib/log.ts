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
  return loadPino().destination(
    typeof dest === 'number'
      ? { fd: dest, sync: false }
      : { dest, sync: false, mkdir: true, append: true },
  );
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
