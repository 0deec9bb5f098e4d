/**
 * Lambda proxy payload format 1.0 on an HTTP API (the REST-compatible shape): the event a
 * function receives and how its result becomes the HTTP response. Empty fields are null
 * here, where 2.0 leaves them out.
 */
import { clientCertOf, type ClientCert } from '../client-cert.ts';
import type { AuthorizerContext } from '../authorizers/authorizer.ts';
import type { Exchange } from '../exchange.ts';
import { LOCAL_ACCOUNT_ID } from './context.ts';
import {
  DEFAULT_CONTENT_TYPE,
  LOCAL_API_ID,
  clfTime,
  describe,
  domainName,
  domainPrefix,
  forwardedHeaders,
  getOwn,
  hasHeader,
  headerValue,
  isPlainObject,
  isStatusCode,
  isTextBody,
  putHeader,
  responseBody,
  responseHeaderName,
  protocolOf,
  setOwn,
  splitQuery,
  stageVariables,
  type LambdaResponse,
  type PayloadFormat,
} from './payload.ts';

export interface LambdaEventV1 {
  version: '1.0';
  /** The route's path in AWS syntax (`/pets/{id}`), or `$default`. */
  resource: string;
  /** The path as received, stage prefix included. */
  path: string;
  httpMethod: string;
  /** Lower-case names; for a repeated header, the last value. */
  headers: Record<string, string>;
  multiValueHeaders: Record<string, string[]>;
  /** Decoded; for a repeated key, the last value. */
  queryStringParameters: Record<string, string> | null;
  multiValueQueryStringParameters: Record<string, string[]> | null;
  requestContext: LambdaRequestContextV1;
  pathParameters: Record<string, string> | null;
  stageVariables: Record<string, string> | null;
  body: string | null;
  isBase64Encoded: boolean;
}

export interface LambdaIdentityV1 {
  accessKey: null;
  accountId: null;
  caller: null;
  cognitoAmr: null;
  cognitoAuthenticationProvider: null;
  cognitoAuthenticationType: null;
  cognitoIdentityId: null;
  cognitoIdentityPoolId: null;
  principalOrgId: null;
  sourceIp: string;
  user: null;
  userAgent: string;
  userArn: null;
  /** mTLS only: the verified client certificate. */
  clientCert?: ClientCert;
}

export interface LambdaRequestContextV1 {
  accountId: string;
  apiId: string;
  /**
   * What the route's authorizer established; absent without one. JWT claims come without
   * 2.0's `jwt` wrapper, as in AWS's 1.0 example (`authorizer.claims`, `authorizer.scopes`).
   */
  authorizer?: LambdaAuthorizerV1;
  domainName: string;
  domainPrefix: string;
  extendedRequestId: string;
  httpMethod: string;
  /** IAM/Cognito fields are null: the gateway has no IAM callers. */
  identity: LambdaIdentityV1;
  path: string;
  protocol: string;
  requestId: string;
  /** CLF, e.g. `04/Mar/2020:19:15:17 +0000`. */
  requestTime: string;
  requestTimeEpoch: number;
  /** The route key (`ANY /pets/{id}`), as AWS HTTP APIs send it. */
  resourceId: string;
  resourcePath: string;
  stage: string;
}

export type LambdaAuthorizerV1 =
  | {
      claims: Record<string, unknown>;
      scopes: readonly string[] | null;
    }
  | { lambda: Record<string, unknown> };

/** The 1.0 response; `statusCode` is required (there is no inference in 1.0). */
export interface LambdaResultV1 {
  statusCode: number;
  headers?: Record<string, string | number | boolean>;
  multiValueHeaders?: Record<string, Array<string | number | boolean>>;
  body?: string;
  isBase64Encoded?: boolean;
}

class PayloadV1 implements PayloadFormat<LambdaEventV1> {
  readonly version = '1.0';

  buildEvent(ex: Exchange, body: Buffer | null): LambdaEventV1 {
    const req = ex.req;
    const raw = req.rawHeaders;
    const headers: Record<string, string> = {};
    const multiValueHeaders: Record<string, string[]> = {};
    // Client copies of gateway-set headers (authorizer claims) are dropped, as for HTTP.
    const gatewayOwned = ex.route.gatewayHeaders;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!.toLowerCase();
      if (gatewayOwned !== null && gatewayOwned.has(name)) continue;
      const value = raw[i + 1]!;
      setOwn(headers, name, value);
      const list = getOwn(multiValueHeaders, name);
      if (list === undefined) setOwn(multiValueHeaders, name, [value]);
      else list.push(value);
    }
    const fwd = forwardedHeaders(ex);
    for (let i = 0; i < fwd.length; i += 2) {
      headers[fwd[i]!] = fwd[i + 1]!;
      multiValueHeaders[fwd[i]!] = [fwd[i + 1]!];
    }

    let query: Record<string, string> | null = null;
    let multiQuery: Record<string, string[]> | null = null;
    if (ex.rawQuery !== '') {
      const pairs = splitQuery(ex.rawQuery);
      if (pairs.length > 0) {
        query = {};
        multiQuery = {};
        for (let i = 0; i < pairs.length; i += 2) {
          const key = pairs[i]!;
          const value = pairs[i + 1]!;
          setOwn(query, key, value);
          const list = getOwn(multiQuery, key);
          if (list === undefined) setOwn(multiQuery, key, [value]);
          else list.push(value);
        }
      }
    }

    const host = domainName(req.headers.host);
    const method = req.method!;
    const resource = ex.route.resource;
    const userAgent = req.headers['user-agent'] ?? '';
    const text = body === null || isTextBody(ex);
    const requestContext: LambdaRequestContextV1 = {
      accountId: LOCAL_ACCOUNT_ID,
      apiId: LOCAL_API_ID,
      domainName: host,
      domainPrefix: domainPrefix(host),
      extendedRequestId: ex.requestId,
      httpMethod: method,
      identity: {
        accessKey: null,
        accountId: null,
        caller: null,
        cognitoAmr: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: fwd[1],
        user: null,
        userAgent,
        userArn: null,
      },
      path: ex.rawPath,
      protocol: protocolOf(req.httpVersion),
      requestId: ex.requestId,
      requestTime: clfTime(ex.startTime),
      requestTimeEpoch: ex.startTime,
      resourceId: ex.route.routeKey,
      resourcePath: resource,
      stage: ex.stage.name,
    };
    if (ex.authorizer !== null) requestContext.authorizer = authorizerV1(ex.authorizer);
    const clientCert = clientCertOf(req);
    if (clientCert !== null) requestContext.identity.clientCert = clientCert;
    return {
      version: '1.0',
      resource,
      path: ex.rawPath,
      httpMethod: method,
      headers,
      multiValueHeaders,
      queryStringParameters: query,
      multiValueQueryStringParameters: multiQuery,
      requestContext,
      pathParameters: ex.params,
      stageVariables: stageVariables(ex),
      body: body === null ? null : body.toString(text ? 'utf8' : 'base64'),
      isBase64Encoded: !text,
    };
  }

  parseResult(result: unknown): LambdaResponse | string {
    if (!isPlainObject(result))
      return `result must be an object with statusCode, got ${describe(result)}`;
    const { statusCode } = result;
    if (!isStatusCode(statusCode)) {
      return `statusCode must be an integer from 200 to 599, got ${describe(statusCode)}`;
    }
    const out: string[] = [];
    // AWS merges the two maps; a name in multiValueHeaders takes its values from there,
    // and the single-value map only adds a value not already listed.
    const { multiValueHeaders } = result;
    if (multiValueHeaders !== undefined && multiValueHeaders !== null) {
      if (!isPlainObject(multiValueHeaders)) {
        return `multiValueHeaders must be an object, got ${describe(multiValueHeaders)}`;
      }
      for (const key of Object.keys(multiValueHeaders)) {
        const list = multiValueHeaders[key];
        if (list === undefined || list === null) continue;
        if (!Array.isArray(list))
          return `multiValueHeaders "${key}" must be an array, got ${describe(list)}`;
        const name = responseHeaderName(key);
        for (const raw of list) {
          const value = headerValue(raw);
          if (value === null)
            return `multiValueHeaders "${key}" must hold strings, got ${describe(raw)}`;
          if (name !== null) out.push(name, value);
        }
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
        if (name === null || hasPair(out, name, value)) continue;
        if (name === 'set-cookie' || isMultiValued(multiValueHeaders, name)) out.push(name, value);
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
 * AWS does not document a Lambda authorizer's context in a 1.0 event; it is passed as in
 * 2.0 (`{ lambda: {...} }`). Unverified.
 */
function authorizerV1(context: AuthorizerContext): LambdaAuthorizerV1 {
  return 'jwt' in context
    ? { claims: context.jwt.claims, scopes: context.jwt.scopes }
    : { lambda: context.lambda };
}

function hasPair(out: readonly string[], name: string, value: string): boolean {
  for (let i = 0; i < out.length; i += 2) if (out[i] === name && out[i + 1] === value) return true;
  return false;
}

function isMultiValued(multi: unknown, name: string): boolean {
  if (!isPlainObject(multi)) return false;
  for (const key of Object.keys(multi)) if (key.toLowerCase() === name) return true;
  return false;
}

/** The one 1.0 payload format: stateless, shared by every function integration. */
export const payloadV1 = new PayloadV1();
