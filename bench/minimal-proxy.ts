/**
 * The floor for the `http` route: the proxy a competent engineer writes in 30 lines.
 * node:http + one keep-alive undici Pool; Pool#stream writes the upstream response
 * straight into `res`; the request body is piped in; hop-by-hop headers are stripped.
 * Usage: node dist/bench/minimal-proxy.js UPSTREAM_ORIGIN [port]
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool, type Dispatcher } from 'undici';
import { announce } from './payloads.ts';

const HOP_BY_HOP = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
];
const pool = new Pool(process.argv[2]!, {
  connections: 128,
  pipelining: 1,
  keepAliveTimeout: 4_000,
});

function strip(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  for (const name of HOP_BY_HOP) delete headers[name];
  return headers;
}

const server = createServer((req, res) => {
  const headers = strip({ ...req.headers });
  delete headers.host;
  const hasBody =
    req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
  pool
    .stream(
      {
        method: req.method as Dispatcher.HttpMethod,
        path: req.url!,
        headers,
        body: hasBody ? req : null,
      },
      ({ statusCode, headers }) => {
        res.writeHead(statusCode, strip(headers as IncomingHttpHeaders));
        return res;
      },
    )
    .catch(() => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
});

server.listen(Number(process.argv[3] ?? 0), '127.0.0.1', () => {
  announce(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
