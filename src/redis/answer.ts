// Redis unavailable → 503, as an app error handler (`app.onError(redisErrorAnswer)`): the HTTP core knows
// nothing of Redis; every app that talks to Redis registers this (the `skiff` package's createApp does).
import { unavailableError, type HttpError } from '../errors.ts';
import { errorFields, type Logger } from '../log.ts';
import { redisFailure } from './client.ts';

/** What the mapping reads of the request context. */
export interface FailedRequest {
  readonly method: string;
  readonly route: string;
  readonly log: Logger;
}

/**
 * The 503 for an error that says Redis did not answer, else undefined (the next handler decides). GET and HEAD
 * change nothing; a write says "not applied" only when the failure makes that certain.
 */
export function redisErrorAnswer(err: unknown, ctx: FailedRequest): HttpError | undefined {
  const failure = redisFailure(err);
  if (failure === null) return undefined;
  ctx.log.warn('redis unavailable', { route: ctx.route, ...errorFields(err) });
  return unavailableError(failure === 'not-applied' || ctx.method === 'GET' || ctx.method === 'HEAD');
}
