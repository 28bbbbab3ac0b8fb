import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';

/**
 * Every answer the API gives, in one shape: JSON bodies, and errors as
 * {"error": {"code", "message", "field"?, "expected"?, "allowed"?}} with a 4xx status for
 * anything the caller can fix. Error bodies never carry stack traces or internal messages.
 */

export interface ApiError {
  readonly status: number;
  /** Stable and machine-readable, e.g. "missing_feature" (the codes are listed in request.ts and app.ts). */
  readonly code: string;
  readonly message: string;
  /** Where in the request, e.g. "instances[3].petal_width". */
  readonly field?: string;
  /** What the field should hold, e.g. "a finite number". */
  readonly expected?: string;
  /** For closed sets (categories, features): the accepted values, truncated. */
  readonly allowed?: readonly string[];
}

export type Result<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: ApiError };

export const ok = <T>(value: T): Result<T> => ({ ok: true, value });
export const fail = (error: ApiError): { readonly ok: false; readonly error: ApiError } => ({ ok: false, error });

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' } as const;

export function jsonResponse(
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): APIGatewayProxyStructuredResultV2 {
  return { statusCode: status, headers: { ...JSON_HEADERS, ...headers }, body: JSON.stringify(body) };
}

export function errorResponse(
  error: ApiError,
  headers: Readonly<Record<string, string>> = {},
): APIGatewayProxyStructuredResultV2 {
  const { status, ...rest } = error;
  const body: Record<string, unknown> = { code: rest.code, message: rest.message };
  if (rest.field !== undefined) body.field = rest.field;
  if (rest.expected !== undefined) body.expected = rest.expected;
  if (rest.allowed !== undefined) body.allowed = rest.allowed;
  return jsonResponse(status, { error: body }, headers);
}

export function htmlResponse(
  html: string,
  headers: Readonly<Record<string, string>> = {},
): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode: 200,
    headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache', ...headers },
    body: html,
  };
}

/** 500 for what the caller cannot fix: a reference to the logged error, nothing else. */
export function internalError(errorId: string): APIGatewayProxyStructuredResultV2 {
  return errorResponse({
    status: 500,
    code: 'internal_error',
    message: `internal error; quote reference ${errorId} when reporting it`,
  });
}

export function methodNotAllowed(method: string, allow: readonly string[]): APIGatewayProxyStructuredResultV2 {
  return errorResponse(
    {
      status: 405,
      code: 'method_not_allowed',
      message: `${truncate(method, 20)} is not allowed here`,
      expected: allow.join(', '),
    },
    { allow: allow.join(', ') },
  );
}

/** Caps user-supplied text echoed in messages, so an error never repeats a megabyte back. */
export function truncate(text: string, max = 100): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

/** A list for a message: the first `max` items, then how many more there are. */
export function listOf(items: readonly string[], max = 20): string {
  const shown = items.slice(0, max).map((i) => JSON.stringify(truncate(i)));
  return items.length > max ? `${shown.join(', ')} … and ${items.length - max} more` : shown.join(', ');
}
