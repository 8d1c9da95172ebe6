// One CloudEvent in, one Reply out: the resource events go through the one sync path
// (reconcile.ts), pings run the sweep, dead letters are recorded. Metrics and log lines are
// written here; app.ts only moves requests and replies.
import type { CloudEvent } from 'cloudevents';
import { parseAction } from './action.js';
import type { Kube } from './kube.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import { recordDeadLetter, reconcile } from './reconcile.js';
import { badRequest, replyTo, type Reply } from './reply.js';
import { statusPatch } from './status-patch.js';
import { sweep, type SweepResult } from './sweep.js';

export const EVENT_TYPES = {
  add: 'dev.knative.apiserver.resource.add',
  update: 'dev.knative.apiserver.resource.update',
  delete: 'dev.knative.apiserver.resource.delete',
  ping: 'dev.knative.sources.ping',
} as const;

export interface HandlerDeps {
  /** null: dry-run, nothing is written. */
  kube: Kube | null;
  log: Logger;
  metrics: Metrics;
  sweep: { namespace?: string; pageSize: number; concurrency: number };
  now: () => Date;
}

export interface Handler {
  /** `subject`: the sender Knative authenticated, or null when senders are not authenticated. */
  handle(event: CloudEvent<unknown>, subject: string | null): Promise<Reply>;
  /** A 400 for what is not an event the function takes, counted and logged. */
  refuse(reason: string, extra?: Record<string, unknown>): Reply;
}

export function createHandler(deps: HandlerDeps): Handler {
  const { kube, log, metrics, now } = deps;
  const dryRun = kube === null;

  function refuse(reason: string, extra?: Record<string, unknown>): Reply {
    metrics.rejected.inc({ reason: 'bad-request' });
    log.warn({ reason }, 'rejected event');
    return badRequest(reason, extra);
  }

  function answer(event: CloudEvent<unknown>, ...[decision, opts]: Parameters<typeof replyTo>): Reply {
    const { reply, summary } = replyTo(decision, opts);
    metrics.decisions.inc({ kind: decision.kind });
    const data = event.data as { metadata?: { namespace?: string; name?: string } };
    const action = `${data.metadata?.namespace}/${data.metadata?.name}`;
    log.info({ action, event: event.type, decision: summary }, `${action}: ${decision.kind}`);
    return reply;
  }

  async function onResource(event: CloudEvent<unknown>): Promise<Reply> {
    const parsed = parseAction(event.data);
    if (parsed.valid === null) return refuse(`data is not an Action: ${parsed.reason}`);
    const { decision, eventError } = await reconcile(kube, parsed, now);
    if (!dryRun && decision.kind === 'advance' && decision.lateSeconds !== undefined) metrics.lateness.observe(decision.lateSeconds);
    if (eventError) log.warn({ err: eventError }, 'phase started but its Kubernetes Event failed');
    // In dry-run a person reads the answer: the JSON Patch the write would send (null: the event
    // shows too little to prove, so the function would read the object first).
    const patch = dryRun && 'status' in decision && decision.status ? statusPatch(parsed.envelope, decision.status, false) : undefined;
    return answer(event, decision, { now: now(), dryRun, ...(patch === undefined ? {} : { patch }) });
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
    const result = await sweep(api, { ...deps.sweep, now });
    metrics.sweepDuration.observe((Date.now() - started) / 1000);
    metrics.sweepListed.set(result.listed);
    for (const [kind, n] of Object.entries(result.decisions)) metrics.sweepDecisions.inc({ kind }, n);
    for (const late of result.lateSeconds) metrics.lateness.observe(late);
    const { lateSeconds: _late, ...summary } = result;
    log[result.failures.length ? 'warn' : 'info']({ sweep: { ...summary, ms: Date.now() - started } }, `sweep: ${result.listed} unfinished, ${result.decisions['advance'] ?? 0} advanced`);
    return result;
  }

  async function onDeadLetter(event: CloudEvent<unknown>, subject: string | null): Promise<Reply> {
    const code = String(event['knativeerrorcode']);
    const dest = String(event['knativeerrordest'] ?? '');
    const raw = event['knativeerrordata'];
    const detail = typeof raw === 'string' ? Buffer.from(raw, 'base64').toString('utf8').slice(0, 300) : '';
    metrics.deadLetters.inc({ code });
    log.warn({ event: event.type, code, dest, detail }, 'dead-lettered event');
    const parsed = parseAction(event.data);
    // Recording it is a write nothing can prove: only for a sender Knative authenticated.
    if (kube && subject !== null && parsed.valid !== null) {
      const failed = await recordDeadLetter(kube, parsed.envelope, { type: event.type, id: event.id, code, dest, detail });
      if (failed) log.warn({ err: failed }, 'could not record the dead letter as a Kubernetes Event');
    }
    return { status: 200, headers: { 'x-advance-decision': 'dead-letter' }, body: dryRun ? { dryRun: true, deadLetter: { code, dest, detail } } : undefined };
  }

  async function handle(event: CloudEvent<unknown>, subject: string | null): Promise<Reply> {
    if (event['knativeerrorcode'] !== undefined) return onDeadLetter(event, subject);
    switch (event.type) {
      case EVENT_TYPES.add:
      case EVENT_TYPES.update:
        return onResource(event);
      case EVENT_TYPES.delete: {
        const parsed = parseAction(event.data);
        if (parsed.valid === null) return refuse(`data is not an Action: ${parsed.reason}`);
        return answer(event, { kind: 'done', reason: 'gone' }, { now: now(), dryRun });
      }
      case EVENT_TYPES.ping:
        return onPing();
      default:
        return refuse(`unsupported event type ${JSON.stringify(event.type)}`, { supported: Object.values(EVENT_TYPES) });
    }
  }

  return { handle, refuse };
}
