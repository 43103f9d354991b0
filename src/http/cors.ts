// CORS the way Starlette's CORSMiddleware does it: allowed origins from config, preflight answered, and
// `Vary: Origin` whenever the answer depends on the origin.
export interface CorsOptions {
  origins: string[];
  methods: string[];
  headers: string[];
  /** Seconds a browser may cache a preflight answer. */
  maxAge?: number;
}

export interface Cors {
  /** Headers (flat name/value list) for an actual request from `origin`; empty when it is not allowed. */
  headersFor(origin: string | undefined): string[];
  /** Headers for a preflight, or null when the origin or method is not allowed (answered without CORS headers). */
  preflight(origin: string, method: string): string[] | null;
}

export function createCors(options: CorsOptions): Cors | null {
  if (options.origins.length === 0) return null;
  const any = options.origins.includes('*');
  const allowed = new Set(options.origins);
  const methods = new Set(options.methods.map((m) => m.toUpperCase()));
  const allowMethods = [...methods].join(', ');
  const allowHeaders = options.headers.join(', ');
  const maxAge = String(options.maxAge ?? 600);
  const vary = any ? [] : ['vary', 'Origin'];
  const allowedOrigin = (origin: string | undefined): origin is string => origin !== undefined && (any || allowed.has(origin));
  return {
    headersFor(origin) {
      if (!allowedOrigin(origin)) return vary;
      return ['access-control-allow-origin', any ? '*' : origin, 'access-control-expose-headers', 'X-Request-Id, ETag, Location, Cache-Status, X-Cache', ...vary];
    },
    preflight(origin, method) {
      if (!allowedOrigin(origin) || !methods.has(method.toUpperCase())) return null;
      return ['access-control-allow-origin', any ? '*' : origin, 'access-control-allow-methods', allowMethods,
        'access-control-allow-headers', allowHeaders, 'access-control-max-age', maxAge, ...vary];
    },
  };
}
