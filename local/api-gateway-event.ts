import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';

/**
 * Builds the event an API Gateway HTTP API ($default stage and route, payload format 2.0) hands
 * to a Lambda, from plain request parts, as API Gateway does: header names lower-cased and
 * repeated values joined with commas, cookies moved out of the headers, the query string kept
 * raw and parsed (repeated keys joined with commas), binary bodies base64-encoded.
 */

export interface HttpRequestParts {
  readonly method: string;
  /** The path, optionally with a query string ("/models?x=1") when `query` is not given. */
  readonly path: string;
  readonly headers?: Readonly<Record<string, string | readonly string[] | undefined>>;
  readonly query?: Readonly<Record<string, string | readonly string[]>>;
  /** A string is sent as is (already base64 when isBase64Encoded); bytes are base64-encoded. */
  readonly body?: string | Uint8Array;
  readonly isBase64Encoded?: boolean;
  /** @default '127.0.0.1' */
  readonly sourceIp?: string;
}

const API_ID = 'local';
const DOMAIN = `${API_ID}.execute-api.localhost`;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** API Gateway's requestContext.time format: 12/Mar/2020:19:03:58 +0000 */
function requestTime(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(date.getUTCDate())}/${MONTHS[date.getUTCMonth()]}/${date.getUTCFullYear()}:${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} +0000`;
}

function splitPath(path: string): { rawPath: string; rawQueryString: string } {
  const at = path.indexOf('?');
  const rawPath = at < 0 ? path : path.slice(0, at);
  return {
    rawPath: rawPath.startsWith('/') ? rawPath : `/${rawPath}`,
    rawQueryString: at < 0 ? '' : path.slice(at + 1),
  };
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}

function parseQuery(raw: string): Record<string, string> | undefined {
  if (raw === '') return undefined;
  const params: Record<string, string> = {};
  for (const pair of raw.split('&')) {
    if (pair === '') continue;
    const at = pair.indexOf('=');
    const key = decode(at < 0 ? pair : pair.slice(0, at));
    const value = decode(at < 0 ? '' : pair.slice(at + 1));
    params[key] = Object.hasOwn(params, key) ? `${params[key]},${value}` : value;
  }
  return params;
}

function queryString(query: Readonly<Record<string, string | readonly string[]>>): string {
  return Object.entries(query)
    .flatMap(([key, values]) =>
      (typeof values === 'string' ? [values] : values).map(
        (v) => `${encodeURIComponent(key)}=${encodeURIComponent(v)}`,
      ),
    )
    .join('&');
}

export function apiGatewayEvent(request: HttpRequestParts): APIGatewayProxyEventV2 {
  const now = new Date();
  const split = splitPath(request.path);
  const rawQueryString = request.query ? queryString(request.query) : split.rawQueryString;
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers ?? {})) {
    if (value === undefined) continue;
    const key = name.toLowerCase();
    const joined = typeof value === 'string' ? value : value.join(',');
    headers[key] = Object.hasOwn(headers, key) ? `${headers[key]},${joined}` : joined;
  }
  const cookies = headers.cookie
    ?.split(';')
    .map((c) => c.trim())
    .filter((c) => c !== '');
  delete headers.cookie;
  headers.host ??= DOMAIN;
  headers['x-forwarded-proto'] ??= 'https';
  const binary = request.body instanceof Uint8Array;
  const body =
    request.body === undefined
      ? undefined
      : binary
        ? Buffer.from(request.body as Uint8Array).toString('base64')
        : (request.body as string);
  if (body !== undefined)
    headers['content-length'] ??= String(
      binary
        ? (request.body as Uint8Array).length
        : Buffer.byteLength(body, request.isBase64Encoded ? 'base64' : 'utf8'),
    );
  const method = request.method.toUpperCase();
  const event: APIGatewayProxyEventV2 = {
    version: '2.0',
    routeKey: '$default',
    rawPath: split.rawPath,
    rawQueryString,
    headers,
    requestContext: {
      accountId: '000000000000',
      apiId: API_ID,
      domainName: headers.host,
      domainPrefix: API_ID,
      http: {
        method,
        path: split.rawPath,
        protocol: 'HTTP/1.1',
        sourceIp: request.sourceIp ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: requestTime(now),
      timeEpoch: now.getTime(),
    },
    isBase64Encoded: binary || request.isBase64Encoded === true,
  };
  if (cookies && cookies.length > 0) event.cookies = cookies;
  const queryStringParameters = parseQuery(rawQueryString);
  if (queryStringParameters) event.queryStringParameters = queryStringParameters;
  if (body !== undefined) event.body = body;
  return event;
}
