/** The `function` integration: an in-process AWS Lambda-style handler. (Being built.) */
import { ConfigError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Integration } from '../pipeline/route.ts';

export interface FunctionIntegrationOptions {
  readonly name: string;
  /** `path/to/module.js#export`, as written in the config. */
  readonly handler: string;
  readonly payloadFormatVersion: '1.0' | '2.0';
  readonly timeoutMs: number;
  readonly maxBodyBytes: number;
  /** Folder the module path resolves against (the config file's). */
  readonly baseDir: string;
  readonly logger: Logger;
}

/** Loads the handler module; throws ConfigError (path `integrations.<name>.handler`) on failure. */
export async function loadFunctionIntegration(options: FunctionIntegrationOptions): Promise<Integration> {
  throw new ConfigError([{ path: `integrations.${options.name}.handler`, message: 'not implemented yet' }]);
}
