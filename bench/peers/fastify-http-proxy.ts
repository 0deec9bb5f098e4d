/**
 * Peer: fastify + @fastify/http-proxy (undici through @fastify/reply-from), defaults,
 * logger off: every path forwarded to the upstream. With a LOG_FILE, fastify's own request
 * logging is on instead (pino, its default two lines per request), written asynchronously to
 * that file: the reference for what an access log costs in a peer.
 * Usage: node dist/bench/peers/fastify-http-proxy.js UPSTREAM_ORIGIN [LOG_FILE]
 */
import fastify, { type FastifyBaseLogger } from 'fastify';
import proxy from '@fastify/http-proxy';
import { pino } from 'pino';
import { announce } from '../payloads.ts';

const logFile = process.argv[3];
// fastify's logger is off by default.
const loggerInstance: FastifyBaseLogger | undefined =
  logFile === undefined ? undefined : pino(pino.destination({ dest: logFile, sync: false }));
const app = fastify(loggerInstance === undefined ? {} : { loggerInstance });
await app.register(proxy, { upstream: process.argv[2]!, prefix: '/' });
const url = await app.listen({ port: 0, host: '127.0.0.1' });
announce(url);
