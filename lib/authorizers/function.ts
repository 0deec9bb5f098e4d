/** The `function` authorizer. (Being built.) */
import type { AuthorizerConfig } from '../config/schema.ts';
import { ConfigError } from '../errors.ts';
import type { Authorizer, AuthorizerDeps } from './authorizer.ts';

export async function loadFunctionAuthorizer(
  name: string,
  _cfg: Extract<AuthorizerConfig, { type: 'function' }>,
  _deps: AuthorizerDeps,
): Promise<Authorizer> {
  throw new ConfigError([{ path: `authorizers.${name}`, message: 'not implemented yet' }]);
}
