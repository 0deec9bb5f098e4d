/**
 * Concurrency protection per integration: at most `maxConcurrency` requests in flight to it,
 * at most `maxQueue` more waiting for a slot (FIFO), and beyond that 503 at once, so an
 * overloaded upstream sees a bounded load rather than a pile-up.
 *
 * A request holds its slot until its response is finished or its client has gone (the
 * response's 'close'), whatever the integration. p-limit would do the queueing but costs a
 * closure and a promise per request; this is the same idea on the exchange itself (and p-limit
 * is not a dependency).
 *
 * Limiters belong to the gateway (ConcurrencyLimiters), keyed by integration name and
 * limits, so requests in flight across a redeploy keep counting against the same limit.
 */
import type { ServerResponse } from 'node:http';
import { sendExchangeError, toGatewayError } from './error-response.ts';
import type { Exchange } from './exchange.ts';
import type { Integration } from './pipeline/route.ts';

const QUEUED = 1;
const RUNNING = 2;
const DONE = 3;

const kLimiter = Symbol('portico.limiter');
const kState = Symbol('portico.limiterState');
type LimitedResponse = ServerResponse & {
  [kLimiter]?: ConcurrencyLimiter;
  [kState]?: number;
};

export class ConcurrencyLimiter {
  readonly maxConcurrency: number;
  readonly maxQueue: number;
  #active = 0;
  /** Requests waiting, not counting those whose client left while queued. */
  #waiting = 0;
  // Parallel arrays rather than an object per queued request.
  readonly #queue: Exchange[] = [];
  readonly #queueTargets: Integration[] = [];

  constructor(maxConcurrency: number, maxQueue: number) {
    this.maxConcurrency = maxConcurrency;
    this.maxQueue = maxQueue;
  }

  get active(): number {
    return this.#active;
  }

  get waiting(): number {
    return this.#waiting;
  }

  /** Runs `integration` for the exchange now, queues it, or answers 503. */
  submit(ex: Exchange, integration: Integration): void {
    if (this.#active < this.maxConcurrency) {
      this.#watch(ex.res as LimitedResponse, RUNNING);
      this.#active++;
      start(ex, integration);
      return;
    }
    if (this.#waiting >= this.maxQueue) {
      sendExchangeError(ex, 'PORTICO_CONCURRENCY_LIMIT');
      return;
    }
    // Entries of clients that left stay until dequeued; compact if they pile up.
    if (this.#queue.length >= 2 * this.maxQueue + 16) this.#compact();
    this.#watch(ex.res as LimitedResponse, QUEUED);
    this.#waiting++;
    this.#queue.push(ex);
    this.#queueTargets.push(integration);
  }

  #watch(res: LimitedResponse, state: number): void {
    res[kLimiter] = this;
    res[kState] = state;
    // `on`, not `once`: the response is per request, and `once` wraps the listener.
    res.on('close', onResponseClose);
  }

  /** A running request finished: its slot goes to the first live waiter. */
  release(): void {
    this.#active--;
    while (this.#queue.length > 0) {
      const ex = this.#queue.shift()!;
      const integration = this.#queueTargets.shift()!;
      const res = ex.res as LimitedResponse;
      if (res[kState] !== QUEUED) continue;
      this.#waiting--;
      res[kState] = RUNNING;
      this.#active++;
      start(ex, integration);
      return;
    }
  }

  /** A queued request's client went away. */
  abandon(): void {
    this.#waiting--;
  }

  #compact(): void {
    let j = 0;
    for (let i = 0; i < this.#queue.length; i++) {
      if ((this.#queue[i]!.res as LimitedResponse)[kState] !== QUEUED) continue;
      this.#queue[j] = this.#queue[i]!;
      this.#queueTargets[j++] = this.#queueTargets[i]!;
    }
    this.#queue.length = j;
    this.#queueTargets.length = j;
  }
}

function onResponseClose(this: LimitedResponse): void {
  const state = this[kState];
  this[kState] = DONE;
  if (state === RUNNING) this[kLimiter]!.release();
  else if (state === QUEUED) this[kLimiter]!.abandon();
}

/** Calls an integration outside the runner, with the runner's guard for a broken contract. */
function start(ex: Exchange, integration: Integration): void {
  try {
    const r = integration.handle(ex);
    if (r !== undefined) r.catch((err: unknown) => fail(ex, err));
  } catch (err) {
    fail(ex, err);
  }
}

function fail(ex: Exchange, err: unknown): void {
  sendExchangeError(ex, toGatewayError(err).code);
}

/** An integration behind a limiter: what the compiled route calls. */
export class LimitedIntegration implements Integration {
  readonly type: Integration['type'];
  readonly target: string;
  readonly #inner: Integration;
  readonly #limiter: ConcurrencyLimiter;

  constructor(inner: Integration, limiter: ConcurrencyLimiter) {
    this.type = inner.type;
    this.target = inner.target;
    this.#inner = inner;
    this.#limiter = limiter;
  }

  handle(ex: Exchange): void {
    this.#limiter.submit(ex, this.#inner);
  }
}

/** The gateway's limiters, one per integration name and limits, reused across deploys. */
export class ConcurrencyLimiters {
  readonly #limiters = new Map<string, ConcurrencyLimiter>();

  get(integration: string, maxConcurrency: number, maxQueue: number): ConcurrencyLimiter {
    const id = `${integration}\0${maxConcurrency}\0${maxQueue}`;
    let limiter = this.#limiters.get(id);
    if (limiter === undefined) {
      limiter = new ConcurrencyLimiter(maxConcurrency, maxQueue);
      this.#limiters.set(id, limiter);
    }
    return limiter;
  }

  /**
   * Forgets limiters the live deployment does not use. Requests of an older deployment
   * still hold theirs and release into it.
   */
  retain(used: ReadonlySet<ConcurrencyLimiter>): void {
    for (const [id, limiter] of this.#limiters) if (!used.has(limiter)) this.#limiters.delete(id);
  }

  get size(): number {
    return this.#limiters.size;
  }
}
