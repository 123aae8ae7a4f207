import client from 'prom-client';

/** Prometheus metrics of one API process. */
export function createMetrics() {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'tideway_api_' });
  return {
    registry,
    requests: new client.Counter({
      name: 'tideway_http_requests_total', help: 'HTTP requests by route and status', labelNames: ['method', 'route', 'status'], registers: [registry],
    }),
    latency: new client.Histogram({
      name: 'tideway_http_request_duration_seconds', help: 'HTTP request latency by route and status', labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry],
    }),
    runsStarted: new client.Counter({ name: 'tideway_runs_started_total', help: 'Runs started (execute or retry) by kind', labelNames: ['kind'], registers: [registry] }),
    runsFinished: new client.Gauge({ name: 'tideway_runs_finished', help: 'Finished runs in the database by kind and status', labelNames: ['kind', 'status'], registers: [registry] }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
