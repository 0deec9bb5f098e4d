/**
 * Access-log formats as AWS API Gateway defines them: a template with `$context.x`
 * placeholders (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging-variables.html),
 * and the CLF, JSON, XML and CSV presets the AWS console offers. A template is compiled once
 * per deployment into an array of literal strings and value readers, so rendering a line is
 * one pass of concatenation. Missing values render as `-`, as in AWS.
 */
import type { RequestRecord } from './record.ts';

type Value = string | number | null;
type Reader = (r: RequestRecord) => Value;

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** AWS's `$context.requestTime`: CLF time, always UTC, e.g. `24/Nov/2026:14:16:12 +0000`. */
export function clfTime(ms: number): string {
  // Many requests share a second: format it once per second.
  const second = Math.floor(ms / 1000);
  if (second === lastSecond) return lastText;
  const d = new Date(ms);
  lastSecond = second;
  return (lastText = `${pad2(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())} +0000`);
}
let lastSecond = -1;
let lastText = '';

function ms(n: number): number | null {
  return n < 0 ? null : Math.round(n);
}

/** The `$context` variables a template may use (AWS names), and how each is read. */
export const CONTEXT_VARIABLES: Readonly<Record<string, Reader>> = {
  requestId: (r) => r.requestId,
  extendedRequestId: (r) => r.requestId,
  'identity.sourceIp': (r) => r.sourceIp,
  'identity.userAgent': (r) => r.req.headers['user-agent'] ?? null,
  requestTime: (r) => clfTime(r.startTime),
  requestTimeEpoch: (r) => r.startTime,
  httpMethod: (r) => r.req.method ?? null,
  routeKey: (r) => r.routeKey,
  path: (r) => r.ex?.rawPath ?? pathOf(r.req.url),
  stage: (r) => r.stage,
  status: (r) => (r.status === 0 ? null : r.status),
  protocol: (r) => `HTTP/${r.req.httpVersion}`,
  domainName: (r) => r.req.headers.host ?? null,
  responseLength: (r) => r.responseLength,
  responseLatency: (r) => ms(r.latencyMs),
  integrationLatency: (r) => ms(r.integrationLatencyMs),
  'integration.latency': (r) => ms(r.integrationLatencyMs),
  integrationStatus: (r) => integrationStatus(r),
  'integration.status': (r) => integrationStatus(r),
  integrationErrorMessage: (r) => r.ex?.integrationError ?? null,
  'integration.error': (r) => r.ex?.integrationError ?? null,
  'authorizer.error': (r) => r.authorizerError,
  'error.message': (r) => r.errorMessage,
  // AWS: the message as a quoted JSON string, for JSON templates.
  'error.messageString': (r) => {
    const m = r.errorMessage;
    return m === null ? null : JSON.stringify(m);
  },
  'error.responseType': (r) => r.ex?.errorCode ?? null,
};

function integrationStatus(r: RequestRecord): number | null {
  const s = r.ex?.integrationStatus ?? 0;
  return s === 0 ? null : s;
}

/** The request target without its query string (never logged: it may hold tokens). */
export function pathOf(url: string | undefined): string | null {
  if (url === undefined) return null;
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

/** The console presets (HTTP API), by name. */
export const PRESETS: Readonly<Record<'clf' | 'json' | 'xml' | 'csv', string>> = {
  clf: '$context.identity.sourceIp - - [$context.requestTime] "$context.httpMethod $context.routeKey $context.protocol" $context.status $context.responseLength $context.requestId',
  json: '{ "requestId":"$context.requestId", "ip": "$context.identity.sourceIp", "requestTime":"$context.requestTime", "httpMethod":"$context.httpMethod","routeKey":"$context.routeKey", "status":"$context.status","protocol":"$context.protocol", "responseLength":"$context.responseLength" }',
  xml: '<request id="$context.requestId"> <ip>$context.identity.sourceIp</ip> <requestTime>$context.requestTime</requestTime> <httpMethod>$context.httpMethod</httpMethod> <routeKey>$context.routeKey</routeKey> <status>$context.status</status> <protocol>$context.protocol</protocol> <responseLength>$context.responseLength</responseLength> </request>',
  csv: '$context.identity.sourceIp,$context.requestTime,$context.httpMethod,$context.routeKey,$context.protocol,$context.status,$context.responseLength,$context.requestId',
};

// `$context.` then a dotted name; `$context.error.messageString` is longest-match by the regex.
const PLACEHOLDER = /\$context\.([A-Za-z]+(?:\.[A-Za-z]+)*)/g;

/** The template of a preset name, or the string itself. */
export function resolveFormat(format: string): string {
  return Object.hasOwn(PRESETS, format) ? PRESETS[format as keyof typeof PRESETS] : format;
}

/** Names used in a template that are not `$context` variables Portico knows (for config checks). */
export function unknownVariables(format: string): string[] {
  const out: string[] = [];
  for (const m of resolveFormat(format).matchAll(PLACEHOLDER))
    if (!Object.hasOwn(CONTEXT_VARIABLES, longestKnown(m[1]!))) out.push(`$context.${m[1]!}`);
  return out;
}

/** `integrationStatus.x` reads `integrationStatus` followed by literal `.x`, as AWS does. */
function longestKnown(name: string): string {
  let n = name;
  for (;;) {
    if (Object.hasOwn(CONTEXT_VARIABLES, n)) return n;
    const dot = n.lastIndexOf('.');
    if (dot < 0) return name;
    n = n.slice(0, dot);
  }
}

export type Renderer = (r: RequestRecord) => string;

/**
 * Compiles a template (or preset name) into a renderer. Values are escaped for the template's
 * syntax: JSON string rules in a template that starts with `{`, XML entities with `<`.
 */
export function compileFormat(format: string): Renderer {
  const template = resolveFormat(format);
  const trimmed = template.trimStart();
  const escape = trimmed.startsWith('{') ? jsonEscape : trimmed.startsWith('<') ? xmlEscape : null;
  const literals: string[] = [];
  const readers: Reader[] = [];
  // `error.messageString` is already a JSON string literal: never escaped again.
  const verbatim: boolean[] = [];
  let last = 0;
  for (const m of template.matchAll(PLACEHOLDER)) {
    const name = longestKnown(m[1]!);
    const reader = CONTEXT_VARIABLES[name];
    if (reader === undefined) continue; // rejected by config validation; literal otherwise
    literals.push(template.slice(last, m.index));
    readers.push(reader);
    verbatim.push(name === 'error.messageString');
    last = m.index + '$context.'.length + name.length;
  }
  const tail = template.slice(last);
  const n = readers.length;
  return (r) => {
    let out = '';
    for (let i = 0; i < n; i++) {
      const v = readers[i]!(r);
      out += literals[i]!;
      out += v === null ? '-' : escape === null || verbatim[i] ? String(v) : escape(String(v));
    }
    return out + tail;
  };
}

/** The text of a JSON string literal for `s` (escapes only when a character needs it). */
export function jsonEscape(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 32 || c === 34 || c === 92) return JSON.stringify(s).slice(1, -1);
  }
  return s;
}

const XML_SPECIAL = /[<>&"']/g;

function xmlEscape(s: string): string {
  return s.replace(XML_SPECIAL, (c) => `&#${c.charCodeAt(0)};`);
}
