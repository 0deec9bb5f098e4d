/**
 * The listener's limits, from the `limits` config: what node:http enforces before a request
 * reaches the gateway (header size, header and request timeouts, keep-alive, connections),
 * and what happens to a request it refuses (an AWS-style JSON error and a closed connection).
 * One place, so the plain and the TLS listener are built alike.
 */
import type { Server, ServerOptions } from 'node:http';
import type { Duplex } from 'node:stream';
import type { GatewayConfig } from './config/schema.ts';
import { writeRawError } from './error-response.ts';
import type { ErrorCode } from './errors.ts';
import type { Logger } from './log.ts';

type Limits = GatewayConfig['limits'];

/** Options for createServer(): those Node reads only when the server is created. */
export function listenerOptions(limits: Limits): ServerOptions {
  return {
    // Node's strict parser (the default) refuses ambiguous framing (Content-Length with
    // Transfer-Encoding, duplicate or malformed Content-Length, obsolete line folding, bare
    // CR/LF, invalid header characters); never the lenient one.
    insecureHTTPParser: false,
    // Node counts the request line with the headers, as AWS's 10 KB limit does.
    maxHeaderSize: limits.maxHeaderBytes,
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // Timeouts are enforced by a periodic sweep (Node's default: every 30 s); sweeping often
    // enough keeps "dropped within the timeout" true to within a second.
    connectionsCheckingInterval: Math.max(
      100,
      Math.min(1000, Math.floor(limits.headersTimeoutMs / 4)),
    ),
    // lib/server.ts checks Host itself, to answer a missing one with a JSON 400 too.
    requireHostHeader: false,
  };
}

/**
 * Applies the limits Node reads from the server on each connection or sweep: at listen and
 * again on each deploy, so a new config's limits take effect without a restart (the header
 * size for new connections; the sweep interval stays as created).
 */
export function applyListenerLimits(server: Server, limits: Limits): void {
  // Node keeps the option on the server and reads it for each new connection (untyped).
  (server as Server & { maxHeaderSize: number }).maxHeaderSize = limits.maxHeaderBytes;
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = limits.requestTimeoutMs;
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  server.maxConnections = limits.maxConnections;
}

/**
 * Error handling a listener needs for its whole life: parse failures become JSON errors, and
 * accept failures (EMFILE when out of file descriptors) are logged instead of crashing.
 */
export function watchListener(server: Server, logger: Logger): void {
  server.on('clientError', onClientError);
  server.on('error', (err) => logger.error({ err }, 'listener error'));
}

/** Node's parser refused the request, or it timed out: a JSON error and a closed connection. */
function onClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  // A response already under way cannot be followed by another one: cut the connection,
  // as Node's own default handler does (it reads the same internal field).
  const current = (socket as { _httpMessage?: { headersSent: boolean } | null })._httpMessage;
  if (!socket.writable || err.code === 'ECONNRESET' || current?.headersSent === true) {
    socket.destroy();
    return;
  }
  writeRawError(socket, clientErrorCode(err.code));
}

function clientErrorCode(code: string | undefined): ErrorCode {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return 'PORTICO_HEADERS_TOO_LARGE';
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return 'PORTICO_REQUEST_TIMEOUT';
    default:
      return 'PORTICO_BAD_REQUEST';
  }
}
