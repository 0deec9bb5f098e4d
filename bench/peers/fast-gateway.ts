/**
 * Peer: fast-gateway (restana + fast-proxy-lite), configured as its README shows:
 * one route forwarding every path to the upstream.
 * Usage: node dist/bench/peers/fast-gateway.js UPSTREAM_ORIGIN [port]
 */
import type { AddressInfo } from 'node:net';
import gateway from 'fast-gateway';
import { announce } from '../payloads.ts';

const server = gateway({ routes: [{ prefix: '', target: process.argv[2]! }] });
const httpServer = await server.start(Number(process.argv[3] ?? 0), '127.0.0.1');
announce(`http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`);
