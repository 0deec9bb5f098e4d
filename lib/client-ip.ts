/**
 * The client address used for per-client throttling (`throttle.by: ip`). The only place it
 * is read, so trusting a proxy's X-Forwarded-For (issue #7) changes this function alone.
 */
import type { Exchange } from './exchange.ts';

export function clientIp(ex: Exchange): string {
  return ex.req.socket.remoteAddress ?? '';
}
