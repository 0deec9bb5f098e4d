/**
 * Human-readable log lines for a terminal (the CLI uses it when stdout is a TTY): one line
 * per JSON log line, `HH:MM:SS.mmm LEVEL message key=value…`, access lines as
 * `METHOD path status latency`. Small on purpose, instead of pino-pretty.
 */
const COLORS: Record<string, string> = {
  trace: '\x1b[90m',
  debug: '\x1b[36m',
  info: '\x1b[32m',
  warn: '\x1b[33m',
  error: '\x1b[31m',
  fatal: '\x1b[35m',
};
const RESET = '\x1b[0m';
const HIDDEN = new Set(['level', 'time', 'msg']);

function clock(time: unknown): string {
  const d = typeof time === 'number' || typeof time === 'string' ? new Date(time) : new Date();
  return d.toISOString().slice(11, 23);
}

function show(v: unknown): string {
  if (typeof v === 'string') return /[\s"=]/.test(v) || v === '' ? JSON.stringify(v) : v;
  if (v !== null && typeof v === 'object') {
    const e = v as { message?: unknown; type?: unknown };
    if (typeof e.message === 'string')
      return JSON.stringify(`${String(e.type ?? 'Error')}: ${e.message}`);
    return JSON.stringify(v);
  }
  return String(v);
}

/** One JSON log object as a terminal line (no newline). */
export function prettyLine(obj: Record<string, unknown>, color = false): string {
  const level = typeof obj.level === 'string' ? obj.level : 'info';
  const tag = level.toUpperCase().padEnd(5);
  const head = `${clock(obj.time)} ${color ? `${COLORS[level] ?? ''}${tag}${RESET}` : tag}`;
  if (obj.msg === 'request' && typeof obj.httpMethod === 'string') {
    const latency = typeof obj.responseLatency === 'number' ? `${obj.responseLatency}ms` : '-';
    const where =
      obj.stage === '$default' || obj.stage === undefined ? '' : ` [${String(obj.stage)}]`;
    const err = typeof obj.errorMessage === 'string' ? ` ${show(obj.errorMessage)}` : '';
    return `${head} ${obj.httpMethod} ${String(obj.path)} ${String(obj.status ?? '-')} ${latency}${where} ${String(obj.routeKey)} id=${String(obj.requestId)}${err}`;
  }
  let line = `${head} ${typeof obj.msg === 'string' ? obj.msg : ''}`;
  for (const [k, v] of Object.entries(obj)) {
    if (HIDDEN.has(k) || v === undefined) continue;
    line += ` ${k}=${show(v)}`;
  }
  return line;
}

/** A pino destination that rewrites each JSON line for a human; other text passes through. */
export function prettyStream(
  out: { write(s: string): unknown },
  color: boolean,
): { write(s: string): void } {
  return {
    write(chunk: string) {
      for (const line of chunk.split('\n')) {
        if (line === '') continue;
        if (line.charCodeAt(0) !== 123 /* { */) {
          out.write(`${line}\n`);
          continue;
        }
        try {
          out.write(`${prettyLine(JSON.parse(line) as Record<string, unknown>, color)}\n`);
        } catch {
          out.write(`${line}\n`);
        }
      }
    },
  };
}
