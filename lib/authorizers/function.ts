/**
 * The `function` authorizer: AWS HTTP API's Lambda authorizer, with the handler in process.
 *
 * Per request: the identity sources are read (any missing → 401, the handler is not
 * called); with a cache, a fresh entry for those values answers at once, without a
 * promise; otherwise the handler is called (concurrent misses for one key share the call)
 * with AWS's REQUEST event for the payload version, under `timeoutMs`, and its answer is
 * checked: `{isAuthorized, context}` with simple responses, else an IAM policy that is
 * evaluated against the route's ARN (iam-policy.ts). Allowed → `{ lambda: context }` for
 * function integrations and `contextToHeaders` for HTTP ones; denied → 403; a throw, a
 * rejection, a timeout or an answer of the wrong shape → 500, logged (with identity-source
 * values scrubbed from the cause) and never sent. Everything else is computed at deploy.
 *
 * AWS behaviour (http-api-lambda-authorizer, api-gateway-lambda-authorizer-output):
 * - Event 2.0 = the proxy 2.0 event + `type: "REQUEST"`, `routeArn`, `identitySource` (a
 *   list); event 1.0 = REST's REQUEST event: `methodArn`, `identitySource` and
 *   `authorizationToken` (the values joined with commas) + the 1.0 proxy fields. Neither
 *   carries a body. The ARN names the request (method and path as received, after the
 *   stage), as REST's methodArn does.
 * - Simple responses (2.0 only) or IAM policies (principalId, policyDocument); `context`
 *   optional. HTTP APIs take nested objects and lists in context (AWS's own example has
 *   `arrayKey` and `mapKey`), unlike REST: values reach the integration as JSON values, as
 *   AWS's Lambda runtime serialises the answer (functions and undefined drop out; a BigInt
 *   or a cycle fails).
 * - Cache keyed by the identity-source values; a simple answer allows or denies every route
 *   of the authorizer; a cached policy is evaluated against each route's ARN.
 *
 * Portico's choices (AWS's HTTP API docs are silent):
 * - A handler failing with exactly `Unauthorized` (Error message or string, thrown, rejected
 *   or passed to the callback) gets 401, as REST Lambda authorizers do; it is not cached.
 *   HTTP API documents only 401 for a missing identity source.
 * - Cached: allow and deny answers (AWS caches denies too). Not cached: 401s and failures.
 * - With no identity sources, `identitySource` is `[]` (2.0) or `""` (1.0, without
 *   `authorizationToken`).
 * - `context` is frozen: a cached context is shared by the requests it answers, so an
 *   integration handler cannot change what the next one sees. `{}` when there is none.
 * - `usageIdentifierKey` (issue #5's AUTHORIZER key source) is taken from either format.
 */
import { UpstreamHeaderMap } from './upstream-headers.ts';
import type { AuthorizerConfig } from '../config/schema.ts';
import { formatPath } from '../config/path.ts';
import { ConfigError, type ConfigIssue } from '../errors.ts';
import type { Exchange } from '../exchange.ts';
import { LOCAL_ACCOUNT_ID } from '../lambda/context.ts';
import { loadHandler } from '../lambda/handler-module.ts';
import { Invocation, invoke, lambdaFunction, type LambdaFunction } from '../lambda/invoke.ts';
import { LOCAL_API_ID } from '../lambda/payload.ts';
import { payloadV1, type LambdaEventV1 } from '../lambda/payload-v1.ts';
import { payloadV2, type LambdaEventV2 } from '../lambda/payload-v2.ts';
import type { Logger } from '../log.ts';
import type { AuthResult, Authorizer, AuthorizerDeps } from './authorizer.ts';
import { compilePolicy, typeName, type CompiledPolicy } from './iam-policy.ts';
import { compileIdentitySource, type IdentitySourceReader } from './identity-source.ts';

export type FunctionAuthorizerConfig = Extract<AuthorizerConfig, { type: 'function' }>;

/** The 2.0 event: the proxy event without a body, plus the authorizer fields. */
export interface LambdaAuthorizerEventV2 extends Omit<LambdaEventV2, 'body' | 'isBase64Encoded'> {
  type: 'REQUEST';
  /** `arn:aws:execute-api:{region}:{accountId}:{apiId}/{stage}/{METHOD}{path}`. */
  routeArn: string;
  identitySource: string[];
}

/** The 1.0 event (REST-compatible): the 1.0 proxy event without a body, plus the authorizer fields. */
export interface LambdaAuthorizerEventV1 extends Omit<LambdaEventV1, 'body' | 'isBase64Encoded'> {
  type: 'REQUEST';
  methodArn: string;
  /** The identity-source values joined with commas. */
  identitySource: string;
  authorizationToken?: string;
}

/** What a handler returns with `enableSimpleResponses`. */
export interface SimpleAuthorizerResult {
  isAuthorized: boolean;
  context?: Record<string, unknown>;
}

/** What a handler returns otherwise: an IAM policy for `execute-api:Invoke`. */
export interface PolicyAuthorizerResult {
  principalId: string;
  policyDocument: {
    Version?: string;
    Statement: Array<{
      Action: string | string[];
      Effect: 'Allow' | 'Deny';
      Resource: string | string[];
    }>;
  };
  context?: Record<string, unknown>;
  usageIdentifierKey?: string;
}

/** Cache entries per authorizer; the oldest is evicted beyond this. */
export const MAX_CACHE_ENTRIES = 10_000;

// The same local placeholders as the function integration's events and ARNs (context.ts).
const REGION = process.env.AWS_REGION ?? 'us-east-1';
const ARN_PREFIX = `arn:aws:execute-api:${REGION}:${LOCAL_ACCOUNT_ID}:${LOCAL_API_ID}/`;

// Shorter identity values are not scrubbed from logged causes: they would garble the text.
const MIN_SCRUBBED_LENGTH = 4;

// Failure answers are constant, so they are built once.
const UNAUTHORIZED: AuthResult = { ok: false, code: 'PORTICO_UNAUTHORIZED' };
const FORBIDDEN: AuthResult = { ok: false, code: 'PORTICO_FORBIDDEN' };
const FAILED: AuthResult = { ok: false, code: 'PORTICO_AUTHORIZER_ERROR' };
const NO_CONTEXT: Readonly<Record<string, unknown>> = Object.freeze({});

/** Loads the handler module and compiles the config; throws ConfigError listing every problem. */
export async function loadFunctionAuthorizer(
  name: string,
  cfg: FunctionAuthorizerConfig,
  deps: AuthorizerDeps,
): Promise<Authorizer> {
  const issues: ConfigIssue[] = [];
  const issue = (path: readonly (string | number)[], message: string): void =>
    void issues.push({ path: formatPath(['authorizers', name, ...path]), message });

  let handler: LambdaFunction | null = null;
  try {
    const fn = await loadHandler(['authorizers', name, 'handler'], cfg.handler, deps.baseDir);
    handler = lambdaFunction(name, fn, cfg.timeoutMs);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    issues.push(...err.issues);
  }

  const readers: IdentitySourceReader[] = [];
  cfg.identitySource.forEach((expression, i) => {
    try {
      readers.push(compileIdentitySource(expression));
    } catch (err) {
      issue(['identitySource', i], (err as Error).message);
    }
  });

  const contextHeaders = new UpstreamHeaderMap(
    cfg.contextToHeaders,
    ['authorizers', name, 'contextToHeaders'],
    issues,
  );

  if (issues.length > 0) throw new ConfigError(issues);
  return new FunctionAuthorizer({
    name,
    fn: handler!,
    readers,
    version: cfg.payloadFormatVersion,
    simple: cfg.enableSimpleResponses,
    // Caching needs a key; the schema refuses a TTL without identity sources.
    ttlMs: readers.length > 0 ? cfg.resultTtlInSeconds * 1000 : 0,
    contextHeaders,
    now: deps.now ?? Date.now,
    logger: deps.logger,
  });
}

interface FunctionAuthorizerParts {
  readonly name: string;
  readonly fn: LambdaFunction;
  readonly readers: readonly IdentitySourceReader[];
  readonly version: '1.0' | '2.0';
  readonly simple: boolean;
  readonly ttlMs: number;
  readonly contextHeaders: UpstreamHeaderMap;
  readonly now: () => number;
  readonly logger: Logger;
}

/** A policy answer: allowed or not depends on the route, so it is evaluated per request. */
class PolicyOutcome {
  readonly policy: CompiledPolicy;
  readonly allowed: AuthResult;
  constructor(policy: CompiledPolicy, allowed: AuthResult) {
    this.policy = policy;
    this.allowed = allowed;
  }
}

/** What one handler call decided, before it meets a route. */
type Outcome = AuthResult | PolicyOutcome;

interface CacheEntry {
  readonly expires: number;
  readonly outcome: Outcome;
}

class FunctionAuthorizer implements Authorizer {
  readonly name: string;
  readonly type = 'function' as const;
  readonly upstreamHeaderNames: readonly string[];
  readonly #fn: LambdaFunction;
  readonly #readers: readonly IdentitySourceReader[];
  readonly #v1: boolean;
  readonly #simple: boolean;
  readonly #ttlMs: number;
  readonly #contextHeaders: UpstreamHeaderMap;
  readonly #now: () => number;
  readonly #logger: Logger;
  /** Insertion-ordered: the first key is the oldest. Null without caching. */
  readonly #cache: Map<string, CacheEntry> | null;
  /** Handler calls under way, by cache key, so concurrent misses share one. */
  readonly #pending: Map<string, Promise<Outcome>> | null;
  #closed = false;

  constructor(p: FunctionAuthorizerParts) {
    this.name = p.name;
    this.#fn = p.fn;
    this.#readers = p.readers;
    this.#v1 = p.version === '1.0';
    this.#simple = p.simple;
    this.#ttlMs = p.ttlMs;
    this.#contextHeaders = p.contextHeaders;
    this.upstreamHeaderNames = p.contextHeaders.names;
    this.#now = p.now;
    this.#logger = p.logger;
    this.#cache = p.ttlMs > 0 ? new Map() : null;
    this.#pending = p.ttlMs > 0 ? new Map() : null;
  }

  authorize(ex: Exchange): AuthResult | Promise<AuthResult> {
    const values: string[] = [];
    for (const reader of this.#readers) {
      const value = reader.read(ex);
      if (value === undefined) return UNAUTHORIZED;
      values.push(value);
    }
    const cache = this.#cache;
    if (cache === null) return this.#uncached(ex, values);
    const key = values.length === 1 ? values[0]! : cacheKey(values);
    const hit = cache.get(key);
    if (hit !== undefined) {
      if (hit.expires > this.#now()) return decide(hit.outcome, ex);
      cache.delete(key);
    }
    return this.#shared(ex, values, key);
  }

  close(): void {
    this.#closed = true;
    this.#cache?.clear();
    this.#pending?.clear();
  }

  async #uncached(ex: Exchange, values: readonly string[]): Promise<AuthResult> {
    return decide(await this.#call(ex, values), ex);
  }

  /** A cache miss: joins the call under way for `key`, or makes it and caches its answer. */
  async #shared(ex: Exchange, values: readonly string[], key: string): Promise<AuthResult> {
    const pending = this.#pending!;
    const underway = pending.get(key);
    if (underway !== undefined) return decide(await underway, ex);
    const call = this.#call(ex, values);
    pending.set(key, call);
    const outcome = await call;
    // Runs before the requests that joined resume: they awaited the same promise later.
    if (pending.get(key) === call) pending.delete(key);
    if (!this.#closed && outcome !== UNAUTHORIZED && outcome !== FAILED) this.#store(key, outcome);
    return decide(outcome, ex);
  }

  #store(key: string, outcome: Outcome): void {
    const cache = this.#cache!;
    cache.delete(key);
    if (cache.size >= MAX_CACHE_ENTRIES) cache.delete(cache.keys().next().value!);
    cache.set(key, { expires: this.#now() + this.#ttlMs, outcome });
  }

  /** Calls the handler; resolves with its outcome, never rejects. */
  #call(ex: Exchange, values: readonly string[]): Promise<Outcome> {
    let event: object;
    try {
      event = this.#v1 ? eventV1(ex, values) : eventV2(ex, values);
    } catch (err) {
      this.#log(ex.requestId, values, err, 'could not build the authorizer event');
      return Promise.resolve(FAILED);
    }
    return new Promise((resolve) => {
      const fn = this.#fn;
      invoke(fn, event, new AuthorizerInvocation(fn, this, ex.requestId, values, resolve));
    });
  }

  /** The handler's answer, checked as AWS's runtime would see it: serialised as JSON. */
  interpret(result: unknown, requestId: string, values: readonly string[]): Outcome {
    let answer: unknown;
    try {
      const json = JSON.stringify(result);
      if (json === undefined)
        return this.#invalid(requestId, values, 'the handler returned nothing');
      answer = JSON.parse(json);
    } catch (err) {
      return this.#invalid(
        requestId,
        values,
        `the answer cannot be serialised as JSON: ${(err as Error).message}`,
      );
    }
    if (!isObject(answer))
      return this.#invalid(
        requestId,
        values,
        `the answer must be an object, got ${typeName(answer)}`,
      );
    const context = answer.context ?? null;
    if (context !== null && !isObject(context))
      return this.#invalid(
        requestId,
        values,
        `context must be an object, got ${typeName(context)}`,
      );
    const key = answer.usageIdentifierKey ?? null;
    if (key !== null && typeof key !== 'string')
      return this.#invalid(
        requestId,
        values,
        `usageIdentifierKey must be a string, got ${typeName(key)}`,
      );
    if (this.#simple) {
      const { isAuthorized } = answer;
      if (typeof isAuthorized !== 'boolean')
        return this.#invalid(
          requestId,
          values,
          `isAuthorized must be a boolean, got ${typeName(isAuthorized)}`,
        );
      return isAuthorized ? this.#allowed(context, key) : FORBIDDEN;
    }
    if (typeof answer.principalId !== 'string')
      return this.#invalid(
        requestId,
        values,
        `principalId must be a string, got ${typeName(answer.principalId)}`,
      );
    const policy = compilePolicy(answer.policyDocument);
    if (typeof policy === 'string') return this.#invalid(requestId, values, policy);
    return new PolicyOutcome(policy, this.#allowed(context, key));
  }

  /** The handler failed: 401 for AWS's `Unauthorized` convention, else a logged 500. */
  failure(
    error: unknown,
    timedOut: boolean,
    requestId: string,
    values: readonly string[],
  ): Outcome {
    if (!timedOut && isUnauthorizedSignal(error)) return UNAUTHORIZED;
    this.#log(
      requestId,
      values,
      error,
      timedOut ? 'function authorizer timed out' : 'function authorizer failed',
    );
    return FAILED;
  }

  #allowed(context: Record<string, unknown> | null, key: string | null): AuthResult {
    const lambda = context === null ? NO_CONTEXT : deepFreeze(context);
    const upstreamHeaders = this.#contextHeaders.empty
      ? null
      : this.#contextHeaders.headersFor(lambda);
    return Object.freeze(
      key === null
        ? { ok: true, context: Object.freeze({ lambda }), upstreamHeaders }
        : {
            ok: true,
            context: Object.freeze({ lambda }),
            upstreamHeaders,
            usageIdentifierKey: key,
          },
    );
  }

  #invalid(requestId: string, values: readonly string[], reason: string): Outcome {
    this.#log(
      requestId,
      values,
      new Error(reason),
      'function authorizer returned an invalid answer',
    );
    return FAILED;
  }

  #log(requestId: string, values: readonly string[], err: unknown, msg: string): void {
    this.#logger.error(
      {
        requestId,
        authorizer: this.name,
        code: 'PORTICO_AUTHORIZER_ERROR',
        err: scrub(err, secretsOf(values)),
      },
      msg,
    );
  }
}

/** One call of the authorizer's handler; its outcome resolves the miss's promise. */
class AuthorizerInvocation extends Invocation {
  readonly authorizer: FunctionAuthorizer;
  readonly requestId: string;
  readonly values: readonly string[];
  readonly resolve: (outcome: Outcome) => void;

  constructor(
    fn: LambdaFunction,
    authorizer: FunctionAuthorizer,
    requestId: string,
    values: readonly string[],
    resolve: (outcome: Outcome) => void,
  ) {
    super(fn);
    this.authorizer = authorizer;
    this.requestId = requestId;
    this.values = values;
    this.resolve = resolve;
  }

  protected override completed(result: unknown): void {
    let outcome: Outcome;
    try {
      outcome = this.authorizer.interpret(result, this.requestId, this.values);
    } catch (err) {
      // Not expected; but this runs detached from any request, so it must not throw.
      outcome = this.authorizer.failure(err, false, this.requestId, this.values);
    }
    this.resolve(outcome);
  }

  protected override failed(error: unknown, timedOut: boolean): void {
    this.resolve(this.authorizer.failure(error, timedOut, this.requestId, this.values));
  }
}

/** An outcome applied to this request's route. */
function decide(outcome: Outcome, ex: Exchange): AuthResult {
  if (!(outcome instanceof PolicyOutcome)) return outcome;
  return outcome.policy.allows(routeArn(ex)) ? outcome.allowed : FORBIDDEN;
}

/** The request as an execute-api ARN: `…:{apiId}/{stage}/{METHOD}{path after the stage}`. */
function routeArn(ex: Exchange): string {
  return `${ARN_PREFIX}${ex.stage.name}/${ex.req.method}${ex.path}`;
}

function eventV2(ex: Exchange, values: readonly string[]): LambdaAuthorizerEventV2 {
  const e = payloadV2.buildEvent(ex, null);
  const event: LambdaAuthorizerEventV2 = {
    version: '2.0',
    type: 'REQUEST',
    routeArn: routeArn(ex),
    identitySource: [...values],
    routeKey: e.routeKey,
    rawPath: e.rawPath,
    rawQueryString: e.rawQueryString,
    headers: e.headers,
    requestContext: e.requestContext,
  };
  if (e.cookies !== undefined) event.cookies = e.cookies;
  if (e.queryStringParameters !== undefined) event.queryStringParameters = e.queryStringParameters;
  if (e.pathParameters !== undefined) event.pathParameters = e.pathParameters;
  if (e.stageVariables !== undefined) event.stageVariables = e.stageVariables;
  return event;
}

function eventV1(ex: Exchange, values: readonly string[]): LambdaAuthorizerEventV1 {
  const e = payloadV1.buildEvent(ex, null);
  const joined = values.join(',');
  const event: LambdaAuthorizerEventV1 = {
    version: '1.0',
    type: 'REQUEST',
    methodArn: routeArn(ex),
    identitySource: joined,
    resource: e.resource,
    path: e.path,
    httpMethod: e.httpMethod,
    headers: e.headers,
    multiValueHeaders: e.multiValueHeaders,
    queryStringParameters: e.queryStringParameters,
    multiValueQueryStringParameters: e.multiValueQueryStringParameters,
    pathParameters: e.pathParameters,
    stageVariables: e.stageVariables,
    requestContext: e.requestContext,
  };
  if (values.length > 0) event.authorizationToken = joined;
  return event;
}

/** Several values as one unambiguous key: each prefixed with its length. */
function cacheKey(values: readonly string[]): string {
  let key = '';
  for (const v of values) key += `${v.length}:${v}`;
  return key;
}

/** AWS's convention (REST, kept here): failing with exactly "Unauthorized" means 401. */
function isUnauthorizedSignal(error: unknown): boolean {
  if (error === 'Unauthorized') return true;
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { message?: unknown }).message === 'Unauthorized'
  );
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** JSON-parsed values have no cycles: a plain recursive freeze. */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** The identity values (and the token after a `Bearer ` prefix) to keep out of logs. */
function secretsOf(values: readonly string[]): string[] {
  const out: string[] = [];
  for (const v of values) {
    const bearer = /^bearer\s+(.+)$/i.exec(v);
    for (const s of bearer === null ? [v] : [v, bearer[1]!])
      if (s.length >= MIN_SCRUBBED_LENGTH) out.push(s);
  }
  return out;
}

/**
 * A failure's cause, fit for the log: identity-source values (tokens) the handler put in
 * its error are replaced. A value that is not an Error is logged as text.
 */
function scrub(err: unknown, secrets: readonly string[]): unknown {
  const clean = (s: string): string => {
    for (const secret of secrets) s = s.split(secret).join('[redacted]');
    return s;
  };
  if (err instanceof Error) {
    const message = clean(err.message);
    const stack = err.stack === undefined ? undefined : clean(err.stack);
    if (message === err.message && stack === err.stack) return err;
    const copy = new Error(message);
    copy.name = err.name;
    if (stack !== undefined) copy.stack = stack;
    return copy;
  }
  if (err === undefined) return undefined;
  let text: string;
  try {
    text = typeof err === 'string' ? err : (JSON.stringify(err) ?? String(err));
  } catch {
    text = String(err);
  }
  return clean(text);
}
