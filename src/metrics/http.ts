// HTTP metrics of one worker: requests by route template and status, latency, requests in flight, rejections.
import type { Server } from 'node:http';
import type { App } from '../router/index.ts';
import type { Registry } from './registry.ts';

/** Counts every response of `app`; call before the server is created (observers are read once). */
export function instrumentApp(registry: Registry, app: App): void {
  const requests = registry.counter('skiff_http_requests_total', 'HTTP responses sent, by method, route template and status.', ['method', 'route', 'status']);
  const duration = registry.histogram('skiff_http_request_duration_seconds', 'Time from request to response, by method and route template.', ['method', 'route']);
  app.observe((e) => {
    const route = e.route ?? 'unmatched';
    requests.inc([e.method, route, String(e.status)]);
    duration.observe([e.method, route], e.durationMs / 1000);
  });
}

/** Requests the server rejected before routing (malformed, headers too large, too slow, CONNECT), by status. */
export function countRejected(registry: Registry, server: { observeRejected(observer: (status: number) => void): void }): void {
  const rejected = registry.counter('skiff_http_rejected_total', 'Requests rejected before routing (malformed, headers too large, too slow, unknown method), by status.', ['status']);
  server.observeRejected((status) => rejected.inc([String(status)]));
}

export function countInFlight(registry: Registry, server: Server): void {
  const inFlight = registry.gauge('skiff_http_requests_in_flight', 'Requests being handled now.');
  server.on('request', (_req, res) => {
    inFlight.add([], 1);
    res.once('close', () => inFlight.add([], -1));
  });
}
