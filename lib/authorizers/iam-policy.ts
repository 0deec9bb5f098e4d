/**
 * The IAM policy a Lambda authorizer returns (`policyDocument`), compiled once per answer
 * and evaluated against a route's ARN per request, with IAM's rules as they apply to
 * `execute-api:Invoke`:
 *
 * - a statement applies when one of its actions matches `execute-api:Invoke` (action
 *   names are case-insensitive; `*` and `?` are wildcards) and one of its resources matches
 *   the ARN;
 * - resources are matched segment by segment (the five colons of an ARN separate
 *   partition, service, region, account and resource, and a wildcard never crosses them;
 *   in the resource segment `*` crosses `/`), case-sensitively; a lone `*` matches anything;
 * - an applicable Deny wins; otherwise an applicable Allow allows; otherwise it is denied
 *   (IAM's implicit deny).
 *
 * `NotAction`, `NotResource`, `Condition` and `Principal` are refused rather than ignored:
 * ignoring any of them would allow more than the author wrote.
 */

const INVOKE = 'execute-api:invoke';

export class CompiledPolicy {
  readonly #allow: readonly ResourcePattern[];
  readonly #deny: readonly ResourcePattern[];

  constructor(allow: readonly ResourcePattern[], deny: readonly ResourcePattern[]) {
    this.#allow = allow;
    this.#deny = deny;
  }

  /** Whether the policy lets the caller invoke `arn`. */
  allows(arn: string): boolean {
    if (this.#allow.length === 0) return false;
    const parts = splitArn(arn);
    if (parts === null) return false;
    for (const p of this.#deny) if (p.matches(parts)) return false;
    for (const p of this.#allow) if (p.matches(parts)) return true;
    return false;
  }
}

/** Compiles a `policyDocument`; a string says why it is not a valid policy (for the log). */
export function compilePolicy(doc: unknown): CompiledPolicy | string {
  if (!isObject(doc)) return `policyDocument must be an object, got ${typeName(doc)}`;
  if (doc.Version !== undefined && typeof doc.Version !== 'string')
    return `policyDocument.Version must be a string, got ${typeName(doc.Version)}`;
  const raw = doc.Statement;
  // IAM accepts a single statement object as well as a list.
  const statements = Array.isArray(raw) ? raw : isObject(raw) ? [raw] : null;
  if (statements === null)
    return `policyDocument.Statement must be a list of statements, got ${typeName(raw)}`;
  const allow: ResourcePattern[] = [];
  const deny: ResourcePattern[] = [];
  for (let i = 0; i < statements.length; i++) {
    const st: unknown = statements[i];
    const at = `policyDocument.Statement[${i}]`;
    if (!isObject(st)) return `${at} must be an object, got ${typeName(st)}`;
    for (const key of ['NotAction', 'NotResource', 'Condition', 'Principal', 'NotPrincipal']) {
      if (st[key] !== undefined) return `${at}.${key} is not supported`;
    }
    const effect = st.Effect;
    if (effect !== 'Allow' && effect !== 'Deny')
      return `${at}.Effect must be "Allow" or "Deny", got ${typeName(effect)}`;
    const actions = stringList(st.Action);
    if (actions === null) return `${at}.Action must be a string or a list of strings`;
    const resources = stringList(st.Resource);
    if (resources === null) return `${at}.Resource must be a string or a list of strings`;
    if (!actions.some((a) => globMatch(a.toLowerCase(), INVOKE))) continue;
    const into = effect === 'Allow' ? allow : deny;
    for (const r of resources) into.push(new ResourcePattern(r));
  }
  return new CompiledPolicy(allow, deny);
}

/** A resource ARN pattern, split once into its six segments. */
class ResourcePattern {
  readonly #any: boolean;
  readonly #segments: readonly string[] | null;

  constructor(pattern: string) {
    this.#any = pattern === '*';
    this.#segments = this.#any ? null : splitArn(pattern);
  }

  matches(parts: readonly string[]): boolean {
    if (this.#any) return true;
    const segs = this.#segments;
    if (segs === null) return false;
    for (let i = 0; i < 6; i++) if (!globMatch(segs[i]!, parts[i]!)) return false;
    return true;
  }
}

/** `arn:partition:service:region:account:resource` → six parts (the resource keeps its colons). */
function splitArn(arn: string): string[] | null {
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < 5; i++) {
    const colon = arn.indexOf(':', start);
    if (colon < 0) return null;
    out.push(arn.slice(start, colon));
    start = colon + 1;
  }
  out.push(arn.slice(start));
  return out;
}

/**
 * `*` matches any run of characters (none included), `?` exactly one. Linear in practice:
 * the classic backtrack-to-the-last-star walk, no regular expression.
 */
export function globMatch(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let mark = 0;
  while (t < text.length) {
    const c = pattern.charCodeAt(p);
    if (c === 42 /* * */) {
      star = p++;
      mark = t;
    } else if (p < pattern.length && (c === 63 /* ? */ || c === text.charCodeAt(t))) {
      p++;
      t++;
    } else if (star >= 0) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (pattern.charCodeAt(p) === 42) p++;
  return p === pattern.length;
}

function stringList(v: unknown): string[] | null {
  if (typeof v === 'string') return [v];
  if (!Array.isArray(v) || v.length === 0) return null;
  for (const s of v) if (typeof s !== 'string') return null;
  return v as string[];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A value's kind for messages: never the value itself, which may carry a credential. */
export function typeName(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}
