import http from 'node:http';
import https from 'node:https';
import { Context } from '@temporalio/activity';
import { egressRefusal, type EgressPolicy } from '../core/egress';
import { runTokenSecret, signRunToken } from '../core/run-token';
import type { JobStore } from '../db/job-store';
import type { RunStore } from '../db/run-store';
import { rows } from '../db/sql';

export interface JobActivityDeps {
  store: RunStore;
  jobs: JobStore;
  runTokenSecret: string | undefined;
  workerId: string;
  egress?: EgressPolicy;
}

export interface DispatchResult {
  outcome: 'completed' | 'accepted' | 'error' | 'timeout';
  status?: number;
  result?: unknown;
  retryable: boolean;
  error?: string;
}

interface Timings { connect_ms: number; ttfb_ms: number; transfer_ms: number; dispatch_ms: number }

const MAX_BODY = 1024 * 1024;

/** POSTs JSON and measures connect, time to first byte and transfer; aborts on `signal`. */
function post(url: string, body: string, headers: Record<string, string>, timeoutMs: number, signal: AbortSignal):
  Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string; timings: Timings }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let connected = started;
    let firstByte = started;
    const target = new URL(url);
    const req = (target.protocol === 'https:' ? https : http).request(target, {
      method: 'POST', headers: { ...headers, 'content-length': Buffer.byteLength(body) }, signal, timeout: timeoutMs,
    });
    req.on('socket', (socket) => {
      const mark = () => { connected = performance.now(); };
      if ((socket as { connecting?: boolean }).connecting) socket.once(target.protocol === 'https:' ? 'secureConnect' : 'connect', mark);
      else mark();
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT_ATTEMPT' })));
    req.on('error', reject);
    req.on('response', (res) => {
      firstByte = performance.now();
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => { if (size < MAX_BODY) { chunks.push(c); size += c.length; } });
      res.on('error', reject);
      res.on('end', () => {
        const done = performance.now();
        resolve({
          status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).subarray(0, MAX_BODY).toString('utf8'),
          timings: {
            connect_ms: Math.round(connected - started), ttfb_ms: Math.round(firstByte - connected),
            transfer_ms: Math.round(done - firstByte), dispatch_ms: Math.round(done - started),
          },
        });
      });
    });
    req.end(body);
  });
}

const parse = (text: string, contentType: string | undefined) => {
  if (!text) return null;
  if (/json/i.test(contentType ?? '') || /^[[{"]/.test(text.trim())) {
    try { return JSON.parse(text); } catch { /* not JSON */ }
  }
  return text;
};

/** Activities of job runs: dispatch to the job's endpoint, and dependency checks. */
export function createJobActivities({ store, jobs, runTokenSecret: fromEnv, workerId, egress = 'any' }: JobActivityDeps) {
  let secret: Promise<string> | null = null;
  const getSecret = () => (secret ??= runTokenSecret(fromEnv, (make) => jobs.setting('run_token_secret', make)));

  return {
    /**
     * One dispatch: POST the payload with X-Run-ID, X-Job-ID, X-Attempt and a run token, heartbeating
     * while in flight. Outcomes are returned, not thrown: the workflow owns retries and statuses.
     */
    async dispatchJob(input: {
      runId: string; jobId: string; attempt: number; endpointUrl: string; timeoutSecs: number; machinePreset: string | null; debugMode: boolean;
    }): Promise<DispatchResult> {
      const ctx = Context.current();
      const run = await store.require(input.runId);
      const beat = setInterval(() => ctx.heartbeat(), 1000);
      const marks = await rows<{ to: string; at: Date }>(store.knex,
        `select data->>'to' as to, created_at as at from run_events where run_id = ? and type = 'status' order by id desc limit 3`, [input.runId]);
      const at = (s: string) => marks.find((m) => m.to === s)?.at;
      const queuedAt = at('queued') ?? run.createdAt;
      const dequeuedAt = at('dequeued');
      const executingAt = at('executing') ?? new Date();
      const queueWait = dequeuedAt ? new Date(dequeuedAt).getTime() - new Date(queuedAt).getTime() : 0;
      const dequeue = dequeuedAt ? new Date(executingAt).getTime() - new Date(dequeuedAt).getTime() : 0;
      const token = signRunToken(await getSecret(), { runId: input.runId, attempt: input.attempt, exp: Math.floor(Date.now() / 1000) + input.timeoutSecs + 600 });
      const headers: Record<string, string> = {
        'content-type': 'application/json', 'x-run-id': input.runId, 'x-job-id': input.jobId, 'x-attempt': String(input.attempt),
        'x-run-token': token, 'user-agent': 'tideway-dispatch/1',
        ...(input.machinePreset ? { 'x-machine-preset': input.machinePreset } : {}),
      };
      const body = JSON.stringify(run.input ?? {});
      const started = performance.now();
      let result: DispatchResult;
      let response: Awaited<ReturnType<typeof post>> | null = null;
      const refusal = egressRefusal(input.endpointUrl, egress);
      try {
        if (refusal) {
          // A refused destination stays refused: no retry.
          result = { outcome: 'error', retryable: false, error: `request failed: ${refusal}` };
        } else {
          response = await post(input.endpointUrl, body, headers, input.timeoutSecs * 1000, ctx.cancellationSignal);
          const s = response.status;
          const parsed = parse(response.body, response.headers['content-type'] as string | undefined);
          if (s === 202) result = { outcome: 'accepted', status: s, retryable: true };
          else if (s >= 200 && s < 300) result = { outcome: 'completed', status: s, result: parsed, retryable: false };
          else result = { outcome: 'error', status: s, retryable: s === 408 || s === 429 || s >= 500, error: `HTTP ${s} from ${new URL(input.endpointUrl).host}` };
        }
      } catch (err) {
        if (ctx.cancellationSignal.aborted) throw err;
        const code = (err as { code?: string }).code;
        result = code === 'ETIMEDOUT_ATTEMPT'
          ? { outcome: 'timeout', retryable: true, error: `request timed out after ${input.timeoutSecs} s` }
          : { outcome: 'error', retryable: true, error: `request failed: ${code ?? (err as Error).message}` };
      } finally {
        clearInterval(beat);
      }
      const timings = response?.timings ?? { connect_ms: 0, ttfb_ms: 0, transfer_ms: 0, dispatch_ms: Math.round(performance.now() - started) };
      const trace = { queue_wait_ms: Math.max(0, queueWait), dequeue_ms: Math.max(0, dequeue), ...timings, total_ms: Math.max(0, queueWait) + Math.max(0, dequeue) + timings.dispatch_ms };
      await store.patch(input.runId, { executionTrace: trace, heartbeatAt: new Date() });
      await store.appendEvent(input.runId, 'dispatch', {
        attempt: input.attempt, status: result.status ?? null, outcome: result.outcome, worker_id: workerId, trace,
      }, undefined, result.outcome === 'error' || result.outcome === 'timeout' ? 'warn' : 'info',
      `attempt ${input.attempt}: ${result.status ? `HTTP ${result.status}` : result.error} in ${timings.dispatch_ms} ms`);
      if (input.debugMode) {
        await store.appendEvent(input.runId, 'debug.dispatch', {
          request: { method: 'POST', url: input.endpointUrl, headers: { ...headers, 'x-run-token': '[redacted]' }, body: run.input ?? {} },
          response: response ? { status: response.status, headers: response.headers, body: parse(response.body, response.headers['content-type'] as string | undefined) } : null,
          error: result.error ?? null, timings: trace,
        }, undefined, 'debug', `debug: dispatch of attempt ${input.attempt}`);
      }
      return result;
    },

    /** satisfied, pending, or unsatisfiable (a dependency finished without meeting its condition). */
    async checkJobDependencies({ runId }: { runId: string }): Promise<'satisfied' | 'pending' | 'unsatisfiable'> {
      const run = await store.require(runId);
      const { verdicts } = await jobs.dependencyStatus(run.targetId!, run.projectId, run.createdAt);
      if (verdicts.includes('unsatisfiable')) return 'unsatisfiable';
      return verdicts.every((v) => v === 'satisfied') ? 'satisfied' : 'pending';
    },
  };
}
