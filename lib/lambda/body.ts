/**
 * Reads a whole request body for an in-process function (a Lambda event carries the body
 * as one string), up to the gateway's limit, and decides whether it travels as UTF-8 text
 * or base64.
 */
import type { IncomingMessage } from 'node:http';
import { sendExchangeError } from '../error-response.ts';
import type { Exchange } from '../exchange.ts';

/** Receives the body once it is complete: null when the request has none. */
export interface BodySink {
  bodyRead(ex: Exchange, body: Buffer | null): void;
}

/**
 * Over the limit: 413 at once and stop reading (connection: close, so the unread rest
 * never reaches the next request). A declared Content-Length is checked before any read.
 */
export function readBody(ex: Exchange, maxBytes: number, sink: BodySink): void {
  const req = ex.req;
  const declared = req.headers['content-length'];
  if (declared !== undefined) {
    // Node's parser has already refused a malformed or duplicated Content-Length.
    const length = Number(declared);
    if (length > maxBytes) {
      tooLarge(ex);
      return;
    }
    if (length === 0) {
      sink.bodyRead(ex, null);
      return;
    }
  } else if (req.headers['transfer-encoding'] === undefined) {
    sink.bodyRead(ex, null);
    return;
  }
  const reader = new BodyReader(ex, maxBytes, sink);
  (req as RequestWithReader)[kReader] = reader;
  req.on('data', onData);
  req.on('end', onEnd);
  req.on('error', onAbort);
  req.on('close', onAbort);
}

const CONNECTION_CLOSE: readonly string[] = Object.freeze(['connection', 'close']);

function tooLarge(ex: Exchange): void {
  sendExchangeError(ex, 'PORTICO_BODY_TOO_LARGE', CONNECTION_CLOSE);
}

const kReader = Symbol('portico.bodyReader');
type RequestWithReader = IncomingMessage & { [kReader]?: BodyReader | undefined };

class BodyReader {
  readonly ex: Exchange;
  readonly max: number;
  readonly sink: BodySink;
  chunks: Buffer[] = [];
  length = 0;
  done = false;

  constructor(ex: Exchange, max: number, sink: BodySink) {
    this.ex = ex;
    this.max = max;
    this.sink = sink;
  }
}

// Listeners are module-level and find their state through `this` (the request), so
// reading a body allocates no closures.
function onData(this: RequestWithReader, chunk: Buffer): void {
  const r = this[kReader]!;
  if (r.done) return;
  r.length += chunk.length;
  if (r.length > r.max) {
    finish(this, r);
    this.pause();
    tooLarge(r.ex);
    return;
  }
  r.chunks.push(chunk);
}

function onEnd(this: RequestWithReader): void {
  const r = this[kReader]!;
  if (r.done) return;
  const { chunks } = r;
  finish(this, r);
  const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, r.length);
  r.sink.bodyRead(r.ex, body.length === 0 ? null : body);
}

/** The client went away (or the stream failed) before the body was complete: nobody to answer. */
function onAbort(this: RequestWithReader): void {
  const r = this[kReader];
  if (r !== undefined && !r.done) finish(this, r);
}

function finish(req: RequestWithReader, r: BodyReader): void {
  r.done = true;
  r.chunks = [];
  req.off('data', onData);
  req.off('end', onEnd);
  req.off('close', onAbort);
  // The 'error' listener stays: without one, a late socket error would be thrown.
  req[kReader] = undefined;
}

/**
 * AWS HTTP APIs pass a body as text only for these media types; everything else (a missing
 * Content-Type and application/x-www-form-urlencoded included) arrives base64-encoded with
 * isBase64Encoded: true. AWS does not document the list; this is the split observed on live
 * AWS (ministackorg/ministack#766). `+json`/`+xml` suffix types are not in it, so they are
 * base64 too; well-behaved handlers decode whenever isBase64Encoded is set.
 */
export function isTextContentType(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const semi = contentType.indexOf(';');
  const type = (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  return (
    type.startsWith('text/') ||
    type === 'application/json' ||
    type === 'application/xml' ||
    type === 'application/javascript'
  );
}
