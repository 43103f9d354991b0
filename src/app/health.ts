// Liveness and readiness, for systemd, balancers and orchestrators. Both report overload: readiness answers 503
// (a balancer sends elsewhere), liveness still 200 (a busy process must not be restarted for being busy).
import { Type } from '@sinclair/typebox';
import { HttpError, createRouter } from '../router/index.ts';
import { ProblemSchema } from '../errors.ts';
import { REDUCED_CAPACITY_TYPE, type OverloadGuard } from '../ratelimit/index.ts';
import type { AppServices } from './services.ts';

const Status = Type.Object({ status: Type.Literal('ok') }, { $id: 'HealthStatus' });
const Liveness = Type.Object(
  {
    status: Type.Union([Type.Literal('ok'), Type.Literal('overloaded')], { description: '`overloaded`: the process refuses new requests with 503 until the pressure passes.' }),
    reason: Type.Optional(Type.Union([Type.Literal('event-loop-delay'), Type.Literal('heap'), Type.Literal('in-flight')], { description: 'What is past its threshold (OVERLOAD_*).' })),
  },
  { $id: 'LivenessStatus' },
);

export function healthRouter(services: AppServices, overload: OverloadGuard) {
  return createRouter({ tags: ['health'] })
    .get(
      '/healthz',
      {
        summary: 'Liveness',
        description: 'Answers 200 while the process can serve, saying whether it is shedding load (overloaded); touches no backing service.',
        operationId: 'getLiveness',
        response: { 200: Liveness },
      },
      () => {
        const { reason } = overload.status();
        return reason === null ? { status: 'ok' as const } : { status: 'overloaded' as const, reason };
      },
    )
    .get(
      '/readyz',
      {
        summary: 'Readiness',
        description: 'Answers 200 when Redis answers, the server is not draining and not overloaded; 503 otherwise, so a balancer stops sending.',
        operationId: 'getReadiness',
        response: {
          200: Status,
          503: {
            description: 'Redis does not answer, the server is shutting down, or it is overloaded (code OVERLOADED, with Retry-After).',
            schema: ProblemSchema,
            headers: { 'retry-after': { description: 'Seconds; sent when overloaded.', schema: Type.String() } },
          },
        },
      },
      async () => {
        if (services.isDraining()) throw HttpError.of('SHUTTING_DOWN');
        const { reason, eventLoopDelayMs } = overload.status();
        if (reason !== null) {
          throw HttpError.of('OVERLOADED', `The server is overloaded (${reason}, event-loop delay ${eventLoopDelayMs} ms).`, { headers: { 'retry-after': '1' }, type: REDUCED_CAPACITY_TYPE });
        }
        if (!(await services.pingRedis())) throw HttpError.of('SERVICE_UNAVAILABLE', 'Redis does not answer.');
        return { status: 'ok' as const };
      },
    );
}
