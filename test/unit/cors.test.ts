import { corsFromEnv, corsHeaders, corsProblems } from '../../core/cors';

describe('CORS settings', () => {
  test('CORS_ALLOW_ORIGINS is a comma-separated list; unset or blank is off', () => {
    expect(corsFromEnv(' https://a.example , http://localhost:5173,')).toEqual({
      allowOrigins: ['https://a.example', 'http://localhost:5173'],
    });
    expect(corsFromEnv(undefined)).toBeUndefined();
    expect(corsFromEnv(' , ')).toBeUndefined();
  });

  test('an origin is scheme and host with an optional port, or *; anything else is named', () => {
    expect(corsProblems({ allowOrigins: ['https://a.example', 'http://localhost:5173', '*'] })).toEqual([]);
    expect(corsProblems({ allowOrigins: ['a.example', 'https://a.example/', 'https://a.example/app'] })).toEqual([
      'allowOrigins: "a.example" is not an origin (scheme and host, optional port, no path or trailing slash; or "*")',
      'allowOrigins: "https://a.example/" is not an origin (scheme and host, optional port, no path or trailing slash; or "*")',
      'allowOrigins: "https://a.example/app" is not an origin (scheme and host, optional port, no path or trailing slash; or "*")',
    ]);
    expect(corsProblems({ allowOrigins: [] })).toEqual([
      'allowOrigins: name at least one origin, or leave cors out to keep it off',
    ]);
  });

  test('headers only for an allowed origin; * answers any origin with *', () => {
    expect(corsHeaders(undefined, 'https://a.example', false)).toEqual({});
    expect(corsHeaders({ allowOrigins: ['https://a.example'] }, undefined, false)).toEqual({});
    expect(corsHeaders({ allowOrigins: ['https://a.example'] }, 'https://b.example', true)).toEqual({});
    expect(corsHeaders({ allowOrigins: ['*'] }, 'https://b.example', false)['access-control-allow-origin']).toBe('*');
  });
});
