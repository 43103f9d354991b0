// Public face of the job queue: define jobs, enqueue and inspect them (producers), run them (workers).
export { defineJob, backoffDelay, jobVisibleTo, jobView, JOB_STATUSES, TERMINAL_STATUSES, type JobDefinition, type JobSpec, type Dedupe, type JobDedupe, type JobContext, type JobStatus, type JobRecord, type Backoff } from './job.ts';
export { createQueue, JOB_ID_PATTERN, Queue, QueuePartitionsError, DEFAULT_RETENTION, type Keep, type QueueOptions, type EnqueueOptions, type JobHandle, type AbortOutcome, type QueueStats } from './queue.ts';
export { startWorker, STOP_SLACK_MS, type Worker, type WorkerOptions } from './worker.ts';
export { JobInterrupted } from './attempt.ts';
export { cron, parseCron, cronNext, scheduleCron, MAX_TIMER_MS, type CronEntry, type CronClock } from './cron.ts';
export type { Clock } from '../clock.ts';
export { queueKeys, type QueueKeys } from './keys.ts';
export { createJobsRouter, type JobsRouterOptions } from './routes.ts';
export { queueCollector } from './metrics.ts';
export { createAdminRouter, operatorKey, type AdminRouterOptions } from './admin-routes.ts';
export { QueueOperator, OPERATOR_STATUSES, type OperatorStatus, type QueueOverview, type JobPage, type JobRow, type JobDetail, type WorkerView } from './operator.ts';
export { createDashboardRouter, DASHBOARD_CSP, type DashboardOptions } from './dashboard.ts';
