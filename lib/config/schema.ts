/**
 * The configuration schema (zod): the single source for validation, TypeScript
 * types (`GatewayConfig`) and the JSON Schema shipped for editors.
 * Later features add top-level keys (authorizers, cors, throttle, apiKeys, usagePlans)
 * and per-route options next to `integration`.
 */
import { z } from 'zod';
import { parseRouteKey } from '../route-key.ts';
import { JWT_ALGORITHMS } from '../authorizers/jwt-algorithms.ts';
import { parseCidr } from '../trust-proxy.ts';
import { unknownVariables } from '../observability/log-format.ts';

const StageName = z
  .string()
  .regex(
    /^(\$default|[A-Za-z0-9_-]{1,128})$/,
    'a stage name is "$default" or 1-128 of A-Z a-z 0-9 _ -',
  );

const rateLimit = z
  .number()
  .min(0)
  .max(1_000_000)
  .describe('Steady requests per second; fractions allowed (0.5 = one request every 2 s).');
const burstLimit = z
  .number()
  .int()
  .min(0)
  .max(1_000_000)
  .describe('Bucket size: how many requests may arrive at once. 0 blocks every request.');

export const ThrottleSchema = z
  .strictObject({
    rateLimit,
    burstLimit,
    by: z
      .union([
        z.enum(['route', 'ip', 'apiKey']),
        z.string().regex(/^claim:[^\s]{1,128}$/, 'expected route, ip, apiKey or claim:NAME'),
      ])
      .default('route')
      .describe(
        'route: one bucket per route (AWS); ip, apiKey or claim:NAME: one bucket per client of the route.',
      ),
  })
  .describe('A token bucket (AWS throttling): rateLimit refills it, burstLimit is its size.');

const PlanThrottle = z.strictObject({ rateLimit, burstLimit });

const Quota = z
  .strictObject({
    limit: z.number().int().min(0).describe('Requests per period, per API key.'),
    period: z.enum(['DAY', 'WEEK', 'MONTH']),
    offset: z
      .number()
      .int()
      .min(0)
      .max(27)
      .default(0)
      .describe('The day a period starts: WEEK 0 = Sunday … 6; MONTH 0 = the 1st … 27; DAY 0.'),
  })
  .describe('Requests per UTC day, week or month (AWS usage-plan quota).');

const ApiKeyName = z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/);

const ApiKeySchema = z
  .strictObject({
    value: z
      .string()
      .regex(/^[\x21-\x7e]{20,128}$/, 'an API key is 20-128 visible ASCII characters')
      .optional()
      .describe('The key itself (prefer sha256 or env outside development).'),
    sha256: z
      .string()
      .regex(/^[0-9A-Fa-f]{64}$/, 'expected 64 hex digits')
      .optional()
      .describe('Hex SHA-256 of the key: the config never holds the key.'),
    env: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name')
      .optional()
      .describe('Environment variable holding the key, read at each deploy.'),
    enabled: z.boolean().default(true),
    description: z.string().optional(),
  })
  .describe('An API key: exactly one of value, sha256, env.');

const UsagePlan = z
  .strictObject({
    description: z.string().optional(),
    stages: z
      .array(StageName)
      .min(1)
      .optional()
      .describe('Stages the plan applies to; default: every stage.'),
    apiKeys: z.array(ApiKeyName).default([]).describe('Names of entries in `apiKeys`.'),
    throttle: PlanThrottle.optional().describe("Per API key, across the plan's stages."),
    quota: Quota.optional(),
    routes: z
      .record(z.string(), z.strictObject({ throttle: PlanThrottle }))
      .optional()
      .describe('Per-route throttles (by route key) that replace the plan throttle there.'),
  })
  .describe('AWS usage plan: per-key throttle and quota on routes with apiKeyRequired.');

const maxConcurrency = z
  .number()
  .int()
  .min(1)
  .max(100_000)
  .optional()
  .describe('Requests in flight to this integration at once, across its routes and stages.');
const maxQueue = z
  .number()
  .int()
  .min(0)
  .max(100_000)
  .optional()
  .describe('Requests that may wait for a slot (default 0); beyond it the client gets 503.');

const AccessLogFormat = z
  .string()
  .min(1)
  .superRefine((format, ctx) => {
    const unknown = unknownVariables(format);
    if (unknown.length > 0)
      ctx.addIssue({ code: 'custom', message: `unknown variable ${unknown.join(', ')}` });
  })
  .describe(
    'AWS-style template with $context.x variables, or a preset: clf, json, xml, csv. Absent: structured JSON.',
  );

const AccessLog = z
  .strictObject({
    enabled: z
      .boolean()
      .default(true)
      .describe('false: no access logs unless a stage turns them on.'),
    format: AccessLogFormat.optional(),
    destination: z
      .string()
      .min(1)
      .default('stdout')
      .describe('stdout, stderr, or a file path (appended). Gateway events go there too.'),
  })
  .describe('One line per request (AWS stage access logging).');

const Admin = z
  .strictObject({
    port: z.number().int().min(0).max(65535),
    host: z.string().min(1).default('127.0.0.1'),
  })
  .describe('The admin listener: /metrics, /healthz, /readyz, /_portico/routes and the live view.');

const Stage = z
  .strictObject({
    description: z.string().optional(),
    variables: z
      .record(
        z.string().regex(/^[A-Za-z0-9_]{1,64}$/, 'a stage variable name is 1-64 of A-Z a-z 0-9 _'),
        z.string().max(512),
      )
      .optional()
      .describe('Stage variables, usable as ${stageVariables.name} in integration URLs.'),
    throttle: z
      .union([z.literal(false), ThrottleSchema])
      .optional()
      .describe('Default throttle for each route of the stage; false turns the top level off.'),
    accessLog: z
      .union([z.boolean(), z.strictObject({ format: AccessLogFormat.optional() })])
      .optional()
      .describe(
        "false: no access logs for this stage; true or a block: on (a block's format wins).",
      ),
  })
  .describe('A stage: $default is served at /, a named stage at /{name}/...');

const timeoutMs = z.number().int().min(50).max(3_600_000);

const HttpIntegration = z
  .strictObject({
    type: z.literal('http'),
    url: z
      .string()
      .min(1)
      .describe(
        'Upstream URL template: http(s)://host[:port]/path with {param}, {proxy} and ${stageVariables.x}.',
      ),
    timeoutMs: timeoutMs
      .default(30_000)
      .describe('Time to the upstream response; over it the client gets 503 (as AWS HTTP API).'),
    bodyTimeoutMs: timeoutMs
      .optional()
      .describe(
        'Longest wait for the next response body chunk once headers arrived (default: timeoutMs); over it the client connection is cut.',
      ),
    connections: z
      .number()
      .int()
      .min(1)
      .max(4096)
      .default(128)
      .describe('Keep-alive connections per upstream origin.'),
    maxResponseHeaderBytes: z
      .number()
      .int()
      .min(1024)
      .max(1024 * 1024)
      .default(16 * 1024)
      .describe(
        'Largest upstream response head (status line + headers); over it the client gets 502.',
      ),
    retries: z
      .strictObject({
        attempts: z
          .number()
          .int()
          .min(0)
          .max(5)
          .default(0)
          .describe(
            'Extra attempts after a failed connect (GET, HEAD, OPTIONS, PUT, DELETE only).',
          ),
        backoffMs: z
          .number()
          .int()
          .min(0)
          .max(10_000)
          .default(50)
          .describe('Wait before each retry, doubled each time.'),
      })
      .optional()
      .describe('Retries on connect failures only: refused, unreachable or timed out.'),
    maxConcurrency,
    maxQueue,
  })
  .describe('Proxy to an HTTP upstream, streaming both ways.');

const FunctionIntegration = z
  .strictObject({
    type: z.literal('function'),
    handler: z
      .string()
      .regex(/^[^#]+#[A-Za-z_$][\w$.]*$/, 'expected "path/to/module.js#exportName"')
      .describe('Module and export of an AWS Lambda-style handler, relative to the config file.'),
    payloadFormatVersion: z.enum(['1.0', '2.0']).default('2.0'),
    timeoutMs: timeoutMs.default(30_000),
    maxConcurrency,
    maxQueue,
  })
  .describe('Call an in-process handler with an AWS Lambda proxy event.');

const MockIntegration = z
  .strictObject({
    type: z.literal('mock'),
    statusCode: z.number().int().min(200).max(599).default(200),
    headers: z.record(z.string(), z.string()).optional(),
    body: z
      .union([z.string(), z.record(z.string(), z.unknown()), z.array(z.unknown())])
      .default('')
      .describe('A string is sent as is; an object or array is sent as JSON.'),
  })
  .describe('A static response.');

export const IntegrationSchema = z.discriminatedUnion('type', [
  HttpIntegration,
  FunctionIntegration,
  MockIntegration,
]);

/**
 * Where an authorizer reads the caller's identity, in AWS's selection-expression syntax.
 * `$request.cookie.name` is Portico's addition.
 */
export const IdentitySource = z
  .string()
  .regex(
    /^\$(request\.(header|querystring|cookie)\.[A-Za-z0-9_.~!#$%&'*+^`|-]+|context\.(routeKey|stage|httpMethod|path|requestId|identity\.sourceIp|identity\.userAgent)|stageVariables\.[A-Za-z0-9_]+)$/,
    'expected $request.header.NAME, $request.querystring.NAME, $request.cookie.NAME, $stageVariables.NAME, or $context. followed by routeKey, stage, httpMethod, path, requestId, identity.sourceIp or identity.userAgent',
  );

const HeaderName = z
  .string()
  .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'expected an HTTP header name');

const JwtAuthorizer = z
  .strictObject({
    type: z.literal('jwt'),
    issuer: z
      .url()
      .describe(
        "Must equal the token's `iss`; OIDC discovery uses {issuer}/.well-known/openid-configuration.",
      ),
    audience: z
      .array(z.string().min(1))
      .min(1)
      .max(50)
      .describe("The token's `aud` or `client_id` must be one of these."),
    identitySource: IdentitySource.default('$request.header.Authorization'),
    jwksUri: z
      .url()
      .optional()
      .describe(
        'Key set URL; without it (and without secret/publicKey) keys come from OIDC discovery.',
      ),
    secret: z.string().min(32).optional().describe('HMAC secret for HS256/384/512 (development).'),
    publicKey: z
      .string()
      .min(1)
      .optional()
      .describe('A PEM (SPKI) public key or a JWK as JSON (development).'),
    algorithms: z
      .array(z.enum(JWT_ALGORITHMS))
      .min(1)
      .optional()
      .describe('Allowed `alg` values; `none` is never allowed.'),
    clockToleranceSeconds: z.number().int().min(0).max(300).default(0),
    fetchTimeoutMs: z
      .number()
      .int()
      .min(100)
      .max(30_000)
      .default(1_500)
      .describe('Discovery and key-set fetch timeout (AWS: 1500 ms).'),
    claimsToHeaders: z
      .record(z.string().min(1), HeaderName)
      .optional()
      .describe('Claims sent to HTTP integrations as headers, e.g. { sub: x-user-id }.'),
  })
  .describe('Verifies a JWT (AWS HTTP API JWT authorizer).');

const FunctionAuthorizer = z
  .strictObject({
    type: z.literal('function'),
    handler: z
      .string()
      .regex(/^[^#]+#[A-Za-z_$][\w$.]*$/, 'expected "path/to/module.js#exportName"'),
    payloadFormatVersion: z.enum(['1.0', '2.0']).default('2.0'),
    enableSimpleResponses: z
      .boolean()
      .default(false)
      .describe('Payload 2.0 only: the handler returns {isAuthorized, context}.'),
    identitySource: z
      .array(IdentitySource)
      .default([])
      .describe('If any is missing the request gets 401 without calling the handler.'),
    resultTtlInSeconds: z
      .number()
      .int()
      .min(0)
      .max(3600)
      .default(0)
      .describe('Cache results keyed by the identity-source values.'),
    timeoutMs: z.number().int().min(50).max(30_000).default(10_000),
    contextToHeaders: z
      .record(z.string().min(1), HeaderName)
      .optional()
      .describe('Context keys sent to HTTP integrations as headers.'),
  })
  .describe('An in-process AWS Lambda authorizer.');

export const AuthorizerSchema = z.discriminatedUnion('type', [JwtAuthorizer, FunctionAuthorizer]);

export const CorsSchema = z
  .strictObject({
    allowOrigins: z
      .array(z.string().min(1))
      .default([])
      .describe('Exact origins, "*", or wildcard subdomains like https://*.example.com.'),
    allowMethods: z.array(z.string().min(1)).default([]),
    allowHeaders: z.array(z.string().min(1)).default([]),
    exposeHeaders: z.array(z.string().min(1)).default([]),
    maxAge: z.number().int().min(0).max(86_400).optional(),
    allowCredentials: z.boolean().default(false),
  })
  .describe('CORS as AWS HTTP API: preflights are answered by the gateway, before authorizers.');

const Route = z.strictObject({
  integration: z.string().min(1).describe('Name of an entry in `integrations`.'),
  authorizer: z.string().min(1).optional().describe('Name of an entry in `authorizers`.'),
  authorizationScopes: z
    .array(z.string().min(1))
    .max(10)
    .optional()
    .describe("JWT: at least one must be in the token's scope/scp."),
  cors: z
    .union([z.literal(false), CorsSchema])
    .optional()
    .describe('false turns CORS off for this route; a block replaces the top-level one.'),
  throttle: z
    .union([z.literal(false), ThrottleSchema])
    .optional()
    .describe('Replaces the stage and top-level throttle for this route; false turns it off.'),
  apiKeyRequired: z
    .boolean()
    .default(false)
    .describe('Requires a key from `apiKeys` (403 otherwise); usage plans apply to such routes.'),
});

const Limits = z.strictObject({
  maxBodyBytes: z
    .number()
    .int()
    .min(0)
    .default(10 * 1024 * 1024)
    .describe('Largest request body; over it the client gets 413 (AWS: 10 MB).'),
  maxHeaderBytes: z
    .number()
    .int()
    .min(1024)
    .max(1024 * 1024)
    .default(10 * 1024)
    .describe('Request line plus headers, in bytes; over it the client gets 431 (AWS: 10 KB).'),
  maxUrlLength: z
    .number()
    .int()
    .min(16)
    .max(1024 * 1024)
    .default(8192)
    .describe('Longest request target (path and query); over it the client gets 414.'),
  headersTimeoutMs: z
    .number()
    .int()
    .min(1)
    .default(10_000)
    .describe('Time a client has to send the request line and headers (slowloris); then 408.'),
  requestTimeoutMs: z
    .number()
    .int()
    .min(1)
    .default(60_000)
    .describe('Time a client has to send the whole request, body included; then 408.'),
  keepAliveTimeoutMs: z
    .number()
    .int()
    .min(1)
    .default(5_000)
    .describe('How long an idle keep-alive connection stays open.'),
  maxConnections: z
    .number()
    .int()
    .min(1)
    .default(10_000)
    .describe('Client connections open at once; further ones are closed on accept.'),
});

const Tls = z
  .strictObject({
    cert: z.string().min(1).describe('PEM certificate chain file, relative to the config file.'),
    key: z.string().min(1).describe('PEM private key file, relative to the config file.'),
    clientCa: z
      .string()
      .min(1)
      .optional()
      .describe('PEM CA bundle for client certificates (mTLS), relative to the config file.'),
    requireClientCert: z
      .boolean()
      .default(true)
      .describe('With clientCa: refuse the handshake without a valid client certificate.'),
  })
  .describe('Serve HTTPS; certificate files are re-read on each deploy.');

const Server = z.strictObject({
  port: z.number().int().min(0).max(65535).default(8080),
  host: z.string().min(1).default('127.0.0.1'),
  drainTimeoutMs: z
    .number()
    .int()
    .min(0)
    .max(3_600_000)
    .default(10_000)
    .describe(
      'On shutdown, how long in-flight requests may take before their connections are cut.',
    ),
  workers: z
    .number()
    .int()
    .min(1)
    .max(64)
    .default(1)
    .describe('Processes serving the port together (node:cluster); --workers overrides.'),
});

export const ConfigSchema = z
  .strictObject({
    $schema: z.string().optional(),
    server: Server.prefault({}).describe(
      'Where and how the CLI listens (--port, --host and --workers override) and how it drains on shutdown.',
    ),
    autoDeploy: z
      .boolean()
      .default(true)
      .describe(
        'The CLI redeploys when this file or a file it references changes; false: only on SIGHUP.',
      ),
    limits: Limits.prefault({}).refine((l) => l.headersTimeoutMs <= l.requestTimeoutMs, {
      message: 'headersTimeoutMs cannot exceed requestTimeoutMs',
      path: ['headersTimeoutMs'],
    }),
    tls: Tls.optional(),
    trustProxy: z
      .union([
        z.boolean(),
        z
          .array(
            z
              .string()
              .refine(
                (s) => parseCidr(s) !== null,
                'expected an IP address or a CIDR (10.0.0.0/8, fd00::/8)',
              ),
          )
          .min(1),
      ])
      .default(false)
      .describe(
        'Peers whose X-Forwarded-For is believed: false (none), true (any) or IPs/CIDRs. The client address is the rightmost untrusted one.',
      ),
    accessLog: AccessLog.optional(),
    admin: Admin.optional(),
    tracing: z
      .boolean()
      .default(false)
      .describe(
        'W3C traceparent: forward a valid one, generate one otherwise (upstreams, events).',
      ),
    stages: z.record(StageName, Stage).default({ $default: {} }),
    integrations: z.record(z.string().regex(/^[A-Za-z0-9_.-]+$/), IntegrationSchema),
    authorizers: z.record(z.string().regex(/^[A-Za-z0-9_.-]+$/), AuthorizerSchema).default({}),
    cors: CorsSchema.optional(),
    throttle: ThrottleSchema.optional().describe('Default throttle for each route of every stage.'),
    apiKeys: z.record(ApiKeyName, ApiKeySchema).default({}),
    apiKeySource: z
      .enum(['HEADER', 'AUTHORIZER'])
      .default('HEADER')
      .describe(
        'HEADER: the key is read from apiKeyHeader; AUTHORIZER: a function authorizer returns it (usageIdentifierKey).',
      ),
    apiKeyHeader: HeaderName.default('x-api-key'),
    usagePlans: z.record(z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/), UsagePlan).default({}),
    routes: z
      .record(z.string(), Route)
      .describe('Route keys as in AWS: "GET /pets/{id}", "$default".'),
  })
  // `when` runs the cross-field checks even when other parts failed, so one run reports
  // everything; the input may therefore be partly invalid here.
  .superRefine(
    (config, ctx) => {
      const routes = isRecord(config.routes) ? config.routes : {};
      const integrations = isRecord(config.integrations) ? config.integrations : {};
      const authorizers = isRecord(config.authorizers) ? config.authorizers : {};
      for (const [key, route] of Object.entries(routes)) {
        const parsed = parseRouteKey(key);
        if (typeof parsed === 'string') {
          ctx.addIssue({
            code: 'custom',
            path: ['routes', key],
            message: `invalid route key: ${parsed}`,
            params: { at: 'key' },
          });
        }
        const target = isRecord(route) ? route.integration : undefined;
        if (typeof target === 'string' && !Object.hasOwn(integrations, target)) {
          const known = Object.keys(integrations);
          ctx.addIssue({
            code: 'custom',
            path: ['routes', key, 'integration'],
            message: `no integration named "${target}"${known.length ? `; defined: ${known.join(', ')}` : ''}`,
          });
        }
        const authorizer = isRecord(route) ? route.authorizer : undefined;
        if (typeof authorizer === 'string' && !Object.hasOwn(authorizers, authorizer)) {
          const known = Object.keys(authorizers);
          ctx.addIssue({
            code: 'custom',
            path: ['routes', key, 'authorizer'],
            message: `no authorizer named "${authorizer}"${known.length ? `; defined: ${known.join(', ')}` : ''}`,
          });
        }
        const scopes = isRecord(route) ? route.authorizationScopes : undefined;
        if (
          scopes !== undefined &&
          (typeof authorizer !== 'string' ||
            !isRecord(authorizers[authorizer]) ||
            authorizers[authorizer].type !== 'jwt')
        ) {
          ctx.addIssue({
            code: 'custom',
            path: ['routes', key, 'authorizationScopes'],
            message: 'authorizationScopes needs a jwt authorizer on the route',
          });
        }
        if (isRecord(route) && isRecord(route.cors))
          checkCors(route.cors, ['routes', key, 'cors'], ctx);
      }
      if (isRecord(config.cors)) checkCors(config.cors, ['cors'], ctx);
      checkTraffic(config, ctx);
      for (const [name, auth] of Object.entries(authorizers)) {
        if (!isRecord(auth)) continue;
        if (auth.type === 'jwt') {
          const sources = ['jwksUri', 'secret', 'publicKey'].filter(
            (k) => (auth as Record<string, unknown>)[k] !== undefined,
          );
          if (sources.length > 1) {
            ctx.addIssue({
              code: 'custom',
              path: ['authorizers', name],
              message: `use only one of ${sources.join(', ')}`,
            });
          }
        } else if (auth.type === 'function') {
          if (auth.enableSimpleResponses === true && auth.payloadFormatVersion === '1.0') {
            ctx.addIssue({
              code: 'custom',
              path: ['authorizers', name, 'enableSimpleResponses'],
              message: 'simple responses need payloadFormatVersion "2.0"',
            });
          }
          if (
            typeof auth.resultTtlInSeconds === 'number' &&
            auth.resultTtlInSeconds > 0 &&
            (!Array.isArray(auth.identitySource) || auth.identitySource.length === 0)
          ) {
            ctx.addIssue({
              code: 'custom',
              path: ['authorizers', name, 'resultTtlInSeconds'],
              message: 'caching needs at least one identitySource (the cache key)',
            });
          }
        }
      }
    },
    { when: () => true },
  );

function checkCors(cors: Record<string, unknown>, path: string[], ctx: z.RefinementCtx): void {
  const origins = Array.isArray(cors.allowOrigins) ? cors.allowOrigins : [];
  if (cors.allowCredentials === true && origins.includes('*')) {
    ctx.addIssue({
      code: 'custom',
      path: [...path, 'allowOrigins'],
      message:
        'allowCredentials: true cannot be combined with the "*" origin (browsers refuse it); list the origins',
    });
  }
}

/** Cross-field checks for throttles, API keys, usage plans and integration concurrency. */
function checkTraffic(config: Record<string, unknown>, ctx: z.RefinementCtx): void {
  const issue = (path: (string | number)[], message: string): void =>
    ctx.addIssue({ code: 'custom', path, message });
  const routes = isRecord(config.routes) ? config.routes : {};
  const apiKeys = isRecord(config.apiKeys) ? config.apiKeys : {};
  const authorizers = isRecord(config.authorizers) ? config.authorizers : {};
  const stages = isRecord(config.stages) ? Object.keys(config.stages) : ['$default'];

  for (const [name, key] of Object.entries(apiKeys)) {
    if (!isRecord(key)) continue;
    const sources = ['value', 'sha256', 'env'].filter((k) => key[k] !== undefined);
    if (sources.length !== 1) {
      issue(
        ['apiKeys', name],
        sources.length === 0
          ? 'set one of value, sha256, env'
          : `use only one of ${sources.join(', ')}`,
      );
    }
  }

  for (const [key, route] of Object.entries(routes)) {
    if (!isRecord(route)) continue;
    const authorizer = typeof route.authorizer === 'string' ? authorizers[route.authorizer] : null;
    if (route.apiKeyRequired === true) {
      if (Object.keys(apiKeys).length === 0) {
        issue(['routes', key, 'apiKeyRequired'], 'no apiKeys are defined');
      } else if (
        config.apiKeySource === 'AUTHORIZER' &&
        !(isRecord(authorizer) && authorizer.type === 'function')
      ) {
        issue(
          ['routes', key, 'apiKeyRequired'],
          'apiKeySource AUTHORIZER needs a function authorizer on the route (it returns usageIdentifierKey)',
        );
      }
    }
    const by = isRecord(route.throttle) ? route.throttle.by : undefined;
    if (typeof by === 'string' && by.startsWith('claim:') && authorizer == null) {
      issue(
        ['routes', key, 'throttle', 'by'],
        'keying by a claim needs an authorizer on the route',
      );
    }
    if (by === 'apiKey' && route.apiKeyRequired !== true) {
      issue(['routes', key, 'throttle', 'by'], 'keying by apiKey needs apiKeyRequired: true');
    }
  }

  const integrations = isRecord(config.integrations) ? config.integrations : {};
  for (const [name, cfg] of Object.entries(integrations)) {
    if (isRecord(cfg) && cfg.maxQueue !== undefined && cfg.maxConcurrency === undefined)
      issue(['integrations', name, 'maxQueue'], 'maxQueue needs maxConcurrency');
  }

  // AWS: an API key is associated with at most one usage plan per stage.
  const planOf = new Map<string, string>();
  const plans = isRecord(config.usagePlans) ? config.usagePlans : {};
  for (const [planName, plan] of Object.entries(plans)) {
    if (!isRecord(plan)) continue;
    const planStages = Array.isArray(plan.stages) ? plan.stages : stages;
    if (Array.isArray(plan.stages)) {
      plan.stages.forEach((stage, i) => {
        if (typeof stage === 'string' && !stages.includes(stage))
          issue(
            ['usagePlans', planName, 'stages', i],
            `no stage named "${stage}"; defined: ${stages.join(', ')}`,
          );
      });
    }
    if (Array.isArray(plan.apiKeys)) {
      plan.apiKeys.forEach((keyName, i) => {
        if (typeof keyName !== 'string') return;
        if (!Object.hasOwn(apiKeys, keyName)) {
          issue(['usagePlans', planName, 'apiKeys', i], `no API key named "${keyName}"`);
          return;
        }
        for (const stage of planStages) {
          const other = planOf.get(`${keyName}\0${String(stage)}`);
          if (other !== undefined && other !== planName) {
            issue(
              ['usagePlans', planName, 'apiKeys', i],
              `API key "${keyName}" is already in usage plan "${other}" for stage "${String(stage)}"; a key belongs to one plan per stage`,
            );
            return;
          }
        }
        for (const stage of planStages) planOf.set(`${keyName}\0${String(stage)}`, planName);
      });
    }
    if (isRecord(plan.routes)) {
      for (const routeKey of Object.keys(plan.routes)) {
        if (!Object.hasOwn(routes, routeKey)) {
          ctx.addIssue({
            code: 'custom',
            path: ['usagePlans', planName, 'routes', routeKey],
            message: `no route "${routeKey}" in routes`,
            params: { at: 'key' },
          });
        } else if (!(isRecord(routes[routeKey]) && routes[routeKey].apiKeyRequired === true)) {
          ctx.addIssue({
            code: 'custom',
            path: ['usagePlans', planName, 'routes', routeKey],
            message: 'usage plans apply only to routes with apiKeyRequired: true',
            params: { at: 'key' },
          });
        }
      }
    }
    const quota = isRecord(plan.quota) ? plan.quota : null;
    if (quota !== null && typeof quota.offset === 'number') {
      const max = quota.period === 'DAY' ? 0 : quota.period === 'WEEK' ? 6 : 27;
      if (quota.offset > max)
        issue(
          ['usagePlans', planName, 'quota', 'offset'],
          `offset for ${String(quota.period)} is 0${max > 0 ? `-${max}` : ''}`,
        );
    }
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A validated configuration, defaults applied. */
export type GatewayConfig = z.output<typeof ConfigSchema>;
/** What a user writes: every key with a default may be left out. */
export type GatewayConfigInput = z.input<typeof ConfigSchema>;
export type IntegrationConfig = z.output<typeof IntegrationSchema>;
export type AuthorizerConfig = z.output<typeof AuthorizerSchema>;
export type CorsConfig = z.output<typeof CorsSchema>;
export type RouteConfig = GatewayConfig['routes'][string];
export type ThrottleConfig = z.output<typeof ThrottleSchema>;
export type ApiKeyConfig = z.output<typeof ApiKeySchema>;
export type UsagePlanConfig = GatewayConfig['usagePlans'][string];
export type QuotaConfig = z.output<typeof Quota>;
