/**
 * Config paths as people read them (`routes["GET /a"].integration`) and back. No
 * dependencies: everything that reports a config problem imports this, on the start path.
 */
const IDENT = /^[A-Za-z_$][\w$]*$/;

/** `routes["GET /a"].integration`, `stages.prod.variables.url`, `list[0]`. */
export function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else if (IDENT.test(p)) out += out ? `.${p}` : p;
    else out += `[${JSON.stringify(p)}]`;
  }
  return out;
}

const PATH_PART = /\.?([A-Za-z_$][\w$]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]/y;

/** The inverse of formatPath: `routes["GET /a"].integration` → ['routes', 'GET /a', 'integration']. */
export function parsePath(path: string): (string | number)[] | null {
  const out: (string | number)[] = [];
  PATH_PART.lastIndex = 0;
  while (PATH_PART.lastIndex < path.length) {
    const m = PATH_PART.exec(path);
    if (m === null) return null;
    out.push(m[1] ?? (m[2] !== undefined ? Number(m[2]) : (JSON.parse(m[3]!) as string)));
  }
  return out;
}
