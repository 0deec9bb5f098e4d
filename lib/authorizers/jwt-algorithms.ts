/**
 * The JWS algorithms a JWT authorizer may allow (never `none`). Its own module so the config
 * schema and the authorizer share one list without the authorizer loading zod.
 */
export const ASYMMETRIC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
] as const;

export const HMAC_ALGORITHMS = ['HS256', 'HS384', 'HS512'] as const;

export const JWT_ALGORITHMS = [...ASYMMETRIC_ALGORITHMS, ...HMAC_ALGORITHMS] as const;
