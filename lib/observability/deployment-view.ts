/**
 * `/_portico/routes`: the live deployment as the admin listener shows it. Built from an
 * allow-list of config fields, so secrets never appear: no API key values or hashes, no
 * environment variable values, no JWT secrets or public keys, no stage variable values
 * (they may hold credentials), no handler source, and URLs without their userinfo.
 */
import type { GatewayConfig } from '../config/schema.ts';
import type { DeploymentSummary } from '../deployment.ts';

/** A URL without userinfo or query (either may carry a credential). */
function safeUrl(url: string): string {
  // `${stageVariables.x}` templates may not parse as URLs: edit the text.
  const q = url.indexOf('?');
  return (q < 0 ? url : url.slice(0, q)).replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1');
}

export function describeDeployment(summary: DeploymentSummary, config: GatewayConfig): object {
  const integrations: Record<string, object> = {};
  for (const [name, i] of Object.entries(config.integrations)) {
    if (i.type === 'http')
      integrations[name] = { type: 'http', url: safeUrl(i.url), timeoutMs: i.timeoutMs };
    else if (i.type === 'function')
      integrations[name] = {
        type: 'function',
        handler: i.handler,
        payloadFormatVersion: i.payloadFormatVersion,
        timeoutMs: i.timeoutMs,
      };
    else integrations[name] = { type: 'mock', statusCode: i.statusCode };
  }
  const authorizers: Record<string, object> = {};
  for (const [name, a] of Object.entries(config.authorizers)) {
    authorizers[name] =
      a.type === 'jwt'
        ? {
            type: 'jwt',
            issuer: a.issuer,
            audience: a.audience,
            identitySource: a.identitySource,
            keys:
              a.jwksUri !== undefined ? 'jwksUri' : a.secret !== undefined ? 'secret' : 'publicKey',
          }
        : { type: 'function', handler: a.handler, identitySource: a.identitySource };
  }
  return {
    id: summary.id,
    createdAt: summary.createdAt,
    stages: Object.entries(config.stages).map(([name, s]) => ({
      name,
      path: name === '$default' ? '/' : `/${name}/`,
      variables: Object.keys(s.variables ?? {}),
    })),
    routes: summary.routes.map((r) => {
      const route = config.routes[r.routeKey];
      return {
        stage: r.stage,
        routeKey: r.routeKey,
        integration: r.integration,
        type: r.type,
        target: safeUrl(r.target),
        authorizer: route?.authorizer ?? null,
        apiKeyRequired: route?.apiKeyRequired ?? false,
      };
    }),
    integrations,
    authorizers,
    apiKeys: Object.keys(config.apiKeys),
    usagePlans: Object.keys(config.usagePlans),
  };
}
