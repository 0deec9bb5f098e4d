/**
 * `node --expose-gc dist/bench/reload-memory.js [N]`: what redeploying changed handler code
 * costs in memory. Each round rewrites a function handler module (about 2 KB, like a small
 * real handler) with new content and deploys; ES modules cannot be unloaded, so each distinct
 * content stays in memory. Prints heap and RSS after a full GC at checkpoints, then the same
 * for N deploys of unchanged code (which must cost nothing: the module is not re-imported).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGateway } from '../lib/index.ts';
import { silentLogger } from '../lib/log.ts';

const rounds = Math.min(Number(process.argv[2] ?? 500), 5000);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  process.stderr.write('run with node --expose-gc\n');
  process.exit(2);
}

function handlerSource(version: number): string {
  // Padding makes the module a realistic size; the version makes each content distinct.
  const table = Array.from({ length: 40 }, (_, i) => `  'key${i}': 'value ${i} of ${version}',`);
  return `const table = {\n${table.join('\n')}\n};
export async function handler(event) {
  return { statusCode: 200, body: JSON.stringify({ version: ${version}, size: Object.keys(table).length }) };
}
`;
}

function measure(): { heapMB: number; rssMB: number } {
  gc!();
  gc!();
  const m = process.memoryUsage();
  return { heapMB: m.heapUsed / 2 ** 20, rssMB: m.rss / 2 ** 20 };
}

const dir = await mkdtemp(join(tmpdir(), 'portico-reload-'));
try {
  const file = join(dir, 'h.mjs');
  await writeFile(file, handlerSource(0));
  const config = {
    integrations: { f: { type: 'function' as const, handler: './h.mjs#handler' } },
    routes: { 'GET /f': { integration: 'f' } },
  };
  const gateway = await createGateway(config, { baseDir: dir, logger: silentLogger });
  const base = measure();
  const rows: string[] = [`rounds  heap MB  (+)     rss MB  (+)`];
  const row = (label: string, m: { heapMB: number; rssMB: number }) =>
    rows.push(
      `${label.padEnd(7)} ${m.heapMB.toFixed(1).padStart(7)}  ${(m.heapMB - base.heapMB).toFixed(2).padStart(6)}  ${m.rssMB.toFixed(1).padStart(6)}  ${(m.rssMB - base.rssMB).toFixed(1).padStart(6)}`,
    );
  row('0', base);
  for (let i = 1; i <= rounds; i++) {
    await writeFile(file, handlerSource(i));
    await gateway.deploy(config);
    if (i % Math.max(1, Math.floor(rounds / 5)) === 0) row(String(i), measure());
  }
  const changed = measure();
  for (let i = 1; i <= rounds; i++) await gateway.deploy(config);
  const unchanged = measure();
  row(`+${rounds}=`, unchanged);
  await gateway.close();
  process.stdout.write(`${rows.join('\n')}\n`);
  process.stdout.write(
    `changed code: ${(((changed.heapMB - base.heapMB) * 1024) / rounds).toFixed(1)} KB heap per reload; ` +
      `unchanged code (last row, ${rounds} more deploys): ${(unchanged.heapMB - changed.heapMB).toFixed(2)} MB heap\n`,
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
