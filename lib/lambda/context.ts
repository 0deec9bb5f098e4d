/**
 * The Lambda `context` object handed to each invocation, and the handler signature.
 * Identity fields are fixed local values computed once per integration; only the request
 * id and the deadline are per invocation.
 */
import { randomBytes } from 'node:crypto';
import { randomUuid } from './aws-request-id.ts';
import type { LambdaEventV1, LambdaResultV1 } from './payload-v1.ts';
import type { LambdaEventV2, LambdaResultV2 } from './payload-v2.ts';

/** What AWS's Node.js runtime passes as `context` (the fields an API Gateway invocation has). */
export interface LambdaContext {
  /** Accepted for compatibility; the gateway answers when the handler settles either way. */
  callbackWaitsForEmptyEventLoop: boolean;
  readonly functionName: string;
  readonly functionVersion: string;
  readonly invokedFunctionArn: string;
  /** A string, as in AWS's Node.js runtime. */
  readonly memoryLimitInMB: string;
  readonly awsRequestId: string;
  readonly logGroupName: string;
  readonly logStreamName: string;
  getRemainingTimeInMillis(): number;
  /** Legacy (pre-callback) completion methods. */
  done(error?: unknown, result?: unknown): void;
  fail(error: unknown): void;
  succeed(result: unknown): void;
}

export type LambdaCallback<TResult = unknown> = (error?: unknown, result?: TResult) => void;

/**
 * An AWS Lambda-style handler: async (returns a promise) or callback style (declares a
 * third parameter). Typed for payload 2.0 by default; use
 * `FunctionHandler<LambdaEventV1, LambdaResultV1>` for 1.0.
 */
export type FunctionHandler<TEvent = LambdaEventV2, TResult = LambdaResultV2> = (
  event: TEvent,
  context: LambdaContext,
  callback: LambdaCallback<TResult>,
) => void | Promise<TResult>;

/** Shorthand for a payload 1.0 handler. */
export type FunctionHandlerV1 = FunctionHandler<LambdaEventV1, LambdaResultV1>;

/** Where the legacy completion methods report to: the invocation that owns the context. */
export interface InvocationSettler {
  settle(error: unknown, result: unknown): void;
}

/** Per-integration constants, built once at deploy time. */
export interface FunctionIdentity {
  readonly functionName: string;
  readonly invokedFunctionArn: string;
  readonly memoryLimitInMB: string;
  readonly logGroupName: string;
  readonly logStreamName: string;
}

// Documented local placeholders: there is no AWS account or region behind the gateway.
export const LOCAL_ACCOUNT_ID = '000000000000';
const REGION = process.env.AWS_REGION ?? 'us-east-1';

export function functionIdentity(name: string): FunctionIdentity {
  const d = new Date();
  const day = `${d.getUTCFullYear()}/${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCDate())}`;
  return {
    functionName: name,
    invokedFunctionArn: `arn:aws:lambda:${REGION}:${LOCAL_ACCOUNT_ID}:function:${name}`,
    memoryLimitInMB: '128',
    logGroupName: `/aws/lambda/${name}`,
    // AWS's format: one stream per execution environment, which a deployment stands for here.
    logStreamName: `${day}/[$LATEST]${randomBytes(16).toString('hex')}`,
  };
}

function pad(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/**
 * Methods live on the prototype (no closures per request); the settler and deadline are
 * #private so spreading or logging the context shows only AWS's fields.
 */
export class InvocationContext implements LambdaContext {
  callbackWaitsForEmptyEventLoop = true;
  readonly functionName: string;
  readonly functionVersion = '$LATEST';
  readonly invokedFunctionArn: string;
  readonly memoryLimitInMB: string;
  readonly awsRequestId: string;
  readonly logGroupName: string;
  readonly logStreamName: string;
  readonly #deadline: number;
  readonly #settler: InvocationSettler;

  constructor(identity: FunctionIdentity, deadline: number, settler: InvocationSettler) {
    this.functionName = identity.functionName;
    this.invokedFunctionArn = identity.invokedFunctionArn;
    this.memoryLimitInMB = identity.memoryLimitInMB;
    this.awsRequestId = randomUuid();
    this.logGroupName = identity.logGroupName;
    this.logStreamName = identity.logStreamName;
    this.#deadline = deadline;
    this.#settler = settler;
  }

  getRemainingTimeInMillis(): number {
    // AWS's runtime answers whole milliseconds.
    return Math.max(0, Math.floor(this.#deadline - performance.now()));
  }

  done(error?: unknown, result?: unknown): void {
    this.#settler.settle(error ?? null, result);
  }

  fail(error: unknown): void {
    // AWS's runtime treats fail() with nothing as a failure too.
    this.#settler.settle(error ?? new Error('handled'), undefined);
  }

  succeed(result: unknown): void {
    this.#settler.settle(null, result);
  }
}
