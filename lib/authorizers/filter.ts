/** The route filter that runs the route's authorizer and applies its answer. */
import { sendExchangeError } from '../error-response.ts';
import type { Exchange } from '../exchange.ts';
import type { Filter } from '../pipeline/route.ts';
import type { AuthResult, Authorizer } from './authorizer.ts';

export class AuthorizeFilter implements Filter {
  readonly name: string;
  readonly #authorizer: Authorizer;
  readonly #scopes: readonly string[] | null;

  constructor(authorizer: Authorizer, scopes: readonly string[] | null) {
    this.name = `authorizer:${authorizer.name}`;
    this.#authorizer = authorizer;
    this.#scopes = scopes;
  }

  run(ex: Exchange): void | Promise<void> {
    const result = this.#authorizer.authorize(ex, this.#scopes);
    if (result instanceof Promise) return result.then((r) => apply(ex, r));
    apply(ex, result);
  }
}

function apply(ex: Exchange, result: AuthResult): void {
  if (result.ok) {
    ex.authorizer = result.context;
    ex.upstreamHeaders = result.upstreamHeaders;
    if (result.usageIdentifierKey !== undefined) ex.usageIdentifierKey = result.usageIdentifierKey;
    return;
  }
  sendExchangeError(
    ex,
    result.code,
    result.wwwAuthenticate !== undefined ? ['www-authenticate', result.wwwAuthenticate] : null,
  );
}
