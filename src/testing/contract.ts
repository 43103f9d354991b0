// Contract checking for end-to-end tests: every response a test receives is checked against the OpenAPI
// document (status documented, content type right, body valid against the schema, by a real JSON Schema
// 2020-12 validator), and the (operation, status) pairs no test exercised can be listed.
//
//   const contract = await openApiContract(openApiDocument(app));
//   const api = contract.wrap(await testClient(app));   // or inject(app), contract.fetch, contract.check(...)
//   test('...', async (t) => { ...; t.diagnostic(contract.summary()) });
//
// The validator is Ajv, an optional peer dependency of skiff used only here: a service needs it in its
// devDependencies to check its contract, and nothing that runs in production loads it.
import type { OpenApiDocument, Operation } from '../openapi/index.ts';
import { clientOf, type TestClient } from './client.ts';

type Json = Record<string, unknown>;

interface Route {
  method: string;
  template: string;
  pattern: RegExp;
  params: number;
  operation: Operation;
}

export interface ReceivedResponse {
  status: number;
  headers: Headers;
  /** The body as received (empty for HEAD and bodiless statuses). */
  text: string;
}

export interface OpenApiContract {
  /** Throws an Error saying what differs when the response breaks the document. Undocumented paths pass. */
  check(method: string, url: string, response: ReceivedResponse): void;
  /** fetch, with every response checked (for openapi-fetch's `fetch` option or direct use). */
  fetch: typeof fetch;
  /** The same test client, with every response checked. */
  wrap(client: TestClient): TestClient;
  /** "operationId status" pairs documented but never received, in document order. */
  unexercised(): string[];
  /** One line per never-exercised pair, for `t.diagnostic`. */
  summary(): string;
}

const pointer = (...parts: string[]): string => parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');
const isJson = (mediaType: string): boolean => mediaType === 'application/json' || mediaType.endsWith('+json');

/** Ajv's compiled validator, as used here (typed locally: Ajv's own types are absent where it is not installed). */
type ValidateFunction = ((data: unknown) => boolean) & { errors?: { instancePath: string; message?: string }[] | null };
interface AjvInstance {
  addSchema(schema: object, key: string): unknown;
  compile(schema: object): ValidateFunction;
}
type AjvModules = [{ Ajv2020: new (options: object) => AjvInstance }, { default: { default: (ajv: AjvInstance) => unknown } }];
// Names in variables: the type checker of a service without Ajv must not look for these modules.
const AJV = 'ajv/dist/2020.js';
const AJV_FORMATS = 'ajv-formats';

/** Loads Ajv, or says how to install it. */
async function loadAjv(): Promise<AjvModules> {
  try {
    return await Promise.all([import(AJV), import(AJV_FORMATS)]) as AjvModules;
  } catch (err) {
    throw new Error('openApiContract needs the packages ajv and ajv-formats: npm install --save-dev ajv ajv-formats', { cause: err });
  }
}

export async function openApiContract(document: OpenApiDocument): Promise<OpenApiContract> {
  const [{ Ajv2020 }, { default: addFormats }] = await loadAjv();
  const ajv = new Ajv2020({ strict: false, validateSchema: false, allErrors: true });
  addFormats.default(ajv);
  ajv.addSchema(document, 'openapi.json');
  const validators = new Map<string, ValidateFunction>();
  const validatorAt = (at: string): ValidateFunction => {
    let v = validators.get(at);
    if (v === undefined) validators.set(at, (v = ajv.compile({ $ref: `openapi.json#/${at}` })));
    return v;
  };

  const routes: Route[] = [];
  const exercised = new Set<string>();
  for (const [template, item] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(item) as [string, Operation][]) {
      const source = template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+');
      routes.push({ method: method.toUpperCase(), template, pattern: new RegExp(`^${source}$`), params: (template.match(/\{/g) ?? []).length, operation });
    }
  }
  // A static segment wins over a parameter, as in the router: /items/search before /items/{id}.
  const byPrecedence = [...routes].sort((a, b) => a.params - b.params);

  function check(method: string, url: string, response: ReceivedResponse): void {
    const path = new URL(url, 'http://localhost').pathname.replace(/(.)\/$/, '$1');
    const m = method.toUpperCase() === 'HEAD' ? 'GET' : method.toUpperCase();
    const route = byPrecedence.find((r) => r.method === m && r.pattern.test(path));
    if (route === undefined) return;
    const { operation } = route;
    const where = `${method} ${path} (${operation.operationId}) answered ${response.status}`;
    const statusKey = [String(response.status), `${String(response.status)[0]}XX`, 'default'].find((k) => operation.responses[k] !== undefined);
    if (statusKey === undefined) throw new Error(`${where}, a status the document does not list`);
    if (statusKey === 'default' && response.status < 400) throw new Error(`${where}: only errors may fall to the default response`);
    exercised.add(`${operation.operationId} ${statusKey}`);

    const declared = operation.responses[statusKey] as Json;
    for (const [name, header] of Object.entries((declared.headers ?? {}) as Record<string, Json>)) {
      if (header.required === true && !response.headers.has(name)) throw new Error(`${where} without the required header ${name}`);
    }
    const content = declared.content as Record<string, Json> | undefined;
    if (content === undefined) {
      if (response.text !== '') throw new Error(`${where} with a body, where the document says there is none`);
      return;
    }
    if (method.toUpperCase() === 'HEAD') return;
    const mediaType = (response.headers.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
    if (content[mediaType] === undefined) throw new Error(`${where} as ${mediaType || 'no content type'}; the document says ${Object.keys(content).join(' or ')}`);
    if (!isJson(mediaType) || content[mediaType].schema === undefined) return;
    let body: unknown;
    try {
      body = JSON.parse(response.text);
    } catch {
      throw new Error(`${where} with a body that is not JSON: ${response.text.slice(0, 200)}`);
    }
    const validate = validatorAt(pointer('paths', route.template, m.toLowerCase(), 'responses', statusKey, 'content', mediaType, 'schema'));
    if (!validate(body)) {
      const problems = (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`).join('; ');
      throw new Error(`${where} with a body that breaks its schema: ${problems}\n${response.text.slice(0, 500)}`);
    }
  }

  const checkedFetch: typeof fetch = async (input, init) => {
    const request = new Request(input, init);
    const response = await fetch(request);
    const text = await response.clone().text();
    check(request.method, request.url, { status: response.status, headers: response.headers, text });
    return response;
  };

  function wrap(client: TestClient): TestClient {
    return clientOf(client.url, async (method, path, options) => {
      const response = await client.request(method, path, options);
      check(method, path, response);
      return response;
    }, () => client.close());
  }

  function unexercised(): string[] {
    const missing: string[] = [];
    for (const { operation } of routes) {
      for (const status of Object.keys(operation.responses)) {
        const pair = `${operation.operationId} ${status}`;
        if (!exercised.has(pair)) missing.push(pair);
      }
    }
    return missing;
  }

  return {
    check,
    fetch: checkedFetch,
    wrap,
    unexercised,
    summary() {
      const missing = unexercised();
      return missing.length === 0 ? 'every documented (operation, status) pair was exercised' : `never exercised: ${missing.join(', ')}`;
    },
  };
}
