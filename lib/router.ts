/**
 * The route table of one stage: AWS route keys on a find-my-way radix tree, built once
 * per deployment. find-my-way already ranks static > {param} > greedy per segment with
 * backtracking, which is AWS's order; this file adds the rest of AWS's rules:
 * a method route beats ANY on the same path, anything beats $default, and a greedy
 * variable needs at least one character.
 */
import FindMyWay from 'find-my-way';
import type { HTTPMethod } from 'find-my-way';
import { ConfigError } from './errors.ts';
import { HTTP_METHODS, parseRouteKey, routeShape, type RouteKey } from './route-key.ts';
import { formatPath } from './config/path.ts';

export interface RouteMatch<T> {
  readonly value: T;
  /** URL-decoded path variables by AWS name, or null when the route has none. */
  readonly params: Record<string, string> | null;
}

interface Entry<T> {
  readonly route: RouteKey;
  readonly value: T;
}

const EMPTY_QUERY = Object.freeze({});
// The query string is split off before find() and forwarded raw; never parse it here.
const skipQuery = (): Record<string, never> => EMPTY_QUERY;

export class RouteTable<T> {
  readonly #fmw: FindMyWay.Instance<FindMyWay.HTTPVersion.V1>;
  readonly #default: RouteMatch<T> | null;

  /** @throws ConfigError when two keys collide (same method and shape). */
  constructor(routes: Iterable<{ routeKey: string; value: T }>) {
    this.#fmw = FindMyWay({
      caseSensitive: true,
      ignoreTrailingSlash: false,
      ignoreDuplicateSlashes: false,
      maxParamLength: 8192,
      querystringParser: skipQuery,
    });
    let fallback: RouteMatch<T> | null = null;
    const explicit = new Map<string, Entry<T>>(); // `${method} ${shape}`
    const anyRoutes: Entry<T>[] = [];
    for (const { routeKey, value } of routes) {
      const route = parseRouteKey(routeKey);
      if (typeof route === 'string') throw conflict(routeKey, route);
      if (route.method === null) {
        fallback = { value, params: null };
      } else if (route.method === 'ANY') {
        anyRoutes.push({ route, value });
      } else {
        const id = `${route.method} ${routeShape(route)}`;
        const other = explicit.get(id);
        if (other) throw conflict(routeKey, `same method and path shape as "${other.route.key}"`);
        explicit.set(id, { route, value });
      }
    }
    const anyShapes = new Map<string, Entry<T>>();
    for (const entry of anyRoutes) {
      const shape = routeShape(entry.route);
      const other = anyShapes.get(shape);
      if (other) throw conflict(entry.route.key, `same path shape as "${other.route.key}"`);
      anyShapes.set(shape, entry);
    }
    for (const entry of explicit.values()) this.#add(entry.route.method!, entry);
    // ANY covers only the methods that have no explicit route of the same shape.
    for (const [shape, entry] of anyShapes) {
      for (const method of HTTP_METHODS) {
        if (!explicit.has(`${method} ${shape}`)) this.#add(method, entry);
      }
    }
    this.#default = fallback;
  }

  #add(method: string, entry: Entry<T>): void {
    const { route, value } = entry;
    const greedy = route.greedy;
    const path =
      '/' +
      route.segments
        .map((s) =>
          // find-my-way reads ':' as a parameter; '::' is its literal colon.
          s.kind === 'static'
            ? s.value.replaceAll(':', '::')
            : s.kind === 'param'
              ? `:${s.name}`
              : '*',
        )
        .join('/');
    const store: Stored<T> = {
      value,
      match: { value, params: null },
      greedy,
      hasParams: route.segments.some((s) => s.kind !== 'static'),
    };
    this.#fmw.on(method as HTTPMethod, path, noop, store);
  }

  /**
   * Finds the route for a method and a path (no query string). Hot path: one tree walk,
   * and a new params object only for greedy routes (to rename find-my-way's `*`).
   */
  find(method: string, path: string): RouteMatch<T> | null {
    const found = this.#fmw.find(method as HTTPMethod, path);
    if (found === null) return this.#default;
    const stored = found.store as Stored<T>;
    if (!stored.hasParams) return stored.match;
    const params = found.params as Record<string, string>;
    // AWS: a path variable matches one or more characters, so /pets/ is neither
    // /pets/{id} nor /pets/{proxy+}; such a request falls to $default.
    for (const k in params) if (params[k] === '') return this.#default;
    if (stored.greedy === null) return { value: stored.value, params };
    const out: Record<string, string> = {};
    for (const k in params) if (k !== '*') out[k] = params[k]!;
    out[stored.greedy] = params['*']!;
    return { value: stored.value, params: out };
  }
}

interface Stored<T> {
  readonly value: T;
  /** The answer for routes without variables, allocated once. */
  readonly match: RouteMatch<T>;
  readonly greedy: string | null;
  readonly hasParams: boolean;
}

function noop(): void {}

function conflict(routeKey: string, message: string): ConfigError {
  return new ConfigError([{ path: formatPath(['routes', routeKey]), message }]);
}
