// The route table → one OpenAPI 3.1.0 document. Every response a route can really send is listed: the declared
// ones, plus the problems the HTTP core answers with on its own (422, 400, 413, 414, 415, 401, 403, default).
import { STATUS_CODES } from 'node:http';
import { Kind, type TObject, type TSchema } from '@sinclair/typebox';
import { ERRORS, PROBLEM_CONTENT_TYPE, ProblemSchema, SkiffStartupError, ValidationProblemSchema } from '../errors.ts';
import { JSON_CONTENT_TYPE, type Method, type ResponseSpec, type RouteInfo, type SecurityRequirement } from '../router/index.ts';
import { SchemaComponents, type Json } from './components.ts';
import { deriveOperationId } from './operation-id.ts';

export interface TagInfo {
  name: string;
  description?: string;
}

/** OpenAPI's licence object: a name, and an SPDX `identifier` or a `url` to the text. */
export interface LicenseInfo {
  name: string;
  identifier?: string;
  url?: string;
}

export interface DocumentInfo {
  title: string;
  version: string;
  description?: string;
  license?: LicenseInfo;
  /** Server URLs; none: the origin that served the document (listed as the relative URL `/`). */
  servers?: string[];
  /** Tag descriptions, in the order the docs pages show them (FastAPI's `openapi_tags`). */
  tags?: TagInfo[];
}

export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description?: string; license?: LicenseInfo };
  servers: { url: string }[];
  tags?: TagInfo[];
  paths: Record<string, Partial<Record<Lowercase<Method>, Operation>>>;
  components: { schemas: Record<string, Json>; securitySchemes?: Record<string, Json> };
}

export type Operation = Json & { operationId: string; responses: Record<string, Json> };

// Headers OpenAPI describes by other means; listing them as parameters is an error in the validators.
const RESERVED_HEADERS = new Set(['accept', 'content-type', 'authorization']);

/** Throws, naming the routes involved, when two operations share an operationId or a security scheme id clashes. */
export function buildDocument(routes: readonly RouteInfo[], info: DocumentInfo): OpenApiDocument {
  const components = new SchemaComponents();
  const securitySchemes = new Map<string, SecurityRequirement>();
  const operationIds = new Map<string, string>();
  const paths: OpenApiDocument['paths'] = {};
  const tagNames: string[] = (info.tags ?? []).map((t) => t.name);
  const usedTags = new Set<string>();

  for (const route of routes) {
    if (route.spec.includeInSchema === false) continue;
    const label = `${route.method} ${route.path}`;
    const operation = operationOf(route, components);
    const other = operationIds.get(operation.operationId);
    if (other !== undefined) throw new SkiffStartupError('SKIFF_OPENAPI_DUPLICATE_OPERATION_ID', `operationId "${operation.operationId}" is used by both ${other} and ${label}: set a distinct operationId on one of them`);
    operationIds.set(operation.operationId, label);
    for (const t of route.tags) {
      usedTags.add(t);
      if (!tagNames.includes(t)) tagNames.push(t);
    }
    for (const dependency of route.dependencies) {
      const s = dependency.security;
      if (s === undefined) continue;
      const known = securitySchemes.get(s.id);
      if (known !== undefined && JSON.stringify(known.scheme) !== JSON.stringify(s.scheme)) {
        throw new SkiffStartupError('SKIFF_OPENAPI_SECURITY_CONFLICT', `security scheme "${s.id}" is declared twice with different settings (again on ${label})`);
      }
      securitySchemes.set(s.id, s);
    }
    for (const interceptor of route.interceptors) interceptor.openapi?.(operation);
    listClientErrors(operation, components);
    (paths[openApiPath(route.path)] ??= {})[route.method.toLowerCase() as Lowercase<Method>] = operation;
  }

  const described = new Map((info.tags ?? []).map((t) => [t.name, t]));
  const document: OpenApiDocument = {
    openapi: '3.1.0',
    info: {
      title: info.title,
      version: info.version,
      ...(info.description ? { description: info.description } : {}),
      ...(info.license ? { license: { ...info.license } } : {}),
    },
    // A relative server URL resolves against the document's own location: the same origin, said explicitly.
    servers: (info.servers && info.servers.length > 0 ? info.servers : ['/']).map((url) => ({ url })),
    // A described tag no operation uses would show as an empty section in the docs pages.
    ...(usedTags.size > 0 ? { tags: tagNames.filter((name) => usedTags.has(name)).map((name) => described.get(name) ?? { name }) } : {}),
    paths,
    components: { schemas: components.schemas() },
  };
  if (securitySchemes.size > 0) {
    document.components.securitySchemes = Object.fromEntries([...securitySchemes.values()].map((s) => [s.id, { ...s.scheme }]));
  }
  return document;
}

/** A trailing wildcard has no OpenAPI spelling; it is documented as a parameter that takes the rest. */
const openApiPath = (path: string): string => path.replace(/\/\*$/, '/{wildcard}');

function operationOf(route: RouteInfo, components: SchemaComponents): Operation {
  const { spec } = route;
  const path = openApiPath(route.path);
  const parameters = [
    ...pathParameters(path, spec.params, components),
    ...objectParameters('query', spec.query, components),
    ...objectParameters('header', spec.headers, components).filter((p) => !RESERVED_HEADERS.has(String(p.name).toLowerCase())),
  ];
  const security = route.dependencies.map((d) => d.security).filter((s) => s !== undefined);
  return {
    ...(route.tags.length > 0 ? { tags: [...route.tags] } : {}),
    ...(spec.summary !== undefined ? { summary: spec.summary } : {}),
    ...(spec.description !== undefined ? { description: spec.description } : {}),
    operationId: spec.operationId ?? deriveOperationId(route.method, route.path),
    ...(spec.deprecated === true ? { deprecated: true } : {}),
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(spec.body !== undefined ? { requestBody: { required: true, content: { [JSON_CONTENT_TYPE]: { schema: components.reference(spec.body) } } } } : {}),
    responses: responsesOf(route, path.includes('{'), security.length > 0, components),
    // An empty list says "public" outright: no reader has to guess whether a requirement was forgotten.
    security: security.length > 0 ? [Object.fromEntries(security.map((s) => [s.id, []]))] : [],
  };
}

/** The declared responses, then what the HTTP core itself answers with on this route, then `default`. */
function responsesOf(route: RouteInfo, hasPathParams: boolean, secured: boolean, components: SchemaComponents): Record<string, Json> {
  const { spec } = route;
  const hasBody = spec.body !== undefined;
  const problem = (description: string): Json => ({ description, content: { [PROBLEM_CONTENT_TYPE]: { schema: components.reference(ProblemSchema) } } });
  const responses: Record<string, Json> = {};
  for (const [status, declared] of Object.entries(spec.response ?? {})) responses[status] = response(Number(status), declared, components);
  const automatic = (status: number, value: () => Json) => {
    responses[status] ??= value();
  };
  const malformed = [
    ...(hasPathParams ? [ERRORS.MALFORMED_PATH.detail] : []),
    ...(hasBody ? [ERRORS.MALFORMED_JSON.detail, ERRORS.JSON_TOO_DEEP.detail, ERRORS.PROTOTYPE_POISONING.detail] : []),
  ];
  if (malformed.length > 0) automatic(400, () => problem(malformed.join(' Or: ')));
  if (secured) {
    automatic(401, () => problem(ERRORS.UNAUTHORIZED.detail));
    automatic(403, () => problem(ERRORS.FORBIDDEN.detail));
  }
  if (hasBody) {
    automatic(413, () => problem(ERRORS.BODY_TOO_LARGE.detail));
    automatic(415, () => problem(ERRORS.UNSUPPORTED_MEDIA_TYPE.detail));
  }
  if (hasPathParams) automatic(414, () => problem(ERRORS.URI_TOO_LONG.detail));
  if (spec.params !== undefined || spec.query !== undefined || spec.headers !== undefined || hasBody) {
    automatic(422, () => ({
      description: 'The request did not match the schema; `errors` lists each failed field.',
      content: { [PROBLEM_CONTENT_TYPE]: { schema: components.reference(ValidationProblemSchema) } },
    }));
  }
  // Integer keys iterate in ascending order whatever the insertion order; `default` comes last.
  responses.default = problem('Any other error (404, 500, 503, ...), as an RFC 9457 problem.');
  return responses;
}

/**
 * Any request can be refused by the server itself before a handler runs (408: sent too slowly; 431: header
 * fields too large): an operation with no 4xx of its own lists that range, so clients expect a problem there too.
 */
function listClientErrors(operation: Operation, components: SchemaComponents): void {
  const { default: fallback, ...declared } = operation.responses;
  if (Object.keys(declared).some((status) => status.startsWith('4'))) return;
  operation.responses = {
    ...declared,
    '4XX': {
      description: 'The server could not accept the request (408: it arrived too slowly; 431: its header fields are too large).',
      content: { [PROBLEM_CONTENT_TYPE]: { schema: components.reference(ProblemSchema) } },
    },
    default: fallback,
  };
}

function response(status: number, declared: TSchema | ResponseSpec, components: SchemaComponents): Json {
  const spec: ResponseSpec = Kind in declared ? { schema: declared as TSchema } : (declared as ResponseSpec);
  const out: Json = { description: spec.description ?? STATUS_CODES[status] ?? 'Response' };
  if (spec.headers !== undefined) {
    out.headers = Object.fromEntries(Object.entries(spec.headers).map(([name, h]) => [
      name,
      { ...(h.description !== undefined ? { description: h.description } : {}), schema: components.reference(h.schema) },
    ]));
  }
  const empty = status === 204 || status === 304 || (spec.schema === undefined && spec.contentType === undefined);
  if (!empty) {
    const schema = spec.schema !== undefined ? components.reference(spec.schema) : { type: 'string' };
    // A thrown HttpError is sent as problem+json, whatever the declaration defaults to.
    const isProblem = spec.schema === ProblemSchema || spec.schema === ValidationProblemSchema;
    out.content = { [spec.contentType ?? (isProblem ? PROBLEM_CONTENT_TYPE : JSON_CONTENT_TYPE)]: { schema } };
  }
  return out;
}

function pathParameters(path: string, params: TObject | undefined, components: SchemaComponents): Json[] {
  const properties = (params?.properties ?? {}) as Record<string, TSchema>;
  return [...path.matchAll(/\{([^}]+)\}/g)].map(([, name]) => {
    const schema = properties[name];
    if (schema === undefined) return { name, in: 'path', required: true, schema: { type: 'string' } };
    return parameter(name, 'path', true, schema, components);
  });
}

function objectParameters(where: 'query' | 'header', object: TObject | undefined, components: SchemaComponents): Json[] {
  if (object === undefined) return [];
  // A property with a default is filled in by the server: the client may leave it out.
  const required = new Set(object.required ?? []);
  return Object.entries(object.properties as Record<string, TSchema>).map(([name, schema]) =>
    parameter(name, where, required.has(name) && !('default' in schema), schema, components));
}

function parameter(name: string, where: string, required: boolean, schema: TSchema, components: SchemaComponents): Json {
  const out: Json = { name, in: where, required };
  if (typeof schema.description === 'string') out.description = schema.description;
  if (schema.deprecated === true) out.deprecated = true;
  out.schema = components.reference(schema);
  // The first schema example shows in Swagger UI's "Try it out" field.
  if (Array.isArray(schema.examples) && schema.examples.length > 0) out.example = schema.examples[0];
  if (where === 'query' && schema.type === 'array') {
    out.style = 'form';
    out.explode = true;
  }
  return out;
}

