import { gzipSync } from 'node:zlib';
import { compileLocalRoutes, type LocalRoute, matchLocalRoute, startHttpApi } from '../../local/http-api';

/** The local HTTP API's own routes: method + path patterns with `{name}` segments, sync or async. */

const answer = (body: string): LocalRoute => () => ({ status: 200, headers: {}, body });

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
    expect(() => compileLocalRoutes({ 'post /x': answer('') })).toThrow('local route "post /x" must be "<METHOD> /path" or "/path"');
    expect(() => compileLocalRoutes({ '/models/x{name}': answer('') })).toThrow('local route "/models/x{name}": a parameter is a whole segment like {model}, got "x{name}"');
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
      await fetch(`${api.url}/predict`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: gzipped });
      await fetch(`${api.url}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"features":[1,2,3,4]}' });
      expect(seen).toEqual([
        { body: gzipped.toString('base64'), isBase64Encoded: true },
        { body: '{"features":[1,2,3,4]}', isBase64Encoded: false },
      ]);
    } finally {
      await api.close();
    }
  });

  it('serves POST routes asynchronously with the body, answers 500 naming a route that throws, and sends the rest to the handler', async () => {
    const api = await startHttpApi({
      port: 0,
      handler: async () => ({ statusCode: 404, body: 'from the handler' }),
      localRoutes: {
        'POST /_local/echo/{name}': async ({ params, body, method }) => ({ status: 201, headers: { 'content-type': 'text/plain' }, body: `${method} ${params.name}: ${body.toString('utf8')}` }),
        'POST /_local/broken': async () => Promise.reject(new Error('no such model')),
      },
    });
    try {
      const echoed = await fetch(`${api.url}/_local/echo/iris?x=1`, { method: 'POST', body: 'hello' });
      expect([echoed.status, await echoed.text()]).toEqual([201, 'POST iris: hello']);
      const broken = await fetch(`${api.url}/_local/broken`, { method: 'POST' });
      expect([broken.status, await broken.json()]).toEqual([500, { error: { code: 'internal_error', message: 'POST /_local/broken failed: no such model' } }]);
      const other = await fetch(`${api.url}/_local/echo/iris`);
      expect([other.status, await other.text()]).toEqual([404, 'from the handler']);
    } finally {
      await api.close();
    }
  });
});
