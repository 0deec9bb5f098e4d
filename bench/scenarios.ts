/**
 * What the bench measures: the workloads, and a table of targets (each one process) with
 * the workloads each serves. A scenario is one target × one workload.
 *
 * To measure a new Portico feature's hot-path cost, add one `portico(...)` entry, e.g.
 *   portico({ id: 'portico-http-jwt-cors', label: 'Portico http + JWT + CORS + throttle',
 *     workloads: ['small'], headers: { authorization: `Bearer ${token}` },
 *     config: (ctx) => ({ ...httpConfig(ctx), authorizers: {...}, cors: {...} }) })
 */
import { join, relative } from 'node:path';
import { POST_BODY, SMALL_BODY } from './payloads.ts';

export type WorkloadId = 'small' | 'large' | 'post';

export interface Workload {
  readonly id: WorkloadId;
  readonly label: string;
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly body?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

export const WORKLOADS: Readonly<Record<WorkloadId, Workload>> = {
  small: { id: 'small', label: '~100 B JSON GET', method: 'GET', path: '/small' },
  large: { id: 'large', label: '64 KiB GET', method: 'GET', path: '/large' },
  post: {
    id: 'post',
    label: '1 KiB POST echo',
    method: 'POST',
    path: '/echo',
    body: POST_BODY,
    headers: { 'content-type': 'application/json' },
  },
};

/** `direct`: the upstream itself; `floor`: hand-written baselines; `peer`: other gateways. */
export type Kind = 'direct' | 'floor' | 'peer' | 'portico';

export interface TargetContext {
  /** Origin of the running upstream, e.g. http://127.0.0.1:41234. */
  readonly upstreamUrl: string;
  /** Folder of the compiled bench (dist/bench). */
  readonly benchDir: string;
  /** The repository root (where dist/bin/portico.js lives). */
  readonly rootDir: string;
  /** A private temporary folder for generated configs. */
  readonly scratchDir: string;
}

export interface TargetSpec {
  /** Stable id; `upstream`, `minimal` and `bare` are the baselines the report refers to. */
  readonly id: string;
  readonly label: string;
  readonly kind: Kind;
  readonly workloads: readonly WorkloadId[];
  /** Workloads also measured at one connection for the added p50 latency. Default: ['small']. */
  readonly latencyAt1?: readonly WorkloadId[];
  /** Extra request headers the load generator sends (e.g. an Authorization header). */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * The target id the chart compares it with: `minimal` (default), `bare` for in-process
   * routes, or another target (the 1-worker run for a cluster).
   */
  readonly baseline?: string;
  /** `--workers N` for a Portico target. Default 1 (no cluster). */
  readonly workers?: number;
  /** Never pinned, even when the bench pins: a cluster's workers should have every CPU. */
  readonly unpinned?: boolean;
  /** Arguments for `node` that start the target; it prints "listening on URL". */
  command(ctx: TargetContext): Promise<string[]> | string[];
}

/** A Portico target: the real CLI with a generated config, on a free port. */
export function portico(spec: {
  id: string;
  label: string;
  workloads: readonly WorkloadId[];
  latencyAt1?: readonly WorkloadId[];
  headers?: Readonly<Record<string, string>>;
  baseline?: string;
  workers?: number;
  unpinned?: boolean;
  config(ctx: TargetContext): object;
}): TargetSpec {
  return {
    id: spec.id,
    label: spec.label,
    kind: 'portico',
    workloads: spec.workloads,
    ...(spec.latencyAt1 !== undefined ? { latencyAt1: spec.latencyAt1 } : {}),
    ...(spec.headers !== undefined ? { headers: spec.headers } : {}),
    ...(spec.baseline !== undefined ? { baseline: spec.baseline } : {}),
    ...(spec.workers !== undefined ? { workers: spec.workers } : {}),
    ...(spec.unpinned !== undefined ? { unpinned: spec.unpinned } : {}),
    async command(ctx) {
      const { stringify } = await import('yaml');
      const file = join(ctx.scratchDir, `${spec.id}.yaml`);
      const { writeFile } = await import('node:fs/promises');
      await writeFile(file, stringify(spec.config(ctx)));
      return [
        join(ctx.rootDir, 'dist/bin/portico.js'),
        '--config',
        file,
        '--port',
        '0',
        '--host',
        '127.0.0.1',
        ...(spec.workers !== undefined ? ['--workers', String(spec.workers)] : []),
      ];
    },
  };
}

const server = { host: '127.0.0.1', port: 0 };
const BENCH_API_KEY = 'bench-key-0123456789abcdef';

/** Every path proxied to the upstream, as an AWS HTTP API "ANY /{proxy+}" route. */
export function httpConfig(ctx: TargetContext): object {
  return {
    server,
    integrations: { upstream: { type: 'http', url: `${ctx.upstreamUrl}/{proxy}` } },
    routes: { 'ANY /{proxy+}': { integration: 'upstream' } },
  };
}

/** One mock route answering the small JSON, like bare node:http. */
function mockConfig(): object {
  return {
    server,
    integrations: {
      mock: {
        type: 'mock',
        statusCode: 200,
        headers: { 'content-type': 'application/json' },
        body: SMALL_BODY,
      },
    },
    routes: { 'GET /small': { integration: 'mock' } },
  };
}

const script =
  (file: string, withUpstream: boolean) =>
  (ctx: TargetContext): string[] => [
    join(ctx.benchDir, file),
    ...(withUpstream ? [ctx.upstreamUrl] : []),
  ];

export const TARGETS: readonly TargetSpec[] = [
  {
    id: 'upstream',
    label: 'upstream (direct)',
    kind: 'direct',
    workloads: ['small', 'large', 'post'],
    command: script('upstream.js', false),
  },
  {
    id: 'minimal',
    label: 'minimal undici proxy',
    kind: 'floor',
    workloads: ['small', 'large', 'post'],
    command: script('minimal-proxy.js', true),
  },
  {
    id: 'fast-gateway',
    label: 'fast-gateway',
    kind: 'peer',
    workloads: ['small', 'large', 'post'],
    command: script('peers/fast-gateway.js', true),
  },
  {
    id: 'fastify-http-proxy',
    label: '@fastify/http-proxy',
    kind: 'peer',
    workloads: ['small', 'large', 'post'],
    command: script('peers/fastify-http-proxy.js', true),
  },
  {
    // What a peer's request logging costs, next to portico-http-obs (issue #8).
    id: 'fastify-http-proxy-log',
    label: '@fastify/http-proxy + request log',
    kind: 'peer',
    workloads: ['small'],
    command: (ctx) => [
      ...script('peers/fastify-http-proxy.js', true)(ctx),
      join(ctx.scratchDir, 'fastify-http-proxy-log.log'),
    ],
  },
  portico({
    id: 'portico-http',
    label: 'Portico http route',
    workloads: ['small', 'large', 'post'],
    config: httpConfig,
  }),
  // Issue #5's cost: the same http route with a route throttle, and with an API key and a
  // usage plan (plan throttle + daily quota). Limits are high enough never to refuse.
  portico({
    id: 'portico-http-throttle',
    label: 'Portico http + throttle',
    workloads: ['small'],
    config: (ctx) => ({
      ...httpConfig(ctx),
      throttle: { rateLimit: 1_000_000, burstLimit: 1_000_000 },
    }),
  }),
  portico({
    id: 'portico-http-apikey-plan',
    label: 'Portico http + API key + usage plan',
    workloads: ['small'],
    headers: { 'x-api-key': BENCH_API_KEY },
    config: (ctx) => ({
      ...httpConfig(ctx),
      apiKeys: { bench: { value: BENCH_API_KEY } },
      usagePlans: {
        bench: {
          apiKeys: ['bench'],
          throttle: { rateLimit: 1_000_000, burstLimit: 1_000_000 },
          quota: { limit: 1_000_000_000, period: 'DAY' },
        },
      },
      routes: { 'ANY /{proxy+}': { integration: 'upstream', apiKeyRequired: true } },
    }),
  }),
  // Issue #8's cost: the same http route with access logs (structured JSON to a file) and
  // metrics (the admin listener on), and with metrics alone. `portico-http` is the "off" case.
  portico({
    id: 'portico-http-obs',
    label: 'Portico http + access log + metrics',
    workloads: ['small'],
    config: (ctx) => ({
      ...httpConfig(ctx),
      accessLog: { destination: join(ctx.scratchDir, 'portico-http-obs.access.log') },
      admin: { port: 0 },
    }),
  }),
  portico({
    id: 'portico-http-metrics',
    label: 'Portico http + metrics',
    workloads: ['small'],
    config: (ctx) => ({ ...httpConfig(ctx), admin: { port: 0 } }),
  }),
  portico({
    id: 'portico-function',
    label: 'Portico function route',
    workloads: ['small'],
    baseline: 'bare',
    config: (ctx) => ({
      server,
      integrations: {
        fn: {
          type: 'function',
          handler: `${relative(ctx.scratchDir, join(ctx.benchDir, 'handler.js'))}#handler`,
          payloadFormatVersion: '2.0',
        },
      },
      routes: { 'GET /small': { integration: 'fn' } },
    }),
  }),
  portico({
    id: 'portico-mock',
    label: 'Portico mock route',
    workloads: ['small'],
    baseline: 'bare',
    config: mockConfig,
  }),
  // Multi-core: the same routes as 1 and as 2 processes (--workers 2), both unpinned so a
  // cluster can use both CPUs; each pair is compared within a round. On a 2-CPU machine the
  // upstream and the load generator share those CPUs with the workers.
  ...(['http', 'mock'] as const).flatMap((route) =>
    [1, 2].map((workers) =>
      portico({
        id: `portico-${route}-${workers}-worker${workers === 1 ? '' : 's'}`,
        label: `Portico ${route} route, ${workers} worker${workers === 1 ? '' : 's'}, unpinned`,
        workloads: ['small'],
        workers,
        unpinned: true,
        ...(workers > 1 ? { baseline: `portico-${route}-1-worker` } : {}),
        config: route === 'http' ? httpConfig : mockConfig,
      }),
    ),
  ),
  {
    id: 'bare',
    label: 'bare node:http',
    kind: 'floor',
    workloads: ['small'],
    baseline: 'bare',
    command: script('bare.js', false),
  },
];

/** One load measurement: a target serving one workload. */
export interface Scenario {
  readonly id: string;
  readonly target: TargetSpec;
  readonly workload: Workload;
  readonly latencyAt1: boolean;
}

export function scenarios(targets: readonly TargetSpec[]): Scenario[] {
  const out: Scenario[] = [];
  // Grouped by workload, so a round reads A B C … for each workload in turn.
  for (const w of Object.values(WORKLOADS)) {
    for (const t of targets) {
      if (!t.workloads.includes(w.id)) continue;
      out.push({
        id: `${t.id}/${w.id}`,
        target: t,
        workload: w,
        latencyAt1: (t.latencyAt1 ?? ['small']).includes(w.id),
      });
    }
  }
  return out;
}
