/**
 * The authorizer contract. An authorizer is built once per deployment from its config
 * and asked per request; the route's AuthorizeFilter turns its answer into either a local
 * reply (401/403/500, AWS-shaped) or the caller's identity on the exchange.
 */
import type { Exchange } from '../exchange.ts';
import type { Logger } from '../log.ts';

/** What AWS puts in `requestContext.authorizer`: `{ jwt: {claims, scopes} }` or `{ lambda: {...} }`. */
export type AuthorizerContext =
  | {
      readonly jwt: {
        readonly claims: Record<string, unknown>;
        readonly scopes: readonly string[] | null;
      };
    }
  | { readonly lambda: Record<string, unknown> };

export type AuthResult =
  | {
      readonly ok: true;
      readonly context: AuthorizerContext;
      /** Flat [name, value, ...] headers for HTTP integrations (claimsToHeaders/contextToHeaders), or null. */
      readonly upstreamHeaders: readonly string[] | null;
      /** AWS's AUTHORIZER API-key source: the key a function authorizer returned. */
      readonly usageIdentifierKey?: string;
    }
  | {
      readonly ok: false;
      readonly code: 'PORTICO_UNAUTHORIZED' | 'PORTICO_FORBIDDEN' | 'PORTICO_AUTHORIZER_ERROR';
      /** RFC 6750 challenge for 401/403 from a JWT authorizer, e.g. `Bearer error="invalid_token" ...`. */
      readonly wwwAuthenticate?: string;
    };

export interface Authorizer {
  readonly name: string;
  readonly type: 'jwt' | 'function';
  /**
   * Lower-case names of the headers this authorizer sends upstream. Client-sent copies are
   * removed before forwarding so a caller cannot spoof them.
   */
  readonly upstreamHeaderNames: readonly string[];
  /** `scopes` are the route's authorizationScopes (JWT only), or null. Must not reject. */
  authorize(ex: Exchange, scopes: readonly string[] | null): AuthResult | Promise<AuthResult>;
  /** Releases timers or caches when the deployment is retired. */
  close?(): void;
}

/** What an authorizer factory gets besides its own config. */
export interface AuthorizerDeps {
  readonly logger: Logger;
  /** Folder relative paths (handler modules, key files) resolve against. */
  readonly baseDir: string;
  /** The clock, in ms since the epoch, for cache ages. Default Date.now. */
  readonly now?: () => number;
}
