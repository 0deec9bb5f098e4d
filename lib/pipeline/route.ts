/**
 * What a deployment compiles each route into, once: the ordered filters that run before
 * the integration (authorizers, CORS, throttling as they land) and the terminal integration.
 * Envoy's model: a fixed chain per route that always ends in the integration.
 */
import type { CorsPolicy } from '../cors.ts';
import type { Exchange } from '../exchange.ts';
import type { TrustProxy } from '../trust-proxy.ts';

/**
 * The terminal step of a route. `handle` owns the response: it writes it, or writes an
 * error response through error-response.ts; it must not reject.
 */
export interface Integration {
  readonly type: 'http' | 'function' | 'mock';
  /** Where it goes, for `portico routes` and logs (no secrets). */
  readonly target: string;
  handle(ex: Exchange): void | Promise<void>;
}

/**
 * A step before the integration. It may answer the request itself (a local reply) and
 * then sets nothing else; the runner stops when the response has been started.
 */
export interface Filter {
  readonly name: string;
  run(ex: Exchange): void | Promise<void>;
}

export interface StageRuntime {
  /** `$default` or the stage name. */
  readonly name: string;
  readonly variables: Readonly<Record<string, string>>;
  /** The deployment's compiled `trustProxy`, or null when no peer is trusted. */
  readonly trustProxy: TrustProxy | null;
}

export interface CompiledRoute {
  readonly routeKey: string;
  /** The route's path in AWS syntax (`/pets/{id}`), or `$default`: AWS's `resource`. */
  readonly resource: string;
  readonly integrationName: string;
  /** Null when the route has no filters, so the runner can skip straight to the integration. */
  readonly filters: readonly Filter[] | null;
  readonly integration: Integration;
  /**
   * The route's CORS policy, or null. When set, preflights for the route are answered by the
   * gateway and access-control-* headers from the integration are dropped (AWS).
   */
  readonly cors: CorsPolicy | null;
  /**
   * Lower-case request header names never forwarded from the client because the gateway
   * sets them (authorizer claims), or null.
   */
  readonly gatewayHeaders: ReadonlySet<string> | null;
}
