// One CloudEvent in, one Reply out: the resource events go through the one sync path
// (reconcile.ts), pings run the sweep or a tick, dead letters are recorded. Metrics and log
// lines are written here; app.ts only moves requests and replies.
import type { CloudEvent } from 'cloudevents';
import * as z from 'zod/mini';
import { parseAction } from './action.js';
import type { Kube } from './kube.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import { recordDeadLetter, reconcile } from './reconcile.js';
import { badRequest, replyTo, type Reply, type WaitMode } from './reply.js';
import { statusPatch } from './status-patch.js';
import { sweep, type SweepResult } from './sweep.js';
import { createTicker, type TickResult } from './tick.js';

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
  waitMode: WaitMode;
  now: () => Date;
}

/** A PingSource's data: the tick's (config/knative/overlays/any-broker) says so; anything else sweeps. */
const PingData = z.looseObject({ tick: z.optional(z.boolean()) });

export interface Handler {
  /** `subject`: the sender Knative authenticated, or null when senders are not authenticated. */
  handle(event: CloudEvent<unknown>, subject: string | null): Promise<Reply>;
  /** A 400 for what is not an event the function takes, counted and logged. */
  refuse(reason: string, extra?: Record<string, unknown>): Reply;
}

export function createHandler(deps: HandlerDeps): Handler {
  const { kube, log, metrics, now, waitMode } = deps;
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
    return answer(event, decision, { now: now(), dryRun, waitMode, ...(patch === undefined ? {} : { patch }) });
  }

  // One sweep and one tick at a time: pings that arrive while one runs (a redelivery, a second
  // replica's schedule, or anyone posting pings without OIDC) share its result instead of listing again.
  const sweepOnce = kube && singleFlight(() => runSweep(kube));
  const ticker = kube && createTicker(kube, { ...deps.sweep, now });
  const tickOnce = ticker && singleFlight(() => runTick(ticker));
  let warnedTickMode = false;

  async function onPing(event: CloudEvent<unknown>): Promise<Reply> {
    const tick = PingData.safeParse(event.data).data?.tick === true;
    if (sweepOnce === null || tickOnce === null) {
      return { status: 200, headers: { 'x-advance-decision': tick ? 'tick-skipped' : 'sweep-skipped' }, body: { dryRun: true, [tick ? 'tick' : 'sweep']: 'skipped: no API server in dry-run' } };
    }
    if (!tick) {
      const { result, shared } = await sweepOnce();
      // Failures are logged, not retried as a whole: the next ping sweeps again.
      return { status: 200, headers: { 'x-advance-decision': shared ? 'sweep-shared' : 'sweep', 'x-advance-swept': String(result.listed) } };
    }
    if (waitMode !== 'tick' && !warnedTickMode) {
      warnedTickMode = true;
      log.warn('ticks arrive but WAIT_MODE=retry-after: not-due events still get 503 + Retry-After, which a broker that ignores it retries until it gives up; set WAIT_MODE=tick');
    }
    const { result, shared } = await tickOnce();
    return {
      status: 200,
      headers: { 'x-advance-decision': shared ? 'tick-shared' : 'tick', 'x-advance-swept': String(result.listed), 'x-advance-scope': result.scope },
    };
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

  async function runTick(t: { tick(): Promise<TickResult> }): Promise<TickResult> {
    const started = Date.now();
    const result = await t.tick();
    metrics.tickDuration.observe({ scope: result.scope }, (Date.now() - started) / 1000);
    metrics.tickListed.inc({ scope: result.scope }, result.listed);
    for (const [kind, n] of Object.entries(result.decisions)) metrics.tickDecisions.inc({ kind }, n);
    for (const late of result.lateSeconds) metrics.lateness.observe(late);
    const { lateSeconds: _late, ...summary } = result;
    // A tick that found nothing is the common case, every few seconds: debug, not info.
    const level = result.failures.length ? 'warn' : result.listed || result.scope === 'full' ? 'info' : 'debug';
    log[level]({ tick: { ...summary, ms: Date.now() - started } }, `tick (${result.scope}): ${result.listed} listed, ${result.decisions['advance'] ?? 0} advanced`);
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
        return answer(event, { kind: 'done', reason: 'gone' }, { now: now(), dryRun, waitMode });
      }
      case EVENT_TYPES.ping:
        return onPing(event);
      default:
        return refuse(`unsupported event type ${JSON.stringify(event.type)}`, { supported: Object.values(EVENT_TYPES) });
    }
  }

  return { handle, refuse };
}

/** Calls of the returned function while one runs share its result (`shared`: this call did not start it). */
function singleFlight<T>(run: () => Promise<T>): () => Promise<{ result: T; shared: boolean }> {
  let running: Promise<T> | null = null;
  return async () => {
    const shared = running !== null;
    running ??= run().finally(() => (running = null));
    return { result: await running, shared };
  };
}
