/**
 * The error model: every failure a client can see has a stable code, and the
 * HTTP status and AWS-style message for each code live only in this table.
 * Configuration problems are a separate class (ConfigError) that never reaches a client.
 */

// Statuses and messages are AWS API Gateway's (HTTP API where it defines one).
export const ERRORS = {
  PORTICO_BAD_REQUEST: { status: 400, message: 'Bad Request' },
  PORTICO_UNAUTHORIZED: { status: 401, message: 'Unauthorized' },
  PORTICO_FORBIDDEN: { status: 403, message: 'Forbidden' },
  // AWS gateway response INVALID_API_KEY: same wire shape as FORBIDDEN, its own code for logs.
  PORTICO_API_KEY_INVALID: { status: 403, message: 'Forbidden' },
  PORTICO_ROUTE_NOT_FOUND: { status: 404, message: 'Not Found' },
  PORTICO_REQUEST_TIMEOUT: { status: 408, message: 'Request Timeout' },
  PORTICO_BODY_TOO_LARGE: { status: 413, message: 'Request Entity Too Large' },
  PORTICO_URI_TOO_LONG: { status: 414, message: 'Request-URI Too Long' },
  PORTICO_THROTTLED: { status: 429, message: 'Too Many Requests' },
  PORTICO_QUOTA_EXCEEDED: { status: 429, message: 'Limit Exceeded' },
  PORTICO_HEADERS_TOO_LARGE: { status: 431, message: 'Request Header Fields Too Large' },
  PORTICO_INTERNAL: { status: 500, message: 'Internal Server Error' },
  PORTICO_AUTHORIZER_ERROR: { status: 500, message: 'Internal Server Error' },
  PORTICO_FUNCTION_ERROR: { status: 500, message: 'Internal Server Error' },
  PORTICO_FUNCTION_TIMEOUT: { status: 500, message: 'Internal Server Error' },
  PORTICO_FUNCTION_INVALID_RESPONSE: { status: 500, message: 'Internal Server Error' },
  PORTICO_UPSTREAM_UNREACHABLE: { status: 502, message: 'Bad Gateway' },
  PORTICO_UPSTREAM_ERROR: { status: 502, message: 'Bad Gateway' },
  // undici's UND_ERR_HEADERS_OVERFLOW: the upstream's response head is over maxResponseHeaderBytes.
  PORTICO_UPSTREAM_HEADERS_TOO_LARGE: { status: 502, message: 'Bad Gateway' },
  PORTICO_UPSTREAM_TIMEOUT: { status: 503, message: 'Service Unavailable' },
  // A timeout like any other for AWS (503), its own code so logs tell a dead host from a slow one.
  PORTICO_UPSTREAM_CONNECT_TIMEOUT: { status: 503, message: 'Service Unavailable' },
  PORTICO_SHUTTING_DOWN: { status: 503, message: 'Service Unavailable' },
  PORTICO_CONCURRENCY_LIMIT: { status: 503, message: 'Service Unavailable' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** A request failure. Its code decides what the client sees; `cause` is for logs only. */
export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number;

  constructor(code: ErrorCode, detail?: string, options?: { cause?: unknown }) {
    super(detail ?? ERRORS[code].message, options);
    this.name = 'GatewayError';
    this.code = code;
    this.statusCode = ERRORS[code].status;
  }
}

/** One problem in a configuration, located by its path in the config and, for files, its line. */
export interface ConfigIssue {
  /** Rendered path, e.g. `routes["GET /hello"].integration`; empty for the document root. */
  readonly path: string;
  readonly message: string;
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
}

/** A configuration that cannot be deployed; lists every problem found, not just the first. */
export class ConfigError extends Error {
  readonly code = 'PORTICO_INVALID_CONFIG';
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[], source?: string) {
    super(
      `${source ? `${source}: ` : ''}invalid config\n${issues.map((i) => `  ${formatIssue(i)}`).join('\n')}`,
    );
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

/** `file:line:col: path: message` (each part only when known): one problem per line. */
export function formatIssue(issue: ConfigIssue): string {
  let where = issue.file ?? '';
  if (issue.line !== undefined) where += `${where ? ':' : ''}${issue.line}:${issue.column ?? 1}`;
  // File-level problems (syntax, missing file) have no config path.
  const path = issue.path ? `${issue.path}: ` : '';
  return `${where ? `${where}: ` : ''}${path}${issue.message}`;
}
