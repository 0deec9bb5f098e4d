/**
 * An in-memory log destination for `GatewayOptions.logStream`: keeps every line and lets a
 * test await the Nth one (access lines are written when a response closes, which can be
 * just after the client has read it).
 */
export interface LineSink {
  readonly lines: string[];
  write(chunk: string): void;
  /** Resolves once at least `n` lines have been written. */
  until(n: number): Promise<string[]>;
  /** The lines parsed as JSON. */
  json(): Array<Record<string, unknown>>;
}

export function lineSink(): LineSink {
  const lines: string[] = [];
  const waiting: Array<{ n: number; resolve: (l: string[]) => void }> = [];
  return {
    lines,
    write(chunk) {
      for (const line of chunk.split('\n')) if (line !== '') lines.push(line);
      for (let i = waiting.length - 1; i >= 0; i--) {
        if (lines.length >= waiting[i]!.n) waiting.splice(i, 1)[0]!.resolve(lines);
      }
    },
    until(n) {
      if (lines.length >= n) return Promise.resolve(lines);
      return new Promise((resolve) => waiting.push({ n, resolve }));
    },
    json: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}
