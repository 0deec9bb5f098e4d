/**
 * Test upstreams on 127.0.0.1 (port 0): a recording HTTP server, a bare node:http server
 * for tests that script their own responses, a raw TCP server for exact bytes (and
 * misbehaviour Node's HTTP server would refuse), and a port nothing listens on.
 * Each is closed at `t.teardown`, dropping any connection still open.
 */
import { once } from 'node:events';
import {
  createServer as createHttpServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server as HttpServer,
  type ServerResponse,
} from 'node:http';
import {
  createServer as createNetServer,
  type AddressInfo,
  type Server,
  type Socket,
} from 'node:net';

export interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface RecordedRequest {
  readonly method: string;
  /** Path and query exactly as received (the request target). */
  readonly url: string;
  /** Header lines as received: [name, value, ...], original case and order. */
  readonly rawHeaders: readonly string[];
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  /** The client port of the connection: equal for requests that shared a connection. */
  readonly remotePort: number;
}

export interface Upstream {
  /** `http://127.0.0.1:port`, for integration URLs. */
  readonly origin: string;
  readonly port: number;
  /** TCP connections accepted so far. */
  readonly connections: number;
  close(): Promise<void>;
}

export interface RecordingUpstream extends Upstream {
  /** Requests whose body arrived completely, in arrival order. */
  readonly requests: readonly RecordedRequest[];
  /** Resolves with the next request to complete (or the one already waiting). */
  next(): Promise<RecordedRequest>;
}

/**
 * Answers a recorded request. The default replies 200 with the recorded request as JSON
 * (`method`, `url`, `headers`, `bodyLength`).
 */
export type Responder = (
  req: IncomingMessage,
  res: ServerResponse,
  recorded: RecordedRequest,
) => void;

const echoRequest: Responder = (_req, res, recorded) => {
  const body = JSON.stringify({
    method: recorded.method,
    url: recorded.url,
    headers: recorded.headers,
    bodyLength: recorded.body.length,
  });
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
};

/** A node:http upstream that records every request (method, target, raw headers, body bytes). */
export async function startRecordingUpstream(
  t: Teardown,
  respond: Responder = echoRequest,
): Promise<RecordingUpstream> {
  const requests: RecordedRequest[] = [];
  const waiting: Array<(r: RecordedRequest) => void> = [];
  let delivered = 0;
  const upstream = await startHttpUpstream(t, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const recorded: RecordedRequest = {
        method: req.method!,
        url: req.url!,
        rawHeaders: req.rawHeaders,
        headers: req.headers,
        body: Buffer.concat(chunks),
        remotePort: req.socket.remotePort!,
      };
      requests.push(recorded);
      const waiter = waiting.shift();
      if (waiter !== undefined) {
        delivered++;
        waiter(recorded);
      }
      respond(req, res, recorded);
    });
  });
  return {
    get origin() {
      return upstream.origin;
    },
    get port() {
      return upstream.port;
    },
    get connections() {
      return upstream.connections;
    },
    close: () => upstream.close(),
    requests,
    next() {
      if (delivered < requests.length) return Promise.resolve(requests[delivered++]!);
      return new Promise((resolve) => waiting.push(resolve));
    },
  };
}

/** A node:http upstream with a handler the test writes: for scripted, streamed replies. */
export async function startHttpUpstream(
  t: Teardown,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  port = 0,
): Promise<Upstream & { readonly server: HttpServer }> {
  const server = createHttpServer({ keepAliveTimeout: 30_000 }, handler);
  let connections = 0;
  server.on('connection', () => connections++);
  await listen(server, port);
  const close = async (): Promise<void> => {
    if (!server.listening) return;
    const closed = once(server, 'close');
    server.close();
    server.closeAllConnections();
    await closed;
  };
  t.teardown(close);
  const bound = (server.address() as AddressInfo).port;
  return {
    server,
    origin: `http://127.0.0.1:${bound}`,
    port: bound,
    get connections() {
      return connections;
    },
    close,
  };
}

/**
 * A raw TCP upstream: `onSocket` gets each connection and writes exact bytes, for responses
 * Node's HTTP server would normalise (hop-by-hop headers) or misbehaviour (resets).
 */
export async function startRawUpstream(
  t: Teardown,
  onSocket: (socket: Socket) => void,
): Promise<Upstream> {
  const sockets = new Set<Socket>();
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    // A reset mid-write surfaces here; the test observes it from the client side.
    socket.on('error', () => {});
    onSocket(socket);
  });
  let connections = 0;
  server.on('connection', () => connections++);
  await listen(server);
  const close = async (): Promise<void> => {
    if (!server.listening) return;
    const closed = once(server, 'close');
    server.close();
    for (const s of sockets) s.destroy();
    await closed;
  };
  t.teardown(close);
  const port = (server.address() as AddressInfo).port;
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    get connections() {
      return connections;
    },
    close,
  };
}

/**
 * Reads one request head (through the blank line) from a raw socket. Returns the head as
 * text; bytes after it stay in the socket for the caller.
 */
export async function readRequestHead(socket: Socket): Promise<string> {
  let head = Buffer.alloc(0);
  for (;;) {
    const chunk = socket.read() as Buffer | null;
    if (chunk === null) {
      if (socket.readableEnded || socket.destroyed)
        throw new Error('socket ended before a request head');
      await once(socket, 'readable');
      continue;
    }
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end >= 0) {
      if (end + 4 < head.length) socket.unshift(head.subarray(end + 4));
      return head.subarray(0, end).toString('latin1');
    }
    if (head.length > 64 * 1024) throw new Error('request head over 64 KB');
  }
}

/** A port on 127.0.0.1 that nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createNetServer();
  await listen(server);
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function listen(server: Server | HttpServer, port = 0): Promise<void> {
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
}
