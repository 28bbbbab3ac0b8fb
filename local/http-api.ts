import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { apiGatewayEvent } from './api-gateway-event';

/**
 * The local stand-in for API Gateway's HTTP API ($default route, payload format 2.0): each HTTP
 * request becomes the event API Gateway would send, the Lambda handler's result becomes the
 * response. Like API Gateway it refuses bodies over 10 MB itself, sends text bodies as strings
 * and others base64-encoded, and measures every request (count, status, latency) as its metrics do.
 */

/** API Gateway HTTP APIs' payload limit. */
export const API_GATEWAY_PAYLOAD_BYTES = 10 * 1024 * 1024;

export interface RequestRecord {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly latencyMs: number;
}

/** A route served by this server itself, not the Lambda (the local dashboard). */
export type LocalRoute = () => { readonly status: number; readonly headers: Readonly<Record<string, string>>; readonly body: string };

export interface HttpApiOptions {
  /** 0 picks a free port. */
  readonly port: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
  readonly handler: (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;
  /** GET routes answered locally, by exact path. */
  readonly localRoutes?: Readonly<Record<string, LocalRoute>>;
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

/** API Gateway passes text payloads as strings and base64-encodes the rest. */
function eventBody(bytes: Buffer, contentType: string | undefined): string | Uint8Array | undefined {
  if (bytes.length === 0) return undefined;
  if (contentType === undefined || TEXT_TYPES.test(contentType)) {
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

function send(response: ServerResponse, status: number, headers: Readonly<Record<string, string>>, body: string | Buffer): void {
  response.writeHead(status, { ...headers, 'content-length': String(Buffer.byteLength(body)) });
  response.end(body);
}

export function startHttpApi(options: HttpApiOptions): Promise<HttpApi> {
  const server: Server = createServer((request, response) => {
    const started = performance.now();
    const method = request.method ?? 'GET';
    const path = request.url ?? '/';
    const local = method === 'GET' ? options.localRoutes?.[path.split('?')[0]] : undefined;
    if (local) {
      const answer = local();
      send(response, answer.status, answer.headers, answer.body);
      return;
    }
    const record = (status: number) => options.onRequest?.({ method, path: path.split('?')[0], status, latencyMs: performance.now() - started });
    void (async () => {
      const body = await readBody(request);
      if (body === 'too-large') {
        // API Gateway answers this itself; the function never runs.
        send(response, 413, { 'content-type': 'application/json' }, JSON.stringify({ message: 'Request Entity Too Large' }));
        record(413);
        return;
      }
      const event = apiGatewayEvent({ method, path, headers: request.headersDistinct, body: eventBody(body, request.headers['content-type']), sourceIp: request.socket.remoteAddress });
      const result = await options.handler(event);
      const payload = result.body === undefined ? '' : result.isBase64Encoded ? Buffer.from(result.body, 'base64') : result.body;
      const headers: Record<string, string> = { 'apigw-requestid': event.requestContext.requestId };
      for (const [name, value] of Object.entries(result.headers ?? {})) headers[name] = String(value);
      if (result.cookies?.length) response.setHeader('set-cookie', result.cookies);
      const status = result.statusCode ?? 200;
      send(response, status, headers, payload);
      record(status);
    })().catch(() => {
      // The handler never throws; if it does, API Gateway answers 500 with this body.
      if (!response.headersSent) send(response, 500, { 'content-type': 'application/json' }, JSON.stringify({ message: 'Internal Server Error' }));
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
