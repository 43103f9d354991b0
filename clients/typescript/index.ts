// A typed client for the example service: `paths` and `components` are generated from docs/openapi.json by
// `npm run client` (openapi-typescript); openapi-fetch turns them into typed GET/POST/PATCH/DELETE calls.
import createClient, { type ClientOptions } from 'openapi-fetch';
import type { components, paths } from './schema.d.ts';

export type { components, operations, paths } from './schema.d.ts';
export type Item = components['schemas']['Item'];
export type Problem = components['schemas']['Problem'];
export type ValidationProblem = components['schemas']['ValidationProblem'];

export function createSkiffClient(options: ClientOptions) {
  return createClient<paths>(options);
}

/** Narrows an error body to the 422 shape, whose `errors` say which fields failed. */
export function isValidationProblem(error: unknown): error is ValidationProblem {
  return typeof error === 'object' && error !== null && (error as { status?: unknown }).status === 422 && Array.isArray((error as { errors?: unknown }).errors);
}
