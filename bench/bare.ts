/**
 * The floor for in-process routes (mock, function): a bare node:http server answering
 * every request with the same ~100-byte JSON, started the same way as the CLI.
 * Usage: node dist/bench/bare.js [port]
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMALL_BODY, announce } from './payloads.ts';

const body = Buffer.from(SMALL_BODY);
const headers = { 'content-type': 'application/json', 'content-length': body.length };

const server = createServer((_req, res) => {
  res.writeHead(200, headers);
  res.end(body);
});

server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  announce(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
