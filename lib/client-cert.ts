/**
 * The client certificate of an mTLS connection (see lib/tls.ts), in the shape AWS hands to
 * Lambda: payload 2.0 `requestContext.authentication.clientCert`, 1.0
 * `requestContext.identity.clientCert`.
 */
import type { X509Certificate } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';

/** AWS's `clientCert` object (payload 2.0 `requestContext.authentication`, 1.0 `identity`). */
export interface ClientCert {
  readonly clientCertPem: string;
  readonly subjectDN: string;
  readonly issuerDN: string;
  readonly serialNumber: string;
  readonly validity: { readonly notBefore: string; readonly notAfter: string };
}

const kClientCert = Symbol('portico.clientCert');
type CertSocket = TLSSocket & { [kClientCert]?: ClientCert | null };

/**
 * The verified client certificate of the request's connection, or null. Parsed once per
 * connection: keep-alive requests reuse it. An unverified certificate (accepted only when
 * requireClientCert is false) is never reported.
 */
export function clientCertOf(req: IncomingMessage): ClientCert | null {
  const socket = req.socket as CertSocket;
  // `authorized` is true only on a TLS socket whose peer certificate passed verification.
  if (socket.authorized !== true) return null;
  let cert = socket[kClientCert];
  if (cert === undefined) {
    const x509 = socket.getPeerX509Certificate();
    cert = x509 === undefined ? null : toClientCert(x509);
    socket[kClientCert] = cert;
  }
  return cert;
}

function toClientCert(x509: X509Certificate): ClientCert {
  return {
    clientCertPem: x509.toString(),
    // Node lists one RDN per line, in certificate order; AWS shows them comma-separated.
    subjectDN: x509.subject.split('\n').join(','),
    issuerDN: x509.issuer.split('\n').join(','),
    // Colon-separated hex byte pairs, as in AWS's examples.
    serialNumber: (x509.serialNumber.length % 2 === 1 ? `0${x509.serialNumber}` : x509.serialNumber)
      .toLowerCase()
      .replace(/(..)(?!$)/g, '$1:'),
    // Node's validFrom/validTo already read "May 28 12:30:02 2019 GMT", AWS's format.
    validity: { notBefore: x509.validFrom, notAfter: x509.validTo },
  };
}
