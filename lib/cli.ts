/**
 * The `portico` command line. Every command returns an exit code rather than calling
 * process.exit, so output is flushed and tests can call main() directly.
 * Exit codes: 0 ok, 1 failure (bad config, port in use), 2 usage error.
 */
import { readFileSync } from 'node:fs';
import { access, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, formatIssue } from './errors.ts';

const USAGE = `Usage: portico [command] [options]

Commands:
  start              Start the gateway (the default command)
  validate [FILE]    Check a config file; print each problem with its path and line
  routes [FILE]      Print the route table: stage, route key, integration, target
  init [DIR]         Write a starter portico.yaml and handler into DIR (default: .)
  schema             Print the config JSON Schema (for editors)

Options:
  -c, --config FILE  Config file (default: portico.yaml in the current folder)
  -p, --port N       Port to listen on (overrides server.port; 0 picks a free port)
      --host H       Address to listen on (overrides server.host)
  -h, --help         Show this help
  -v, --version      Show the version
`;

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  port: { type: 'string', short: 'p' },
  host: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} as const;

const COMMANDS = new Set(['start', 'validate', 'routes', 'init', 'schema']);

export async function main(argv: readonly string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    return usageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (values.version) {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  const command = positionals[0] ?? 'start';
  if (!COMMANDS.has(command)) return usageError(`unknown command "${command}"`);
  if (positionals.length > 2 || (positionals.length > 1 && (command === 'start' || command === 'schema'))) {
    return usageError(`unexpected argument "${positionals.at(-1)}"`);
  }
  const file = positionals[1] ?? values.config ?? 'portico.yaml';
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
      default:
        return await start(file, values.port, values.host);
    }
  } catch (err) {
    return fail(err);
  }
}

async function start(file: string, portFlag?: string, host?: string): Promise<number> {
  let port: number | undefined;
  if (portFlag !== undefined) {
    port = Number(portFlag);
    if (!/^\d+$/.test(portFlag) || port > 65535) return usageError(`--port must be 0-65535, got "${portFlag}"`);
  }
  const { createGateway } = await import('./gateway.ts');
  const gateway = await createGateway(file);
  let address;
  try {
    address = await gateway.listen({ ...(port !== undefined ? { port } : {}), ...(host ? { host } : {}) });
  } catch (err) {
    await gateway.close();
    const e = err as NodeJS.ErrnoException & { port?: number; address?: string };
    if (e.code === 'EADDRINUSE') return error(`port ${e.port} is already in use on ${e.address}`);
    if (e.code === 'EACCES') return error(`no permission to listen on port ${e.port}`);
    if (e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND') return error(`cannot listen on host "${host ?? gateway.config.server.host}"`);
    throw err;
  }
  const { summary } = { summary: gateway.deployment };
  process.stdout.write(
    `portico listening on ${address.url} (deployment ${summary.id}, ${summary.routes.length} routes, stages: ${summary.stages.join(', ')})\n`,
  );
  return new Promise<number>((resolvePromise) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (++signals > 1) {
        process.stderr.write(`portico: ${signal} again, exiting now\n`);
        process.exit(1);
      }
      process.stdout.write(`portico: ${signal}, draining in-flight requests\n`);
      gateway.close().then(
        () => {
          process.off('SIGTERM', onSignal);
          process.off('SIGINT', onSignal);
          resolvePromise(0);
        },
        (err: unknown) => resolvePromise(fail(err)),
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

async function validate(file: string): Promise<number> {
  const { loadConfigFile } = await import('./config/load.ts');
  const { createDeployment } = await import('./deployment.ts');
  const { UpstreamPools } = await import('./integrations/upstream-pools.ts');
  const { silentLogger } = await import('./log.ts');
  const loaded = await loadConfigFile(file);
  // Compiling catches what the schema alone cannot (stage variables, handler exports).
  const pools = new UpstreamPools();
  const deployment = await createDeployment(loaded.config, loaded.baseDir, { pools, logger: silentLogger });
  await pools.close();
  const s = deployment.summary;
  process.stdout.write(`${file}: ok (${Object.keys(loaded.config.routes).length} routes, stages: ${s.stages.join(', ')})\n`);
  return 0;
}

async function routes(file: string): Promise<number> {
  const { loadConfigFile } = await import('./config/load.ts');
  const { createDeployment } = await import('./deployment.ts');
  const { UpstreamPools } = await import('./integrations/upstream-pools.ts');
  const { silentLogger } = await import('./log.ts');
  const loaded = await loadConfigFile(file);
  const pools = new UpstreamPools();
  const deployment = await createDeployment(loaded.config, loaded.baseDir, { pools, logger: silentLogger });
  await pools.close();
  const rows = [['STAGE', 'ROUTE', 'INTEGRATION', 'TARGET']];
  for (const r of deployment.summary.routes) rows.push([r.stage, r.routeKey, `${r.integration} (${r.type})`, r.target]);
  process.stdout.write(table(rows));
  return 0;
}

async function schema(): Promise<number> {
  const { configJsonSchema } = await import('./config/json-schema.ts');
  process.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
  return 0;
}

const STARTER_CONFIG = `# yaml-language-server: $schema=https://unpkg.com/portico/schema.json
# Portico gateway config. Reference: https://www.npmjs.com/package/portico
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

const STARTER_HANDLER = `// An AWS Lambda-style handler (payload format 2.0).
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
    if (await exists(p)) return error(`${p} already exists; not overwriting it`);
  }
  await mkdir(dirname(handlerPath), { recursive: true });
  await writeFile(configPath, STARTER_CONFIG, { flag: 'wx' });
  await writeFile(handlerPath, STARTER_HANDLER, { flag: 'wx' });
  const shown = relative(process.cwd(), resolve(configPath)) || configPath;
  process.stdout.write(`wrote ${shown} and ${relative(process.cwd(), resolve(handlerPath))}\nstart it with: portico --config ${shown}\n`);
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

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
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
  if (err instanceof ConfigError) {
    process.stderr.write(`portico: ${err.issues.length === 1 ? 'invalid config' : `invalid config (${err.issues.length} problems)`}\n`);
    process.stderr.write(`${err.issues.map(formatIssue).join('\n')}\n`);
    return 1;
  }
  // Unexpected: one line, no stack (set PORTICO_DEBUG=1 for it).
  process.stderr.write(`portico: ${err instanceof Error ? err.message : String(err)}\n`);
  if (process.env.PORTICO_DEBUG) process.stderr.write(`${(err as Error).stack}\n`);
  return 1;
}
