/**
 * The `portico` command line. `main()` returns an exit code and never calls process.exit
 * (except for a second stop signal), so tests can call it; `run()` is what the bin calls:
 * it adds the process-level guards and exits once output is flushed.
 * Exit codes: 0 ok, 1 failure (bad config, port in use), 2 usage error, 128 + signal number
 * when a second SIGINT/SIGTERM cuts a drain short.
 * Errors are one line each, never a stack trace unless PORTICO_DEBUG is set.
 */
import { existsSync, readFileSync } from 'node:fs';
import { access, mkdir, writeFile } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { WorkerLink } from './cluster.ts';
import type { DeploymentSummary } from './deployment.ts';
import { ConfigError, formatIssue } from './errors.ts';

const USAGE = `Usage:
  portico [start] [FILE] [--port N] [--host H] [--workers N] [--no-watch]
                 [--drain-timeout MS]
  portico validate [FILE]
  portico routes [FILE]
  portico init [DIR]
  portico schema

Commands:
  start [FILE]       Start the gateway (the default command; FILE or --config FILE,
                     default portico.yaml; "portico FILE.yaml" works too)
  validate [FILE]    Check a config file; print each problem on one line with its
                     position and config path
  routes [FILE]      Print the route table: stage, route key, integration, target
  init [DIR]         Write a starter portico.yaml and handlers/hello.mjs into DIR
                     (default: the current folder); never overwrites a file
  schema             Print the config's JSON Schema (for editors)

Options:
  -c, --config FILE  Config file, YAML or JSON (default: portico.yaml)
  -p, --port N       Port to listen on, 0-65535 (overrides server.port; 0 picks a free one)
      --host H       Address to listen on (overrides server.host)
  -w, --workers N    Processes serving the port together, 1-64 (overrides server.workers)
      --no-watch     Do not redeploy when the config or a file it references
                     changes (as autoDeploy: false); SIGHUP still redeploys
      --drain-timeout MS
                     On SIGTERM/SIGINT, how long in-flight requests may run
                     before their connections are cut (overrides
                     server.drainTimeoutMs; default 10000)
  -h, --help         Show this help
  -v, --version      Show the version

Exit codes: 0 ok, 1 failed (invalid config, port in use...), 2 usage error.
SIGTERM or SIGINT drains in-flight requests, then exits 0; a second one exits at once.
SIGHUP redeploys the config file; a bad config is reported and the old one keeps serving.
Set PORTICO_DEBUG=1 to print the stack trace of an unexpected error.
`;

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  port: { type: 'string', short: 'p' },
  host: { type: 'string' },
  workers: { type: 'string', short: 'w' },
  'no-watch': { type: 'boolean' },
  'drain-timeout': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} as const;

const COMMANDS = new Set(['start', 'validate', 'routes', 'init', 'schema', 'help']);
const CONFIG_FILE_NAME = /\.(ya?ml|json)$/i;
const DEFAULT_CONFIG = 'portico.yaml';

/** Runs one command; resolves with the process exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    return usageError(describeArgsError(err));
  }
  const { values } = parsed;
  // `portico FILE.yaml` is `portico start FILE.yaml`: no command's name looks like a file's.
  const first = parsed.positionals[0];
  const positionals =
    first !== undefined && !COMMANDS.has(first) && CONFIG_FILE_NAME.test(first)
      ? ['start', ...parsed.positionals]
      : parsed.positionals;
  if (values.help || positionals[0] === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (values.version) {
    process.stdout.write(`${packageInfo()?.version ?? 'unknown'}\n`);
    return 0;
  }
  const command = positionals[0] ?? 'start';
  if (!COMMANDS.has(command)) return usageError(`unknown command "${command}"`);
  const maxPositionals = command === 'schema' ? 1 : 2;
  if (positionals.length > maxPositionals) {
    return usageError(`unexpected argument "${positionals[maxPositionals]!}"`);
  }
  for (const flag of ['port', 'host', 'workers', 'no-watch', 'drain-timeout'] as const) {
    if (values[flag] !== undefined && command !== 'start') {
      return usageError(`--${flag} applies only to "portico start"`);
    }
  }
  if (values.config !== undefined && (command === 'init' || command === 'schema')) {
    return usageError(`--config does not apply to "portico ${command}"`);
  }
  if (values.config !== undefined && positionals[1] !== undefined) {
    return usageError('give the config file once: as an argument or with --config, not both');
  }
  const file = positionals[1] ?? values.config ?? DEFAULT_CONFIG;
  try {
    switch (command) {
      case 'validate':
        return await validate(file);
      case 'routes':
        return await routes(file);
      case 'init':
        return await init(positionals[1] ?? '.');
      case 'schema':
        return await schema();
      default: {
        const listen = parseListenFlags(values.port, values.host, values.workers);
        if (typeof listen === 'string') return usageError(listen);
        const drain = values['drain-timeout'];
        if (drain !== undefined && (!/^\d{1,7}$/.test(drain) || Number(drain) > 3_600_000))
          return usageError(
            `--drain-timeout must be milliseconds from 0 to 3600000, got "${drain}"`,
          );
        return await start(
          file,
          listen,
          values.config === undefined && positionals[1] === undefined,
          {
            noWatch: values['no-watch'] === true,
            ...(drain === undefined ? {} : { drainTimeoutMs: Number(drain) }),
          },
          argv,
        );
      }
    }
  } catch (err) {
    if (err instanceof ConfigError) return reportConfigError(err, file);
    return fail(err);
  }
}

/**
 * The bin's entry: runs main(), then exits once stdout and stderr are flushed, so a handler
 * module that keeps a timer or socket open cannot keep `validate` (or a drained gateway) alive.
 */
export async function run(argv: readonly string[]): Promise<void> {
  // `portico routes | head -1` closes the pipe early: that is not an error worth a stack.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    });
  }
  // User handler code runs in this process; an error it throws outside a request is
  // reported on one line rather than as Node's default stack dump.
  process.on('uncaughtException', (err) => process.exit(fail(err)));
  process.on('unhandledRejection', (err) => process.exit(fail(err)));
  const code = await main(argv);
  process.exitCode = code;
  await new Promise<void>((done) =>
    process.stdout.write('', () => process.stderr.write('', () => done())),
  );
  process.exit(code);
}

interface ListenFlags {
  readonly port?: number;
  readonly host?: string;
  readonly workers?: number;
}

function parseListenFlags(
  port: string | undefined,
  host: string | undefined,
  workers: string | undefined,
): ListenFlags | string {
  const out: { port?: number; host?: string; workers?: number } = {};
  if (port !== undefined) {
    if (!/^\d{1,5}$/.test(port) || Number(port) > 65535)
      return `--port must be a number from 0 to 65535, got "${port}"`;
    out.port = Number(port);
  }
  if (host !== undefined) {
    if (host.trim() === '') return '--host must not be empty';
    out.host = host;
  }
  if (workers !== undefined) {
    if (!/^\d{1,2}$/.test(workers) || Number(workers) < 1 || Number(workers) > 64)
      return `--workers must be a number from 1 to 64, got "${workers}"`;
    out.workers = Number(workers);
  }
  return out;
}

interface LifecycleFlags {
  readonly noWatch: boolean;
  readonly drainTimeoutMs?: number;
}

async function start(
  file: string,
  listen: ListenFlags,
  defaultFile: boolean,
  lifecycle: LifecycleFlags,
  argv: readonly string[],
): Promise<number> {
  if (defaultFile && !existsSync(file)) {
    return error(
      `${file}: config file not found (create one with "portico init", or pass --config FILE)`,
    );
  }
  // A cluster worker (cluster.ts sets PORTICO_WORKER) serves like a single process;
  // everyone else decides here whether to become a cluster's primary instead.
  const worker =
    process.env.PORTICO_WORKER !== undefined && process.send !== undefined
      ? (await import('./cluster.ts')).workerLink()
      : null;
  if (worker === null) {
    const workers =
      listen.workers ??
      (await (await import('./config/load.ts')).loadConfigFile(file)).config.server.workers;
    if (workers > 1) return (await import('./cluster.ts')).runCluster({ workers, args: argv });
  }
  const { createGateway } = await import('./gateway.ts');
  // A terminal gets human-readable log lines; a pipe or file gets JSON.
  const gateway = await createGateway(file, {
    prettyLogs: process.stdout.isTTY === true,
    ...(lifecycle.drainTimeoutMs === undefined ? {} : { drainTimeoutMs: lifecycle.drainTimeoutMs }),
  });
  let address;
  try {
    address = await gateway.listen(listen);
  } catch (err) {
    await gateway.close();
    const e = err as NodeJS.ErrnoException & { port?: number; address?: string };
    const port = e.port ?? listen.port ?? gateway.config.server.port;
    const host = e.address ?? listen.host ?? gateway.config.server.host;
    switch (e.code) {
      case 'EADDRINUSE':
        return error(`port ${port} is already in use on ${host} (choose another with --port)`);
      case 'EACCES':
        return error(`no permission to listen on port ${port} (ports below 1024 need privileges)`);
      case 'EADDRNOTAVAIL':
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
        return error(
          `cannot listen on host "${listen.host ?? gateway.config.server.host}": no such local address`,
        );
      default:
        throw err;
    }
  }
  // Loaded and built before the first line, so no signal can arrive before its handler.
  const { AutoDeploy } = await import('./auto-deploy.ts');
  const autoDeploy = new AutoDeploy(gateway, file, {
    noWatch: lifecycle.noWatch,
    // Every worker watches and redeploys by itself, so each outcome line names its worker.
    ...(worker === null ? {} : { out: workerLine }),
  });
  const onHangup = (): void => void autoDeploy.redeploy('SIGHUP');
  process.on('SIGHUP', onHangup);
  const stopped = waitForStopSignal(() => {
    process.off('SIGHUP', onHangup);
    autoDeploy.close();
    return gateway.close();
  }, worker);
  const summary = gateway.deployment;
  const routeCount = new Set(summary.routes.map((r) => r.routeKey)).size;
  const stages = summary.stages
    .map((s) => (s === '$default' ? '$default at /' : `${s} at /${s}/`))
    .join(', ');
  const detail = `${routeCount} route${routeCount === 1 ? '' : 's'}; stages: ${stages}`;
  if (worker !== null) worker.listening(address.url, detail);
  else process.stdout.write(`portico listening on ${address.url} (${detail})\n`);
  const admin = gateway.adminAddress();
  // Workers share the admin port as they share the public one; the primary does not know it.
  if (admin !== null && worker === null) {
    const host = admin.family === 'IPv6' ? `[${admin.address}]` : admin.address;
    process.stdout.write(
      `portico admin on http://${host}:${admin.port} (/metrics, /healthz, /readyz, live view at /)\n`,
    );
  }
  await autoDeploy.start();
  return stopped;
}

/** A worker's auto-deploy outcome line, naming the worker; the start-up "watching" line would repeat per worker. */
function workerLine(line: string): void {
  if (line.startsWith('portico: watching') || line.startsWith('portico: not watching')) return;
  process.stdout.write(`${line} (worker ${process.pid})\n`);
}

/**
 * First SIGTERM/SIGINT: stop accepting, drain, resolve 0. A second: exit at once (128 + signal).
 * A cluster worker also drains when the primary asks, and leaves the messages to the primary.
 */
function waitForStopSignal(close: () => Promise<void>, worker: WorkerLink | null): Promise<number> {
  const say = (stream: NodeJS.WriteStream, line: string): void => {
    if (worker === null) stream.write(line);
  };
  return new Promise<number>((resolvePromise) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        say(
          process.stderr,
          `portico: ${signal} again, exiting without waiting for in-flight requests\n`,
        );
        process.exit(128 + (osConstants.signals[signal] ?? 0));
      }
      stopping = true;
      // Close first (the listener stops accepting synchronously), then say so: a client that
      // reads the line and connects is refused, not accepted into the backlog and reset.
      const closed = close();
      say(
        process.stdout,
        `portico: ${signal}, draining in-flight requests (send it again to exit now)\n`,
      );
      closed.then(
        () => {
          process.off('SIGTERM', onSignal);
          process.off('SIGINT', onSignal);
          say(process.stdout, 'portico: stopped\n');
          resolvePromise(0);
        },
        (err: unknown) => resolvePromise(fail(err)),
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    worker?.onStop(() => {
      if (!stopping) onSignal('SIGTERM');
    });
  });
}

/** Loads and compiles a config exactly as `start` would, without listening. */
async function compile(file: string): Promise<DeploymentSummary> {
  const { loadConfigFile } = await import('./config/load.ts');
  const { deployLoaded } = await import('./deployment.ts');
  const { UpstreamPools } = await import('./integrations/upstream-pools.ts');
  const { silentLogger } = await import('./log.ts');
  const loaded = await loadConfigFile(file);
  const pools = new UpstreamPools();
  try {
    // Compiling catches what the schema alone cannot (stage variables, URL templates, handler exports).
    const deployment = await deployLoaded(loaded, { pools, logger: silentLogger });
    await deployment.close();
    return deployment.summary;
  } finally {
    await pools.close();
  }
}

async function validate(file: string): Promise<number> {
  const summary = await compile(file);
  const routeCount = new Set(summary.routes.map((r) => r.routeKey)).size;
  process.stdout.write(
    `${file}: ok (${routeCount} route${routeCount === 1 ? '' : 's'}; stages: ${summary.stages.join(', ')})\n`,
  );
  return 0;
}

async function routes(file: string): Promise<number> {
  const summary = await compile(file);
  const rows = [['STAGE', 'ROUTE', 'INTEGRATION', 'TARGET']];
  for (const r of summary.routes)
    rows.push([r.stage, r.routeKey, `${r.integration} (${r.type})`, r.target]);
  process.stdout.write(table(rows));
  return 0;
}

async function schema(): Promise<number> {
  const { configJsonSchema } = await import('./config/json-schema.ts');
  process.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
  return 0;
}

function starterConfig(schemaRef: string | null): string {
  return `${schemaRef ? `# yaml-language-server: $schema=${schemaRef}\n` : ''}# A Portico gateway: AWS API Gateway HTTP API routes on your machine.
# Check it with "portico validate portico.yaml"; start it with "portico --config portico.yaml".
server:
  port: 8080
  host: 127.0.0.1

stages:
  $default:
    variables:
      backend: http://127.0.0.1:3000

integrations:
  hello:
    type: function
    handler: ./handlers/hello.mjs#handler
    payloadFormatVersion: "2.0"
  backend:
    type: http
    url: \${stageVariables.backend}/{proxy}
  ping:
    type: mock
    statusCode: 200
    headers: { content-type: text/plain }
    body: pong

routes:
  GET /hello: { integration: hello }
  ANY /api/{proxy+}: { integration: backend }
  GET /ping: { integration: ping }
`;
}

const STARTER_HANDLER = `// An AWS Lambda-style handler, called with a payload format 2.0 event.
export async function handler(event, context) {
  const name = event.queryStringParameters?.name ?? 'world';
  return {
    statusCode: 200,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ message: \`hello, \${name}\`, requestId: context.awsRequestId }),
  };
}
`;

async function init(dir: string): Promise<number> {
  const configPath = join(dir, 'portico.yaml');
  const handlerPath = join(dir, 'handlers', 'hello.mjs');
  for (const p of [configPath, handlerPath]) {
    if (await exists(p))
      return error(`${p} already exists; not overwriting it (nothing was written)`);
  }
  // Point editors at this installation's schema.json, relative to the new config.
  const root = packageInfo()?.dir;
  const schemaFile = root === undefined ? null : join(root, 'schema.json');
  const schemaRef =
    schemaFile !== null && existsSync(schemaFile)
      ? toPosix(relative(resolve(dir), schemaFile))
      : null;
  await mkdir(dirname(handlerPath), { recursive: true });
  await writeFile(configPath, starterConfig(schemaRef), { flag: 'wx' });
  await writeFile(handlerPath, STARTER_HANDLER, { flag: 'wx' });
  process.stdout.write(
    `wrote ${configPath} and ${handlerPath}\n` +
      `check it:  portico validate ${configPath}\n` +
      `start it:  portico --config ${configPath}\n`,
  );
  return 0;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

function toPosix(path: string): string {
  const p = sep === '/' ? path : path.split(sep).join('/');
  return p.startsWith('.') || p.startsWith('/') ? p : `./${p}`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return (
    rows
      .map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  '))
      .join('\n') + '\n'
  );
}

let cachedPackage: { dir: string; version: string } | null | undefined;

/**
 * The nearest package.json named "portico" above this file: `dist/lib/cli.js` when built,
 * `lib/cli.ts` when run from source (`node bin/portico.ts` on Node >= 22.18).
 */
function packageInfo(): { dir: string; version: string } | null {
  if (cachedPackage !== undefined) return cachedPackage;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: unknown;
        version?: unknown;
      };
      if (pkg.name === 'portico' && typeof pkg.version === 'string')
        return (cachedPackage = { dir, version: pkg.version });
    } catch {
      // No (readable) package.json here: keep walking up.
    }
    const parent = dirname(dir);
    if (parent === dir) return (cachedPackage = null);
    dir = parent;
  }
}

function describeArgsError(err: unknown): string {
  const e = err as { code?: string; message?: string };
  const message = e.message ?? String(err);
  if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const name = /'([^']+)'/.exec(message)?.[1];
    if (name !== undefined) return `unknown option "${name}"`;
  }
  // Node's messages read "Option '-p, --port <value>' argument missing".
  const option =
    /^Option '(?:-\w, )?(--[\w-]+)[^']*' (argument missing|does not take an argument)/.exec(
      message,
    );
  if (option !== null) {
    return `${option[1]} ${option[2] === 'argument missing' ? 'needs a value' : 'does not take a value'}`;
  }
  return message.split('. ')[0]!;
}

function usageError(message: string): number {
  process.stderr.write(`portico: ${message}\nRun "portico --help" for usage.\n`);
  return 2;
}

function error(message: string): number {
  process.stderr.write(`portico: ${message}\n`);
  return 1;
}

function fail(err: unknown): number {
  // Unexpected: one line, no stack (PORTICO_DEBUG=1 shows it).
  const e = err as { message?: unknown; code?: unknown; stack?: unknown };
  const message = err instanceof Error ? err.message : String(err);
  const code = typeof e?.code === 'string' && !message.includes(e.code) ? ` (${e.code})` : '';
  process.stderr.write(`portico: ${message.split('\n')[0]}${code}\n`);
  if (process.env.PORTICO_DEBUG && typeof e?.stack === 'string')
    process.stderr.write(`${e.stack}\n`);
  return 1;
}

/** One line per problem, compiler style (`file:line:col: path: message`), then a count. */
function reportConfigError(err: ConfigError, file: string): number {
  const issues = err.issues;
  const only = issues[0];
  if (issues.length === 1 && only !== undefined && only.path === '' && only.line === undefined) {
    // A file-level problem such as "config file not found".
    return error(`${only.file ?? file}: ${only.message}`);
  }
  process.stderr.write(`${issues.map(formatIssue).join('\n')}\n`);
  const n = issues.length;
  return error(`${file}: invalid config (${n} problem${n === 1 ? '' : 's'})`);
}
