/**
 * Cross-origin access to the inference API (browsers calling it from another site): off unless
 * origins are configured (cdk.json `platform.cors.allowOrigins`; locally CORS_ALLOW_ORIGINS).
 * The same lists configure API Gateway's corsPreflight and the local HTTP adapter.
 */

export interface CorsSettings {
  /** Exact origins (`https://app.example.com`, scheme and host, no path) or `*` for any. */
  readonly allowOrigins: readonly string[];
}

export const CORS_ALLOW_METHODS = ['GET', 'HEAD', 'POST', 'OPTIONS'] as const;
/** Request headers a page may send: the body's type and encoding, a JWT, the sticky caller id. */
export const CORS_ALLOW_HEADERS = ['content-type', 'content-encoding', 'authorization', 'x-caller-id'] as const;
/** Answer headers a page may read: who answered and the inference id (for feedback). */
export const CORS_EXPOSE_HEADERS = ['x-inference-id', 'x-model-version', 'x-model-variant'] as const;
/** How long a browser may cache a preflight answer. */
export const CORS_MAX_AGE_SECONDS = 600;

const ORIGIN = /^https?:\/\/[a-z0-9.-]+(:\d{1,5})?$/i;

/** Why the settings cannot be used, one line per problem (empty: fine). */
export function corsProblems(settings: CorsSettings): string[] {
  if (settings.allowOrigins.length === 0)
    return ['allowOrigins: name at least one origin, or leave cors out to keep it off'];
  return settings.allowOrigins
    .filter((o) => o !== '*' && !ORIGIN.test(o))
    .map(
      (o) =>
        `allowOrigins: ${JSON.stringify(o)} is not an origin (scheme and host, optional port, no path or trailing slash; or "*")`,
    );
}

/** CORS_ALLOW_ORIGINS (comma-separated) as settings; undefined when unset or empty. */
export function corsFromEnv(value: string | undefined): CorsSettings | undefined {
  const origins = (value ?? '')
    .split(',')
    .map((o) => o.trim())
    .filter((o) => o !== '');
  return origins.length === 0 ? undefined : { allowOrigins: origins };
}

/**
 * The CORS headers for a request from `origin` (undefined: not a cross-origin request), as API
 * Gateway's corsPreflight adds them: none when the origin is not allowed; for a preflight also
 * the allowed methods, headers and max age.
 */
export function corsHeaders(
  settings: CorsSettings | undefined,
  origin: string | undefined,
  preflight: boolean,
): Record<string, string> {
  if (!settings || origin === undefined) return {};
  const any = settings.allowOrigins.includes('*');
  if (!any && !settings.allowOrigins.includes(origin)) return {};
  const headers: Record<string, string> = { 'access-control-allow-origin': any ? '*' : origin, vary: 'origin' };
  if (preflight) {
    headers['access-control-allow-methods'] = CORS_ALLOW_METHODS.join(',');
    headers['access-control-allow-headers'] = CORS_ALLOW_HEADERS.join(',');
    headers['access-control-max-age'] = String(CORS_MAX_AGE_SECONDS);
  } else {
    headers['access-control-expose-headers'] = CORS_EXPOSE_HEADERS.join(',');
  }
  return headers;
}
