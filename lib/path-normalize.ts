/**
 * The one canonical form of a request path, computed before the stage and the route are
 * chosen, so that a route (and its authorizer) cannot be reached by another spelling of its
 * path, and the upstream is sent the path that was routed:
 *
 * - percent-encoded unreserved characters (A-Z a-z 0-9 - . _ ~) are decoded (`%61` → `a`),
 *   and so is `%2F`, which is a separator, as AWS HTTP API decodes it before routing (a '/'
 *   inside a value is sent double-encoded, `%252F`); every other percent-encoding stays
 *   encoded, with upper-case hex (`%3b` → `%3B`);
 * - `.` and `..` segments are removed (RFC 3986 §5.2.4), `%2e` included; `..` stops at `/`;
 * - runs of `/` are merged into one, and a trailing `/` is dropped (`/admin/` is `/admin`):
 *   route keys cannot end in `/`, so a trailing one could only skip a route for `$default`;
 * - the case is kept: routes are case-sensitive, as in AWS.
 *
 * Refused (null, a 400): an encoded `\` (`%5C`, a separator to some servers) or NUL
 * (`%00`); a raw `\` or `#`; a raw `;` (servlet containers cut `;params`
 * off a segment, so `/admin;x` would be `/admin` behind a route that never checked it;
 * `%3B` is data); a malformed escape.
 */

/**
 * The canonical form of `path` (no query string), `path` itself when it is already canonical
 * (the common case: one scan, no allocation), or null when the path is refused.
 */
export function normalizePath(path: string): string | null {
  let prev = 0;
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (
      c === 37 /* % */ ||
      c === 46 /* . */ ||
      c === 59 /* ; */ ||
      c === 92 /* \ */ ||
      c === 35 /* # */ ||
      (c === 47 /* / */ && prev === 47)
    ) {
      return slowNormalize(path);
    }
    prev = c;
  }
  return prev === 47 && path.length > 1 ? path.slice(0, -1) : path;
}

function slowNormalize(path: string): string | null {
  let decoded = '';
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 59 || c === 92 || c === 35) return null;
    if (c !== 37) {
      decoded += path[i];
      continue;
    }
    const hi = hexValue(path.charCodeAt(i + 1));
    const lo = hexValue(path.charCodeAt(i + 2));
    if (hi < 0 || lo < 0) return null;
    const byte = hi * 16 + lo;
    if (byte === 0 || byte === 0x5c) return null;
    if (isUnreserved(byte) || byte === 0x2f) decoded += String.fromCharCode(byte);
    else decoded += `%${HEX[hi]}${HEX[lo]}`;
    i += 2;
  }
  return removeDotSegments(decoded);
}

/** RFC 3986 §5.2.4 on an absolute path, dropping empty segments on the way. */
function removeDotSegments(path: string): string {
  const out: string[] = [];
  let start = 1;
  for (let i = 1; i <= path.length; i++) {
    if (i < path.length && path.charCodeAt(i) !== 47) continue;
    const segment = path.slice(start, i);
    start = i + 1;
    if (segment === '..') out.pop();
    else if (segment !== '.' && segment !== '') out.push(segment);
  }
  return `/${out.join('/')}`;
}

const HEX = '0123456789ABCDEF';

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

function isUnreserved(b: number): boolean {
  return (
    (b >= 0x41 && b <= 0x5a) ||
    (b >= 0x61 && b <= 0x7a) ||
    (b >= 0x30 && b <= 0x39) ||
    b === 0x2d ||
    b === 0x2e ||
    b === 0x5f ||
    b === 0x7e
  );
}
