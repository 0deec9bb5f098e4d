/**
 * HTTPS for the listener, from the config's `tls` key: certificate files read at listen and
 * again at each deploy, where a changed pair is swapped into the live server with
 * setSecureContext (open connections keep the context they were made with, so none drop).
 */
import { readFile } from 'node:fs/promises';
import type { RequestListener, ServerOptions as HttpServerOptions } from 'node:http';
import { createServer, type Server } from 'node:https';
import { resolve } from 'node:path';
import type { Socket } from 'node:net';
import { createSecureContext } from 'node:tls';
import type { GatewayConfig } from './config/schema.ts';
import { ConfigError, type ConfigIssue } from './errors.ts';
import type { Logger } from './log.ts';

export type TlsConfig = NonNullable<GatewayConfig['tls']>;

/** The files' contents, checked to form a usable pair; plus the mTLS mode. */
export interface TlsMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca: Buffer | undefined;
  readonly requestCert: boolean;
  readonly rejectUnauthorized: boolean;
}

/** Reads and checks the files; a missing file or a key that does not match is a ConfigError. */
export async function readTls(config: TlsConfig, baseDir: string): Promise<TlsMaterial> {
  const issues: ConfigIssue[] = [];
  const read = async (field: 'cert' | 'key' | 'clientCa'): Promise<Buffer | undefined> => {
    const file = config[field];
    if (file === undefined) return undefined;
    try {
      return await readFile(resolve(baseDir, file));
    } catch (err) {
      issues.push({
        path: `tls.${field}`,
        message: `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      });
      return undefined;
    }
  };
  const [cert, key, ca] = await Promise.all([read('cert'), read('key'), read('clientCa')]);
  if (issues.length > 0) throw new ConfigError(issues);
  try {
    // Fails here, at deploy, rather than later in setSecureContext on the live server.
    createSecureContext({ cert, key, ca });
  } catch (err) {
    throw new ConfigError([{ path: 'tls', message: (err as Error).message }]);
  }
  const mutual = ca !== undefined;
  return {
    cert: cert!,
    key: key!,
    ca,
    requestCert: mutual,
    rejectUnauthorized: mutual && config.requireClientCert,
  };
}

/** A createServer for HTTPS with these certificates: takes the same options as node:http's. */
export function tlsServer(
  material: TlsMaterial,
): (options: HttpServerOptions, handler: RequestListener) => Server {
  return (options, handler) => {
    const server = createServer({ ...options, ...material }, handler);
    // A failed handshake (no or untrusted client certificate, plain HTTP on the TLS port)
    // concerns only that connection.
    server.on('tlsClientError', destroySocket);
    return server;
  };
}

function destroySocket(_err: Error, socket: Socket): void {
  socket.destroy();
}

/**
 * Applies a deploy's certificates to a live HTTPS server. The mTLS mode is fixed when the
 * server is created, and so is HTTPS itself: changing either needs a restart, which is logged.
 */
export function applyTls(
  server: Server,
  current: TlsMaterial,
  next: TlsMaterial | null,
  logger: Logger,
): TlsMaterial {
  if (next === null) {
    logger.warn({}, 'tls was removed from the config; the listener stays HTTPS until a restart');
    return current;
  }
  if (
    next.requestCert !== current.requestCert ||
    next.rejectUnauthorized !== current.rejectUnauthorized
  ) {
    logger.warn({}, 'tls client certificate mode changed; it applies after a restart');
  }
  server.setSecureContext({ cert: next.cert, key: next.key, ca: next.ca });
  return next;
}
