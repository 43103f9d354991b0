// SIGTERM to the API supervisor while a client follows a job's event stream (a queued job: no queue worker runs,
// so the stream stays open). The promise: the stream gets a final event and the whole service exits well within
// DRAIN_TIMEOUT_MS (target ≤ 2 s). Ends the stack's API: run it last.
import http from 'node:http';
import { round1 } from './load.ts';
import { API_KEY, type Stack } from './stack.ts';

export interface SigtermResult {
  /** SIGTERM to the supervisor's exit (the wait so far when it had to be killed). */
  exitS: number;
  exitCode: number | string | null;
  /** SIGTERM to the end of the event stream. */
  streamClosedS: number | null;
  /** Events the stream received after the SIGTERM (e.g. a final `end`). */
  eventsAfterSigterm: string[];
}

const GIVE_UP_MS = 60_000;

export async function sigtermScenario(stack: Stack): Promise<SigtermResult> {
  // No worker may finish the job, or its stream would end by itself.
  await stack.workers?.kill();
  const created = await fetch(`${stack.url}/v1/exports`, {
    method: 'POST',
    headers: { 'x-api-key': API_KEY, 'content-type': 'application/json' },
    body: JSON.stringify({ format: 'csv' }),
  });
  if (created.status !== 202) throw new Error(`POST /v1/exports answered ${created.status}`);
  const { id } = (await created.json()) as { id: string };

  let text = '';
  let closedAt: number | null = null;
  const firstEvent = new Promise<void>((resolve, reject) => {
    const req = http.get(`${stack.url}/v1/jobs/${id}/events`, { agent: false, headers: { 'x-api-key': API_KEY } }, (res) => {
      if (res.statusCode !== 200) reject(new Error(`events answered ${res.statusCode}`));
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
        if (text.includes('\n\n')) resolve();
      });
      res.on('close', () => (closedAt ??= Date.now()));
    });
    req.on('error', (err) => {
      closedAt ??= Date.now();
      reject(err);
    });
  });
  await firstEvent;

  const sigtermAt = Date.now();
  const textAtSigterm = text.length;
  stack.api.signal('SIGTERM');
  const exited = await Promise.race([stack.api.exited, new Promise<null>((r) => setTimeout(() => r(null), GIVE_UP_MS))]);
  const exitS = (Date.now() - sigtermAt) / 1000;
  if (exited === null) await stack.api.kill();
  const eventsAfterSigterm = [...text.slice(textAtSigterm).matchAll(/^event: (.+)$/gm)].map((m) => m[1]);
  return {
    exitS: round1(exitS),
    exitCode: exited,
    streamClosedS: closedAt === null ? null : round1((closedAt - sigtermAt) / 1000),
    eventsAfterSigterm,
  };
}
