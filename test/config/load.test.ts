import t from 'tap';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfigFile } from '../../lib/config/load.ts';
import { parseConfigText, validateConfig } from '../../lib/config/parse.ts';
import { formatPath } from '../../lib/config/path.ts';
import { configJsonSchema } from '../../lib/config/json-schema.ts';
import { ConfigError, formatIssue } from '../../lib/errors.ts';
import { createGateway } from '../../lib/index.ts';
import { silentLogger } from '../../lib/log.ts';

function issuesOf(fn: () => unknown): ConfigError['issues'] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

const minimal = {
  integrations: { m: { type: 'mock' } },
  routes: { $default: { integration: 'm' } },
};

t.test('defaults are applied to a minimal config', async (t) => {
  const config = validateConfig(minimal);
  t.same(config.server, { port: 8080, host: '127.0.0.1', drainTimeoutMs: 10_000, workers: 1 });
  t.equal(config.autoDeploy, true);
  t.same(config.limits, {
    maxBodyBytes: 10 * 1024 * 1024,
    maxHeaderBytes: 10 * 1024,
    maxUrlLength: 8192,
    headersTimeoutMs: 10_000,
    requestTimeoutMs: 60_000,
    keepAliveTimeoutMs: 5_000,
    maxConnections: 10_000,
  });
  t.equal(config.trustProxy, false);
  t.same(config.stages, { $default: {} });
  t.same(config.integrations.m, { type: 'mock', statusCode: 200, body: '' });
});

t.test('YAML and JSON both parse, and a $schema key is accepted', async (t) => {
  const yaml = `$schema: ./schema.json\nintegrations:\n  m: { type: mock }\nroutes:\n  $default: { integration: m }\n`;
  t.equal(parseConfigText(yaml, 'a.yaml').routes.$default?.integration, 'm');
  t.equal(
    parseConfigText(JSON.stringify({ $schema: 'x', ...minimal }), 'a.json').integrations.m?.type,
    'mock',
  );
});

t.test('YAML syntax errors carry line and column', async (t) => {
  const issues = issuesOf(() => parseConfigText('routes:\n  a: [1\nb: 2\n', 'bad.yaml'));
  t.equal(issues.length, 1);
  t.match(issues[0], { file: 'bad.yaml', line: 3, column: 1, message: /^BAD_INDENT: / });
  t.notMatch(issues[0]!.message, /at line/, 'position is not repeated in the message');
  const dup = issuesOf(() => parseConfigText('routes: {}\nroutes: {}\n', 'dup.yaml'));
  t.match(dup[0], { line: 2, column: 1, message: /^DUPLICATE_KEY/ });
  const json = issuesOf(() => parseConfigText('{\n  "routes": {,}\n}', 'bad.json'));
  t.match(json[0], { file: 'bad.json', line: 2 });
});

t.test('every schema problem is reported at once with its path and position', async (t) => {
  const text = [
    'stages:',
    '  prod: { variables: { backend: 1 } }',
    '  "bad stage": {}',
    'integrations:',
    '  users: { type: htp, url: x }',
    '  m: { type: mock, extra: 1 }',
    '  f: { type: function, handler: "no-export.js" }',
    'routes:',
    '  "GET /x/{a}/{a}": { integration: m }',
    '  "FOO /y": { integration: nope }',
    'unknown: true',
  ].join('\n');
  const issues = issuesOf(() => parseConfigText(text, 'c.yaml'));
  const lines = issues.map(formatIssue);
  t.same(lines, [
    'c.yaml:2:33: stages.prod.variables.backend: Invalid input: expected string, received number',
    'c.yaml:3:3: stages["bad stage"]: a stage name is "$default" or 1-128 of A-Z a-z 0-9 _ -',
    `c.yaml:5:18: integrations.users.type: Invalid discriminator value. Expected 'http' | 'function' | 'mock'; "type" must be one of the known types`,
    'c.yaml:6:6: integrations.m: unknown key "extra"',
    'c.yaml:7:33: integrations.f.handler: expected "path/to/module.js#exportName"',
    'c.yaml:1:1: unknown key "unknown"',
    'c.yaml:9:3: routes["GET /x/{a}/{a}"]: invalid route key: path variable "{a}" appears twice',
    'c.yaml:10:3: routes["FOO /y"]: invalid route key: unknown method "FOO"; expected one of GET, POST, PUT, DELETE, PATCH, HEAD, OPTIONS or ANY',
    'c.yaml:10:28: routes["FOO /y"].integration: no integration named "nope"; defined: users, m, f',
  ]);
});

t.test('a missing required key points at its parent', async (t) => {
  const issues = issuesOf(() =>
    parseConfigText('integrations:\n  h: { type: http }\nroutes: {}\n', 'x.yaml'),
  );
  t.match(issues, [{ path: 'integrations.h.url', line: 2, column: 6 }]);
});

t.test('config objects from code are validated with paths but no positions', async (t) => {
  const issues = issuesOf(() =>
    validateConfig({ integrations: {}, routes: { 'GET /': { integration: 'x' } } }),
  );
  t.match(issues, [{ path: 'routes["GET /"].integration', message: 'no integration named "x"' }]);
  t.equal(issues[0]!.line, undefined);
});

t.test('deploy-time checks: stage variables and URL templates', async (t) => {
  const config = {
    stages: { $default: { variables: { backend: 'http://127.0.0.1:1' } }, prod: {} },
    integrations: {
      up: { type: 'http', url: '${stageVariables.backend}/x/{id}' },
      rel: { type: 'http', url: '/relative' },
    },
    routes: { 'GET /a': { integration: 'up' }, 'GET /b': { integration: 'rel' } },
  } as const;
  const err = await createGateway(config, { logger: silentLogger }).catch((e: unknown) => e);
  t.ok(err instanceof ConfigError);
  t.same(
    (err as ConfigError).issues.map((i) => `${i.path}: ${i.message}`),
    [
      'routes["GET /a"].integration: integrations.up.url uses {id}, which route "GET /a" does not define',
      'integrations.rel.url: "/relative" is not an absolute http:// or https:// URL',
      'stages.prod.variables: stage "prod" does not define "backend", used by integrations.up.url',
    ],
  );
});

t.test('deploy-time problems in a config file carry its line and column', async (t) => {
  const dir = t.testdir({
    'gw.yaml': [
      'stages:',
      '  $default: {}',
      '  prod: { variables: { other: x } }',
      'integrations:',
      '  up: { type: http, url: "${stageVariables.backend}/x" }',
      'routes:',
      '  "GET /a": { integration: up }',
      '',
    ].join('\n'),
  });
  const err = await createGateway(join(dir, 'gw.yaml'), { logger: silentLogger }).catch(
    (e: unknown) => e,
  );
  t.ok(err instanceof ConfigError);
  t.same((err as ConfigError).issues.map(formatIssue), [
    `${join(dir, 'gw.yaml')}:2:13: stages.$default.variables: stage "$default" does not define "backend", used by integrations.up.url`,
    `${join(dir, 'gw.yaml')}:3:22: stages.prod.variables: stage "prod" does not define "backend", used by integrations.up.url`,
  ]);
});

t.test(
  'a validated config is cached by text; edits and errors go through the parser',
  async (t) => {
    const cache = t.testdir({});
    const saved = process.env.PORTICO_CACHE_DIR;
    process.env.PORTICO_CACHE_DIR = cache;
    t.teardown(() => {
      if (saved === undefined) delete process.env.PORTICO_CACHE_DIR;
      else process.env.PORTICO_CACHE_DIR = saved;
    });
    const dir = t.testdir({
      'gw.yaml':
        'integrations: { m: { type: mock, body: one } }\nroutes: { $default: { integration: m } }\n',
    });
    const file = join(dir, 'gw.yaml');
    const first = await loadConfigFile(file);
    const entries = readdirSync(cache).filter((n) => n.endsWith('.json'));
    t.equal(entries.length, 1, 'the validated config was stored');
    const second = await loadConfigFile(file);
    t.same(second.config, first.config, 'a hit gives the same validated config');
    // Prove the hit came from the cache: an entry that says otherwise is believed.
    const entry = join(cache, entries[0]!);
    const forged = JSON.parse(readFileSync(entry, 'utf8')) as {
      integrations: { m: { body: string } };
    };
    forged.integrations.m.body = 'from-cache';
    writeFileSync(entry, JSON.stringify(forged));
    t.equal((await loadConfigFile(file)).config.integrations.m?.type, 'mock');
    t.same((await loadConfigFile(file)).config.integrations.m, {
      type: 'mock',
      statusCode: 200,
      body: 'from-cache',
    });
    // Any edit misses; an invalid file is never cached and still reports its position.
    writeFileSync(
      file,
      'integrations: { m: { type: mock, body: two } }\nroutes: { $default: { integration: m } }\n',
    );
    t.same((await loadConfigFile(file)).config.integrations.m, {
      type: 'mock',
      statusCode: 200,
      body: 'two',
    });
    writeFileSync(file, 'integrations: { m: { type: mok } }\nroutes: {}\n');
    const issues = await loadConfigFile(file).catch((e: ConfigError) => e.issues);
    t.match(issues, [{ path: 'integrations.m.type', line: 1, column: 28 }]);
    t.equal(readdirSync(cache).filter((n) => n.endsWith('.json')).length, 2);
    // PORTICO_CACHE=off bypasses it.
    process.env.PORTICO_CACHE = 'off';
    t.teardown(() => void delete process.env.PORTICO_CACHE);
    writeFileSync(
      file,
      'integrations: { m: { type: mock, body: three } }\nroutes: { $default: { integration: m } }\n',
    );
    await loadConfigFile(file);
    t.equal(readdirSync(cache).filter((n) => n.endsWith('.json')).length, 2);
  },
);

t.test('loadConfigFile names a missing file and resolves paths from the file', async (t) => {
  const dir = t.testdir({});
  const issues = await loadConfigFile(join(dir, 'nope.yaml')).catch((e: ConfigError) => e.issues);
  t.match(issues, [{ message: 'config file not found' }]);
  writeFileSync(
    join(dir, 'gw.yaml'),
    'integrations: { m: { type: mock } }\nroutes: { $default: { integration: m } }\n',
  );
  const loaded = await loadConfigFile(join(dir, 'gw.yaml'));
  t.equal(loaded.baseDir, dir);
});

t.test('formatPath renders identifiers, quoted keys and indexes', async (t) => {
  t.equal(formatPath(['routes', 'GET /a', 'integration']), 'routes["GET /a"].integration');
  t.equal(formatPath(['stages', '$default', 'variables']), 'stages.$default.variables');
  t.equal(formatPath(['a', 0, 'b']), 'a[0].b');
  t.equal(formatPath([]), '');
});

t.test('the JSON Schema is generated from the same schema', async (t) => {
  const schema = configJsonSchema() as {
    $schema: string;
    required?: string[];
    additionalProperties: boolean;
    properties: Record<string, { default?: unknown }>;
  };
  t.equal(schema.$schema, 'http://json-schema.org/draft-07/schema#');
  t.same(
    schema.required,
    ['integrations', 'routes'],
    'keys with defaults stay optional for editors',
  );
  t.equal(schema.additionalProperties, false);
  t.same(Object.keys(schema.properties).sort(), [
    '$schema',
    'accessLog',
    'admin',
    'apiKeyHeader',
    'apiKeySource',
    'apiKeys',
    'authorizers',
    'autoDeploy',
    'cors',
    'integrations',
    'limits',
    'routes',
    'server',
    'stages',
    'throttle',
    'tls',
    'tracing',
    'trustProxy',
    'usagePlans',
  ]);
  t.match(JSON.stringify(schema), /"const":"function"/);
});
