/** The `jwt` authorizer. (Being built.) */
import type { AuthorizerConfig } from '../config/schema.ts';
import { ConfigError } from '../errors.ts';
import type { Authorizer, AuthorizerDeps } from './authorizer.ts';

export async function createJwtAuthorizer(
  name: string,
  _cfg: Extract<AuthorizerConfig, { type: 'jwt' }>,
  _deps: AuthorizerDeps,
): Promise<Authorizer> {
  throw new ConfigError([{ path: `authorizers.${name}`, message: 'not implemented yet' }]);
}
