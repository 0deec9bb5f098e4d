/**
 * The configuration schema (zod): the single source for validation, TypeScript
 * types (`GatewayConfig`) and the JSON Schema shipped for editors.
 * Later features add top-level keys (authorizers, cors, throttle, apiKeys, usagePlans)
 * and per-route options next to `integration`.
 */
import { z } from 'zod';
import { parseRouteKey } from '../route-key.ts';

const StageName = z
  .string()
  .regex(
    /^(\$default|[A-Za-z0-9_-]{1,128})$/,
    'a stage name is "$default" or 1-128 of A-Z a-z 0-9 _ -',
  );

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
    connections: z
      .number()
      .int()
      .min(1)
      .max(4096)
      .default(128)
      .describe('Keep-alive connections per upstream origin.'),
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

const Route = z.strictObject({
  integration: z.string().min(1).describe('Name of an entry in `integrations`.'),
});

const Limits = z.strictObject({
  maxBodyBytes: z
    .number()
    .int()
    .min(0)
    .default(10 * 1024 * 1024)
    .describe('Largest request body; over it the client gets 413 (AWS: 10 MB).'),
});

const Server = z.strictObject({
  port: z.number().int().min(0).max(65535).default(8080),
  host: z.string().min(1).default('127.0.0.1'),
});

export const ConfigSchema = z
  .strictObject({
    $schema: z.string().optional(),
    server: Server.prefault({}).describe('Where the CLI listens; --port and --host override.'),
    limits: Limits.prefault({}),
    stages: z.record(StageName, Stage).default({ $default: {} }),
    integrations: z.record(z.string().regex(/^[A-Za-z0-9_.-]+$/), IntegrationSchema),
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
      }
    },
    { when: () => true },
  );

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A validated configuration, defaults applied. */
export type GatewayConfig = z.output<typeof ConfigSchema>;
/** What a user writes: every key with a default may be left out. */
export type GatewayConfigInput = z.input<typeof ConfigSchema>;
export type IntegrationConfig = z.output<typeof IntegrationSchema>;
