/**
 * The `function` integration: an in-process AWS Lambda-style handler behind a Lambda proxy
 * integration. The handler is imported and the payload format chosen once, at deploy time;
 * per request the body is read whole, the event built, the handler invoked under a
 * timeout, and its result turned into the response. Failures are logged with their cause
 * and answered with AWS's `500 {"message":"Internal Server Error"}`.
 */
import { sendExchangeError } from '../error-response.ts';
import type { ErrorCode } from '../errors.ts';
import type { Exchange } from '../exchange.ts';
import { readBody, type BodySink } from '../lambda/body.ts';
import type { FunctionHandler } from '../lambda/context.ts';
import { loadHandler } from '../lambda/handler-module.ts';
import { Invocation, invoke, lambdaFunction, type LambdaFunction } from '../lambda/invoke.ts';
import type { LambdaResponse, PayloadFormat } from '../lambda/payload.ts';
import { payloadV1 } from '../lambda/payload-v1.ts';
import { payloadV2 } from '../lambda/payload-v2.ts';
import type { Logger } from '../log.ts';
import type { Integration } from '../pipeline/route.ts';

export interface FunctionIntegrationOptions {
  readonly name: string;
  /** `path/to/module.js#export`, as written in the config. */
  readonly handler: string;
  readonly payloadFormatVersion: '1.0' | '2.0';
  readonly timeoutMs: number;
  readonly maxBodyBytes: number;
  /** Folder the module path resolves against (the config file's). */
  readonly baseDir: string;
  readonly logger: Logger;
}

/** Loads the handler module; throws ConfigError (path `integrations.<name>.handler`) on failure. */
export async function loadFunctionIntegration(
  options: FunctionIntegrationOptions,
): Promise<Integration> {
  const handler = await loadHandler(
    ['integrations', options.name, 'handler'],
    options.handler,
    options.baseDir,
  );
  return new FunctionIntegration(options, handler);
}

/** What every invocation of one integration shares, resolved once. */
interface FunctionRuntime extends LambdaFunction {
  readonly name: string;
  readonly format: PayloadFormat;
  readonly logger: Logger;
}

class FunctionIntegration implements Integration, BodySink {
  readonly type = 'function';
  readonly target: string;
  readonly #runtime: FunctionRuntime;
  readonly #maxBodyBytes: number;

  constructor(options: FunctionIntegrationOptions, handler: FunctionHandler) {
    this.#runtime = {
      ...lambdaFunction(options.name, handler, options.timeoutMs),
      name: options.name,
      format: options.payloadFormatVersion === '1.0' ? payloadV1 : payloadV2,
      logger: options.logger,
    };
    this.#maxBodyBytes = options.maxBodyBytes;
    this.target = `${options.handler} (payload ${options.payloadFormatVersion})`;
  }

  handle(ex: Exchange): void {
    readBody(ex, this.#maxBodyBytes, this);
  }

  /** Hot path: called once the body is complete (synchronously when there is none). */
  bodyRead(ex: Exchange, body: Buffer | null): void {
    const rt = this.#runtime;
    let event: object;
    try {
      event = rt.format.buildEvent(ex, body);
    } catch (err) {
      fail(rt, ex, 'PORTICO_INTERNAL', err, 'could not build the Lambda event');
      return;
    }
    ex.integrationStart = performance.now();
    invoke(rt, event, new FunctionInvocation(rt, ex));
  }
}

/** One call of the integration's handler: its result becomes the response, or a 500. */
class FunctionInvocation extends Invocation {
  readonly rt: FunctionRuntime;
  readonly ex: Exchange;

  constructor(rt: FunctionRuntime, ex: Exchange) {
    super(rt);
    this.rt = rt;
    this.ex = ex;
  }

  protected override completed(result: unknown): void {
    // AWS's integration status for Lambda is the Lambda service's (200), not the function's.
    this.ex.integrationDone(200, null);
    const response = this.rt.format.parseResult(result);
    if (typeof response === 'string') {
      fail(
        this.rt,
        this.ex,
        'PORTICO_FUNCTION_INVALID_RESPONSE',
        new Error(response),
        'function returned an invalid response',
      );
      return;
    }
    send(this.rt, this.ex, response);
  }

  protected override failed(error: unknown, timedOut: boolean): void {
    this.ex.integrationDone(
      timedOut ? 0 : 200,
      error instanceof Error ? error.message : String(error),
    );
    if (timedOut) fail(this.rt, this.ex, 'PORTICO_FUNCTION_TIMEOUT', error, 'function timed out');
    else fail(this.rt, this.ex, 'PORTICO_FUNCTION_ERROR', error, 'function failed');
  }
}

function fail(rt: FunctionRuntime, ex: Exchange, code: ErrorCode, err: unknown, msg: string): void {
  rt.logger.error({ requestId: ex.requestId, integration: rt.name, code, err }, msg);
  sendExchangeError(ex, code);
}

function send(rt: FunctionRuntime, ex: Exchange, response: LambdaResponse): void {
  const res = ex.res;
  const { statusCode, body } = response;
  let headers = response.headers;
  // AWS: with CORS configured, the gateway's CORS headers replace the integration's.
  if (ex.route.cors !== null) headers = withoutCorsHeaders(headers);
  // RFC 9110 §8.6: no Content-Length on 204; 304 would describe the cached representation.
  const bodyless = statusCode === 204 || statusCode === 304;
  if (!bodyless) {
    const length = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
    headers.push('content-length', String(length));
  }
  headers.push('apigw-requestid', ex.requestId);
  if (ex.responseHeaders !== null) headers.push(...ex.responseHeaders);
  try {
    // Node validates every pair before writing anything, so a bad value leaves res untouched.
    res.writeHead(statusCode, headers);
  } catch (err) {
    fail(rt, ex, 'PORTICO_FUNCTION_INVALID_RESPONSE', err, 'function returned an invalid response');
    return;
  }
  res.end(bodyless || ex.req.method === 'HEAD' ? undefined : body);
}

function withoutCorsHeaders(headers: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    if (!headers[i]!.startsWith('access-control-')) out.push(headers[i]!, headers[i + 1]!);
  }
  return out;
}
