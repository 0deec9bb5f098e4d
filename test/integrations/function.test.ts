/**
 * The `function` integration end to end: real handler modules under test/fixtures/handlers,
 * a real gateway on 127.0.0.1, and the Lambda proxy payloads 2.0 and 1.0 checked field by
 * field against AWS's documented shapes.
 */
import t, { type Test } from 'tap';
import { once } from 'node:events';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { ConfigError, createGateway } from '../../lib/index.ts';
import type { GatewayConfigInput } from '../../lib/index.ts';
import type { Exchange } from '../../lib/exchange.ts';
import { payloadV1 } from '../../lib/lambda/payload-v1.ts';
import { payloadV2, type LambdaEventV2 } from '../../lib/lambda/payload-v2.ts';
import type { LambdaEventV1 } from '../../lib/lambda/payload-v1.ts';
import { silentLogger } from '../../lib/log.ts';
import { request, startGateway, type Reply, type RunningGateway } from '../helpers/gateway.ts';

const HANDLERS = fileURLToPath(new URL('../fixtures/handlers/', import.meta.url));
const ISE = '{"message":"Internal Server Error"}';
const REQUEST_ID = /^[A-Za-z0-9+/]{15}=$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface Fn {
  readonly handler: string;
  readonly payloadFormatVersion?: '1.0' | '2.0';
  readonly timeoutMs?: number;
}

/** A gateway whose routes each call one function integration, named by its key here. */
async function serve(
  t: Test,
  routes: Record<string, Fn & { readonly name?: string }>,
  extra: Omit<GatewayConfigInput, 'integrations' | 'routes'> = {},
): Promise<RunningGateway> {
  const integrations: Record<string, Fn & { type: 'function' }> = {};
  const routeConfig: Record<string, { integration: string }> = {};
  for (const [key, { name, ...fn }] of Object.entries(routes)) {
    const integration = name ?? fn.handler.slice(fn.handler.indexOf('#') + 1);
    integrations[integration] = { type: 'function', ...fn };
    routeConfig[key] = { integration };
  }
  return startGateway({ ...extra, integrations, routes: routeConfig }, { t, baseDir: HANDLERS });
}

interface Echo<E> {
  event: E;
  context: Record<string, unknown> & { remainingTimeInMillis: number };
}

/** `12/Mar/2020:19:03:58 +0000`, derived independently of the gateway's formatter. */
function clf(ms: number): string {
  const [, day, month, year, time] = new Date(ms).toUTCString().split(' ');
  return `${day}/${month}/${year}:${time} +0000`;
}

/** Asserts AWS's 500 and that the cause went to the log (and only there). */
function assertFailure(
  t: Test,
  gw: RunningGateway,
  res: Reply,
  integration: string,
  code: string,
  cause: RegExp,
): void {
  t.equal(res.status, 500, `${integration}: status`);
  t.equal(res.text, ISE, `${integration}: AWS's body, nothing else`);
  t.equal(res.headers['content-type'], 'application/json');
  const requestId = res.headers['apigw-requestid'] as string;
  t.match(requestId, REQUEST_ID);
  const entry = gw.logs.find((l) => (l.obj as { requestId?: string }).requestId === requestId);
  t.ok(entry, `${integration}: the failure is logged`);
  t.equal(entry?.level, 'error');
  t.match(entry?.obj, { integration, code });
  const err = (entry?.obj as { err?: unknown } | undefined)?.err;
  t.match(
    err instanceof Error ? `${err.name}: ${err.message}` : String(err),
    cause,
    `${integration}: cause`,
  );
}

t.test('payload 2.0: the event, field by field', async (t) => {
  const gw = await serve(
    t,
    {
      'GET /pets/{id}': { handler: './echo.mjs#handler', name: 'echo' },
      $default: { handler: './echo.mjs#handler', name: 'fallback' },
    },
    { stages: { $default: {}, prod: { variables: { env: 'production', color: 'blue' } } } },
  );

  await t.test(
    'named stage, duplicate headers and query keys, cookies, path variables',
    async (t) => {
      const before = Date.now();
      const res = await request(
        `${gw.url}/prod/pets/a%20b?q=1&q=2&name=J%C3%BCrgen+X&flag&bad=%E0%A4%A`,
        {
          headers: {
            host: 'abc123.execute-api.example.com',
            'x-multi': ['a', 'b'],
            cookie: 'session=s1; theme=dark',
            'user-agent': 'portico-test',
          },
        },
      );
      const after = Date.now();
      t.equal(res.status, 200);
      const { event } = res.json<Echo<LambdaEventV2>>();
      const requestId = res.headers['apigw-requestid'] as string;
      t.match(requestId, REQUEST_ID);
      const { timeEpoch } = event.requestContext;
      t.ok(timeEpoch >= before - 1 && timeEpoch <= after, 'timeEpoch is the request time in ms');
      t.strictSame(event, {
        version: '2.0',
        routeKey: 'GET /pets/{id}',
        rawPath: '/prod/pets/a%20b',
        rawQueryString: 'q=1&q=2&name=J%C3%BCrgen+X&flag&bad=%E0%A4%A',
        headers: {
          host: 'abc123.execute-api.example.com',
          'x-multi': 'a,b',
          'user-agent': 'portico-test',
          connection: 'close',
          'x-forwarded-for': '127.0.0.1',
          'x-forwarded-port': String(gw.port),
          'x-forwarded-proto': 'http',
        },
        requestContext: {
          accountId: '000000000000',
          apiId: 'portico',
          domainName: 'abc123.execute-api.example.com',
          domainPrefix: 'abc123',
          http: {
            method: 'GET',
            path: '/prod/pets/a%20b',
            protocol: 'HTTP/1.1',
            sourceIp: '127.0.0.1',
            userAgent: 'portico-test',
          },
          requestId,
          routeKey: 'GET /pets/{id}',
          stage: 'prod',
          time: clf(timeEpoch),
          timeEpoch,
        },
        isBase64Encoded: false,
        cookies: ['session=s1', 'theme=dark'],
        queryStringParameters: { q: '1,2', name: 'Jürgen X', flag: '', bad: '%E0%A4%A' },
        pathParameters: { id: 'a b' },
        stageVariables: { env: 'production', color: 'blue' },
      });
      t.notOk('cookie' in event.headers, 'the Cookie header is only in `cookies`');
    },
  );

  await t.test('$default route and stage: empty fields are left out', async (t) => {
    const res = await request(`${gw.url}/some/where`, { method: 'DELETE' });
    const { event } = res.json<Echo<LambdaEventV2>>();
    t.equal(event.routeKey, '$default');
    t.equal(event.requestContext.routeKey, '$default');
    t.equal(event.requestContext.stage, '$default');
    t.equal(event.rawPath, '/some/where');
    t.equal(event.requestContext.http.method, 'DELETE');
    t.equal(event.rawQueryString, '');
    t.equal(event.requestContext.domainName, '127.0.0.1', 'the Host header without its port');
    t.equal(event.isBase64Encoded, false);
    for (const key of [
      'cookies',
      'queryStringParameters',
      'body',
      'pathParameters',
      'stageVariables',
    ]) {
      t.notOk(key in event, `no ${key}`);
    }
    t.notOk('authorizer' in event.requestContext, 'no authorizer without one');
  });
});

t.test('payload 1.0: the event, field by field', async (t) => {
  const gw = await serve(
    t,
    {
      'GET /pets/{id}': {
        handler: './echo.mjs#handler',
        name: 'echo1',
        payloadFormatVersion: '1.0',
      },
      $default: { handler: './echo.mjs#handler', name: 'fallback1', payloadFormatVersion: '1.0' },
    },
    { stages: { $default: {}, prod: { variables: { env: 'production' } } } },
  );

  await t.test(
    'named stage, duplicate headers and query keys, cookies, path variables',
    async (t) => {
      const res = await request(`${gw.url}/prod/pets/a%20b?q=1&q=2&name=J%C3%BCrgen+X&flag`, {
        headers: {
          host: 'abc123.execute-api.example.com',
          'x-multi': ['a', 'b'],
          cookie: 'session=s1; theme=dark',
          'user-agent': 'portico-test',
        },
      });
      t.equal(res.status, 200);
      const { event } = res.json<Echo<LambdaEventV1>>();
      const requestId = res.headers['apigw-requestid'] as string;
      const { requestTimeEpoch } = event.requestContext;
      const port = String(gw.port);
      t.strictSame(event, {
        version: '1.0',
        resource: '/pets/{id}',
        path: '/prod/pets/a%20b',
        httpMethod: 'GET',
        headers: {
          host: 'abc123.execute-api.example.com',
          'x-multi': 'b',
          cookie: 'session=s1; theme=dark',
          'user-agent': 'portico-test',
          connection: 'close',
          'x-forwarded-for': '127.0.0.1',
          'x-forwarded-port': port,
          'x-forwarded-proto': 'http',
        },
        multiValueHeaders: {
          host: ['abc123.execute-api.example.com'],
          'x-multi': ['a', 'b'],
          cookie: ['session=s1; theme=dark'],
          'user-agent': ['portico-test'],
          connection: ['close'],
          'x-forwarded-for': ['127.0.0.1'],
          'x-forwarded-port': [port],
          'x-forwarded-proto': ['http'],
        },
        queryStringParameters: { q: '2', name: 'Jürgen X', flag: '' },
        multiValueQueryStringParameters: { q: ['1', '2'], name: ['Jürgen X'], flag: [''] },
        requestContext: {
          accountId: '000000000000',
          apiId: 'portico',
          domainName: 'abc123.execute-api.example.com',
          domainPrefix: 'abc123',
          extendedRequestId: requestId,
          httpMethod: 'GET',
          identity: {
            accessKey: null,
            accountId: null,
            caller: null,
            cognitoAmr: null,
            cognitoAuthenticationProvider: null,
            cognitoAuthenticationType: null,
            cognitoIdentityId: null,
            cognitoIdentityPoolId: null,
            principalOrgId: null,
            sourceIp: '127.0.0.1',
            user: null,
            userAgent: 'portico-test',
            userArn: null,
          },
          path: '/prod/pets/a%20b',
          protocol: 'HTTP/1.1',
          requestId,
          requestTime: clf(requestTimeEpoch),
          requestTimeEpoch,
          resourceId: 'GET /pets/{id}',
          resourcePath: '/pets/{id}',
          stage: 'prod',
        },
        pathParameters: { id: 'a b' },
        stageVariables: { env: 'production' },
        body: null,
        isBase64Encoded: false,
      });
    },
  );

  await t.test('$default route and stage: empty fields are null', async (t) => {
    const res = await request(`${gw.url}/some/where`);
    const { event } = res.json<Echo<LambdaEventV1>>();
    t.equal(event.resource, '$default');
    t.equal(event.requestContext.resourcePath, '$default');
    t.equal(event.requestContext.resourceId, '$default');
    t.equal(event.requestContext.stage, '$default');
    t.equal(event.path, '/some/where');
    t.equal(event.queryStringParameters, null);
    t.equal(event.multiValueQueryStringParameters, null);
    t.equal(event.pathParameters, null);
    t.equal(event.stageVariables, null);
    t.equal(event.body, null);
    t.notOk('authorizer' in event.requestContext);
  });
});

t.test('a greedy {proxy+} variable arrives decoded, slashes included', async (t) => {
  const gw = await serve(t, {
    'ANY /v2/files/{proxy+}': { handler: './echo.mjs#handler', name: 'files2' },
    'ANY /v1/files/{proxy+}': {
      handler: './echo.mjs#handler',
      name: 'files1',
      payloadFormatVersion: '1.0',
    },
  });
  const v2 = (await request(`${gw.url}/v2/files/a/b%20c/d.txt`, { method: 'PUT' })).json<
    Echo<LambdaEventV2>
  >();
  t.strictSame(v2.event.pathParameters, { proxy: 'a/b c/d.txt' });
  t.equal(v2.event.routeKey, 'ANY /v2/files/{proxy+}');
  t.equal(v2.event.requestContext.http.method, 'PUT');
  const v1 = (await request(`${gw.url}/v1/files/a/b%20c/d.txt`)).json<Echo<LambdaEventV1>>();
  t.strictSame(v1.event.pathParameters, { proxy: 'a/b c/d.txt' });
  t.equal(v1.event.resource, '/v1/files/{proxy+}');
  t.equal(v1.event.requestContext.resourceId, 'ANY /v1/files/{proxy+}');
});

t.test('request bodies: text media types as UTF-8, everything else base64', async (t) => {
  const gw = await serve(t, {
    'POST /v2': { handler: './echo.mjs#handler', name: 'body2' },
    'POST /v1': { handler: './echo.mjs#handler', name: 'body1', payloadFormatVersion: '1.0' },
  });
  const binary = Buffer.from([0x00, 0x01, 0xfe, 0xff, 0x80]);
  const cases: Array<[string | undefined, Buffer | string, boolean]> = [
    ['application/json; charset=utf-8', '{"name":"Jürgen"}', false],
    ['text/plain', 'héllo', false],
    ['Text/HTML', '<p>x</p>', false],
    ['application/xml', '<a/>', false],
    ['application/javascript', 'f()', false],
    // AWS base64-encodes form posts and unknown or missing types (see lib/lambda/body.ts).
    ['application/x-www-form-urlencoded', 'a=1&b=2', true],
    ['application/octet-stream', binary, true],
    ['image/png', binary, true],
    ['application/vnd.api+json', '{}', true],
    [undefined, 'no type', true],
  ];
  for (const [type, body, base64] of cases) {
    const bytes = Buffer.from(body);
    const headers = type === undefined ? {} : { 'content-type': type };
    for (const path of ['/v2', '/v1']) {
      const res = await request(`${gw.url}${path}`, { method: 'POST', headers, body: bytes });
      const { event } = res.json<Echo<{ body: string; isBase64Encoded: boolean }>>();
      t.equal(event.isBase64Encoded, base64, `${path} ${type}: isBase64Encoded`);
      t.equal(
        event.body,
        base64 ? bytes.toString('base64') : bytes.toString('utf8'),
        `${path} ${type}: body`,
      );
    }
  }
  // A chunked body (no Content-Length) is read whole as well.
  const chunks = (async function* () {
    yield Buffer.from('{"part":');
    yield Buffer.from('1}');
  })();
  const res = await request(`${gw.url}/v2`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: chunks,
  });
  t.equal(res.json<Echo<LambdaEventV2>>().event.body, '{"part":1}');
  // An empty body is no body.
  const empty = await request(`${gw.url}/v2`, { method: 'POST', body: '' });
  t.notOk('body' in empty.json<Echo<LambdaEventV2>>().event);
  const empty1 = await request(`${gw.url}/v1`, { method: 'POST', body: '' });
  t.equal(empty1.json<Echo<LambdaEventV1>>().event.body, null);
});

t.test('request body limit: 413 before reading, and as soon as a stream passes it', async (t) => {
  const gw = await serve(
    t,
    { 'POST /upload': { handler: './echo.mjs#handler', name: 'upload' } },
    { limits: { maxBodyBytes: 16 } },
  );
  const exact = await request(`${gw.url}/upload`, { method: 'POST', body: 'x'.repeat(16) });
  t.equal(exact.status, 200, 'exactly the limit is accepted');

  const declared = await request(`${gw.url}/upload`, { method: 'POST', body: 'x'.repeat(17) });
  t.equal(declared.status, 413);
  t.equal(declared.text, '{"message":"Request Entity Too Large"}');
  t.equal(declared.headers['content-type'], 'application/json');
  t.match(declared.headers['apigw-requestid'], REQUEST_ID);
  t.equal(declared.headers.connection, 'close');

  // Chunked, so only counting can tell: the whole request goes in one write, and the
  // gateway answers and closes without waiting for the rest.
  const socket = connect(gw.port, '127.0.0.1');
  await once(socket, 'connect');
  const chunk = 'y'.repeat(10);
  socket.write(
    'POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n' +
      `a\r\n${chunk}\r\na\r\n${chunk}\r\na\r\n${chunk}\r\n0\r\n\r\n`,
  );
  let raw = '';
  socket.setEncoding('latin1');
  socket.on('data', (d: string) => (raw += d));
  socket.on('error', () => {}); // a reset after the answer is acceptable
  await once(socket, 'close');
  t.match(raw, /^HTTP\/1\.1 413 /);
  t.match(raw, /\r\n\r\n\{"message":"Request Entity Too Large"\}$/);
  t.equal(gw.logs.length, 0, 'a client error is not a gateway failure');
});

t.test(
  'a client that disconnects mid-body is not invoked and does not disturb the gateway',
  async (t) => {
    const gw = await serve(t, {
      'POST /upload': { handler: './echo.mjs#handler', name: 'upload' },
    });
    const socket = connect(gw.port, '127.0.0.1');
    await once(socket, 'connect');
    socket.end('POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly some');
    socket.resume();
    await once(socket, 'close');
    const next = await request(`${gw.url}/upload`, { method: 'POST', body: 'ok' });
    t.equal(next.status, 200);
    t.equal(gw.logs.length, 0);
  },
);

t.test('the context object', async (t) => {
  const gw = await serve(t, {
    'GET /ctx': { handler: './echo.mjs#handler', name: 'my-fn', timeoutMs: 5000 },
  });
  const res = await request(`${gw.url}/ctx`);
  const { context } = res.json<Echo<LambdaEventV2>>();
  t.match(context, {
    callbackWaitsForEmptyEventLoop: true,
    functionName: 'my-fn',
    functionVersion: '$LATEST',
    invokedFunctionArn: /^arn:aws:lambda:[a-z0-9-]+:000000000000:function:my-fn$/,
    memoryLimitInMB: '128',
    awsRequestId: UUID,
    logGroupName: '/aws/lambda/my-fn',
    logStreamName: /^\d{4}\/\d{2}\/\d{2}\/\[\$LATEST\][0-9a-f]{32}$/,
  });
  t.ok(
    context.remainingTimeInMillis > 0 && context.remainingTimeInMillis <= 5000,
    'counts down from timeoutMs',
  );
  t.strictSame(
    Object.keys(context).sort(),
    [
      'awsRequestId',
      'callbackWaitsForEmptyEventLoop',
      'functionName',
      'functionVersion',
      'invokedFunctionArn',
      'logGroupName',
      'logStreamName',
      'memoryLimitInMB',
      'remainingTimeInMillis',
    ],
    'spreading the context shows only AWS fields',
  );
  const again = (await request(`${gw.url}/ctx`)).json<Echo<LambdaEventV2>>().context;
  t.not(again.awsRequestId, context.awsRequestId, 'a new awsRequestId per invocation');
  t.equal(again.logStreamName, context.logStreamName, 'one log stream per deployment');
});

t.test('payload 2.0 responses', async (t) => {
  const gw = await serve(t, {
    'GET /string': { handler: './results.mjs#string' },
    'GET /object': { handler: './results.mjs#object' },
    'GET /nothing': { handler: './results.mjs#nothing' },
    'GET /array': { handler: './results.mjs#array' },
    'GET /unicode': { handler: './results.mjs#unicode' },
    'GET /cookies': { handler: './results.mjs#cookies' },
    'GET /binary': { handler: './results.mjs#binary' },
    'ANY /hop': { handler: './results.mjs#hopByHop' },
    'GET /plain': { handler: './results.mjs#noContentType' },
    'GET /empty': { handler: './results.mjs#noContent' },
    'GET /case': { handler: './results.mjs#caseVariants' },
  });

  await t.test(
    'a result without statusCode is inferred: 200, JSON, the output as body',
    async (t) => {
      const cases: Array<[string, string]> = [
        ['/string', 'Hello from Lambda!'],
        ['/object', '{"message":"Hello from Lambda!"}'],
        ['/nothing', 'null'],
        ['/array', '[1,"two"]'],
      ];
      for (const [path, body] of cases) {
        const res = await request(`${gw.url}${path}`);
        t.equal(res.status, 200, `${path}: status`);
        t.equal(res.headers['content-type'], 'application/json', `${path}: content-type`);
        t.equal(res.text, body, `${path}: body`);
        t.equal(res.headers['content-length'], String(Buffer.byteLength(body)));
        t.match(res.headers['apigw-requestid'], REQUEST_ID);
      }
    },
  );

  await t.test(
    'each cookie becomes its own set-cookie; header values are stringified',
    async (t) => {
      const res = await request(`${gw.url}/cookies`);
      t.equal(res.status, 201);
      t.strictSame(res.headers['set-cookie'], ['a=1; Path=/', 'b=2', 'c=3']);
      t.equal(res.headers['x-custom'], 'yes');
      t.equal(res.headers['x-num'], '5');
      t.equal(res.headers['x-flag'], 'true');
      t.equal(res.headers['content-type'], 'text/plain; charset=utf-8', "AWS's default type");
      t.equal(res.text, 'created');
    },
  );

  await t.test('a multi-byte text body is sent as UTF-8, its length in bytes', async (t) => {
    const res = await request(`${gw.url}/unicode`);
    t.equal(res.text, 'grüße ☃ 🚀');
    t.equal(res.headers['content-length'], String(Buffer.byteLength('grüße ☃ 🚀')));
    t.equal(res.headers['content-length'], '16');
  });

  await t.test('isBase64Encoded bodies are sent as bytes', async (t) => {
    const res = await request(`${gw.url}/binary`);
    t.equal(res.headers['content-type'], 'image/png');
    t.strictSame([...res.body], [0x89, 0x50, 0x4e, 0x47, 0x00, 0xff]);
    t.equal(res.headers['content-length'], '6');
  });

  await t.test('hop-by-hop and gateway-owned headers from the handler are dropped', async (t) => {
    const res = await request(`${gw.url}/hop`);
    t.equal(res.status, 200);
    t.equal(res.text, 'hello');
    t.equal(res.headers['content-length'], '5', 'the gateway computes content-length');
    t.equal(res.headers['transfer-encoding'], undefined);
    t.equal(res.headers.upgrade, undefined);
    t.equal(res.headers['keep-alive'], undefined);
    t.equal(res.headers.connection, 'close', "Node's own, for this client");
    t.match(res.headers['apigw-requestid'], REQUEST_ID);
    t.equal(res.headers['x-ok'], '1');
  });

  await t.test('HEAD gets the headers and length of GET, without a body', async (t) => {
    const res = await request(`${gw.url}/hop`, { method: 'HEAD' });
    t.equal(res.status, 200);
    t.equal(res.body.length, 0);
    t.equal(res.headers['content-length'], '5');
  });

  await t.test(
    'explicit responses: default content-type, 204 without length, last case wins',
    async (t) => {
      const plain = await request(`${gw.url}/plain`);
      t.equal(plain.headers['content-type'], 'text/plain; charset=utf-8');
      t.equal(plain.text, 'plain');
      const empty = await request(`${gw.url}/empty`);
      t.equal(empty.status, 204);
      t.equal(empty.headers['content-length'], undefined);
      t.equal(empty.headers['content-type'], undefined, 'no body, no type');
      t.equal(empty.headers['x-done'], 'yes');
      const variants = await request(`${gw.url}/case`);
      t.equal(variants.headers['content-type'], 'text/csv');
      t.equal(variants.rawHeaders.filter((h) => h.toLowerCase() === 'content-type').length, 1);
    },
  );
});

t.test('payload 1.0 responses', async (t) => {
  const v1 = { payloadFormatVersion: '1.0' } as const;
  const gw = await serve(t, {
    'GET /v1': { handler: './results.mjs#v1', ...v1 },
    'GET /binary': { handler: './results.mjs#v1Binary', ...v1 },
    'GET /string': { handler: './results.mjs#string', name: 'string1', ...v1 },
    'GET /object': { handler: './results.mjs#object', name: 'object1', ...v1 },
  });

  const res = await request(`${gw.url}/v1`);
  t.equal(res.status, 202);
  t.equal(res.text, 'v1 body');
  const lines = (name: string) =>
    res.rawHeaders.flatMap((h, i) =>
      i % 2 === 0 && h.toLowerCase() === name ? [res.rawHeaders[i + 1]] : [],
    );
  t.strictSame(lines('x-a'), ['1', '2'], 'multiValueHeaders wins; the same pair is not repeated');
  t.strictSame(lines('set-cookie'), ['a=1', 'b=2']);
  t.strictSame(lines('x-single'), ['s']);
  t.strictSame(lines('content-type'), ['text/plain']);

  const binary = await request(`${gw.url}/binary`);
  t.strictSame([...binary.body], [1, 2, 3]);

  // 1.0 has no inference: statusCode is required.
  assertFailure(
    t,
    gw,
    await request(`${gw.url}/string`),
    'string1',
    'PORTICO_FUNCTION_INVALID_RESPONSE',
    /statusCode/,
  );
  assertFailure(
    t,
    gw,
    await request(`${gw.url}/object`),
    'object1',
    'PORTICO_FUNCTION_INVALID_RESPONSE',
    /statusCode/,
  );
});

t.test('callback-style and legacy handlers', async (t) => {
  const gw = await serve(t, {
    'GET /callback': { handler: './callbacks.mjs#callback' },
    'GET /callback-first': { handler: './callbacks.mjs#callbackFirst' },
    'GET /promise-first': { handler: './callbacks.mjs#promiseFirst' },
    'GET /error-after': { handler: './callbacks.mjs#errorAfterSuccess' },
    'GET /succeed': { handler: './callbacks.mjs#legacySucceed' },
    'GET /done': { handler: './callbacks.mjs#legacyDone' },
    'GET /sync': { handler: './callbacks.mjs#syncValue' },
    'GET /sync1': {
      handler: './callbacks.mjs#syncValue',
      name: 'sync1',
      payloadFormatVersion: '1.0',
    },
  });
  const cases: Array<[string, string]> = [
    ['/callback', 'from callback'],
    ['/callback-first', 'callback won'],
    ['/promise-first', 'promise won'],
    ['/error-after', 'first answer'],
    ['/succeed', 'legacy succeed'],
    ['/done', 'legacy done'],
    ['/sync', 'sync 2.0'],
    ['/sync1', 'sync 1.0'],
  ];
  for (const [path, body] of cases) {
    const res = await request(`${gw.url}${path}`);
    t.equal(res.status, 200, `${path}: status`);
    t.equal(res.text, body, `${path}: the first completion wins`);
  }
  t.equal(gw.logs.length, 0, 'late completions are ignored, not logged');
});

t.test('a handler that fails answers 500 and logs the cause', async (t) => {
  const gw = await serve(t, {
    'GET /throws': { handler: './failures.mjs#throws' },
    'GET /throws-sync': { handler: './failures.mjs#throwsSync' },
    'GET /rejects-empty': { handler: './failures.mjs#rejectsEmpty' },
    'GET /callback-error': { handler: './failures.mjs#callbackError' },
    'GET /legacy-fail': { handler: './callbacks.mjs#legacyFail' },
    'GET /throws1': {
      handler: './failures.mjs#throws',
      name: 'throws1',
      payloadFormatVersion: '1.0',
    },
  });
  const cases: Array<[string, string, RegExp]> = [
    ['/throws', 'throws', /^Error: database password is hunter2$/],
    ['/throws-sync', 'throwsSync', /^TypeError: sync failure$/],
    ['/rejects-empty', 'rejectsEmpty', /^undefined$/],
    ['/callback-error', 'callbackError', /^Error: callback failure$/],
    ['/legacy-fail', 'legacyFail', /^Error: legacy failure$/],
    ['/throws1', 'throws1', /hunter2/],
  ];
  for (const [path, name, cause] of cases) {
    const res = await request(`${gw.url}${path}`);
    assertFailure(t, gw, res, name, 'PORTICO_FUNCTION_ERROR', cause);
  }
});

t.test('a handler that does not complete in timeoutMs answers 500', async (t) => {
  const gw = await serve(t, {
    'GET /hangs': { handler: './failures.mjs#hangs', timeoutMs: 100 },
    'GET /hangs-callback': { handler: './failures.mjs#hangsCallback', timeoutMs: 100 },
    'GET /hangs1': {
      handler: './failures.mjs#hangs',
      name: 'hangs1',
      timeoutMs: 100,
      payloadFormatVersion: '1.0',
    },
  });
  const cases: Array<[string, string]> = [
    ['/hangs', 'hangs'],
    ['/hangs-callback', 'hangsCallback'],
    ['/hangs1', 'hangs1'],
  ];
  for (const [path, name] of cases) {
    const started = Date.now();
    const res = await request(`${gw.url}${path}`);
    t.ok(Date.now() - started >= 95, `${path}: not before the timeout`);
    assertFailure(t, gw, res, name, 'PORTICO_FUNCTION_TIMEOUT', /100 ms/);
  }
});

t.test('an invalid response answers 500 and logs why', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['badStatus', /statusCode must be an integer from 200 to 599, got "abc"/],
    ['interimStatus', /statusCode .* got number 101/],
    ['bodyObject', /body must be a string, got an object/],
    ['headersArray', /headers must be an object, got an array/],
    ['headerObjectValue', /header "x-a" must be a string/],
    ['badHeaderValue', /ERR_INVALID_CHAR|Invalid character/],
    ['cookiesNotArray', /cookies must be an array/],
    ['circular', /cannot be serialised as JSON/],
  ];
  const routes: Record<string, Fn> = {};
  for (const [name] of cases) routes[`GET /${name}`] = { handler: `./failures.mjs#${name}` };
  const gw = await serve(t, routes);
  for (const [name, cause] of cases) {
    assertFailure(
      t,
      gw,
      await request(`${gw.url}/${name}`),
      name,
      'PORTICO_FUNCTION_INVALID_RESPONSE',
      cause,
    );
  }
});

t.test('handlers load from nested exports and CommonJS modules', async (t) => {
  const gw = await serve(t, {
    'GET /nested': { handler: './echo.mjs#nested.handlers.echo', name: 'nested' },
    'GET /cjs': { handler: './commonjs.cjs#handler', name: 'cjs' },
  });
  t.equal(
    (await request(`${gw.url}/nested`)).json<Echo<LambdaEventV2>>().event.routeKey,
    'GET /nested',
  );
  t.equal((await request(`${gw.url}/cjs`)).text, 'from commonjs');
  t.match(gw.gateway.deployment.routes, [
    {
      routeKey: 'GET /nested',
      type: 'function',
      target: './echo.mjs#nested.handlers.echo (payload 2.0)',
    },
    { routeKey: 'GET /cjs', type: 'function', target: './commonjs.cjs#handler (payload 2.0)' },
  ]);
});

t.test(
  'a handler that cannot be loaded is a ConfigError at integrations.<name>.handler',
  async (t) => {
    const dir = t.testdir({
      'syntax.mjs': 'export const handler = async () => {\n  return (;\n};\n',
      'throws.mjs': "throw new Error('cannot start');\n",
      'missing-dep.mjs': "import './nowhere.mjs';\nexport const handler = async () => 1;\n",
    });
    const load = (handler: string, baseDir = HANDLERS) =>
      createGateway(
        {
          integrations: { bad: { type: 'function', handler } },
          routes: { 'GET /': { integration: 'bad' } },
        },
        { baseDir, logger: silentLogger },
      );
    const cases: Array<[string, string, RegExp]> = [
      [
        './nope.mjs#handler',
        HANDLERS,
        /^module "\.\/nope\.mjs" not found \(resolved to .*nope\.mjs\)$/,
      ],
      [
        './results.mjs#missing',
        HANDLERS,
        /^module "\.\/results\.mjs" has no export "missing"; it exports .*"string"/,
      ],
      [
        './results.mjs#notAFunction',
        HANDLERS,
        /^export "notAFunction" of "\.\/results\.mjs" is a number, not a function$/,
      ],
      ['./echo.mjs#nested.handlers.nope', HANDLERS, /no export "nested\.handlers\.nope"/],
      [
        './syntax.mjs#handler',
        dir,
        /^cannot load module "\.\/syntax\.mjs": SyntaxError: Unexpected token/,
      ],
      ['./throws.mjs#handler', dir, /^cannot load module "\.\/throws\.mjs": Error: cannot start$/],
      [
        './missing-dep.mjs#handler',
        dir,
        /^cannot load module "\.\/missing-dep\.mjs": Error: Cannot find module .*nowhere\.mjs/,
      ],
      ['.', HANDLERS, /expected "path\/to\/module\.js#exportName"/],
    ];
    for (const [handler, baseDir, message] of cases) {
      const err = await load(handler, baseDir).then(
        () => null,
        (e: unknown) => e,
      );
      t.type(err, ConfigError, `${handler}: ConfigError`);
      const issues = (err as ConfigError).issues;
      t.equal(issues.length, 1, `${handler}: one issue`);
      t.equal(issues[0]?.path, 'integrations.bad.handler', `${handler}: path`);
      t.match(issues[0]?.message, message, `${handler}: message`);
      t.notMatch(issues[0]?.message, /\n/, `${handler}: one line, no stack`);
    }

    // Every broken integration is reported, each at its own path.
    const both = await createGateway(
      {
        integrations: {
          one: { type: 'function', handler: './nope.mjs#handler' },
          'two-fn': { type: 'function', handler: './results.mjs#notAFunction' },
        },
        routes: { 'GET /1': { integration: 'one' }, 'GET /2': { integration: 'two-fn' } },
      },
      { baseDir: HANDLERS, logger: silentLogger },
    ).catch((e: unknown) => e);
    t.match((both as ConfigError).issues, [
      { path: 'integrations.one.handler' },
      { path: 'integrations["two-fn"].handler' },
    ]);
  },
);

t.test('requestContext.authorizer, and headers the gateway owns', async (t) => {
  // The builders are driven directly: what an authorizer leaves on the exchange is their input.
  const exchange = (authorizer: unknown): Exchange =>
    ({
      req: {
        method: 'GET',
        httpVersion: '1.1',
        rawHeaders: ['Host', 'api.example.com', 'X-User', 'spoofed', 'Accept', '*/*'],
        headers: { host: 'api.example.com', 'x-user': 'spoofed', accept: '*/*' },
        socket: { remoteAddress: '::ffff:10.0.0.7', localPort: 443, encrypted: true },
      },
      requestId: 'AAAAAAAAAAAAAAA=',
      startTime: Date.UTC(2020, 2, 12, 19, 3, 58),
      stage: { name: '$default', variables: {}, trustProxy: null },
      route: {
        routeKey: 'GET /me',
        resource: '/me',
        cors: null,
        gatewayHeaders: new Set(['x-user']),
      },
      params: null,
      rawPath: '/me',
      path: '/me',
      rawQuery: '',
      authorizer,
      responseHeaders: null,
      clientIp: null,
    }) as unknown as Exchange;

  const jwt = { jwt: { claims: { sub: 'user-1' }, scopes: ['read'] } };
  const v2 = payloadV2.buildEvent(exchange(jwt), null);
  t.strictSame(v2.requestContext.authorizer, jwt, '2.0: as the authorizer set it');
  t.equal(v2.requestContext.time, '12/Mar/2020:19:03:58 +0000');
  t.equal(v2.requestContext.http.sourceIp, '10.0.0.7', 'an IPv4 peer of a dual-stack listener');
  t.equal(v2.headers['x-forwarded-proto'], 'https');
  t.equal(v2.headers['x-forwarded-port'], '443');
  t.notOk('x-user' in v2.headers, "a client's copy of a gateway-set header is dropped");
  t.equal(v2.headers.accept, '*/*');

  const v1 = payloadV1.buildEvent(exchange(jwt), null);
  t.strictSame(
    v1.requestContext.authorizer,
    { claims: { sub: 'user-1' }, scopes: ['read'] },
    '1.0: JWT claims without the jwt wrapper',
  );
  t.equal(v1.requestContext.requestTime, '12/Mar/2020:19:03:58 +0000');
  t.notOk('x-user' in v1.headers);
  t.notOk('x-user' in v1.multiValueHeaders);

  const lambda = { lambda: { tenant: 't-1' } };
  t.strictSame(payloadV2.buildEvent(exchange(lambda), null).requestContext.authorizer, lambda);
  t.strictSame(payloadV1.buildEvent(exchange(lambda), null).requestContext.authorizer, lambda);
});

t.test('with CORS configured, the gateway owns the CORS headers of every reply', async (t) => {
  const gw = await serve(
    t,
    {
      'GET /cors': { handler: './results.mjs#corsHeaders' },
      'GET /throws': { handler: './failures.mjs#throws' },
      'POST /upload': { handler: './echo.mjs#handler', name: 'upload' },
    },
    { cors: { allowOrigins: ['https://app.example.com'] }, limits: { maxBodyBytes: 4 } },
  );
  const origin = { origin: 'https://app.example.com' };
  const ok = await request(`${gw.url}/cors`, { headers: origin });
  t.equal(ok.status, 200);
  t.equal(ok.headers['access-control-allow-origin'], 'https://app.example.com');
  t.equal(ok.headers['access-control-allow-methods'], undefined, "the function's are dropped");
  t.equal(ok.headers['x-ok'], '1');
  const failed = await request(`${gw.url}/throws`, { headers: origin });
  t.equal(failed.status, 500);
  t.equal(failed.headers['access-control-allow-origin'], 'https://app.example.com');
  const tooLarge = await request(`${gw.url}/upload`, {
    method: 'POST',
    headers: origin,
    body: '12345',
  });
  t.equal(tooLarge.status, 413);
  t.equal(tooLarge.headers['access-control-allow-origin'], 'https://app.example.com');
});

t.test('header and query names cannot reach Object.prototype', async (t) => {
  const gw = await serve(t, {
    'GET /v2': { handler: './echo.mjs#handler', name: 'proto2' },
    'GET /v1': { handler: './echo.mjs#handler', name: 'proto1', payloadFormatVersion: '1.0' },
  });
  const query = '__proto__=x&constructor=y&toString=z&toString=w';
  const headers = { constructor: 'c', tostring: 't' };
  const v2 = (await request(`${gw.url}/v2?${query}`, { headers })).json<Echo<LambdaEventV2>>()
    .event;
  const query2 = v2.queryStringParameters!;
  t.equal(
    Object.getOwnPropertyDescriptor(query2, '__proto__')?.value,
    'x',
    '__proto__ is an own key',
  );
  t.equal(query2.constructor, 'y');
  t.equal(query2.toString, 'z,w');
  t.equal(v2.headers.constructor, 'c');
  const v1 = (await request(`${gw.url}/v1?${query}`, { headers })).json<Echo<LambdaEventV1>>()
    .event;
  const multi = v1.multiValueQueryStringParameters!;
  t.ok(Object.hasOwn(multi, '__proto__'), '__proto__ is an own key');
  t.strictSame(Object.getOwnPropertyDescriptor(multi, '__proto__')?.value, ['x']);
  t.strictSame(multi.constructor, ['y']);
  t.strictSame(multi.toString, ['z', 'w']);
  t.strictSame(v1.multiValueHeaders.constructor, ['c']);
});
