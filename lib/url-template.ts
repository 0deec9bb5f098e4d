/**
 * Integration URL templates: `${stageVariables.x}` is resolved once per stage at deploy
 * time; `{param}` / `{proxy}` become slots filled per request from the matched path variables.
 */

export type TemplatePart = string | { readonly param: string; readonly greedy: boolean };

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
export function compileUrlTemplate(url: string, greedyNames: ReadonlySet<string>): UrlTemplate | string {
  const m = /^(https?):\/\/([^/?#]+)(.*)$/i.exec(url);
  if (!m) return `"${url}" is not an absolute http:// or https:// URL`;
  const [, scheme, authority, rest] = m as unknown as [string, string, string, string];
  if (authority.includes('{')) return 'the host cannot contain a path variable';
  if (authority.includes('@')) return 'credentials in the URL are not supported';
  let origin: string;
  try {
    origin = new URL(`${scheme}://${authority}`).origin;
  } catch {
    return `"${url}" has an invalid host`;
  }
  if (rest.includes('#')) return 'a fragment (#) is not allowed';
  const parts: TemplatePart[] = [];
  const params: string[] = [];
  let last = 0;
  for (const pm of rest.matchAll(PATH_VAR)) {
    if (pm.index > last) parts.push(rest.slice(last, pm.index));
    const name = pm[1]!;
    parts.push({ param: name, greedy: greedyNames.has(name) });
    params.push(name);
    last = pm.index + pm[0].length;
  }
  if (last < rest.length) parts.push(rest.slice(last));
  if (parts.length === 0) parts.push('/');
  else if (typeof parts[0] === 'string' && !parts[0].startsWith('/') && !parts[0].startsWith('?')) {
    return 'the path must start with "/"';
  }
  return { origin, path: parts, params };
}

// Characters that may stand unescaped in a path segment (RFC 3986 pchar).
const SAFE_SEGMENT = /^[A-Za-z0-9\-._~!$&'()*+,;=:@]*$/;
const SAFE_PATH = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/]*$/;

/**
 * Re-encodes a decoded path variable for the upstream URL. Hot path: the common case
 * (nothing to escape) returns the input. Greedy values keep their '/' separators.
 */
export function encodePathValue(value: string, greedy: boolean): string {
  if ((greedy ? SAFE_PATH : SAFE_SEGMENT).test(value)) return value;
  const encoded = encodeURIComponent(value);
  return greedy ? encoded.replaceAll('%2F', '/') : encoded;
}
