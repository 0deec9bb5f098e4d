/**
 * Auto-deploy through the CLI: a real `portico` process watching real files in a tmp dir.
 * Each step waits on the process's own log lines (watching, deployed, deploy failed), never
 * on time. Also: SIGHUP with watching off, and SIGTERM during slow requests.
 */
import t, { type Test } from 'tap';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startCli, type Cli } from './helpers/cli.ts';
import { request } from './helpers/gateway.ts';
import { startHttpUpstream } from './helpers/upstream.ts';

const DEPLOYED =
  /^portico: deployed (d-\w+) in \d+ ms \(routes: (\d+) added, (\d+) removed, (\d+) changed\)$/;
const FAILED = /^portico: deploy failed; still serving (d-\w+)$/;

function mockConfig(body: string, extra = ''): string {
  return `integrations:
  m: { type: mock, body: ${JSON.stringify(body)} }
${extra}routes:
  GET /m: { integration: m }
`;
}

/** Runs `save`, then waits for the deploy (or failure) line it causes. */
async function saved(cli: Cli, save: () => void): Promise<RegExpExecArray> {
  const deployed = cli.nextLine(DEPLOYED);
  save();
  return deployed;
}

async function failed(cli: Cli, save: () => void): Promise<string> {
  const from = cli.stderr.length;
  const line = cli.nextErrorLine(FAILED);
  save();
  await line;
  return cli.stderr.slice(from);
}

async function body(url: string): Promise<string> {
  return (await request(url)).text;
}

t.test(
  'editor save patterns are all seen: in place, rename-over, delete-then-create',
  async (t) => {
    const dir = t.testdir({ 'portico.yaml': mockConfig('v0') });
    const file = join(dir, 'portico.yaml');
    const { cli, url } = await startCli(t, file);
    await cli.line(/^portico: watching 1 file for changes$/);
    t.equal(await body(`${url}/m`), 'v0');

    const inPlace = await saved(cli, () => writeFileSync(file, mockConfig('v1')));
    t.equal(inPlace[4], '1', 'one route changed');
    t.equal(await body(`${url}/m`), 'v1', 'in-place write');

    await saved(cli, () => {
      writeFileSync(join(dir, '.portico.yaml.swp'), mockConfig('v2'));
      renameSync(join(dir, '.portico.yaml.swp'), file);
    });
    t.equal(await body(`${url}/m`), 'v2', 'atomic rename-over');

    await saved(cli, () => writeFileSync(file, mockConfig('v3')));
    t.equal(await body(`${url}/m`), 'v3', 'still watched after the rename replaced the inode');

    // Delete then create: the debounce usually folds both into one deploy; if the delete is
    // seen alone, that deploy fails (file not found) and the old deployment keeps serving.
    const created = cli.nextLine(/^portico: deployed .*\(routes: 0 added, 0 removed, 1 changed\)$/);
    rmSync(file);
    writeFileSync(file, mockConfig('v4'));
    await created;
    t.equal(await body(`${url}/m`), 'v4', 'delete-then-create');
  },
);

t.test(
  'a handler module edit deploys the new code; bad saves keep the old deployment',
  async (t) => {
    const handler = (text: string) =>
      `export const handler = async () => ({ statusCode: 200, body: ${JSON.stringify(text)} });\n`;
    const dir = t.testdir({
      'portico.yaml': mockConfig(
        'm',
        '  f: { type: function, handler: ./fn/h.mjs#handler }\n',
      ).replace('routes:\n', 'routes:\n  GET /f: { integration: f }\n'),
      fn: { 'h.mjs': handler('h1') },
    });
    const file = join(dir, 'portico.yaml');
    const hfile = join(dir, 'fn', 'h.mjs');
    const { cli, url } = await startCli(t, file);
    await cli.line(/^portico: watching 2 files for changes$/);
    t.equal(await body(`${url}/f`), 'h1');

    const d = await saved(cli, () => {
      writeFileSync(`${hfile}.tmp`, handler('h2'));
      renameSync(`${hfile}.tmp`, hfile);
    });
    t.equal(d[4], '1', 'the route running the handler is reported changed');
    t.equal(await body(`${url}/f`), 'h2', 'the new handler code serves');
    const live = d[1]!;

    const syntax = await failed(cli, () => writeFileSync(file, 'routes: {\n  GET /m: [\n'));
    t.match(syntax, /portico\.yaml:\d+:\d+: /, 'YAML syntax error with line and column');
    t.match(syntax, `still serving ${live}`);
    t.equal(await body(`${url}/f`), 'h2', 'the old deployment serves');

    const schema = await failed(cli, () =>
      writeFileSync(file, mockConfig('x').replace('type: mock', 'type: mock, statusCode: 99')),
    );
    t.match(
      schema,
      /portico\.yaml:2:\d+: integrations\.m\.statusCode: /,
      'schema error with its path',
    );

    const good = (mock: string) =>
      writeFileSync(
        file,
        mockConfig(mock, '  f: { type: function, handler: ./fn/h.mjs#handler }\n').replace(
          'routes:\n',
          'routes:\n  GET /f: { integration: f }\n',
        ),
      );
    await saved(cli, () => good('m2'));
    t.equal(await body(`${url}/m`), 'm2', 'a good save after bad ones deploys');

    const noExport = await failed(cli, () =>
      writeFileSync(hfile, 'export const other = () => ({});\n'),
    );
    t.match(noExport, /integrations\.f\.handler: module "\.\/fn\/h\.mjs" has no export "handler"/);
    t.equal(await body(`${url}/f`), 'h2');

    const broken = await failed(cli, () => writeFileSync(hfile, 'export const handler = (;\n'));
    t.match(broken, /cannot load module "\.\/fn\/h\.mjs": SyntaxError/);
    t.equal(await body(`${url}/f`), 'h2');

    await saved(cli, () => writeFileSync(hfile, handler('h3')));
    t.equal(await body(`${url}/f`), 'h3', 'the next good save deploys');
    t.equal(await body(`${url}/m`), 'm2');
  },
);

t.test('a handler named before it exists is deployed once it is written', async (t) => {
  const dir = t.testdir({ 'portico.yaml': mockConfig('m') });
  const file = join(dir, 'portico.yaml');
  const { cli, url } = await startCli(t, file);
  await cli.line(/^portico: watching 1 file/);
  const out = await failed(cli, () =>
    writeFileSync(
      file,
      mockConfig('m', '  f: { type: function, handler: ./late.mjs#handler }\n').replace(
        'routes:\n',
        'routes:\n  GET /f: { integration: f }\n',
      ),
    ),
  );
  t.match(out, /module "\.\/late\.mjs" not found/);
  const d = await saved(cli, () =>
    writeFileSync(
      join(dir, 'late.mjs'),
      'export const handler = async () => ({ statusCode: 200, body: "late" });\n',
    ),
  );
  t.equal(d[2], '1', 'one route added');
  t.equal(await body(`${url}/f`), 'late');
});

for (const [how, yaml, args] of [
  ['autoDeploy: false', 'autoDeploy: false\n', []],
  ['--no-watch', '', ['--no-watch']],
] as const) {
  t.test(`${how}: no watching; SIGHUP redeploys`, async (t) => {
    const dir = t.testdir({ 'portico.yaml': yaml + mockConfig('a') });
    const file = join(dir, 'portico.yaml');
    const { cli, url } = await startCli(t, file, { args });
    await cli.line(/^portico: not watching for changes \(.*\); SIGHUP redeploys$/);
    writeFileSync(file, yaml + mockConfig('b'));
    t.equal(await body(`${url}/m`), 'a', 'the edit alone deploys nothing');
    const d = cli.nextLine(DEPLOYED);
    cli.proc.kill('SIGHUP');
    await d;
    t.equal(await body(`${url}/m`), 'b');
    t.equal(cli.stdout.match(/^portico: deployed/gm)?.length, 1, 'exactly one deploy, by SIGHUP');
  });
}

t.test('SIGHUP also redeploys while watching', async (t) => {
  const dir = t.testdir({ 'portico.yaml': mockConfig('a') });
  const { cli } = await startCli(t, join(dir, 'portico.yaml'));
  await cli.line(/^portico: watching/);
  const d = cli.nextLine(DEPLOYED);
  cli.proc.kill('SIGHUP');
  t.equal((await d)[4], '0', 'nothing changed');
});

async function slowUpstream(t: Test) {
  const held: Array<() => void> = [];
  const arrivals: Array<() => void> = [];
  const up = await startHttpUpstream(t, (_req, res) => {
    held.push(() => res.end('slow done'));
    arrivals.shift()?.();
  });
  return {
    origin: up.origin,
    arrived: () => new Promise<void>((resolve) => arrivals.push(resolve)),
    releaseAll: () => held.splice(0).forEach((f) => f()),
  };
}

t.test('SIGTERM during slow requests: they complete, then exit 0', async (t) => {
  const up = await slowUpstream(t);
  const dir = t.testdir({
    'portico.yaml': `integrations:
  up: { type: http, url: "${up.origin}" }
routes:
  GET /slow: { integration: up }
`,
  });
  const { cli, url } = await startCli(t, join(dir, 'portico.yaml'), {
    args: ['--drain-timeout', '60000'],
  });
  await cli.line(/^portico: watching/);
  const arrived = [up.arrived(), up.arrived(), up.arrived()];
  const slow = [1, 2, 3].map(() => request(`${url}/slow`));
  await Promise.all(arrived);
  const draining = cli.nextLine(/^portico: SIGTERM, draining/);
  cli.proc.kill('SIGTERM');
  await draining;
  await t.rejects(request(`${url}/slow`), { code: 'ECONNREFUSED' }, 'no new connections');
  up.releaseAll();
  for (const res of await Promise.all(slow)) {
    t.equal(res.status, 200);
    t.equal(res.text, 'slow done');
  }
  const exit = await cli.exited;
  t.equal(exit.code, 0);
  t.match(exit.stdout, /^portico: stopped$/m);
});
