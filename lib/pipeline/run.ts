/** Drives one exchange through its route's compiled chain. Hot path. */
import { sendExchangeError, toGatewayError } from '../error-response.ts';
import type { Exchange } from '../exchange.ts';

export function runRoute(ex: Exchange): void {
  const route = ex.route;
  if (route.filters === null) {
    invoke(ex);
    return;
  }
  runFilters(ex).catch((err: unknown) => fail(ex, err));
}

async function runFilters(ex: Exchange): Promise<void> {
  const filters = ex.route.filters!;
  for (let i = 0; i < filters.length; i++) {
    const r = filters[i]!.run(ex);
    if (r !== undefined) await r;
    if (ex.res.headersSent || ex.res.writableEnded) return;
  }
  invoke(ex);
}

function invoke(ex: Exchange): void {
  try {
    const r = ex.route.integration.handle(ex);
    // Integrations report their own failures; this only guards against a broken contract.
    if (r !== undefined) r.catch((err: unknown) => fail(ex, err));
  } catch (err) {
    fail(ex, err);
  }
}

function fail(ex: Exchange, err: unknown): void {
  sendExchangeError(ex, toGatewayError(err).code);
}
