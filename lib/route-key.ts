/**
 * AWS route keys (`GET /pets/{id}`, `ANY /files/{proxy+}`, `$default`): parsing and
 * validation, shared by the config schema (to reject bad keys with their path) and the router.
 */

/** Methods AWS HTTP APIs route on; `ANY` expands to these. */
export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'] as const;

export interface RouteKey {
  readonly key: string;
  /** Upper-case method, `ANY`, or null for `$default`. */
  readonly method: string | null;
  readonly path: string;
  readonly segments: readonly Segment[];
  /** Name of the trailing greedy `{name+}` variable, if any. */
  readonly greedy: string | null;
}

export type Segment =
  | { readonly kind: 'static'; readonly value: string }
  | { readonly kind: 'param'; readonly name: string }
  | { readonly kind: 'greedy'; readonly name: string };

const METHOD_RE = /^(GET|POST|PUT|DELETE|PATCH|HEAD|OPTIONS|ANY)$/;
const PARAM_RE = /^\{([A-Za-z0-9_.-]+)(\+?)\}$/;
// RFC 3986 pchar, minus characters find-my-way or AWS give meaning to.
const STATIC_RE = /^[A-Za-z0-9\-._~!$&'()+,;=:@%]+$/;

/** Parses a route key, or returns a human-readable reason it is invalid. */
export function parseRouteKey(key: string): RouteKey | string {
  if (key === '$default') return { key, method: null, path: '', segments: [], greedy: null };
  const space = key.indexOf(' ');
  if (space < 0) return 'expected "METHOD /path" (e.g. "GET /pets/{id}") or "$default"';
  const method = key.slice(0, space);
  const path = key.slice(space + 1);
  if (!METHOD_RE.test(method)) {
    return `unknown method "${method}"; expected one of ${HTTP_METHODS.join(', ')} or ANY`;
  }
  if (!path.startsWith('/')) return `path "${path}" must start with "/"`;
  const segments: Segment[] = [];
  const seen = new Set<string>();
  const parts = path === '/' ? [] : path.slice(1).split('/');
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (part === '') return `path "${path}" has an empty segment`;
    const m = PARAM_RE.exec(part);
    if (m) {
      const name = m[1]!;
      if (seen.has(name)) return `path variable "{${name}}" appears twice`;
      seen.add(name);
      if (m[2]) {
        if (i !== parts.length - 1) return `greedy variable "{${name}+}" must be the last segment`;
        segments.push({ kind: 'greedy', name });
      } else {
        segments.push({ kind: 'param', name });
      }
    } else if (part.includes('{') || part.includes('}')) {
      return `segment "${part}": a path variable must fill a whole segment, e.g. "{id}"`;
    } else if (!STATIC_RE.test(part)) {
      return `segment "${part}" has characters not allowed in a path`;
    } else {
      segments.push({ kind: 'static', value: part });
    }
  }
  const last = segments.at(-1);
  return { key, method, path, segments, greedy: last?.kind === 'greedy' ? last.name : null };
}

/** The route's shape with variable names erased: two keys with one shape and method conflict. */
export function routeShape(route: RouteKey): string {
  return route.segments
    .map((s) => (s.kind === 'static' ? s.value : s.kind === 'param' ? '{}' : '{+}'))
    .join('/');
}
