// One sync path, used by events and the sweep alike: decide, write at most once, and on a
// conflict re-read and decide again. The happy path trusts the event's snapshot: no read.
import { parseAction, type ParsedAction } from './action.js';
import { decide, snapshotOf, type Decision } from './decide.js';
import type { Kube } from './kube.js';

/** Conflicts in a row before giving up and letting the sender retry. */
export const MAX_ATTEMPTS = 4;

export interface Outcome {
  decision: Decision;
  /** Status patches and deletes sent, conflicts included. */
  writes: number;
  /** GETs after a conflict. */
  reads: number;
  /** The phase is written but its Kubernetes Event was not: worth a log line, not a retry. */
  eventError?: Error;
}

export class ConflictError extends Error {}

/**
 * `kube` null is dry-run: the first decision is returned and nothing is written.
 * `parsed` must be an Action envelope (valid or not); anything else is the caller's 400.
 */
export async function reconcile(
  kube: Kube | null,
  parsed: Exclude<ParsedAction, { valid: null }>,
  now: () => Date = () => new Date(),
): Promise<Outcome> {
  const envelope = parsed.valid ? parsed.action : parsed.envelope;
  const { namespace, name } = envelope.metadata;
  const snapshot = snapshotOf(envelope);
  let current: ParsedAction | null = parsed;
  let writes = 0;
  let reads = 0;

  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const decision = decide(snapshot, current, now());
    if (kube === null) return { decision, writes, reads };

    let result: 'ok' | 'conflict' | 'gone';
    switch (decision.kind) {
      case 'advance':
      case 'update':
        writes++;
        result = await kube.patchStatus(namespace, name, decision.patch);
        break;
      case 'reject':
        if (decision.patch === null) return { decision, writes, reads };
        writes++;
        result = await kube.patchStatus(namespace, name, decision.patch);
        break;
      case 'delete':
        writes++;
        result = await kube.deleteAction(namespace, name, decision.uid);
        // A uid precondition failure is a 409 too: another incarnation holds the name now.
        if (result === 'conflict') return { decision: { kind: 'done', reason: 'other-incarnation' }, writes, reads };
        break;
      case 'wait':
      case 'done':
        return { decision, writes, reads };
    }

    if (result === 'ok') {
      if (decision.kind !== 'advance') return { decision, writes, reads };
      try {
        await kube.recordEvent({
          regarding: envelope,
          type: 'Normal',
          reason: 'PhaseStarted',
          action: 'Advance',
          note: `phase ${decision.position + 1} ${decision.phase} started`,
          key: `p${decision.position}`,
        });
        return { decision, writes, reads };
      } catch (error) {
        return { decision, writes, reads, eventError: error as Error };
      }
    }
    if (result === 'gone') return { decision: { kind: 'done', reason: 'gone' }, writes, reads };

    // 409: someone wrote since the snapshot. Decide again on what is there now.
    reads++;
    const fresh = await kube.get(namespace, name);
    const reparsed = fresh === null ? null : parseAction(fresh);
    current = reparsed === null || reparsed.valid === null ? null : reparsed;
  }
  throw new ConflictError(`${namespace}/${name}: still conflicting after ${MAX_ATTEMPTS} attempts`);
}
