/**
 * Lambda proxy payload format 2.0 (AWS HTTP API's default): the event a function receives
 * and how its result becomes the HTTP response, field by field as AWS documents them in
 * http-api-develop-integrations-lambda.
 */
import type { AuthorizerContext } from '../authorizers/authorizer.ts';
import type { Exchange } from '../exchange.ts';
import { clientCertOf, type ClientCert } from '../client-cert.ts';
import { LOCAL_ACCOUNT_ID } from './context.ts';
import {
  DEFAULT_CONTENT_TYPE,
  LOCAL_API_ID,
  clfTime,
  describe,
  domainName,
  domainPrefix,
  forwardedHeaders,
  hasHeader,
  headerValue,
  isPlainObject,
  isTextBody,
  isStatusCode,
  joinOwn,
  protocolOf,
  putHeader,
  responseBody,
  responseHeaderName,
  splitQuery,
  stageVariables,
  type LambdaResponse,
  type PayloadFormat,
} from './payload.ts';

export interface LambdaEventV2 {
  version: '2.0';
  /** `GET /pets/{id}`, or `$default`. */
  routeKey: string;
  /** The path as received, stage prefix included, still percent-encoded. */
  rawPath: string;
  rawQueryString: string;
  /** The Cookie header split into cookies; the header itself is not in `headers`. Absent when none. */
  cookies?: string[];
  /** Lower-case names; repeated headers joined with commas. */
  headers: Record<string, string>;
  /** Decoded; repeated keys joined with commas. Absent when the request has no query. */
  queryStringParameters?: Record<string, string>;
  requestContext: LambdaRequestContextV2;
  /** Absent when the request has no body. */
  body?: string;
  /** Decoded. Absent when the route has no path variables. */
  pathParameters?: Record<string, string>;
  isBase64Encoded: boolean;
  /** Absent when the stage has none. */
  stageVariables?: Record<string, string>;
}

export interface LambdaRequestContextV2 {
  accountId: string;
  apiId: string;
  /** What the route's authorizer established (`{ jwt: {...} }`, `{ lambda: {...} }`); absent without one. */
  authorizer?: AuthorizerContext;
  /** mTLS only: the verified client certificate. */
  authentication?: { clientCert: ClientCert };
  domainName: string;
  domainPrefix: string;
  http: {
    method: string;
    path: string;
    protocol: string;
    sourceIp: string;
    userAgent: string;
  };
  /** Equals the `apigw-requestid` response header. */
  requestId: string;
  routeKey: string;
  stage: string;
  /** CLF, e.g. `12/Mar/2020:19:03:58 +0000`. */
  time: string;
  timeEpoch: number;
}

/** An explicit 2.0 response. Omit `statusCode` to have the result inferred instead. */
export interface LambdaStructuredResultV2 {
  statusCode?: number;
  headers?: Record<string, string | number | boolean>;
  /** Each becomes its own `set-cookie` header. */
  cookies?: string[];
  body?: string;
  isBase64Encoded?: boolean;
}

/**
 * What a 2.0 handler may return: an explicit response, or anything else (a string, an
 * object without `statusCode`), which AWS sends as a 200 JSON body.
 */
export type LambdaResultV2<T = never> = LambdaStructuredResultV2 | string | T;

class PayloadV2 implements PayloadFormat<LambdaEventV2> {
  readonly version = '2.0';

  buildEvent(ex: Exchange, body: Buffer | null): LambdaEventV2 {
    const req = ex.req;
    const raw = req.rawHeaders;
    const headers: Record<string, string> = {};
    let cookies: string[] | null = null;
    // Headers the gateway itself sends HTTP integrations (authorizer claims): a client's
    // copies are not passed on there, so not here either.
    const gatewayOwned = ex.route.gatewayHeaders;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!.toLowerCase();
      if (gatewayOwned !== null && gatewayOwned.has(name)) continue;
      const value = raw[i + 1]!;
      if (name === 'cookie') {
        cookies = splitCookies(value, cookies);
        continue;
      }
      joinOwn(headers, name, value);
    }
    const fwd = forwardedHeaders(ex);
    for (let i = 0; i < fwd.length; i += 2) headers[fwd[i]!] = fwd[i + 1]!;

    const host = domainName(req.headers.host);
    const routeKey = ex.route.routeKey;
    const event: LambdaEventV2 = {
      version: '2.0',
      routeKey,
      rawPath: ex.rawPath,
      rawQueryString: ex.rawQuery,
      headers,
      requestContext: {
        accountId: LOCAL_ACCOUNT_ID,
        apiId: LOCAL_API_ID,
        domainName: host,
        domainPrefix: domainPrefix(host),
        http: {
          method: req.method!,
          path: ex.rawPath,
          protocol: protocolOf(req.httpVersion),
          sourceIp: fwd[1],
          userAgent: req.headers['user-agent'] ?? '',
        },
        requestId: ex.requestId,
        routeKey,
        stage: ex.stage.name,
        time: clfTime(ex.startTime),
        timeEpoch: ex.startTime,
      },
      isBase64Encoded: false,
    };
    if (ex.authorizer !== null) event.requestContext.authorizer = ex.authorizer;
    const clientCert = clientCertOf(req);
    if (clientCert !== null) event.requestContext.authentication = { clientCert };
    if (cookies !== null && cookies.length > 0) event.cookies = cookies;
    if (ex.rawQuery !== '') {
      const pairs = splitQuery(ex.rawQuery);
      if (pairs.length > 0) {
        const query: Record<string, string> = {};
        for (let i = 0; i < pairs.length; i += 2) {
          joinOwn(query, pairs[i]!, pairs[i + 1]!);
        }
        event.queryStringParameters = query;
      }
    }
    if (body !== null) {
      const text = isTextBody(ex);
      event.body = body.toString(text ? 'utf8' : 'base64');
      event.isBase64Encoded = !text;
    }
    if (ex.params !== null) event.pathParameters = ex.params;
    const vars = stageVariables(ex);
    if (vars !== null) event.stageVariables = vars;
    return event;
  }

  parseResult(result: unknown): LambdaResponse | string {
    if (!isPlainObject(result) || result.statusCode === undefined) return inferred(result);
    const { statusCode } = result;
    if (!isStatusCode(statusCode)) {
      return `statusCode must be an integer from 200 to 599, got ${describe(statusCode)}`;
    }
    const out: string[] = [];
    const { cookies } = result;
    if (cookies !== undefined && cookies !== null) {
      if (!Array.isArray(cookies))
        return `cookies must be an array of strings, got ${describe(cookies)}`;
      for (const cookie of cookies) {
        if (typeof cookie !== 'string') return `cookies must be strings, got ${describe(cookie)}`;
        out.push('set-cookie', cookie);
      }
    }
    const { headers } = result;
    if (headers !== undefined && headers !== null) {
      if (!isPlainObject(headers)) return `headers must be an object, got ${describe(headers)}`;
      for (const key of Object.keys(headers)) {
        const raw = headers[key];
        if (raw === undefined) continue;
        const value = headerValue(raw);
        if (value === null) return `header "${key}" must be a string, got ${describe(raw)}`;
        const name = responseHeaderName(key);
        if (name === null) continue;
        // set-cookie may repeat (cookies first, then this one); other names keep the last value.
        if (name === 'set-cookie') out.push(name, value);
        else putHeader(out, name, value);
      }
    }
    const body = responseBody(result.body, result.isBase64Encoded);
    if (body === null) return `body must be a string, got ${describe(result.body)}`;
    if (body.length > 0 && !hasHeader(out, 'content-type'))
      out.push('content-type', DEFAULT_CONTENT_TYPE);
    return { statusCode, headers: out, body };
  }
}

/**
 * AWS's inference for a result without `statusCode`: 200, application/json, and the
 * function's output as the body — a string as is, anything else as its JSON (`undefined`
 * is `null`, as the Lambda runtime serialises it).
 */
function inferred(result: unknown): LambdaResponse | string {
  let text: string;
  if (typeof result === 'string') text = result;
  else {
    try {
      text = JSON.stringify(result === undefined ? null : result) ?? 'null';
    } catch (err) {
      return `result cannot be serialised as JSON: ${(err as Error).message}`;
    }
  }
  return {
    statusCode: 200,
    headers: ['content-type', 'application/json'],
    body: text,
  };
}

/** `a=1; b=2` → ['a=1', 'b=2'], appended across repeated Cookie headers. */
function splitCookies(value: string, into: string[] | null): string[] {
  const out = into ?? [];
  for (const part of value.split(';')) {
    const cookie = part.trim();
    if (cookie !== '') out.push(cookie);
  }
  return out;
}

/** The one 2.0 payload format: stateless, shared by every function integration. */
export const payloadV2 = new PayloadV2();
