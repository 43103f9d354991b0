// Liveness and readiness, for systemd, balancers and orchestrators.
import { Type } from '@sinclair/typebox';
import { HttpError, createRouter } from '../router/index.ts';
import { ProblemSchema } from '../errors.ts';
import type { AppServices } from './services.ts';

const Status = Type.Object({ status: Type.Literal('ok') }, { $id: 'HealthStatus' });

export function healthRouter(services: AppServices) {
  return createRouter({ tags: ['health'] })
    .get('/healthz', { summary: 'Liveness', description: 'Answers 200 while the process can serve; touches no backing service.', operationId: 'getLiveness', response: { 200: Status } }, () => ({ status: 'ok' as const }))
    .get(
      '/readyz',
      {
        summary: 'Readiness',
        description: 'Answers 200 when Redis answers and the server is not draining; 503 otherwise, so a balancer stops sending.',
        operationId: 'getReadiness',
        response: { 200: Status, 503: { description: 'Redis does not answer, or the server is shutting down.', schema: ProblemSchema } },
      },
      async () => {
        if (services.isDraining()) throw HttpError.of('SHUTTING_DOWN');
        if (!(await services.pingRedis())) throw HttpError.of('SERVICE_UNAVAILABLE', 'Redis does not answer.');
        return { status: 'ok' as const };
      },
    );
}
