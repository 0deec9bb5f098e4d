/**
 * Who the client is, and what the gateway tells upstreams about it (X-Forwarded-*). The only
 * place the client address is read: per-IP throttling, `sourceIp` in Lambda events and
 * `$context.identity.sourceIp`, and the X-Forwarded-For sent upstream all agree. With
 * `trustProxy`, a trusted peer's X-Forwarded-For chain names the client (lib/trust-proxy.ts);
 * otherwise what the client sent is replaced, never appended to.
 */
import type { Exchange } from './exchange.ts';
import { clientAddress, normalizeIp } from './trust-proxy.ts';

/** The client address (IPv4 clients of a dual-stack listener without `::ffff:`). */
export function clientIp(ex: Exchange): string {
  let ip = ex.clientIp;
  if (ip === null) {
    const trust = ex.stage.trustProxy;
    // Without trustProxy the header is never used: not reading it spares Node building
    // req.headers (it is made on first access) for routes that need nothing else from it.
    const xff = trust === null ? undefined : ex.req.headers['x-forwarded-for'];
    ip = ex.clientIp = clientAddress(
      ex.req.socket.remoteAddress ?? '',
      typeof xff === 'string' ? xff : undefined,
      trust,
    );
  }
  return ip;
}

/** Whether the connection's peer is a trusted proxy, whose X-Forwarded-* are kept. */
function peerTrusted(ex: Exchange): boolean {
  const trust = ex.stage.trustProxy;
  return trust !== null && trust.trusts(normalizeIp(ex.req.socket.remoteAddress ?? ''));
}

/**
 * X-Forwarded-For, -Proto and -Host for the upstream request, flat [name, value, ...].
 * From an untrusted peer they describe the connection; from a trusted one the chain it sent
 * is extended with its address, and its -Proto and -Host are kept.
 */
export function forwardedHeaders(ex: Exchange, out: string[]): void {
  const req = ex.req;
  const headers = req.headers;
  const peer = normalizeIp(req.socket.remoteAddress ?? '');
  const scheme = (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
  if (peerTrusted(ex)) {
    const xff = headers['x-forwarded-for'];
    const proto = headers['x-forwarded-proto'];
    const host = headers['x-forwarded-host'] ?? headers.host;
    out.push(
      'x-forwarded-for',
      typeof xff === 'string' && xff !== '' ? `${xff}, ${peer}` : peer,
      'x-forwarded-proto',
      typeof proto === 'string' && proto !== '' ? proto : scheme,
    );
    if (typeof host === 'string') out.push('x-forwarded-host', host);
    return;
  }
  out.push('x-forwarded-for', peer, 'x-forwarded-proto', scheme);
  if (headers.host !== undefined) out.push('x-forwarded-host', headers.host);
}
