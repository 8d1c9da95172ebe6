// One CloudEvent in, one Reply out: the resource events go through the one sync path
// (reconcile.ts), pings run the sweep or a tick (pings.ts), dead letters are recorded. Metrics
// and log lines are written here; app.ts only moves requests and replies.
import type { CloudEventV1 } from 'cloudevents';
import { parseAction, type Envelope } from './action.js';
import type { Decision } from './decide.js';
import type { Kube } from './kube.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import { pingHandler } from './pings.js';
import { recordDeadLetter } from './events.js';
import { reconcile } from './reconcile.js';
import { badRequest, replyTo, type Reply, type WaitMode } from './reply.js';
import { statusPatch } from './status-patch.js';

export const EVENT_TYPES = {
  add: 'dev.knative.apiserver.resource.add',
  update: 'dev.knative.apiserver.resource.update',
  delete: 'dev.knative.apiserver.resource.delete',
  ping: 'dev.knative.sources.ping',
} as const;
const RESOURCE_EVENTS: ReadonlySet<string> = new Set([EVENT_TYPES.add, EVENT_TYPES.update, EVENT_TYPES.delete]);

/**
 * With the 400 for a type the function does not take. The first event most people send is
 * `kn func invoke`'s default (type `boson.fn`), which only says what is wrong; this says what to
 * send instead. kn func invoke shows no answer that is not a CloudEvent, so the hint is logged
 * too: the function's log is where a kn func user reads it. The command is the README's
 * (test/integration/invoke.test.ts holds them to each other).
 */
export const UNSUPPORTED_TYPE_HINT =
  'examples/events/ holds a CloudEvent of each type this function takes (docs/local.md); ' +
  'with kn func, from the repository root: kn func invoke --target <url> ' +
  '--type dev.knative.apiserver.resource.update --source https://10.96.0.1:443 ' +
  '--file examples/action-object.json (README.md)';

export interface HandlerDeps {
  /** null: dry-run, nothing is written. */
  kube: Kube | null;
  log: Logger;
  metrics: Metrics;
  sweep: { namespace?: string; pageSize: number; concurrency: number };
  waitMode: WaitMode;
  now: () => Date;
}

export interface Handler {
  /** `subject`: the sender Knative authenticated, or null when senders are not authenticated. */
  handle: (event: CloudEventV1<unknown>, subject: string | null) => Promise<Reply>;
  /** A 400 for what is not an event the function takes, counted and logged. */
  refuse: (reason: string, extra?: Record<string, unknown>) => Reply;
}

export function createHandler(deps: HandlerDeps): Handler {
  const onPing = pingHandler(deps);

  function refuse(reason: string, extra?: Record<string, unknown>): Reply {
    deps.metrics.rejected.inc({ reason: 'bad-request' });
    const hint = extra?.['hint'];
    deps.log.warn({ reason, ...(hint === undefined ? {} : { hint }) }, 'rejected event');
    return badRequest(reason, extra);
  }

  async function handle(event: CloudEventV1<unknown>, subject: string | null): Promise<Reply> {
    if (event['knativeerrorcode'] !== undefined) return onDeadLetter(deps, event, subject);
    if (event.type === EVENT_TYPES.ping) return onPing(event);
    if (!RESOURCE_EVENTS.has(event.type)) {
      return refuse(`unsupported event type ${JSON.stringify(event.type)}`, {
        supported: Object.values(EVENT_TYPES),
        hint: UNSUPPORTED_TYPE_HINT,
      });
    }
    const parsed = parseAction(event.data);
    if (parsed.kind === 'not-an-action') return refuse(`data is not an Action: ${parsed.reason}`);
    if (event.type === EVENT_TYPES.delete)
      return answer(deps, parsed.envelope, event.type, { kind: 'done', reason: 'gone' });
    const { decision, eventError } = await reconcile(deps.kube, parsed, deps.now);
    const dryRun = deps.kube === null;
    if (!dryRun && decision.kind === 'advance' && decision.lateSeconds !== undefined)
      deps.metrics.lateness.observe(decision.lateSeconds);
    if (eventError) deps.log.warn({ err: eventError }, 'phase started but its Kubernetes Event failed');
    // In dry-run a person reads the answer: the JSON Patch the write would send (null: the event
    // shows too little to prove, so the function would read the object first).
    const patch =
      dryRun && 'status' in decision && decision.status
        ? statusPatch(parsed.envelope, decision.status, false)
        : undefined;
    return answer(deps, parsed.envelope, event.type, decision, patch);
  }

  return { handle, refuse };
}

/** The decision as Knative reads it, counted and logged. */
function answer(
  deps: HandlerDeps,
  envelope: Envelope,
  type: string,
  decision: Decision,
  patch?: ReturnType<typeof statusPatch>,
): Reply {
  const { reply, summary } = replyTo(decision, {
    now: deps.now(),
    dryRun: deps.kube === null,
    waitMode: deps.waitMode,
    ...(patch === undefined ? {} : { patch }),
  });
  deps.metrics.decisions.inc({ kind: decision.kind });
  const action = `${envelope.metadata.namespace}/${envelope.metadata.name}`;
  deps.log.info({ action, event: type, decision: summary }, `${action}: ${decision.kind}`);
  return reply;
}

/** An event Knative gave up on: logged, counted, and a Warning Event on its Action. */
async function onDeadLetter(deps: HandlerDeps, event: CloudEventV1<unknown>, subject: string | null): Promise<Reply> {
  const { kube, log, metrics } = deps;
  const code = String(event['knativeerrorcode']);
  const destination: unknown = event['knativeerrordest'];
  const dest = typeof destination === 'string' ? destination : '';
  const raw = event['knativeerrordata'];
  const detail = typeof raw === 'string' ? Buffer.from(raw, 'base64').toString('utf8').slice(0, 300) : '';
  metrics.deadLetters.inc({ code });
  log.warn({ event: event.type, code, dest, detail }, 'dead-lettered event');
  const parsed = parseAction(event.data);
  // Recording it is a write nothing can prove: only for a sender Knative authenticated.
  if (kube && subject !== null && parsed.kind !== 'not-an-action') {
    const failed = await recordDeadLetter(kube, parsed.envelope, {
      type: event.type,
      id: event.id,
      code,
      dest,
      detail,
    });
    if (failed) log.warn({ err: failed }, 'could not record the dead letter as a Kubernetes Event');
  }
  return {
    status: 200,
    headers: { 'x-advance-decision': 'dead-letter' },
    body: kube === null ? { dryRun: true, deadLetter: { code, dest, detail } } : undefined,
  };
}
