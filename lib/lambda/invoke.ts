/**
 * Calling an in-process Lambda-style handler, shared by the function integration and the
 * function authorizer: the handler and its calling convention are resolved once, at deploy
 * time; per call, an Invocation joins the handler's deadline list and takes whichever
 * completion comes first (returned promise, returned value, callback, legacy context
 * method, timeout).
 */
import { DeadlineList, type DeadlineEntry } from './deadlines.ts';
import {
  InvocationContext,
  functionIdentity,
  type FunctionHandler,
  type FunctionIdentity,
  type InvocationSettler,
} from './context.ts';

/** A loaded handler and what every call of it shares. */
export interface LambdaFunction {
  readonly handler: FunctionHandler<unknown, unknown>;
  /** AWS's rule: a handler declaring a third parameter completes through the callback. */
  readonly callbackStyle: boolean;
  readonly timeoutMs: number;
  /** The pending calls, in deadline order, under one timer. */
  readonly deadlines: DeadlineList;
  readonly identity: FunctionIdentity;
}

export function lambdaFunction(
  name: string,
  handler: FunctionHandler,
  timeoutMs: number,
): LambdaFunction {
  const fn = handler as FunctionHandler<unknown, unknown>;
  return {
    handler: fn,
    callbackStyle: fn.length >= 3,
    timeoutMs,
    deadlines: new DeadlineList(timeoutMs),
    identity: functionIdentity(name),
  };
}

/**
 * One call of a handler. Subclasses say what completion means; this class guarantees it is
 * reported exactly once. Methods live on the prototype: no closures per call.
 */
export abstract class Invocation implements InvocationSettler, DeadlineEntry {
  readonly context: InvocationContext;
  readonly deadline: number;
  /** Links of the handler's DeadlineList; only the list touches them. */
  prevDue: DeadlineEntry | null = null;
  nextDue: DeadlineEntry | null = null;
  readonly #deadlines: DeadlineList;
  #settled = false;

  constructor(fn: LambdaFunction) {
    this.#deadlines = fn.deadlines;
    this.deadline = performance.now() + fn.timeoutMs;
    this.context = new InvocationContext(fn.identity, this.deadline, this);
    fn.deadlines.add(this);
  }

  /** The handler's result (a returned value, a resolved promise, a callback or context result). */
  protected abstract completed(result: unknown): void;
  /** The handler failed (an error or a timeout); `error` is what it threw or passed, even undefined. */
  protected abstract failed(error: unknown, timedOut: boolean): void;

  /** Callback semantics: a non-null error fails the invocation, otherwise `result` is the answer. */
  settle(error: unknown, result: unknown): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#deadlines.remove(this);
    if (error !== null && error !== undefined) this.failed(error, false);
    else this.completed(result);
  }

  /** A thrown error or rejected promise fails the invocation whatever its value, even undefined. */
  reject(reason: unknown): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#deadlines.remove(this);
    this.failed(reason, false);
  }

  /** Called by the DeadlineList, which has already unlinked this call. */
  expire(): void {
    if (this.#settled) return;
    this.#settled = true;
    const ms = this.#deadlines.timeoutMs;
    this.failed(new Error(`handler did not complete within ${ms} ms`), true);
  }
}

/** Calls the handler with `event`; the outcome reaches `inv` (possibly synchronously). */
export function invoke(fn: LambdaFunction, event: object, inv: Invocation): void {
  let out: unknown;
  try {
    out = fn.callbackStyle
      ? fn.handler(event, inv.context, inv.settle.bind(inv))
      : fn.handler(event, inv.context, noCallback);
  } catch (err) {
    inv.reject(err);
    return;
  }
  // Native promises first: instanceof is cheaper than the duck-typed thenable check.
  if (out instanceof Promise || isPromiseLike(out)) void awaitResult(inv, out);
  // AWS's runtime ignores a plain return value. Here a value is taken as the result (what
  // the author meant); undefined leaves it to context.succeed/done/fail or the timeout.
  else if (!fn.callbackStyle && out !== undefined) inv.settle(null, out);
}

// Handlers with fewer than three parameters never see the callback; one function serves all.
function noCallback(): void {}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/** `await` instead of `.then(a, b)`: no closures per call. */
async function awaitResult(inv: Invocation, promise: PromiseLike<unknown>): Promise<void> {
  let result: unknown;
  try {
    result = await promise;
  } catch (err) {
    inv.reject(err);
    return;
  }
  inv.settle(null, result);
}
