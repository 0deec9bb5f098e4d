/**
 * What the access log and the metrics know about one finished request: the Exchange when a
 * route matched, plus what only the gateway entry sees (start, request ID, bytes on the
 * socket). One fixed-shape object per observed request; the 'close' listener finds it on
 * the response through a symbol, so no closure is created per request.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { clientIp } from '../client-ip.ts';
import type { Exchange } from '../exchange.ts';
import { ERRORS } from '../errors.ts';
import { normalizeIp } from '../trust-proxy.ts';

/** Who receives the record when the response closes (the Observer). */
export interface RecordSink {
  finish(r: RequestRecord): void;
}

export class RequestRecord {
  readonly sink: RecordSink;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly requestId: string;
  /** Epoch ms and performance.now() at arrival. */
  readonly startTime: number;
  readonly startHr: number;
  /** socket.bytesWritten at arrival: keep-alive sockets carry earlier responses too. */
  readonly bytesBefore: number;
  /** The matched route's exchange, or null when the gateway answered itself (404, preflight). */
  ex: Exchange | null;
  /** Set when the response closes. */
  endHr: number;
  status: number;
  responseLength: number;

  constructor(sink: RecordSink, req: IncomingMessage, res: ServerResponse, requestId: string) {
    this.sink = sink;
    this.req = req;
    this.res = res;
    this.requestId = requestId;
    this.startTime = Date.now();
    this.startHr = performance.now();
    this.bytesBefore = req.socket.bytesWritten;
    this.ex = null;
    this.endHr = 0;
    this.status = 0;
    this.responseLength = 0;
  }

  /** Reads the outcome off the response; called once, when it closes. */
  close(): void {
    const res = this.res;
    this.endHr = performance.now();
    this.status = res.headersSent ? res.statusCode : 0;
    // Body bytes: what the socket took for this response minus its header block.
    const header = (res as unknown as { _header?: string | null })._header;
    const sent = this.req.socket.bytesWritten - this.bytesBefore;
    this.responseLength = Math.max(0, sent - (typeof header === 'string' ? header.length : 0));
  }

  /**
   * `$context.identity.sourceIp`: the same client address throttling and the integrations see
   * (trustProxy applied); the TCP peer when no route matched.
   */
  get sourceIp(): string {
    return this.ex === null ? normalizeIp(this.req.socket.remoteAddress ?? '') : clientIp(this.ex);
  }

  get routeKey(): string {
    return this.ex === null ? '-' : this.ex.route.routeKey;
  }

  get stage(): string {
    return this.ex === null ? '-' : this.ex.stage.name;
  }

  get latencyMs(): number {
    return this.endHr - this.startHr;
  }

  /** -1 when no integration ran. */
  get integrationLatencyMs(): number {
    const ex = this.ex;
    if (ex === null || ex.integrationStart === 0) return -1;
    return (ex.integrationEnd === 0 ? this.endHr : ex.integrationEnd) - ex.integrationStart;
  }

  /** AWS `$context.error.message`: the gateway's own error message, or null. */
  get errorMessage(): string | null {
    const ex = this.ex;
    if (ex !== null) return ex.errorCode === null ? null : ERRORS[ex.errorCode].message;
    // Without a route the gateway answered by itself: 404/400 are its errors.
    return this.status >= 400 ? (STATUS_MESSAGES[this.status] ?? null) : null;
  }

  /** AWS `$context.authorizer.error`: why an authorizer refused or failed, or null. */
  get authorizerError(): string | null {
    const code = this.ex?.errorCode;
    return code === 'PORTICO_UNAUTHORIZED' ||
      code === 'PORTICO_FORBIDDEN' ||
      code === 'PORTICO_AUTHORIZER_ERROR'
      ? ERRORS[code].message
      : null;
  }
}

const STATUS_MESSAGES: Record<number, string> = {
  400: ERRORS.PORTICO_BAD_REQUEST.message,
  404: ERRORS.PORTICO_ROUTE_NOT_FOUND.message,
};
