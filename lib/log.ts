/**
 * The logger contract the gateway writes to (pino's method shape, so pino drops in),
 * and the default: JSON lines on stderr. Callers never pass secrets; `cause` errors are
 * logged with their stack here and never sent to clients.
 */
export interface Logger {
  error(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
}

function write(level: string, obj: object, msg?: string): void {
  const line: Record<string, unknown> = { level, time: new Date().toISOString(), msg };
  for (const [k, v] of Object.entries(obj)) {
    line[k] =
      v instanceof Error
        ? { type: v.name, message: v.message, code: (v as { code?: unknown }).code, stack: v.stack }
        : v;
  }
  process.stderr.write(`${JSON.stringify(line)}\n`);
}

export const stderrLogger: Logger = {
  error: (obj, msg) => write('error', obj, msg),
  warn: (obj, msg) => write('warn', obj, msg),
  info: (obj, msg) => write('info', obj, msg),
};

export const silentLogger: Logger = { error() {}, warn() {}, info() {} };
