/**
 * The upstream every proxy forwards to: a plain node:http server.
 *   GET /small  ~100-byte JSON    GET /large  64 KiB    POST /echo  echoes the body (streamed)
 * Usage: node dist/bench/upstream.js [port]   (prints "listening on URL")
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LARGE_BODY, SMALL_BODY, announce } from './payloads.ts';

const small = Buffer.from(SMALL_BODY);
const smallHeaders = { 'content-type': 'application/json', 'content-length': small.length };
const largeHeaders = {
  'content-type': 'application/octet-stream',
  'content-length': LARGE_BODY.length,
};

const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  // Some proxies append an empty query ("/large?"): match on the path alone.
  const url = req.url!;
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  if (req.method === 'POST' && path === '/echo') {
    const length = req.headers['content-length'];
    res.writeHead(200, {
      'content-type': req.headers['content-type'] ?? 'application/octet-stream',
      ...(length !== undefined ? { 'content-length': length } : {}),
    });
    req.pipe(res);
    return;
  }
  if (path === '/large') {
    res.writeHead(200, largeHeaders);
    res.end(LARGE_BODY);
    return;
  }
  // /small and anything else: the small JSON body.
  res.writeHead(200, smallHeaders);
  res.end(small);
});

server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  announce(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
