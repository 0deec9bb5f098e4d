/**
 * Content hashes (SHA-256, base64url) of watched files and handler modules. node:crypto is
 * imported on first use, not at start-up: loading it costs ~7 ms on Node 20, and a gateway
 * needs neither hash before it listens.
 */
import type * as NodeCrypto from 'node:crypto';

let crypto: typeof NodeCrypto | null = null;

export async function contentHash(bytes: Buffer | string): Promise<string> {
  crypto ??= await import('node:crypto');
  return crypto.createHash('sha256').update(bytes).digest('base64url');
}
