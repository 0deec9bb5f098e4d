/**
 * AWS identity-source expressions (`$request.header.Authorization`,
 * `$request.querystring.token`, `$context.routeKey`, `$stageVariables.x`, and Portico's
 * `$request.cookie.name`), compiled once into readers that take a value from a request.
 */
import { clientIp } from '../client-ip.ts';
import type { Exchange } from '../exchange.ts';

export interface IdentitySourceReader {
  readonly expression: string;
  /** The value, or undefined when the request does not carry it (or it is empty). */
  read(ex: Exchange): string | undefined;
}

export function compileIdentitySource(expression: string): IdentitySourceReader {
  if (expression.startsWith('$request.header.'))
    return new HeaderReader(expression, expression.slice(16).toLowerCase());
  if (expression.startsWith('$request.querystring.'))
    return new QueryReader(expression, expression.slice(21));
  if (expression.startsWith('$request.cookie.'))
    return new CookieReader(expression, expression.slice(16));
  if (expression.startsWith('$stageVariables.'))
    return new StageVariableReader(expression, expression.slice(16));
  if (expression.startsWith('$context.')) return new ContextReader(expression, expression.slice(9));
  throw new TypeError(`unsupported identity source "${expression}"`);
}

/** A reader for one named value (a header, a query parameter, a cookie, a variable). */
abstract class NamedReader implements IdentitySourceReader {
  readonly expression: string;
  protected readonly name: string;
  constructor(expression: string, name: string) {
    this.expression = expression;
    this.name = name;
  }
  abstract read(ex: Exchange): string | undefined;
}

class HeaderReader extends NamedReader {
  read(ex: Exchange): string | undefined {
    const v = ex.req.headers[this.name];
    // AWS joins repeated headers with commas, as Node already does for most names.
    const s = Array.isArray(v) ? v.join(',') : v;
    return s === undefined || s === '' ? undefined : s;
  }
}

/** Query names are case-sensitive (AWS). The last value wins for a repeated name. */
class QueryReader extends NamedReader {
  read(ex: Exchange): string | undefined {
    if (ex.rawQuery === '') return undefined;
    let found: string | undefined;
    for (const pair of ex.rawQuery.split('&')) {
      const eq = pair.indexOf('=');
      const key = safeDecode(eq < 0 ? pair : pair.slice(0, eq));
      if (key === this.name) found = safeDecode(eq < 0 ? '' : pair.slice(eq + 1));
    }
    return found === '' ? undefined : found;
  }
}

class CookieReader extends NamedReader {
  read(ex: Exchange): string | undefined {
    const header = ex.req.headers.cookie;
    if (header === undefined) return undefined;
    for (const part of header.split(';')) {
      const eq = part.indexOf('=');
      if (eq > 0 && part.slice(0, eq).trim() === this.name) {
        const value = part.slice(eq + 1).trim();
        return value === '' ? undefined : value;
      }
    }
    return undefined;
  }
}

class StageVariableReader extends NamedReader {
  read(ex: Exchange): string | undefined {
    const v = ex.stage.variables[this.name];
    return v === '' ? undefined : v;
  }
}

/** The `$context` variables that make sense before the integration runs. */
class ContextReader extends NamedReader {
  read(ex: Exchange): string | undefined {
    switch (this.name) {
      case 'routeKey':
        return ex.route.routeKey;
      case 'stage':
        return ex.stage.name;
      case 'httpMethod':
        return ex.req.method;
      case 'path':
        return ex.rawPath;
      case 'requestId':
        return ex.requestId;
      case 'identity.sourceIp':
        return clientIp(ex);
      case 'identity.userAgent':
        return ex.req.headers['user-agent'];
      default:
        return undefined;
    }
  }
}

function safeDecode(s: string): string {
  if (!s.includes('%') && !s.includes('+')) return s;
  try {
    return decodeURIComponent(s.replaceAll('+', ' '));
  } catch {
    return s;
  }
}
