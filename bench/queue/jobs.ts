// What both bench workers run: a no-op job on one queue.
import { Type } from '@sinclair/typebox';
import { defineJob } from '../../src/queue/index.ts';

export const BENCH_QUEUE = 'bench';
export const PREFIX = 'bench:';
export const CONCURRENCY = 50;
/** Finished jobs BullMQ keeps (removeOnComplete), as skiff's default retention (DEFAULT_RETENTION) does. */
export const BULLMQ_KEEP = 10_000;
export const noop = defineJob({ name: 'noop', payload: Type.Object({ i: Type.Integer() }), handler: async () => null });
