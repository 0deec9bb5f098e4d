/**
 * The state of one request as it moves through a route's chain. A class with every
 * field set in the constructor, so all exchanges share one hidden shape.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApiKey } from './api-keys.ts';
import type { AuthorizerContext } from './authorizers/authorizer.ts';
import type { ErrorCode } from './errors.ts';
import type { CompiledRoute, StageRuntime } from './pipeline/route.ts';

export class Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly requestId: string;
  /** Wall-clock start (ms since epoch), for AWS's requestTime/timeEpoch. */
  readonly startTime: number;
  /** Monotonic start (performance.now(), ms), for latencies. */
  readonly startHr: number;
  readonly stage: StageRuntime;
  readonly route: CompiledRoute;
  /** URL-decoded path variables, or null. */
  readonly params: Record<string, string> | null;
  /**
   * The request path in its canonical form (lib/path-normalize.ts), stage prefix included,
   * without the query string: AWS's `rawPath`.
   */
  readonly rawPath: string;
  /** The canonical path after the stage prefix: what routing and `$default` forwarding use. */
  readonly path: string;
  /** The query string as received, without '?', or ''. */
  readonly rawQuery: string;
  /** What an authorizer established (AWS `requestContext.authorizer`); null until one runs. */
  authorizer: AuthorizerContext | null;
  /** Flat [name, value, ...] headers every response of this exchange carries (CORS), or null. */
  responseHeaders: readonly string[] | null;
  /** Flat [name, value, ...] headers added to the upstream request (authorizer claims), or null. */
  upstreamHeaders: readonly string[] | null;
  /** The client address once client-ip.ts has worked it out (trustProxy), or null. */
  clientIp: string | null;
  /** An API key supplied by a function authorizer (AWS key source AUTHORIZER), or null. */
  usageIdentifierKey: string | null;
  /** The API key the request was admitted with (routes with apiKeyRequired), or null. */
  apiKey: ApiKey | null;
  /** The error the gateway answered with (set by error-response.ts), or null. */
  errorCode: ErrorCode | null;
  /** performance.now() when the integration was called and when it answered; 0 until then. */
  integrationStart: number;
  integrationEnd: number;
  /** The upstream's (or Lambda's) status; 0 when there was none. */
  integrationStatus: number;
  /** Why the integration failed (AWS `$context.integrationErrorMessage`), or null. */
  integrationError: string | null;

  constructor(
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
    stage: StageRuntime,
    route: CompiledRoute,
    params: Record<string, string> | null,
    rawPath: string,
    path: string,
    rawQuery: string,
  ) {
    this.req = req;
    this.res = res;
    this.requestId = requestId;
    this.startTime = Date.now();
    this.startHr = performance.now();
    this.stage = stage;
    this.route = route;
    this.params = params;
    this.rawPath = rawPath;
    this.path = path;
    this.rawQuery = rawQuery;
    this.authorizer = null;
    this.responseHeaders = null;
    this.upstreamHeaders = null;
    this.clientIp = null;
    this.usageIdentifierKey = null;
    this.apiKey = null;
    this.errorCode = null;
    this.integrationStart = 0;
    this.integrationEnd = 0;
    this.integrationStatus = 0;
    this.integrationError = null;
  }

  /** Records the integration's answer (status 0 when there was none) for logs and metrics. */
  integrationDone(status: number, error: string | null): void {
    this.integrationEnd = performance.now();
    if (status !== 0) this.integrationStatus = status;
    this.integrationError = error;
  }
}
