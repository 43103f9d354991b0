// What a cached operation adds to the OpenAPI document: the If-None-Match parameter, the 304 answer, and the
// cache headers of its 2xx answers.

const headerDoc = (description: string) => ({ description, schema: { type: 'string' } });

/** Adds what a cached operation sends and accepts: If-None-Match, 304, ETag / Cache-Control / Age / Cache-Status / X-Cache. */
export function documentCaching(operation: Record<string, unknown>, scope: 'public' | 'private'): void {
  const parameters = (operation.parameters ??= []) as Record<string, unknown>[];
  if (!parameters.some((p) => p.in === 'header' && String(p.name).toLowerCase() === 'if-none-match')) {
    parameters.push({
      name: 'If-None-Match', in: 'header', required: false,
      description: 'Entity tags of representations the client holds (weak comparison, a list, or `*`); a match answers 304.',
      schema: { type: 'string' },
    });
  }
  const cacheHeaders = {
    ETag: headerDoc('Strong entity tag of the representation, equal in every process.'),
    'Cache-Control': headerDoc(`\`${scope}, max-age=<seconds of freshness left>\`.`),
    Age: headerDoc('Seconds since the response was stored (cached responses only).'),
    'Cache-Status': headerDoc('RFC 9211 cache status, e.g. `skiff; hit; ttl=42`.'),
    'X-Cache': headerDoc('`HIT`, `MISS`, `STALE` or `BYPASS`.'),
  };
  const responses = (operation.responses ??= {}) as Record<string, Record<string, unknown>>;
  for (const [status, response] of Object.entries(responses)) {
    if (!/^2\d\d$/.test(status) || typeof response !== 'object' || response === null) continue;
    response.headers = { ...(response.headers as Record<string, unknown> | undefined), ...cacheHeaders };
  }
  responses['304'] ??= {
    description: 'Not Modified: the representation matches `If-None-Match`; no body.',
    headers: { ETag: cacheHeaders.ETag, 'Cache-Control': cacheHeaders['Cache-Control'], 'Cache-Status': cacheHeaders['Cache-Status'] },
  };
}
