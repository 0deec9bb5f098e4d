/**
 * Portico's public API. Everything not exported here is internal.
 * @module
 */
export { createGateway, Gateway } from './gateway.ts';
export type {
  ConfigSource,
  GatewayOptions,
  ListenOptions,
  ListeningAddress,
  GatewayEvents,
  DeployEvent,
  DeployErrorEvent,
} from './gateway.ts';
export type { DeploymentSummary, RouteSummary } from './deployment.ts';
export type { UpstreamStats } from './integrations/upstream-pools.ts';
export type { ClientCert } from './client-cert.ts';
export type { DeploymentChanges, RouteRef } from './deploy-diff.ts';
export { loadConfigFile } from './config/load.ts';
export { parseConfigText, validateConfig } from './config/parse.ts';
export type { LoadedConfig } from './config/load.ts';
export type { GatewayConfig, GatewayConfigInput } from './config/schema.ts';
export { configJsonSchema } from './config/json-schema.ts';
export { ConfigError, GatewayError, ERRORS } from './errors.ts';
export type { ConfigIssue, ErrorCode } from './errors.ts';
export type { Logger, LineSink } from './log.ts';
export { defineConfig } from './define-config.ts';
export type {
  LambdaEventV2,
  LambdaRequestContextV2,
  LambdaStructuredResultV2,
  LambdaResultV2,
} from './lambda/payload-v2.ts';
export type {
  LambdaEventV1,
  LambdaRequestContextV1,
  LambdaIdentityV1,
  LambdaAuthorizerV1,
  LambdaResultV1,
} from './lambda/payload-v1.ts';
export type {
  LambdaContext,
  LambdaCallback,
  FunctionHandler,
  FunctionHandlerV1,
} from './lambda/context.ts';
export type { AuthorizerContext } from './authorizers/authorizer.ts';
export { MemoryStore } from './state/memory.ts';
export type { MemoryStoreOptions } from './state/memory.ts';
export type { Store, Clock, TakeResult, CounterResult, MaybePromise } from './state/store.ts';
