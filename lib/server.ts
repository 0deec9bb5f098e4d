/**
 * The request entry point: picks the stage by path prefix (AWS chooses the stage before
 * the route), matches the route, and runs its compiled chain. Hot path.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isPreflight } from './cors.ts';
import type { Deployment } from './deployment.ts';
import { sendError } from './error-response.ts';
import type { ErrorCode } from './errors.ts';
import { Exchange } from './exchange.ts';
import { hostLines } from './headers.ts';
import { normalizePath } from './path-normalize.ts';
import { runRoute } from './pipeline/run.ts';
import { nextRequestId } from './request-id.ts';

/**
 * Serves one request; returns its Exchange when a route matched (observability reads it when
 * the response closes), or null when the gateway answered by itself (404, 400, preflight).
 */
export function serveRequest(
  deployment: Deployment,
  req: IncomingMessage,
  res: ServerResponse,
  requestId: string = nextRequestId(),
): Exchange | null {
  // A request pipelined behind a refused one: the connection closes after that answer.
  if ((req.socket as RefusedSocket)[kRefused] === true) return null;
  let url = req.url!;
  if (url.length > deployment.config.limits.maxUrlLength) {
    refuse(res, 'PORTICO_URI_TOO_LONG', requestId);
    return null;
  }
  if (url.charCodeAt(0) !== 47 /* '/' */) {
    // Absolute-form target (RFC 9112 §3.2.2), e.g. from a client configured for a forward proxy.
    url = absoluteToOrigin(url);
    if (url === '') {
      refuse(res, 'PORTICO_BAD_REQUEST', requestId);
      return null;
    }
  }
  const q = url.indexOf('?');
  // One canonical spelling of the path for the stage, the route and the upstream alike.
  const rawPath = normalizePath(q < 0 ? url : url.slice(0, q));
  const rawQuery = q < 0 ? '' : url.slice(q + 1);
  // RFC 9112 §3.2: one Host in HTTP/1.1 (HTTP/1.0 may have none), else a 400.
  const hosts = hostLines(req.rawHeaders);
  if (rawPath === null || hosts > 1 || (hosts === 0 && req.httpVersionMinor !== 0)) {
    refuse(res, 'PORTICO_BAD_REQUEST', requestId);
    return null;
  }

  let stage = deployment.defaultStage;
  let path = rawPath;
  const named = deployment.namedStages;
  if (named !== null) {
    const end = rawPath.indexOf('/', 1);
    const candidate = named.get(end < 0 ? rawPath.slice(1) : rawPath.slice(1, end));
    if (candidate !== undefined) {
      stage = candidate;
      path = end < 0 ? '/' : rawPath.slice(end);
    }
  }
  if (deployment.hasCors && req.method === 'OPTIONS' && isPreflight(req)) {
    // AWS answers preflights itself, routed by the method the browser intends to use.
    const intended =
      stage === null ? null : stage.table.find(req.headers['access-control-request-method']!, path);
    const policy = intended === null ? deployment.defaultCors : intended.value.cors;
    if (policy !== null) {
      policy.preflight(req, res, requestId);
      return null;
    }
  }
  const match = stage === null ? null : stage.table.find(req.method!, path);
  if (match === null) {
    sendError(res, 'PORTICO_ROUTE_NOT_FOUND', requestId);
    // The body may still be arriving; Node discards it before the next request on this connection.
    return null;
  }
  const ex = new Exchange(
    req,
    res,
    requestId,
    stage!.runtime,
    match.value,
    match.params,
    rawPath,
    path,
    rawQuery,
  );
  runRoute(ex);
  return ex;
}

function absoluteToOrigin(url: string): string {
  try {
    const u = new URL(url);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.pathname + u.search : '';
  } catch {
    return '';
  }
}

const kRefused = Symbol('portico.refused');
type RefusedSocket = IncomingMessage['socket'] & { [kRefused]?: true };

/**
 * A request refused before routing: answered, and the connection closed, since what follows
 * on it (a body, a pipelined request) cannot be trusted to be framed as the client meant.
 */
function refuse(res: ServerResponse, code: ErrorCode, requestId: string): void {
  res.shouldKeepAlive = false;
  (res.req.socket as RefusedSocket)[kRefused] = true;
  sendError(res, code, requestId);
}
