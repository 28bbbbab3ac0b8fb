import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { apiGatewayEvent } from './api-gateway-event';
import { corsHeaders, type CorsSettings } from '../core/cors';

/**
 * The local stand-in for API Gateway's HTTP API ($default route, payload format 2.0): each HTTP
 * request becomes the event API Gateway would send, the Lambda handler's result becomes the
 * response. Like API Gateway it refuses bodies over 10 MB itself, sends text bodies as strings
 * and others base64-encoded, and measures every request (count, status, latency) as its metrics do.
 */

/** API Gateway HTTP APIs' payload limit. */
const API_GATEWAY_PAYLOAD_BYTES = 10 * 1024 * 1024;

export interface RequestRecord {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly latencyMs: number;
}

/** What a local route is given: the request, and the values of its pattern's `{name}` segments. */
export interface LocalRequest {
  readonly method: string;
  /** Without the query string. */
  readonly path: string;
  /** `{model}` in `/_local/monitoring/{model}` -> the path's segment there, URL-decoded. */
  readonly params: Readonly<Record<string, string>>;
  /** The raw body (empty when there is none). */
  readonly body: Buffer;
}

export interface LocalAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** A route served by this server itself, not the Lambda (the local dashboard, the monitoring job on demand). */
export type LocalRoute = (request: LocalRequest) => LocalAnswer | Promise<LocalAnswer>;

export interface HttpApiOptions {
  /** 0 picks a free port. */
  readonly port: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
  readonly handler: (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;
  /**
   * Routes answered locally, keyed `"<METHOD> <path pattern>"` or just `"<path pattern>"` (GET).
   * A pattern is matched segment by segment; a `{name}` segment matches any one segment and is
   * passed in `params`: `'/dashboard'`, `'POST /_local/monitoring/{model}'`. The first match in
   * key order wins; requests no route matches go to the handler.
   */
  readonly localRoutes?: Readonly<Record<string, LocalRoute>>;
  /**
   * Cross-origin access, as API Gateway's corsPreflight gives it: preflights answered here (204),
   * CORS headers on the handler's answers for allowed origins. @default - off (no CORS headers)
   */
  readonly cors?: CorsSettings;
  /** Every request the handler answered (API Gateway's own metrics). */
  readonly onRequest?: (record: RequestRecord) => void;
}

export interface HttpApi {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

const TEXT_TYPES = /^(text\/|application\/(json|xml|javascript|x-www-form-urlencoded)|[^;]*\+(json|xml))/i;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** API Gateway passes text payloads as strings and base64-encodes the rest (a compressed body is binary whatever its type). */
function eventBody(
  bytes: Buffer,
  contentType: string | undefined,
  contentEncoding: string | undefined,
): string | Uint8Array | undefined {
  if (bytes.length === 0) return undefined;
  const encoded =
    contentEncoding !== undefined &&
    contentEncoding.trim().toLowerCase() !== 'identity' &&
    contentEncoding.trim() !== '';
  if (!encoded && (contentType === undefined || TEXT_TYPES.test(contentType))) {
    try {
      return utf8.decode(bytes);
    } catch {
      return new Uint8Array(bytes);
    }
  }
  return new Uint8Array(bytes);
}

function readBody(request: IncomingMessage): Promise<Buffer | 'too-large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= API_GATEWAY_PAYLOAD_BYTES) chunks.push(chunk);
    });
    request.on('end', () => resolve(size > API_GATEWAY_PAYLOAD_BYTES ? 'too-large' : Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

function send(
  response: ServerResponse,
  status: number,
  headers: Readonly<Record<string, string>>,
  body: string | Buffer,
): void {
  response.writeHead(status, { ...headers, 'content-length': String(Buffer.byteLength(body)) });
  response.end(body);
}

export interface CompiledRoute {
  readonly method: string;
  /** Literal segments, or `{ param }` for a `{name}` one. */
  readonly segments: readonly (string | { readonly param: string })[];
  readonly route: LocalRoute;
}

const segmentsOf = (path: string) => path.split('/').slice(1);

/** Parses the `localRoutes` keys once; a malformed key fails the start, naming it. */
export function compileLocalRoutes(routes: Readonly<Record<string, LocalRoute>>): CompiledRoute[] {
  return Object.entries(routes).map(([key, route]) => {
    const match = /^(?:([A-Z]+) )?(\/\S*)$/.exec(key);
    if (!match)
      throw new Error(
        `local route "${key}" must be "<METHOD> /path" or "/path", e.g. "POST /_local/monitoring/{model}"`,
      );
    const segments = segmentsOf(match[2]).map((segment) => {
      const param = /^\{([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(segment)?.[1];
      if (param === undefined && /[{}]/.test(segment))
        throw new Error(`local route "${key}": a parameter is a whole segment like {model}, got "${segment}"`);
      return param === undefined ? segment : { param };
    });
    return { method: match[1] ?? 'GET', segments, route };
  });
}

/** The first route matching the request, with its parameters. */
export function matchLocalRoute(
  routes: readonly CompiledRoute[],
  method: string,
  path: string,
): { route: LocalRoute; params: Record<string, string> } | undefined {
  const parts = segmentsOf(path);
  for (const candidate of routes) {
    if (candidate.method !== method || candidate.segments.length !== parts.length) continue;
    const params: Record<string, string> = {};
    const matches = candidate.segments.every((segment, i) => {
      if (typeof segment === 'string') return segment === parts[i];
      if (parts[i] === '') return false;
      try {
        params[segment.param] = decodeURIComponent(parts[i]);
        return true;
      } catch {
        return false;
      }
    });
    if (matches) return { route: candidate.route, params };
  }
  return undefined;
}

const jsonError = (code: string, message: string) => JSON.stringify({ error: { code, message } });

export function startHttpApi(options: HttpApiOptions): Promise<HttpApi> {
  const localRoutes = compileLocalRoutes(options.localRoutes ?? {});
  const server: Server = createServer((request, response) => {
    const started = performance.now();
    const method = request.method ?? 'GET';
    const path = request.url ?? '/';
    const local = localRoutes.length > 0 ? matchLocalRoute(localRoutes, method, path.split('?')[0]) : undefined;
    if (local) {
      void (async () => {
        const body = await readBody(request);
        if (body === 'too-large')
          return send(
            response,
            413,
            { 'content-type': 'application/json' },
            jsonError('payload_too_large', `local routes take at most ${API_GATEWAY_PAYLOAD_BYTES} bytes`),
          );
        const answer = await local.route({ method, path: path.split('?')[0], params: local.params, body });
        send(response, answer.status, answer.headers, answer.body);
      })().catch((error: unknown) => {
        // A local tool: the message helps more than it exposes.
        if (!response.headersSent)
          send(
            response,
            500,
            { 'content-type': 'application/json' },
            jsonError(
              'internal_error',
              `${method} ${path.split('?')[0]} failed: ${error instanceof Error ? error.message : String(error)}`,
            ),
          );
      });
      return;
    }
    const record = (status: number) =>
      options.onRequest?.({ method, path: path.split('?')[0], status, latencyMs: performance.now() - started });
    const origin = request.headers.origin;
    if (
      options.cors &&
      method === 'OPTIONS' &&
      origin !== undefined &&
      request.headers['access-control-request-method'] !== undefined
    ) {
      // API Gateway answers a preflight itself when CORS is configured; the function never sees it.
      request.resume();
      send(response, 204, corsHeaders(options.cors, origin, true), '');
      return;
    }
    void (async () => {
      const body = await readBody(request);
      if (body === 'too-large') {
        // API Gateway answers this itself; the function never runs.
        send(
          response,
          413,
          { 'content-type': 'application/json' },
          JSON.stringify({ message: 'Request Entity Too Large' }),
        );
        record(413);
        return;
      }
      const event = apiGatewayEvent({
        method,
        path,
        headers: request.headersDistinct,
        body: eventBody(body, request.headers['content-type'], request.headers['content-encoding']),
        sourceIp: request.socket.remoteAddress,
      });
      const result = await options.handler(event);
      const payload =
        result.body === undefined ? '' : result.isBase64Encoded ? Buffer.from(result.body, 'base64') : result.body;
      const headers: Record<string, string> = { 'apigw-requestid': event.requestContext.requestId };
      for (const [name, value] of Object.entries(result.headers ?? {})) headers[name] = String(value);
      Object.assign(headers, corsHeaders(options.cors, origin, false));
      if (result.cookies?.length) response.setHeader('set-cookie', result.cookies);
      const status = result.statusCode ?? 200;
      send(response, status, headers, payload);
      record(status);
    })().catch(() => {
      // The handler never throws; if it does, API Gateway answers 500 with this body.
      if (!response.headersSent)
        send(
          response,
          500,
          { 'content-type': 'application/json' },
          JSON.stringify({ message: 'Internal Server Error' }),
        );
      record(500);
    });
  });
  // Clients (load generators, browsers) keep connections open between requests.
  server.keepAliveTimeout = 65_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        // localhost: what users type; curl, browsers and Node's fetch try 127.0.0.1 when ::1 refuses.
        url: `http://localhost:${port}`,
        port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
