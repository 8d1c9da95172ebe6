// The HTTP shell: CloudEvents in, a status code out. Knative's delivery reads only the status
// and Retry-After, and its broker filter turns any non-empty 2xx body that is not a CloudEvent
// into a 502 (and a redelivery), so in real mode every 2xx is empty and the decision travels
// in headers and logs. In dry-run a person is reading: the 200 carries the decision as JSON.
import express, { type NextFunction, type Request, type Response } from 'express';
import type { CloudEvent } from 'cloudevents';
import { parseAction } from './action.js';
import type { SenderAuth, Verdict } from './auth.js';
import { readCloudEvent } from './cloudevent.js';
import type { Decision } from './decide.js';
import type { Kube } from './kube.js';
import { eventContext, type Logger } from './log.js';
import type { Metrics } from './metrics.js';
import { reconcile } from './reconcile.js';
import { statusPatch, type PatchOperation } from './status-patch.js';
import { traceOf } from './trace.js';
import { sweep, type SweepResult } from './sweep.js';

export const EVENT_TYPES = {
  add: 'dev.knative.apiserver.resource.add',
  update: 'dev.knative.apiserver.resource.update',
  delete: 'dev.knative.apiserver.resource.delete',
  ping: 'dev.knative.sources.ping',
} as const;

export interface AppOptions {
  /** null: dry-run, nothing is written. */
  kube: Kube | null;
  /** null: every sender is accepted (no OIDC); the writes' own proofs still hold. */
  auth: SenderAuth | null;
  log: Logger;
  metrics: Metrics;
  maxBodyBytes: number;
  sweep: { namespace?: string; pageSize: number; concurrency: number };
  now?: () => Date;
  /** Flipped by the entry point on SIGTERM so readiness fails while requests drain. */
  isShuttingDown?: () => boolean;
}

type Reply = { status: number; headers?: Record<string, string>; body?: unknown };

export function createApp(opts: AppOptions): express.Express {
  const { kube, log, metrics } = opts;
  const now = opts.now ?? (() => new Date());
  const dryRun = kube === null;
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');

  app.get('/health/liveness', (_req, res) => void res.status(200).json({ status: 'ok' }));
  app.get('/health/readiness', (_req, res) => {
    const down = opts.isShuttingDown?.() ?? false;
    res.status(down ? 503 : 200).json({ status: down ? 'shutting down' : 'ok', dryRun });
  });
  app.get('/metrics', async (_req, res, next) => {
    try {
      const { contentType, text } = await metrics.render();
      res.type(contentType).send(text);
    } catch (error) {
      next(error);
    }
  });

  // The sender is checked before the body is even read.
  app.post('/', authenticate, express.raw({ type: () => true, limit: opts.maxBodyBytes }), (req, res, next) => {
    // Every log line from here on carries the event's trace context (and, once read, its id).
    eventContext.run({ ...traceOf(req.headers) }, async () => {
      try {
        send(res, await handle(req, res.locals['subject'] as string | null));
      } catch (error) {
        next(error);
      }
    });
  });
  app.all('/', (_req, res) => void res.status(405).set('allow', 'POST').json({ error: 'POST a CloudEvent to /' }));

  app.use((error: Error & { type?: string; status?: number }, _req: Request, res: Response, _next: NextFunction) => {
    if (error.type === 'entity.too.large') {
      metrics.rejected.inc({ reason: 'too-large' });
      return send(res, { status: 413, body: { error: 'body too large', limit: opts.maxBodyBytes } });
    }
    if (error.status && error.status >= 400 && error.status < 500) {
      return send(res, { status: error.status, body: { error: error.message } });
    }
    // API server trouble and the unexpected: 5xx, so Knative retries the event.
    metrics.errors.inc();
    log.error({ err: error }, 'event failed');
    return send(res, { status: 500, body: { error: error.message } });
  });

  async function authenticate(req: Request, res: Response, next: NextFunction): Promise<void> {
    try {
      const verdict: Verdict = opts.auth ? await opts.auth.check(req.headers.authorization) : { ok: true, subject: null };
      if (verdict.ok) {
        res.locals['subject'] = verdict.subject;
        return next();
      }
      const { status, reason } = verdict;
      if (status === 503) {
        metrics.errors.inc();
        log.error({ reason }, 'cannot authenticate senders');
        return send(res, { status, body: { error: 'cannot authenticate senders now', reason } });
      }
      metrics.rejected.inc({ reason: status === 401 ? 'unauthenticated' : 'forbidden' });
      log.warn({ ...traceOf(req.headers), status, reason }, 'refused a sender');
      const headers: Record<string, string> = status === 401 ? { 'www-authenticate': 'Bearer error="invalid_token"' } : {};
      send(res, { status, headers, body: { error: status === 401 ? 'unauthenticated' : 'forbidden', reason } });
    } catch (error) {
      next(error);
    }
  }

  /** `subject`: the authenticated sender, or null when senders are not authenticated. */
  async function handle(req: Request, subject: string | null): Promise<Reply> {
    const read = readCloudEvent(req.headers, Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '');
    if ('error' in read) return badRequest(read.error);
    const event = read.event;
    const context = eventContext.getStore();
    if (context) Object.assign(context, traceOf(req.headers, event['traceparent']), { id: event.id });

    if (event['knativeerrorcode'] !== undefined) return deadLetter(event, subject);

    switch (event.type) {
      case EVENT_TYPES.add:
      case EVENT_TYPES.update:
        return onResource(event);
      case EVENT_TYPES.delete: {
        const parsed = parseAction(event.data);
        if (parsed.valid === null) return badRequest(`data is not an Action: ${parsed.reason}`);
        return decided({ kind: 'done', reason: 'gone' }, event);
      }
      case EVENT_TYPES.ping:
        return onPing();
      default:
        return badRequest(`unsupported event type ${JSON.stringify(event.type)}`, {
          supported: Object.values(EVENT_TYPES),
        });
    }
  }

  async function onResource(event: CloudEvent<unknown>): Promise<Reply> {
    const parsed = parseAction(event.data);
    if (parsed.valid === null) return badRequest(`data is not an Action: ${parsed.reason}`);
    const outcome = await reconcile(kube, parsed, now);
    observeAdvance(outcome.decision);
    if (outcome.eventError) log.warn({ err: outcome.eventError }, 'phase started but its Kubernetes Event failed');
    const { decision } = outcome;
    // In dry-run a person reads the answer: show the JSON Patch the write would send (null: the
    // event shows too little to prove, so the function would read the object first).
    const patch = 'status' in decision && decision.status ? statusPatch(parsed.envelope, decision.status, false) : undefined;
    return decided(decision, event, patch);
  }

  /** A phase begun (in real mode: written): how late against its due time. */
  function observeAdvance(decision: Decision): void {
    if (!dryRun && decision.kind === 'advance' && decision.lateSeconds !== undefined) metrics.lateness.observe(decision.lateSeconds);
  }

  function decided(decision: Decision, event: CloudEvent<unknown>, patch?: PatchOperation[] | null): Reply {
    metrics.decisions.inc({ kind: decision.kind });
    const data = event.data as { metadata?: { namespace?: string; name?: string } };
    const action = `${data.metadata?.namespace}/${data.metadata?.name}`;
    const headers: Record<string, string> = { 'x-advance-decision': decision.kind };
    let status = 200;
    const summary: Record<string, unknown> = { kind: decision.kind };

    switch (decision.kind) {
      case 'advance':
        headers['x-advance-phase'] = headerValue(decision.phase);
        Object.assign(summary, { phase: decision.phase, position: decision.position });
        break;
      case 'wait': {
        const seconds = Math.max(1, Math.ceil((decision.until.getTime() - now().getTime()) / 1000));
        headers['retry-after'] = String(seconds);
        status = 503;
        Object.assign(summary, { reason: decision.reason, until: decision.until.toISOString(), retryAfter: seconds });
        break;
      }
      case 'reject':
        status = 400;
        summary['reason'] = decision.reason;
        break;
      case 'update':
      case 'done':
        summary['reason'] = decision.reason;
        break;
      case 'delete':
        break;
    }
    if ('reason' in summary) headers['x-advance-reason'] = headerValue(String(summary['reason']));
    log.info({ action, event: event.type, decision: summary }, `${action}: ${decision.kind}`);

    if (status === 400) return { status, headers, body: { error: 'invalid Action spec', reason: summary['reason'], decision: summary } };
    if (status === 503) return { status, headers, body: { decision: summary } };
    return { status, headers, body: dryRun ? { dryRun: true, decision: summary, ...(patch === undefined ? {} : { patch }) } : undefined };
  }

  // One sweep at a time: pings that arrive while one runs (a redelivery, a second replica's
  // schedule, or anyone posting pings without OIDC) share its result instead of listing again.
  let sweeping: Promise<SweepResult> | null = null;

  async function onPing(): Promise<Reply> {
    if (kube === null) {
      return { status: 200, headers: { 'x-advance-decision': 'sweep-skipped' }, body: { dryRun: true, sweep: 'skipped: no API server in dry-run' } };
    }
    const shared = sweeping !== null;
    sweeping ??= runSweep(kube).finally(() => (sweeping = null));
    const result = await sweeping;
    // Failures are logged, not retried as a whole: the next ping sweeps again.
    return { status: 200, headers: { 'x-advance-decision': shared ? 'sweep-shared' : 'sweep', 'x-advance-swept': String(result.listed) } };
  }

  async function runSweep(api: Kube): Promise<SweepResult> {
    const started = Date.now();
    const result = await sweep(api, { ...opts.sweep, now });
    metrics.sweepDuration.observe((Date.now() - started) / 1000);
    metrics.sweepListed.set(result.listed);
    for (const [kind, n] of Object.entries(result.decisions)) metrics.sweepDecisions.inc({ kind }, n);
    for (const late of result.lateSeconds) metrics.lateness.observe(late);
    const level = result.failures.length ? 'warn' : 'info';
    const { lateSeconds: _late, ...summary } = result;
    log[level]({ sweep: { ...summary, ms: Date.now() - started } }, `sweep: ${result.listed} unfinished, ${result.decisions['advance'] ?? 0} advanced`);
    return result;
  }

  async function deadLetter(event: CloudEvent<unknown>, subject: string | null): Promise<Reply> {
    const code = String(event['knativeerrorcode']);
    const dest = String(event['knativeerrordest'] ?? '');
    const raw = event['knativeerrordata'];
    const detail = typeof raw === 'string' ? Buffer.from(raw, 'base64').toString('utf8').slice(0, 300) : '';
    metrics.deadLetters.inc({ code });
    log.warn({ event: event.type, code, dest, detail }, 'dead-lettered event');
    const parsed = parseAction(event.data);
    // Recording it is a write nothing can prove: only for a sender Knative authenticated.
    if (kube && subject !== null && parsed.valid !== null) {
      const regarding = parsed.envelope;
      try {
        await kube.recordEvent({
          regarding,
          type: 'Warning',
          reason: 'DeliveryFailed',
          action: 'DeadLetter',
          note: `${event.type} ${event.id} gave up after HTTP ${code} from ${dest}${detail ? `: ${detail}` : ''}; the sweep will pick the Action up`,
        });
      } catch (error) {
        log.warn({ err: error }, 'could not record the dead letter as a Kubernetes Event');
      }
    }
    const headers = { 'x-advance-decision': 'dead-letter' };
    return { status: 200, headers, body: dryRun ? { dryRun: true, deadLetter: { code, dest, detail } } : undefined };
  }

  function badRequest(reason: string, extra: Record<string, unknown> = {}): Reply {
    metrics.rejected.inc({ reason: 'bad-request' });
    log.warn({ reason }, 'rejected event');
    return { status: 400, headers: { 'x-advance-decision': 'rejected' }, body: { error: 'bad request', reason, ...extra } };
  }

  return app;
}

/**
 * A phase name or a reason as a header value: percent-encoded outside visible ASCII, which is all a header
 * may carry (Node refuses the rest, and would fail the answer after the phase was written).
 */
function headerValue(text: string): string {
  return text.replace(/[^\x21-\x24\x26-\x7e]/gu, (c) => encodeURIComponent(c));
}

function send(res: Response, reply: Reply): void {
  res.status(reply.status).set(reply.headers ?? {});
  if (reply.body === undefined) res.end();
  else res.json(reply.body);
}
