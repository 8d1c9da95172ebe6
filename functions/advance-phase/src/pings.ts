// PingSource events: the sweep (config/knative's PingSource, every 5 minutes) and, with the
// any-broker overlay, the ticks (tick.ts). One sweep and one tick at a time: pings that arrive
// while one runs (a redelivery, a second replica's schedule, or anyone posting pings without
// OIDC) share its result instead of listing again.
import type { CloudEventV1 } from 'cloudevents';
import * as z from 'zod/mini';
import type { HandlerDeps } from './handler.js';
import type { Kube } from './kube.js';
import type { Reply } from './reply.js';
import { sweep, type SweepResult } from './sweep.js';
import { createTicker, type TickResult } from './tick.js';

/** A PingSource's data: the tick's (config/knative/overlays/any-broker) says so; anything else sweeps. */
const PingData = z.looseObject({ tick: z.optional(z.boolean()) });

export function pingHandler(deps: HandlerDeps): (event: CloudEventV1<unknown>) => Promise<Reply> {
  const { kube } = deps;
  const sweepOnce = kube && singleFlight(() => runSweep(deps, kube));
  const ticker = kube && createTicker(kube, { ...deps.sweep, now: deps.now });
  const tickOnce = ticker && singleFlight(() => runTick(deps, ticker));
  let warned = false;

  return async (event) => {
    const tick = PingData.safeParse(event.data).data?.tick === true;
    if (sweepOnce === null || tickOnce === null) {
      const what = tick ? 'tick' : 'sweep';
      return {
        status: 200,
        headers: { 'x-advance-decision': `${what}-skipped` },
        body: { dryRun: true, [what]: 'skipped: no API server in dry-run' },
      };
    }
    if (!tick) {
      const { result, shared } = await sweepOnce();
      // Failures are logged, not retried as a whole: the next ping sweeps again.
      return {
        status: 200,
        headers: { 'x-advance-decision': shared ? 'sweep-shared' : 'sweep', 'x-advance-swept': String(result.listed) },
      };
    }
    if (deps.waitMode !== 'tick' && !warned) {
      warned = true;
      deps.log.warn(
        'ticks arrive but WAIT_MODE=retry-after: not-due events still get 503 + Retry-After, which a broker that ignores it retries until it gives up; set WAIT_MODE=tick',
      );
    }
    const { result, shared } = await tickOnce();
    return {
      status: 200,
      headers: {
        'x-advance-decision': shared ? 'tick-shared' : 'tick',
        'x-advance-swept': String(result.listed),
        'x-advance-scope': result.scope,
      },
    };
  };
}

async function runSweep({ metrics, log, sweep: opts, now }: HandlerDeps, kube: Kube): Promise<SweepResult> {
  const started = Date.now();
  const result = await sweep(kube, { ...opts, now });
  metrics.sweepDuration.observe((Date.now() - started) / 1000);
  metrics.sweepListed.set(result.listed);
  for (const [kind, n] of Object.entries(result.decisions)) metrics.sweepDecisions.inc({ kind }, n);
  for (const late of result.lateSeconds) metrics.lateness.observe(late);
  const { lateSeconds: _late, ...summary } = result;
  log[result.failures.length ? 'warn' : 'info'](
    { sweep: { ...summary, ms: Date.now() - started } },
    `sweep: ${result.listed} unfinished, ${result.decisions['advance'] ?? 0} advanced`,
  );
  return result;
}

async function runTick({ metrics, log }: HandlerDeps, ticker: { tick(): Promise<TickResult> }): Promise<TickResult> {
  const started = Date.now();
  const result = await ticker.tick();
  metrics.tickDuration.observe({ scope: result.scope }, (Date.now() - started) / 1000);
  metrics.tickListed.inc({ scope: result.scope }, result.listed);
  for (const [kind, n] of Object.entries(result.decisions)) metrics.tickDecisions.inc({ kind }, n);
  for (const late of result.lateSeconds) metrics.lateness.observe(late);
  const { lateSeconds: _late, ...summary } = result;
  // A tick that found nothing is the common case, every few seconds: debug, not info.
  const level = result.failures.length ? 'warn' : result.listed || result.scope === 'full' ? 'info' : 'debug';
  log[level](
    { tick: { ...summary, ms: Date.now() - started } },
    `tick (${result.scope}): ${result.listed} listed, ${result.decisions['advance'] ?? 0} advanced`,
  );
  return result;
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
