/** `defineConfig`: an identity function that gives config written in TypeScript full types. */
import type { GatewayConfigInput } from './config/schema.ts';

export function defineConfig<const T extends GatewayConfigInput>(config: T): T {
  return config;
}
