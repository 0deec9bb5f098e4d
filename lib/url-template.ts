/**
 * Integration URL templates: `${stageVariables.x}` is resolved once per stage at deploy
 * time; `{param}` / `{proxy}` become slots filled per request from the matched path variables.
 */

/** A fixed run of text, or a slot for a path variable (`query`: the slot is after the `?`). */
export type TemplatePart =
  string | { readonly param: string; readonly greedy: boolean; readonly query: boolean };

export interface UrlTemplate {
  /** `http://host:port`, fixed per stage: pools are chosen at deploy time. */
  readonly origin: string;
  /** Path (and optional fixed query) as parts; a lone string when there are no slots. */
  readonly path: readonly TemplatePart[];
  /** Path variable names the template uses. */
  readonly params: readonly string[];
}

const STAGE_VAR = /\$\{stageVariables\.([A-Za-z0-9_]+)\}/g;
const PATH_VAR = /\{([A-Za-z0-9_.-]+)\}/g;

/** Substitutes `${stageVariables.x}`; returns the names that the stage does not define. */
export function resolveStageVariables(
  template: string,
  variables: Readonly<Record<string, string>>,
): { value: string; missing: string[] } {
  const missing: string[] = [];
  const value = template.replace(STAGE_VAR, (_, name: string) => {
    if (Object.hasOwn(variables, name)) return variables[name]!;
    missing.push(name);
    return '';
  });
  return { value, missing };
}

/**
 * Splits a stage-resolved URL into origin and path parts. Returns a reason string when the
 * URL is not an absolute http(s) URL with a fixed host.
 */
export function compileUrlTemplate(
  url: string,
  greedyNames: ReadonlySet<string>,
): UrlTemplate | string {
  const m = /^(https?):\/\/([^/?#]+)(.*)$/i.exec(url);
  if (!m) return `"${url}" is not an absolute http:// or https:// URL`;
  const [, scheme, authority] = m as unknown as [string, string, string];
  let rest = m[3]!;
  if (authority.includes('{')) return 'the host cannot contain a path variable';
  if (authority.includes('@')) return 'credentials in the URL are not supported';
  let origin: string;
  try {
    origin = new URL(`${scheme}://${authority}`).origin;
  } catch {
    return `"${url}" has an invalid host`;
  }
  if (rest.includes('#')) return 'a fragment (#) is not allowed';
  // `http://host?x=1` has an empty path, which is "/" on the wire.
  if (rest.startsWith('?')) rest = `/${rest}`;
  const queryStart = rest.indexOf('?');
  const parts: TemplatePart[] = [];
  const params: string[] = [];
  let last = 0;
  for (const pm of rest.matchAll(PATH_VAR)) {
    if (pm.index > last) parts.push(rest.slice(last, pm.index));
    const name = pm[1]!;
    parts.push({
      param: name,
      greedy: greedyNames.has(name),
      query: queryStart >= 0 && pm.index > queryStart,
    });
    params.push(name);
    last = pm.index + pm[0].length;
  }
  if (last < rest.length) parts.push(rest.slice(last));
  if (parts.length === 0) parts.push('/');
  return { origin, path: parts, params };
}

// Characters that may stand unescaped in a path segment (RFC 3986 pchar but `;`, which
// servlet containers read as the start of path parameters: a decoded %3B stays %3B), and in
// a query value (unreserved only, so a value cannot add `&name=` pairs of its own).
const SAFE_SEGMENT = /^[A-Za-z0-9\-._~!$&'()*+,=:@]*$/;
const SAFE_PATH = /^[A-Za-z0-9\-._~!$&'()*+,=:@/]*$/;
const SAFE_QUERY_VALUE = /^[A-Za-z0-9\-._~]*$/;

/**
 * Re-encodes a decoded path variable for the upstream URL. Hot path: the common case
 * (nothing to escape) returns the input. Greedy values keep their '/' separators.
 * Returns null when the value is, or has, a `.` or `..` segment: upstreams resolve those
 * (WHATWG URL parsers even in `%2e` form), so `/files/{proxy}` could reach outside `/files`.
 */
export function encodePathValue(value: string, greedy: boolean): string | null {
  if (
    value.includes('.') &&
    (greedy ? hasDotSegment(value, false) : value === '.' || value === '..')
  ) {
    return null;
  }
  if ((greedy ? SAFE_PATH : SAFE_SEGMENT).test(value)) return value;
  const encoded = encodeURIComponent(value);
  return greedy ? encoded.replaceAll('%2F', '/') : encoded;
}

/** Encodes a path variable placed in the template's query string. */
export function encodeQueryValue(value: string): string {
  return SAFE_QUERY_VALUE.test(value) ? value : encodeURIComponent(value);
}

/**
 * Whether a path has a `.` or `..` segment. A `raw` (still percent-encoded) path is read as
 * an upstream's URL parser would: WHATWG URL also takes `%2e` for a dot and `\\` for `/`.
 * Scans in place: no split, no regex.
 */
export function hasDotSegment(path: string, raw: boolean): boolean {
  let start = 0;
  for (let i = 0; i <= path.length; i++) {
    const c = i === path.length ? 47 : path.charCodeAt(i);
    if (c === 47 /* / */ || (raw && c === 92) /* \\ */) {
      if (i > start && isDotSegment(path, start, i, raw)) return true;
      start = i + 1;
    }
  }
  return false;
}

function isDotSegment(s: string, start: number, end: number, raw: boolean): boolean {
  let dots = 0;
  let i = start;
  while (i < end) {
    if (s.charCodeAt(i) === 46 /* . */) {
      i += 1;
    } else if (
      raw &&
      s.charCodeAt(i) === 37 /* % */ &&
      i + 3 <= end &&
      s.charCodeAt(i + 1) === 50 /* 2 */ &&
      (s.charCodeAt(i + 2) | 0x20) === 101 /* e */
    ) {
      i += 3;
    } else {
      return false;
    }
    if (++dots > 2) return false;
  }
  return dots > 0;
}
