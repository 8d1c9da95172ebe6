// What each decision answers, as Knative's delivery reads it: the status code and Retry-After.
// Pure. A wait is a 503 with Retry-After (`retry-after` mode) or, where a PingSource tick carries
// the wait (`tick` mode, brokers that ignore Retry-After), a 200 so that no broker retries it.
// An advance that carries the next wait (decide.ts) is a 503 too: the phase is begun, and the
// same event comes back when the next step is due. In real mode every 2xx is empty (the broker
// filter turns any other 2xx body into a 502 and a redelivery), so the decision travels in
// headers; in dry-run a person is reading, and the 200 carries the decision and the JSON Patch
// the write would send.
import type { Decision } from './decide.js';
import type { PatchOperation } from './status-patch.js';

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

/** The decision as logged and shown: its kind and what it is about. */
export type Summary = Record<string, unknown> & { kind: Decision['kind'] };

export type WaitMode = 'retry-after' | 'tick';

export function replyTo(
  decision: Decision,
  opts: { now: Date; dryRun: boolean; waitMode: WaitMode; patch?: PatchOperation[] | null },
): { reply: Reply; summary: Summary } {
  const headers: Record<string, string> = { 'x-advance-decision': decision.kind };
  const summary: Summary = { kind: decision.kind };
  let status = 200;
  switch (decision.kind) {
    case 'advance': {
      headers['x-advance-phase'] = headerValue(decision.phase);
      Object.assign(summary, { phase: decision.phase, position: decision.position });
      // The phase is begun; in retry-after mode this delivery also comes back when the next step
      // is due, so that the chain survives losing the update event the write produced (a tick
      // carries every wait in tick mode). A person reading a dry run is told, not asked to retry.
      if (decision.carryUntil === undefined || opts.waitMode === 'tick') break;
      const seconds = retryAfter(decision.carryUntil, opts.now);
      Object.assign(summary, { carryUntil: decision.carryUntil.toISOString(), retryAfter: seconds });
      if (opts.dryRun) break;
      headers['retry-after'] = String(seconds);
      status = 503;
      break;
    }
    case 'wait': {
      const until = decision.until.toISOString();
      Object.assign(summary, { reason: decision.reason, until });
      if (opts.waitMode === 'tick') {
        headers['x-advance-until'] = until;
        break;
      }
      const seconds = retryAfter(decision.until, opts.now);
      headers['retry-after'] = String(seconds);
      status = 503;
      summary['retryAfter'] = seconds;
      break;
    }
    case 'reject':
      status = 400;
      summary['reason'] = decision.reason;
      break;
    case 'refresh':
    case 'done':
      summary['reason'] = decision.reason;
      break;
    case 'delete':
      break;
  }
  if ('reason' in summary) headers['x-advance-reason'] = headerValue(String(summary['reason']));

  if (status === 400)
    return {
      summary,
      reply: { status, headers, body: { error: 'invalid Action spec', reason: summary['reason'], decision: summary } },
    };
  if (status === 503) return { summary, reply: { status, headers, body: { decision: summary } } };
  const patch = opts.patch === undefined ? {} : { patch: opts.patch };
  return {
    summary,
    reply: { status, headers, body: opts.dryRun ? { dryRun: true, decision: summary, ...patch } : undefined },
  };
}

/** The type of a dry run's answer, when it is a CloudEvent (asDryRunEvent). */
export const DRY_RUN_ANSWER_TYPE = 'net.opdemo.advance-phase.dry-run.answer';

/**
 * A dry run's 2xx answer as a CloudEvent in binary mode: the same JSON body, plus the `ce-`
 * headers that make it one, so that `kn func invoke` (which shows only an answer that is a
 * CloudEvent) prints the decision. A person reading with curl sees the same body. Never in real
 * mode, where a 2xx must be empty (the broker filter would take the event for a reply).
 */
export function asDryRunEvent(reply: Reply, answering: string): Reply {
  if (reply.status < 200 || reply.status > 299 || reply.body === undefined) return reply;
  const event = {
    'ce-specversion': '1.0',
    'ce-id': `${answering}.answer`,
    'ce-source': '/advance-phase/dry-run',
    'ce-type': DRY_RUN_ANSWER_TYPE,
  };
  return { ...reply, headers: { ...reply.headers, ...event } };
}

/** Whole seconds until `until`, as Knative reads Retry-After; never 0, which would retry at once. */
function retryAfter(until: Date, now: Date): number {
  return Math.max(1, Math.ceil((until.getTime() - now.getTime()) / 1000));
}

/** A 400 for what is not an event the function takes. */
export function badRequest(reason: string, extra: Record<string, unknown> = {}): Reply {
  return {
    status: 400,
    headers: { 'x-advance-decision': 'rejected' },
    body: { error: 'bad request', reason, ...extra },
  };
}

/**
 * A phase name or a reason as a header value: percent-encoded outside visible ASCII, which is
 * all a header may carry (Node refuses the rest, and would fail the answer after the phase was written).
 */
export function headerValue(text: string): string {
  return text.replace(/[^\x21-\x24\x26-\x7e]/gu, (c) => encodeURIComponent(c));
}
