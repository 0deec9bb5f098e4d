/**
 * Whether a config asks for any observability feature. Kept apart (no imports) so the
 * gateway can decide without loading pino, prom-client or the rest of this folder.
 */
import type { GatewayConfig } from '../config/schema.ts';

export function observabilityWanted(config: GatewayConfig): boolean {
  if (config.accessLog !== undefined || config.admin !== undefined || config.tracing) return true;
  for (const stage of Object.values(config.stages))
    if (stage.accessLog !== undefined && stage.accessLog !== false) return true;
  return false;
}
