/**
 * The function authorizer (AWS "Lambda authorizer") end to end: handler modules on disk
 * (test/fixtures/authorizers/token.mjs, whose answer is chosen by the token and which
 * records every event it gets), a real gateway on 127.0.0.1 in front of function, HTTP and
 * mock integrations. Cache ages and the unit-level checks (usageIdentifierKey, eviction)
 * use the authorizer object directly, on an injected clock.
 */
import t, { type Test } from 'tap';
import { fileURLToPath } from 'node:url';
import { ConfigError, createGateway, type GatewayConfigInput } from '../../lib/index.ts';
import type { AuthResult, Authorizer } from '../../lib/authorizers/authorizer.ts';
import { AuthorizeFilter } from '../../lib/authorizers/filter.ts';
import {
  loadFunctionAuthorizer,
  MAX_CACHE_ENTRIES,
  type FunctionAuthorizerConfig,
  type LambdaAuthorizerEventV1,
  type LambdaAuthorizerEventV2,
} from '../../lib/authorizers/function.ts';
import { compilePolicy, globMatch } from '../../lib/authorizers/iam-policy.ts';
import { Exchange } from '../../lib/exchange.ts';
import type { CompiledRoute } from '../../lib/pipeline/route.ts';
import {
  memoryLogger,
  request,
  startGateway,
  type Reply,
  type RunningGateway,
} from '../helpers/gateway.ts';
import { startRecordingUpstream } from '../helpers/upstream.ts';

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));
/** AWS's bodies for the statuses an authorizer answers with. */
const BODY = {
  401: '{"message":"Unauthorized"}',
  403: '{"message":"Forbidden"}',
  500: '{"message":"Internal Server Error"}',
} as const;
const ARN = `arn:aws:execute-api:${process.env.AWS_REGION ?? 'us-east-1'}:000000000000:portico`;

interface Fixture {
  readonly CONTEXT: Record<string, unknown>;
  readonly calls: Array<Record<string, unknown>>;
  reset(): void;
  closeGate(): () => void;
}
// The gateway imports the module by the same file URL, so this is the same instance.
const fixture = (await import(
  new URL('../fixtures/authorizers/token.mjs', import.meta.url).href
)) as Fixture;

/** What the fixture's `simple` handler puts in context for `allow`. */
const CONTEXT = fixture.CONTEXT;

type AuthorizerInput = Partial<Omit<FunctionAuthorizerConfig, 'type'>>;

/**
 * A gateway with one function authorizer `fn` (the `simple` handler unless told) on every
 * route but `/open`; `echo` and `echo1` are function integrations echoing their event.
 */
async function serve(
  t: Test,
  auth: AuthorizerInput = {},
  extra: Partial<Omit<GatewayConfigInput, 'authorizers'>> = {},
): Promise<RunningGateway> {
  fixture.reset();
  const config: GatewayConfigInput = {
    ...extra,
    integrations: {
      ok: { type: 'mock', body: { ok: true } },
      echo: { type: 'function', handler: 'handlers/echo.mjs#handler' },
      echo1: {
        type: 'function',
        handler: 'handlers/echo.mjs#handler',
        payloadFormatVersion: '1.0',
      },
      ...extra.integrations,
    },
    authorizers: {
      fn: {
        type: 'function',
        handler: 'authorizers/token.mjs#simple',
        enableSimpleResponses: true,
        identitySource: ['$request.header.Authorization'],
        ...auth,
      },
    },
    routes: extra.routes ?? {
      'GET /open': { integration: 'ok' },
      'GET /pets/{id}': { integration: 'echo', authorizer: 'fn' },
      'GET /pets/{id}/{rest+}': { integration: 'ok', authorizer: 'fn' },
      'DELETE /pets/{id}': { integration: 'ok', authorizer: 'fn' },
      'POST /pets': { integration: 'ok', authorizer: 'fn' },
      'GET /other': { integration: 'ok', authorizer: 'fn' },
    },
  };
  return startGateway(config, { t, baseDir: FIXTURES });
}

function call(
  gw: RunningGateway,
  path: string,
  token?: string,
  options: { method?: string; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const headers = { ...options.headers };
  if (token !== undefined) headers.authorization = token;
  return request(`${gw.url}${path}`, { method: options.method ?? 'GET', headers });
}

function assertStatus(t: Test, res: Reply, status: 401 | 403 | 500, what: string): void {
  t.equal(res.status, status, `${what}: ${status}`);
  t.equal(res.text, BODY[status], `${what}: AWS's body, nothing else`);
  t.equal(res.headers['content-type'], 'application/json', `${what}: JSON`);
}

function authorizerOf(res: Reply): unknown {
  return res.json<{ event: { requestContext: { authorizer?: unknown } } }>().event.requestContext
    .authorizer;
}

/** Log entries as text, Error messages and stacks included (JSON.stringify drops them). */
function logText(logs: RunningGateway['logs']): string {
  return JSON.stringify(logs, (_k, v: unknown) =>
    v instanceof Error ? { name: v.name, message: v.message, stack: v.stack } : v,
  );
}

/** The error entry logged for the request that got `res`, and its cause as `Name: message`. */
function loggedCause(t: Test, gw: RunningGateway, res: Reply, what: string): string {
  const requestId = res.headers['apigw-requestid'] as string;
  const entry = gw.logs.find((l) => (l.obj as { requestId?: string }).requestId === requestId);
  t.ok(entry, `${what}: logged`);
  t.equal(entry?.level, 'error');
  t.match(entry?.obj, { authorizer: 'fn', code: 'PORTICO_AUTHORIZER_ERROR' });
  const err = (entry?.obj as { err?: unknown } | undefined)?.err;
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

t.test('simple responses: allow with context to a function integration; deny is 403', async (t) => {
  const gw = await serve(t);
  const res = await call(gw, '/pets/1', 'allow');
  t.equal(res.status, 200);
  t.same(
    authorizerOf(res),
    { lambda: CONTEXT },
    'requestContext.authorizer.lambda, with numbers, booleans, lists and objects kept (HTTP API)',
  );
  t.same(authorizerOf(await call(gw, '/pets/1', 'bare')), { lambda: {} }, 'no context: {}');

  assertStatus(t, await call(gw, '/pets/1', 'deny'), 403, 'isAuthorized: false');
  t.equal(fixture.calls.length, 3, 'no cache configured: one call per request');
  t.equal((await call(gw, '/open')).status, 200, 'a route without the authorizer');
  t.equal(fixture.calls.length, 3);
  t.same(gw.logs, [], 'allowing and denying log nothing');
});

t.test('context reaches an HTTP integration as headers; client copies are dropped', async (t) => {
  const upstream = await startRecordingUpstream(t);
  const gw = await serve(
    t,
    {
      contextToHeaders: {
        user: 'X-User',
        n: 'x-n',
        admin: 'x-admin',
        list: 'x-list',
        nested: 'x-nested',
        name: 'x-name',
        missing: 'x-missing',
      },
    },
    {
      integrations: { up: { type: 'http', url: `${upstream.origin}/hello` } },
      routes: {
        'GET /up': { integration: 'up', authorizer: 'fn' },
        'GET /pets/{id}': { integration: 'echo', authorizer: 'fn' },
      },
    },
  );
  const spoofed = { 'x-user': 'admin', 'x-missing': 'spoofed', 'x-other': 'kept' };
  const res = await call(gw, '/up', 'allow', { headers: spoofed });
  t.equal(res.status, 200);
  const seen = upstream.requests[0]!;
  t.equal(seen.headers['x-user'], 'u-1', 'a string, replacing the client copy');
  t.equal(seen.headers['x-n'], '42', 'a number as text');
  t.equal(seen.headers['x-admin'], 'false', 'a boolean as text');
  t.equal(seen.headers['x-list'], '["a",1]', 'a list as JSON');
  t.equal(seen.headers['x-nested'], '{"team":{"id":7}}', 'an object as JSON');
  t.equal(
    Buffer.from(String(seen.headers['x-name']), 'latin1').toString('utf8'),
    'Zoë',
    'non-ASCII as UTF-8 bytes',
  );
  t.equal(seen.headers['x-missing'], undefined, 'an absent key sends nothing; the copy is dropped');
  t.equal(seen.headers['x-other'], 'kept', 'other client headers pass');
  t.equal(
    seen.rawHeaders.filter((h) => h.toLowerCase() === 'x-user').length,
    1,
    'exactly one x-user went upstream',
  );

  const echoed = await call(gw, '/pets/1', 'allow', { headers: spoofed });
  const headers = echoed.json<{ event: { headers: Record<string, string> } }>().event.headers;
  t.equal(headers['x-user'], undefined, 'a function integration does not see the copies either');
  t.equal(headers['x-other'], 'kept');
});

t.test('identity sources: any missing is 401 without calling the handler', async (t) => {
  const gw = await serve(t, {
    identitySource: ['$request.header.Authorization', '$request.querystring.tenant'],
  });
  assertStatus(t, await call(gw, '/pets/1?tenant=a'), 401, 'no header');
  assertStatus(t, await call(gw, '/pets/1', 'allow'), 401, 'no query parameter');
  assertStatus(t, await call(gw, '/pets/1?tenant=', 'allow'), 401, 'an empty query parameter');
  assertStatus(t, await call(gw, '/pets/1?tenant=a', ''), 401, 'an empty header');
  t.equal(fixture.calls.length, 0, 'the handler was not called');
  t.equal((await call(gw, '/pets/1?tenant=a', 'allow')).status, 200, 'both present');
  t.equal(fixture.calls.length, 1);
  t.equal(res401HasNoChallenge(await call(gw, '/pets/1')), true, 'no www-authenticate (not JWT)');
  t.same(gw.logs, [], 'a missing identity source is not logged');
});

function res401HasNoChallenge(res: Reply): boolean {
  return res.status === 401 && res.headers['www-authenticate'] === undefined;
}

t.test('no identity sources: the handler is always called', async (t) => {
  const gw = await serve(t, { identitySource: [] });
  assertStatus(t, await call(gw, '/pets/1'), 403, 'called, and it denied');
  t.equal(fixture.calls.length, 1);
  t.same(fixture.calls[0]!.identitySource, [], '2.0: an empty list');

  const gw1 = await serve(t, {
    identitySource: [],
    payloadFormatVersion: '1.0',
    enableSimpleResponses: false,
    handler: 'authorizers/token.mjs#iam',
  });
  assertStatus(t, await call(gw1, '/pets/1'), 403, '1.0');
  const event = fixture.calls[0]!;
  t.equal(event.identitySource, '', '1.0: an empty string');
  t.notOk('authorizationToken' in event, '1.0: no authorizationToken');
});

t.test('IAM policies: allow, deny, explicit deny wins, wildcards, other routes', async (t) => {
  const gw = await serve(t, { enableSimpleResponses: false, handler: 'authorizers/token.mjs#iam' });
  const cases: Array<[token: string, method: string, path: string, status: number, what: string]> =
    [
      ['allow', 'GET', '/pets/1', 200, 'Allow for the routeArn'],
      ['deny', 'GET', '/pets/1', 403, 'Deny for the routeArn'],
      ['both', 'GET', '/pets/1', 200, 'Allow * and a Deny for another method'],
      ['both', 'DELETE', '/pets/1', 403, 'explicit Deny beats Allow *'],
      ['wild', 'GET', '/pets/1', 200, '* crosses / in the resource'],
      ['wild', 'GET', '/pets/1/toys/2', 200, '* matches several segments'],
      ['wild', 'DELETE', '/pets/1', 403, 'another method is not covered'],
      ['wild', 'GET', '/other', 403, 'another path is not covered'],
      ['wild', 'POST', '/pets', 200, '? matches one character'],
      ['other', 'GET', '/pets/1', 403, 'a policy for another route only'],
      ['other', 'GET', '/other', 200, '...which it allows'],
      ['region', 'GET', '/pets/1', 403, 'a wildcard does not cross the ARN colons'],
      ['single', 'GET', '/pets/1', 200, 'one statement object; action names in any case'],
      ['unrelated', 'GET', '/pets/1', 403, 'no statement for execute-api:Invoke: implicit deny'],
      ['nothing-matches', 'GET', '/pets/1', 403, 'Deny *'],
    ];
  for (const [token, method, path, status, what] of cases) {
    const res = await call(gw, path, token, { method });
    if (status === 200) t.equal(res.status, 200, `${token} ${method} ${path}: ${what}`);
    else assertStatus(t, res, 403, `${token} ${method} ${path}: ${what}`);
  }
  t.equal(fixture.calls.length, cases.length, 'one call each (no cache)');
  t.equal(fixture.calls[0]!.routeArn, `${ARN}/$default/GET/pets/1`, 'the $default stage');
  t.same(gw.logs, [], 'denials are not errors');

  const allowed = await call(gw, '/pets/1', 'allow');
  t.same(authorizerOf(allowed), { lambda: { user: 'u-1', n: 42 } }, 'policy context reaches it');
});

t.test(
  'failures: a throw, a timeout, garbage → 500, the cause logged, the token not',
  async (t) => {
    const gw = await serve(t, { timeoutMs: 100 });
    const secret = 'zQ8-very-secret-token-value';
    const cases: Array<[mode: string, cause: RegExp]> = [
      ['throw', /^Error: token \[redacted\] is not in the database$/],
      ['hang', /^Error: handler did not complete within 100 ms$/],
      ['string', /^Error: the answer must be an object, got a string$/],
      ['flag', /^Error: isAuthorized must be a boolean, got a string$/],
      ['context', /^Error: context must be an object, got a string$/],
      ['nothing', /^Error: the handler returned nothing$/],
      ['bigint', /^Error: the answer cannot be serialised as JSON: .*BigInt/],
      ['key-number', /^Error: usageIdentifierKey must be a string, got a number$/],
      ['throw-object', /^\{"reason":"bad token","token":"\[redacted\]"\}$/],
      ['reject-empty', /^undefined$/],
    ];
    const tokens: string[] = [];
    for (const [mode, cause] of cases) {
      const token = `${mode}:${secret}`;
      tokens.push(token);
      const res = await call(gw, '/pets/1', token);
      assertStatus(t, res, 500, mode);
      t.match(loggedCause(t, gw, res, mode), cause, `${mode}: the cause`);
    }
    t.match(gw.logs, [
      { msg: 'function authorizer failed' },
      { msg: 'function authorizer timed out' },
    ]);
    // As a bearer token: the token without `Bearer ` is kept out too.
    const bearer = await call(gw, '/pets/1', `Bearer throw:${secret}`);
    t.match(loggedCause(t, gw, bearer, 'bearer'), /^Error: token \[redacted\] is not/);
    const text = logText(gw.logs);
    t.notOk(text.includes(secret), 'no token in the logs');
    t.notOk(
      tokens.some((tok) => text.includes(tok)),
      'not even inside the error a handler threw',
    );
  },
);

t.test('IAM policies of the wrong shape → 500 with the reason logged', async (t) => {
  const gw = await serve(t, { enableSimpleResponses: false, handler: 'authorizers/token.mjs#iam' });
  const cases: Array<[mode: string, cause: RegExp]> = [
    ['no-principal', /principalId must be a string, got undefined/],
    ['lower-effect', /Statement\[0\]\.Effect must be "Allow" or "Deny", got a string/],
    ['condition', /Statement\[0\]\.Condition is not supported/],
    ['no-statement', /policyDocument\.Statement must be a list of statements, got undefined/],
    ['simple', /principalId must be a string/],
  ];
  for (const [mode, cause] of cases) {
    const res = await call(gw, '/pets/1', mode);
    assertStatus(t, res, 500, mode);
    t.match(loggedCause(t, gw, res, mode), cause, `${mode}: the reason`);
  }
});

t.test('"Unauthorized" from the handler is 401, not logged, not cached', async (t) => {
  const gw = await serve(t, { resultTtlInSeconds: 300 });
  assertStatus(t, await call(gw, '/pets/1', 'unauthorized'), 401, 'thrown Error("Unauthorized")');
  assertStatus(t, await call(gw, '/pets/1', 'unauthorized'), 401, 'again');
  t.equal(fixture.calls.length, 2, 'not cached: called each time');

  const cb = await serve(t, {
    enableSimpleResponses: false,
    handler: 'authorizers/token.mjs#callback',
  });
  assertStatus(t, await call(cb, '/pets/1', 'unauthorized'), 401, "callback('Unauthorized')");
  t.equal((await call(cb, '/pets/1', 'allow')).status, 200, 'a callback policy');
  const res = await call(cb, '/pets/1', 'error');
  assertStatus(t, res, 500, 'another callback error');
  t.match(loggedCause(t, cb, res, 'callback error'), /^Error: callback failure$/);
  t.same(gw.logs, [], 'a 401 is not an error');
});

t.test('cache: hits counted; keys are the identity values; policies re-evaluated', async (t) => {
  const gw = await serve(t, {
    enableSimpleResponses: false,
    handler: 'authorizers/token.mjs#iam',
    resultTtlInSeconds: 300,
    identitySource: ['$request.header.Authorization', '$request.header.X-Tenant'],
  });
  const tenant = (v: string) => ({ headers: { 'x-tenant': v } });
  t.equal((await call(gw, '/pets/1', 'allow', tenant('a'))).status, 200);
  t.equal((await call(gw, '/pets/1', 'allow', tenant('a'))).status, 200);
  t.equal(fixture.calls.length, 1, 'the second request was a cache hit');

  // The cached policy allows the first request's routeArn only: re-evaluated, not re-asked.
  assertStatus(t, await call(gw, '/pets/2', 'allow', tenant('a')), 403, 'another path, cached');
  assertStatus(t, await call(gw, '/other', 'allow', tenant('a')), 403, 'another route, cached');
  t.equal(fixture.calls.length, 1, 'still one call');

  t.equal((await call(gw, '/pets/2', 'allow', tenant('b'))).status, 200, 'another tenant');
  t.equal(fixture.calls.length, 2, 'a different value of one source misses');
  // Joined unambiguously: ("allow", "b,c") and ("allow,b", "c") are different keys.
  await call(gw, '/pets/1', 'allow', tenant('b,c'));
  await call(gw, '/pets/1', 'allow,b', tenant('c'));
  t.equal(fixture.calls.length, 4);

  t.equal((await call(gw, '/pets/1', 'wild', tenant('a'))).status, 200);
  t.equal((await call(gw, '/pets/9', 'wild', tenant('a'))).status, 200, 'the wildcard, cached');
  assertStatus(t, await call(gw, '/other', 'wild', tenant('a')), 403, 'not covered, cached');
  t.equal(fixture.calls.length, 5);

  assertStatus(t, await call(gw, '/pets/1', 'deny', tenant('a')), 403, 'a deny');
  assertStatus(t, await call(gw, '/pets/1', 'deny', tenant('a')), 403, 'a deny, cached');
  t.equal(fixture.calls.length, 6, 'denies are cached too');

  assertStatus(t, await call(gw, '/pets/1', 'no-principal', tenant('a')), 500, 'a failure');
  assertStatus(t, await call(gw, '/pets/1', 'no-principal', tenant('a')), 500, 'again');
  t.equal(fixture.calls.length, 8, 'failures are not cached');

  const simple = await serve(t, { resultTtlInSeconds: 300 });
  t.equal((await call(simple, '/pets/1', 'allow')).status, 200);
  t.equal((await call(simple, '/other', 'allow')).status, 200, 'a simple answer covers all');
  t.same(authorizerOf(await call(simple, '/pets/2', 'allow')), { lambda: CONTEXT });
  t.equal(fixture.calls.length, 1);
});

t.test('cache: concurrent misses for one key share one handler call', async (t) => {
  const gw = await serve(t, { resultTtlInSeconds: 300 });
  const open = fixture.closeGate();
  const same = Array.from({ length: 5 }, () => call(gw, '/pets/1', 'gated:1'));
  const other = call(gw, '/pets/1', 'gated:2');
  while (fixture.calls.length < 2) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 100)); // the other requests arrive and wait
  t.equal(fixture.calls.length, 2, 'one call per key while held');
  open();
  const replies = await Promise.all([...same, other]);
  t.same(
    replies.map((r) => r.status),
    [200, 200, 200, 200, 200, 200],
  );
  t.same(
    replies.map((r) => (authorizerOf(r) as { lambda: { user: string } }).lambda.user),
    ['gated:1', 'gated:1', 'gated:1', 'gated:1', 'gated:1', 'gated:2'],
    'each waiter got its own key’s answer',
  );
  t.equal(fixture.calls.length, 2, 'still one call per key');
});

/** The event's fields in order after `version` and `type` (none for a body), and those two. */
function assertEventFields(t: Test, event: object, version: string, fields: string): void {
  t.same(Object.keys(event), ['version', 'type', ...fields.split(' ')], 'the fields, no body');
  t.match(event, { version, type: 'REQUEST' });
}

t.test('payload 2.0: the event, field by field', async (t) => {
  const gw = await serve(
    t,
    {
      identitySource: [
        '$request.header.Authorization',
        '$request.querystring.q',
        '$context.routeKey',
        '$stageVariables.env',
      ],
    },
    { stages: { $default: {}, prod: { variables: { env: 'production' } } } },
  );
  const res = await call(gw, '/prod/pets/7?q=1&q=2', 'allow', {
    headers: { cookie: 'a=1; b=2', 'x-custom': 'v', host: 'abc.example.com:8080' },
  });
  t.equal(res.status, 200);
  const event = fixture.calls[0] as unknown as LambdaAuthorizerEventV2;
  const fields2 = 'routeArn identitySource routeKey rawPath rawQueryString headers requestContext';
  const optional2 = 'cookies queryStringParameters pathParameters stageVariables';
  assertEventFields(t, event, '2.0', `${fields2} ${optional2}`);
  t.equal(event.routeArn, `${ARN}/prod/GET/pets/7`, 'the request: stage, method, path');
  t.same(event.identitySource, ['allow', '2', 'GET /pets/{id}', 'production'], 'the values');
  t.equal(event.routeKey, 'GET /pets/{id}');
  t.equal(event.rawPath, '/prod/pets/7');
  t.equal(event.rawQueryString, 'q=1&q=2');
  t.same(event.cookies, ['a=1', 'b=2']);
  t.match(event.headers, { authorization: 'allow', 'x-custom': 'v', host: 'abc.example.com:8080' });
  t.equal(event.headers.cookie, undefined, 'cookies are not a header');
  t.same(event.queryStringParameters, { q: '1,2' });
  t.same(event.pathParameters, { id: '7' });
  t.same(event.stageVariables, { env: 'production' });
  const rc = event.requestContext;
  t.match(rc, {
    accountId: '000000000000',
    apiId: 'portico',
    domainName: 'abc.example.com',
    domainPrefix: 'abc',
    http: { method: 'GET', path: '/prod/pets/7', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1' },
    requestId: res.headers['apigw-requestid'],
    routeKey: 'GET /pets/{id}',
    stage: 'prod',
  });
  t.equal(rc.authorizer, undefined, 'no authorizer context yet');
});

t.test('payload 1.0: the event, field by field, and context to a 1.0 integration', async (t) => {
  const gw = await serve(
    t,
    {
      payloadFormatVersion: '1.0',
      enableSimpleResponses: false,
      handler: 'authorizers/token.mjs#iam',
      identitySource: ['$request.header.Authorization', '$request.header.X-Tenant'],
    },
    {
      routes: { 'GET /pets/{id}': { integration: 'echo1', authorizer: 'fn' } },
    },
  );
  const res = await call(gw, '/pets/7?q=1&q=2', 'allow', { headers: { 'x-tenant': 't1' } });
  t.equal(res.status, 200);
  const event = fixture.calls[0] as unknown as LambdaAuthorizerEventV1;
  const fields1 = 'methodArn identitySource resource path httpMethod headers multiValueHeaders';
  const more1 = 'queryStringParameters multiValueQueryStringParameters pathParameters';
  assertEventFields(
    t,
    event,
    '1.0',
    `${fields1} ${more1} stageVariables requestContext authorizationToken`,
  );
  t.equal(event.methodArn, `${ARN}/$default/GET/pets/7`);
  t.equal(event.identitySource, 'allow,t1', 'the values joined with commas');
  t.equal(event.authorizationToken, 'allow,t1', 'as in AWS’s example');
  t.equal(event.resource, '/pets/{id}');
  t.equal(event.path, '/pets/7');
  t.equal(event.httpMethod, 'GET');
  t.match(event.headers, { authorization: 'allow', 'x-tenant': 't1' });
  t.match(event.multiValueHeaders, { authorization: ['allow'], 'x-tenant': ['t1'] });
  t.same(event.queryStringParameters, { q: '2' });
  t.same(event.multiValueQueryStringParameters, { q: ['1', '2'] });
  t.same(event.pathParameters, { id: '7' });
  t.equal(event.stageVariables, null);
  t.match(event.requestContext, {
    accountId: '000000000000',
    apiId: 'portico',
    httpMethod: 'GET',
    path: '/pets/7',
    resourcePath: '/pets/{id}',
    stage: '$default',
    requestId: res.headers['apigw-requestid'],
    identity: { sourceIp: '127.0.0.1' },
  });
  t.same(
    authorizerOf(res),
    { lambda: { user: 'u-1', n: 42 } },
    '1.0 integration: requestContext.authorizer.lambda',
  );
});

t.test('config errors are found at deploy, with paths', async (t) => {
  const cases: Array<[string, AuthorizerInput, RegExp]> = [
    [
      'a reserved header',
      { contextToHeaders: { user: 'Content-Length' } },
      /authorizers\.fn\.contextToHeaders\.user: "Content-Length" is set by the gateway/,
    ],
    [
      'a header used twice',
      { contextToHeaders: { user: 'x-user', id: 'X-User' } },
      /authorizers\.fn\.contextToHeaders\.id: "X-User" is already used for "user"/,
    ],
    [
      'a missing module',
      { handler: 'authorizers/nope.mjs#handler' },
      /authorizers\.fn\.handler: module "authorizers\/nope\.mjs" not found/,
    ],
    [
      'a missing export',
      { handler: 'authorizers/token.mjs#nope' },
      /authorizers\.fn\.handler: module "authorizers\/token\.mjs" has no export "nope"/,
    ],
    [
      'simple responses with 1.0',
      { payloadFormatVersion: '1.0' },
      /authorizers\.fn\.enableSimpleResponses: simple responses need payloadFormatVersion "2\.0"/,
    ],
    [
      'a cache without identity sources',
      { identitySource: [], resultTtlInSeconds: 60 },
      /caching needs at least one identitySource/,
    ],
  ];
  for (const [what, auth, message] of cases) {
    const err = await createGateway(
      {
        integrations: { ok: { type: 'mock' } },
        authorizers: {
          fn: {
            type: 'function',
            handler: 'authorizers/token.mjs#simple',
            enableSimpleResponses: true,
            ...auth,
          },
        },
        routes: { 'GET /': { integration: 'ok', authorizer: 'fn' } },
      },
      { logger: memoryLogger([]), baseDir: FIXTURES },
    ).then(
      () => null,
      (e: unknown) => e,
    );
    t.type(err, ConfigError, `${what}: ConfigError`);
    t.match((err as Error).message, message, what);
  }
});

// ---- the authorizer object directly: clock, AuthResult, eviction, close ----

const ROUTE = {
  routeKey: 'GET /pets/{id}',
  resource: '/pets/{id}',
  integrationName: 'x',
  filters: null,
  integration: { type: 'mock', target: '', handle() {} },
  cors: null,
  gatewayHeaders: null,
} satisfies CompiledRoute;

/** An exchange for `GET /pets/1` carrying `authorization: token`, without a server. */
function exchangeFor(token: string): Exchange {
  const req = {
    method: 'GET',
    url: '/pets/1',
    headers: { authorization: token },
    rawHeaders: ['Authorization', token],
    httpVersion: '1.1',
    socket: { remoteAddress: '127.0.0.1', localPort: 8080 },
  };
  const stage = { name: '$default', variables: {}, trustProxy: null };
  return new Exchange(
    req as never,
    {} as never,
    'req-1',
    stage,
    ROUTE,
    { id: '1' },
    '/pets/1',
    '/pets/1',
    '',
  );
}

async function direct(
  auth: AuthorizerInput,
  now: () => number = Date.now,
): Promise<{ authorizer: Authorizer; logs: RunningGateway['logs'] }> {
  fixture.reset();
  const logs: RunningGateway['logs'] = [];
  const authorizer = await loadFunctionAuthorizer(
    'direct',
    {
      type: 'function',
      handler: 'authorizers/token.mjs#simple',
      payloadFormatVersion: '2.0',
      enableSimpleResponses: true,
      identitySource: ['$request.header.Authorization'],
      resultTtlInSeconds: 0,
      timeoutMs: 1000,
      ...auth,
    },
    { logger: memoryLogger(logs), baseDir: FIXTURES, now },
  );
  return { authorizer, logs };
}

t.test('cache TTL on an injected clock; hits answer without a promise', async (t) => {
  let now = 1_000_000;
  const { authorizer } = await direct({ resultTtlInSeconds: 10 }, () => now);
  t.equal(authorizer.type, 'function');
  const first = authorizer.authorize(exchangeFor('allow'), null);
  t.type(first, Promise, 'a miss calls the handler');
  t.match(await first, { ok: true });
  const hit = authorizer.authorize(exchangeFor('allow'), null);
  t.notOk(hit instanceof Promise, 'a hit is answered synchronously');
  t.match(hit, { ok: true, context: { lambda: CONTEXT } });
  now += 9_999;
  t.notOk(authorizer.authorize(exchangeFor('allow'), null) instanceof Promise, 'fresh at 9.999 s');
  t.equal(fixture.calls.length, 1);
  now += 1;
  t.match(await authorizer.authorize(exchangeFor('allow'), null), { ok: true }, 'expired at 10 s');
  t.equal(fixture.calls.length, 2, 'called again after the TTL');
  t.notOk(authorizer.authorize(exchangeFor('allow'), null) instanceof Promise, 'cached anew');

  const result = (await authorizer.authorize(exchangeFor('allow:frozen'), null)) as AuthResult & {
    ok: true;
  };
  t.ok(Object.isFrozen(result.context), 'a cached context cannot be changed by its users');
  t.throws(() => {
    (result.context as { lambda: { nested: { team: { id: number } } } }).lambda.nested.team.id = 8;
  }, TypeError);
  authorizer.close?.();
  t.type(authorizer.authorize(exchangeFor('allow'), null), Promise, 'close() empties the cache');
});

t.test('cache size is bounded: the oldest entry is evicted', async (t) => {
  const { authorizer } = await direct({ resultTtlInSeconds: 3600 });
  for (let i = 0; i <= MAX_CACHE_ENTRIES; i++)
    await authorizer.authorize(exchangeFor(`deny:${i}`), null);
  t.equal(fixture.calls.length, MAX_CACHE_ENTRIES + 1);
  t.type(authorizer.authorize(exchangeFor('deny:0'), null), Promise, 'the oldest was evicted');
  t.notOk(
    authorizer.authorize(exchangeFor(`deny:${MAX_CACHE_ENTRIES}`), null) instanceof Promise,
    'the newest is still cached',
  );
});

t.test('usageIdentifierKey reaches the AuthResult and the exchange', async (t) => {
  const { authorizer } = await direct({});
  t.same(await authorizer.authorize(exchangeFor('key'), null), {
    ok: true,
    context: { lambda: {} },
    upstreamHeaders: null,
    usageIdentifierKey: 'key-for-plan-1234567890',
  });
  const ex = exchangeFor('key');
  await new AuthorizeFilter(authorizer, null).run(ex);
  t.equal(ex.usageIdentifierKey, 'key-for-plan-1234567890', 'what issue #5 reads');
  t.same(ex.authorizer, { lambda: {} });

  const iam = await direct({ enableSimpleResponses: false, handler: 'authorizers/token.mjs#iam' });
  t.same(await iam.authorizer.authorize(exchangeFor('allow'), null), {
    ok: true,
    context: { lambda: { user: 'u-1', n: 42 } },
    upstreamHeaders: null,
    usageIdentifierKey: 'key-for-plan-1234567890',
  });
  const without = await authorizer.authorize(exchangeFor('allow'), null);
  t.notOk('usageIdentifierKey' in without, 'absent when the handler gives none');
});

t.test('IAM matching: ARN segments, wildcards, Deny precedence', async (t) => {
  t.ok(globMatch('a*c', 'a*xc'), 'a literal * in the text is matched by the wildcard');
  t.ok(globMatch('*', ''));
  t.ok(globMatch('a?c', 'abc'));
  t.notOk(globMatch('a?c', 'ac'));
  t.ok(globMatch('a*b*c', 'aXbYbZc'), 'backtracking');
  t.notOk(globMatch('a*b*c', 'aXbYbZ'));
  const arn = `${ARN}/$default/GET/pets/1`;
  const allows = (doc: unknown): boolean | string => {
    const p = compilePolicy(doc);
    return typeof p === 'string' ? p : p.allows(arn);
  };
  const st = (
    Effect: string,
    Resource: string | string[],
    Action: unknown = 'execute-api:Invoke',
  ) => ({
    Effect,
    Resource,
    Action,
  });
  t.equal(allows({ Statement: [st('Allow', '*')] }), true);
  t.equal(allows({ Statement: [st('Allow', 'arn:aws:execute-api:*:*:portico/*')] }), true);
  t.equal(allows({ Statement: [st('Allow', 'arn:aws:execute-api:*:*:*')] }), true);
  t.equal(
    allows({ Statement: [st('Allow', 'arn:aws:execute-api:*:portico/*')] }),
    false,
    'five segments: not an ARN pattern that can match',
  );
  t.equal(
    allows({ Statement: [st('Allow', `${ARN}/$default/GET/pets/1`.replace('GET', 'get'))] }),
    false,
    'resources are case-sensitive',
  );
  t.equal(allows({ Statement: [st('Allow', '*', ['s3:*', 'execute-api:*'])] }), true);
  t.equal(allows({ Statement: [st('Allow', '*', '*')] }), true, 'action *');
  t.equal(allows({ Statement: [st('Allow', '*'), st('Deny', `${ARN}/*`)] }), false);
  t.equal(allows({ Statement: [] }), false, 'no statements: implicit deny');
  t.match(allows({ Statement: [st('Allow', [])] }), /Resource must be a string or a list/);
  t.match(allows({ Statement: [st('Allow', '*', 7)] }), /Action must be a string or a list/);
  t.match(allows({ Statement: [{ ...st('Allow', '*'), NotResource: 'x' }] }), /NotResource/);
  t.match(allows({ Version: 1, Statement: [] }), /Version must be a string/);
  t.match(allows('policy'), /policyDocument must be an object, got a string/);
});
