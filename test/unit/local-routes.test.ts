import { gzipSync } from 'node:zlib';
import { compileLocalRoutes, type LocalRoute, matchLocalRoute, startHttpApi } from '../../local/http-api';

/** The local HTTP API's own routes: method + path patterns with `{name}` segments, sync or async. */

const answer =
  (body: string): LocalRoute =>
  () => ({ status: 200, headers: {}, body });

describe('local routes', () => {
  const routes = compileLocalRoutes({
    '/dashboard': answer('page'),
    'POST /_local/monitoring/{model}': answer('run'),
    'GET /_local/monitoring/{model}/latest': answer('latest'),
  });
  const match = (method: string, path: string) => {
    const found = matchLocalRoute(routes, method, path);
    return found && { params: found.params };
  };

  it('matches a key without a method as GET, by exact path', () => {
    expect(match('GET', '/dashboard')).toEqual({ params: {} });
    expect(match('POST', '/dashboard')).toBeUndefined();
    expect(match('GET', '/dashboard/data')).toBeUndefined();
  });

  it('passes a {name} segment, URL-decoded, and needs one non-empty segment there', () => {
    expect(match('POST', '/_local/monitoring/iris')).toEqual({ params: { model: 'iris' } });
    expect(match('POST', '/_local/monitoring/my%20model')).toEqual({ params: { model: 'my model' } });
    expect(match('GET', '/_local/monitoring/iris/latest')).toEqual({ params: { model: 'iris' } });
    expect(match('POST', '/_local/monitoring/')).toBeUndefined();
    expect(match('POST', '/_local/monitoring/iris/extra')).toBeUndefined();
    expect(match('POST', '/_local/monitoring/%E0%A4%A')).toBeUndefined();
    expect(match('GET', '/_local/monitoring/iris')).toBeUndefined();
  });

  it('refuses a malformed key at start, naming it', () => {
    expect(() => compileLocalRoutes({ 'post /x': answer('') })).toThrow(
      'local route "post /x" must be "<METHOD> /path" or "/path"',
    );
    expect(() => compileLocalRoutes({ '/models/x{name}': answer('') })).toThrow(
      'local route "/models/x{name}": a parameter is a whole segment like {model}, got "x{name}"',
    );
  });

  it('hands a compressed body to the handler base64-encoded, as API Gateway passes binary bodies, whatever its content type', async () => {
    const seen: { body?: string; isBase64Encoded: boolean }[] = [];
    const api = await startHttpApi({
      port: 0,
      handler: async (event) => {
        seen.push({ body: event.body, isBase64Encoded: event.isBase64Encoded });
        return { statusCode: 200, body: '{}' };
      },
    });
    try {
      const gzipped = gzipSync('{"features":[1,2,3,4]}');
      await fetch(`${api.url}/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
        body: gzipped,
      });
      await fetch(`${api.url}/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"features":[1,2,3,4]}',
      });
      expect(seen).toEqual([
        { body: gzipped.toString('base64'), isBase64Encoded: true },
        { body: '{"features":[1,2,3,4]}', isBase64Encoded: false },
      ]);
    } finally {
      await api.close();
    }
  });

  it('gives cross-origin access as API Gateway corsPreflight does: preflights answered locally, headers for allowed origins only, nothing when off', async () => {
    let calls = 0;
    const handler = async () => {
      calls++;
      return { statusCode: 200, headers: { 'content-type': 'application/json', 'x-inference-id': 'id' }, body: '{}' };
    };
    const on = await startHttpApi({ port: 0, handler, cors: { allowOrigins: ['https://app.example.com'] } });
    const off = await startHttpApi({ port: 0, handler });
    const headersOf = (r: Response) =>
      Object.fromEntries([...r.headers].filter(([name]) => name.startsWith('access-control-') || name === 'vary'));
    try {
      const preflight = await fetch(`${on.url}/models/iris/predict`, {
        method: 'OPTIONS',
        headers: {
          origin: 'https://app.example.com',
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type',
        },
      });
      expect(preflight.status).toBe(204);
      expect(headersOf(preflight)).toEqual({
        'access-control-allow-origin': 'https://app.example.com',
        'access-control-allow-methods': 'GET,HEAD,POST,OPTIONS',
        'access-control-allow-headers': 'content-type,content-encoding,authorization,x-caller-id',
        'access-control-max-age': '600',
        vary: 'origin',
      });
      expect(calls).toBe(0);
      const answer = await fetch(`${on.url}/models/iris/predict`, {
        method: 'POST',
        headers: { origin: 'https://app.example.com' },
        body: '{}',
      });
      expect(headersOf(answer)).toEqual({
        'access-control-allow-origin': 'https://app.example.com',
        'access-control-expose-headers': 'x-inference-id,x-model-version,x-model-variant',
        vary: 'origin',
      });
      const stranger = await fetch(`${on.url}/models/iris/predict`, {
        method: 'OPTIONS',
        headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
      });
      expect([stranger.status, headersOf(stranger)]).toEqual([204, {}]);
      const offAnswer = await fetch(`${off.url}/models/iris/predict`, {
        method: 'POST',
        headers: { origin: 'https://app.example.com' },
        body: '{}',
      });
      expect(headersOf(offAnswer)).toEqual({});
    } finally {
      await on.close();
      await off.close();
    }
  });

  it('serves POST routes asynchronously with the body, answers 500 naming a route that throws, and sends the rest to the handler', async () => {
    const api = await startHttpApi({
      port: 0,
      handler: async () => ({ statusCode: 404, body: 'from the handler' }),
      localRoutes: {
        'POST /_local/echo/{name}': async ({ params, body, method }) => ({
          status: 201,
          headers: { 'content-type': 'text/plain' },
          body: `${method} ${params.name}: ${body.toString('utf8')}`,
        }),
        'POST /_local/broken': async () => Promise.reject(new Error('no such model')),
      },
    });
    try {
      const echoed = await fetch(`${api.url}/_local/echo/iris?x=1`, { method: 'POST', body: 'hello' });
      expect([echoed.status, await echoed.text()]).toEqual([201, 'POST iris: hello']);
      const broken = await fetch(`${api.url}/_local/broken`, { method: 'POST' });
      expect([broken.status, await broken.json()]).toEqual([
        500,
        { error: { code: 'internal_error', message: 'POST /_local/broken failed: no such model' } },
      ]);
      const other = await fetch(`${api.url}/_local/echo/iris`);
      expect([other.status, await other.text()]).toEqual([404, 'from the handler']);
    } finally {
      await api.close();
    }
  });
});
