/**
 * Peer: fastify + @fastify/http-proxy (undici through @fastify/reply-from), defaults,
 * logger off: every path forwarded to the upstream.
 * Usage: node dist/bench/peers/fastify-http-proxy.js UPSTREAM_ORIGIN [port]
 */
import fastify from 'fastify';
import proxy from '@fastify/http-proxy';
import { announce } from '../payloads.ts';

const app = fastify({ logger: false });
await app.register(proxy, { upstream: process.argv[2]!, prefix: '/' });
const url = await app.listen({ port: Number(process.argv[3] ?? 0), host: '127.0.0.1' });
announce(url);
