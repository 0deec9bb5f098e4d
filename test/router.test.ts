import t from 'tap';
import { RouteTable } from '../lib/router.ts';
import { ConfigError } from '../lib/errors.ts';
import { parseRouteKey } from '../lib/route-key.ts';

function table(keys: string[]): RouteTable<string> {
  return new RouteTable(keys.map((routeKey) => ({ routeKey, value: routeKey })));
}

function match(rt: RouteTable<string>, method: string, path: string) {
  const m = rt.find(method, path);
  return m === null ? null : { route: m.value, params: m.params };
}

t.test('the AWS route-priority example resolves case by case', async (t) => {
  // https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-routes.html
  const rt = table([
    'GET /pets/dog/1',
    'GET /pets/dog/{id}',
    'GET /pets/{proxy+}',
    'ANY /{proxy+}',
    '$default',
  ]);
  t.same(match(rt, 'GET', '/pets/dog/1'), { route: 'GET /pets/dog/1', params: null });
  t.same(match(rt, 'GET', '/pets/dog/2'), { route: 'GET /pets/dog/{id}', params: { id: '2' } });
  t.same(match(rt, 'GET', '/pets/cat/1'), {
    route: 'GET /pets/{proxy+}',
    params: { proxy: 'cat/1' },
  });
  t.same(match(rt, 'POST', '/test/5'), { route: 'ANY /{proxy+}', params: { proxy: 'test/5' } });
  t.same(match(rt, 'POST', '/pets/dog/1'), {
    route: 'ANY /{proxy+}',
    params: { proxy: 'pets/dog/1' },
  });
  // A greedy variable needs at least one character: "/" is only $default's.
  t.same(match(rt, 'GET', '/'), { route: '$default', params: null });
  // find-my-way backtracks: /pets/dog has no {id}, so the greedy route takes it.
  t.same(match(rt, 'GET', '/pets/dog'), { route: 'GET /pets/{proxy+}', params: { proxy: 'dog' } });
  // Methods AWS does not route on still reach $default.
  t.same(match(rt, 'PROPFIND', '/pets/dog/1'), { route: '$default', params: null });
});

t.test('static segments beat {param}, which beats {proxy+}', async (t) => {
  const rt = table(['GET /a/{x}/c', 'GET /a/b/{y}', 'GET /a/{proxy+}']);
  t.equal(match(rt, 'GET', '/a/b/c')?.route, 'GET /a/b/{y}');
  t.equal(match(rt, 'GET', '/a/z/c')?.route, 'GET /a/{x}/c');
  t.equal(match(rt, 'GET', '/a/z/d')?.route, 'GET /a/{proxy+}');
  t.equal(match(rt, 'GET', '/a/b/c/d')?.route, 'GET /a/{proxy+}');
  t.equal(match(rt, 'GET', '/a'), null, 'no $default: nothing matches');
});

t.test('a method route beats ANY on the same path; ANY takes the other methods', async (t) => {
  const rt = table(['GET /items/{id}', 'ANY /items/{itemId}', '$default']);
  t.same(match(rt, 'GET', '/items/7'), { route: 'GET /items/{id}', params: { id: '7' } });
  t.same(match(rt, 'DELETE', '/items/7'), {
    route: 'ANY /items/{itemId}',
    params: { itemId: '7' },
  });
  for (const method of ['POST', 'PUT', 'PATCH', 'HEAD', 'OPTIONS']) {
    t.equal(match(rt, method, '/items/7')?.route, 'ANY /items/{itemId}', method);
  }
});

t.test('anything beats $default; $default alone catches everything', async (t) => {
  const only = table(['$default']);
  t.equal(match(only, 'GET', '/anything/at/all')?.route, '$default');
  t.equal(match(only, 'DELETE', '/')?.route, '$default');
  const rt = table(['GET /', '$default']);
  t.equal(match(rt, 'GET', '/')?.route, 'GET /');
  t.equal(match(rt, 'POST', '/')?.route, '$default');
});

t.test('a path variable needs at least one character', async (t) => {
  const rt = table(['GET /users/{id}', 'GET /users/{id}/profile', '$default']);
  t.same(match(rt, 'GET', '/users/7'), { route: 'GET /users/{id}', params: { id: '7' } });
  t.equal(match(rt, 'GET', '/users/')?.route, '$default');
  t.equal(match(rt, 'GET', '/users//profile')?.route, '$default');
});

t.test('path variables are URL-decoded; matching is exact and case-sensitive', async (t) => {
  const rt = table(['GET /users/{name}/files/{path+}', 'GET /Caps']);
  t.same(match(rt, 'GET', '/users/a%20b/files/x%2Fy/z.txt')?.params, {
    name: 'a b',
    path: 'x/y/z.txt',
  });
  t.same(match(rt, 'GET', '/users/%C3%A9/files/f')?.params, { name: 'é', path: 'f' });
  t.equal(match(rt, 'GET', '/caps'), null);
  t.equal(match(rt, 'GET', '/Caps')?.route, 'GET /Caps');
  t.equal(match(rt, 'GET', '/Caps/'), null, 'a trailing slash is another path');
});

t.test('a colon in a static segment is literal, not a find-my-way parameter', async (t) => {
  const rt = table(['GET /v1/items:batch', 'GET /v1/{rest+}']);
  t.equal(match(rt, 'GET', '/v1/items:batch')?.route, 'GET /v1/items:batch');
  t.equal(match(rt, 'GET', '/v1/items:other')?.route, 'GET /v1/{rest+}');
});

t.test('colliding route keys are a config error naming the route', async (t) => {
  t.throws(() => table(['GET /a/{x}', 'GET /a/{y}']), ConfigError);
  try {
    table(['ANY /a/{x}', 'ANY /a/{y}']);
    t.fail('should throw');
  } catch (err) {
    t.ok(err instanceof ConfigError);
    t.match((err as ConfigError).issues[0], {
      path: 'routes["ANY /a/{y}"]',
      message: /same path shape as "ANY \/a\/\{x\}"/,
    });
  }
});

t.test('route keys are parsed or refused with a reason', async (t) => {
  t.match(parseRouteKey('GET /pets/{id}'), { method: 'GET', path: '/pets/{id}', greedy: null });
  t.match(parseRouteKey('ANY /{proxy+}'), { method: 'ANY', greedy: 'proxy' });
  t.match(parseRouteKey('$default'), { method: null });
  t.match(parseRouteKey('GET /'), { method: 'GET', segments: [] });
  const bad: Record<string, RegExp> = {
    GET: /expected "METHOD \/path"/,
    'FETCH /x': /unknown method "FETCH"/,
    'get /x': /unknown method "get"/,
    'GET x': /must start with "\/"/,
    'GET /a//b': /empty segment/,
    'GET /{proxy+}/x': /must be the last segment/,
    'GET /a{b}': /must fill a whole segment/,
    'GET /{a}/{a}': /appears twice/,
    'GET /a b': /characters not allowed/,
  };
  for (const [key, reason] of Object.entries(bad)) t.match(parseRouteKey(key), reason, key);
});
