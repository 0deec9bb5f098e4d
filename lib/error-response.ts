/**
 * The one place an error becomes an HTTP response: AWS-style status and
 * `{"message": ...}` JSON body. Never sends a stack, a cause or an upstream address.
 */
import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { nextRequestId } from './request-id.ts';
import type { Exchange } from './exchange.ts';
import { ERRORS, GatewayError, type ErrorCode } from './errors.ts';

// Bodies are constant per code, so they are serialised once at load time.
const BODIES = new Map<ErrorCode, Buffer>();
for (const code of Object.keys(ERRORS) as ErrorCode[]) {
  BODIES.set(code, Buffer.from(JSON.stringify({ message: ERRORS[code].message })));
}

export function toGatewayError(err: unknown): GatewayError {
  return err instanceof GatewayError
    ? err
    : new GatewayError('PORTICO_INTERNAL', undefined, { cause: err });
}

/**
 * Writes the error response if headers are not sent yet; otherwise the response is
 * already partly on the wire, and the only honest signal left is to cut the connection.
 */
export function sendError(res: ServerResponse, code: ErrorCode, requestId: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = BODIES.get(code)!;
  res.writeHead(ERRORS[code].status, {
    'content-type': 'application/json',
    'content-length': body.length,
    'apigw-requestid': requestId,
  });
  res.end(body);
}

/**
 * An error reply for an exchange: also carries the exchange's response headers (CORS),
 * so a browser can read a 401 from an authorizer. `extra` is flat [name, value, ...].
 */
export function sendExchangeError(
  ex: Exchange,
  code: ErrorCode,
  extra: readonly string[] | null = null,
): void {
  const res = ex.res;
  // The one place a refusal is recorded: access logs and metrics read it (throttled, 401...).
  ex.errorCode = code;
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = BODIES.get(code)!;
  const headers: string[] = [
    'content-type',
    'application/json',
    'content-length',
    String(body.length),
    'apigw-requestid',
    ex.requestId,
  ];
  if (extra !== null) headers.push(...extra);
  if (ex.responseHeaders !== null) headers.push(...ex.responseHeaders);
  res.writeHead(ERRORS[code].status, headers);
  res.end(ex.req.method === 'HEAD' ? undefined : body);
}

/** For failures before Node has a request object (parse errors): a complete response on the socket. */
export function writeRawError(socket: Duplex, code: ErrorCode): void {
  const { status, message } = ERRORS[code];
  const body = BODIES.get(code)!;
  socket.end(
    `HTTP/1.1 ${status} ${message}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n` +
      `apigw-requestid: ${nextRequestId()}\r\nconnection: close\r\n\r\n${body.toString()}`,
  );
}
