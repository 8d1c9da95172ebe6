// One sync path, used by events and the sweep alike: decide, write at most once, and on a
// conflict re-read and decide again. The happy path trusts nothing in the event yet reads
// nothing: its write asserts what it read from the event (status-patch.ts), and the API server
// checks that in the write itself.
import { parseAction, type Action, type ParsedAction } from './action.js';
import { startOf } from './status.js';
import { isDeepStrictEqual } from 'node:util';
import { KubeError } from './api-client.js';
import { decide, snapshotOf, type Decision } from './decide.js';
import { recordPhase, recordProven } from './events.js';
import type { Kube, WriteResult } from './kube.js';
import { statusPatch } from './status-patch.js';

/** Conflicts in a row before giving up and letting the sender retry. */
export const MAX_ATTEMPTS = 4;

export interface Outcome {
  decision: Decision;
  /** Status patches and deletes sent, conflicts included. */
  writes: number;
  /** GETs: after a conflict, before a delete, or for an event that shows too little to prove. */
  reads: number;
  /** The phase is written but its Kubernetes Event was not: worth a log line, not a retry. */
  eventError?: Error;
}

export class ConflictError extends Error {}

/**
 * `kube` null is dry-run: the first decision is returned and nothing is written.
 * `fromServer`: `parsed` is what the function listed itself (the sweep), not an event's claim.
 */
export async function reconcile(
  kube: Kube | null,
  parsed: ParsedAction,
  now: () => Date = () => new Date(),
  fromServer = false,
): Promise<Outcome> {
  const { namespace, name } = parsed.envelope.metadata;
  const snapshot = snapshotOf(parsed.envelope);
  const finished = finishedRun(parsed);
  let current: ParsedAction | null = parsed;
  /** The last object the function read itself: proof of the phases it shows begun. */
  let read: ParsedAction | undefined;
  let writes = 0;
  let reads = 0;

  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const decision = decide(snapshot, current, now());
    if (kube === null || current === null) return { decision, writes, reads };
    let result = await write(kube, decision, current, fromServer);
    if (result !== 'unproven' && result !== 'nothing') writes++;
    if (typeof result === 'object') {
      // The answer was lost: the write may have landed. The object says whether it did; if it
      // did not, the server is in trouble and the sender retries.
      reads++;
      const fresh = await kube.get(namespace, name);
      if (decision.kind !== 'advance' || !landed(fresh, snapshot.uid, decision)) throw result.lost;
      result = 'ok';
    }

    if (result === 'ok' && decision.kind === 'advance') {
      const own = await recordPhase(kube, current.envelope, decision.phase, decision.position);
      const before = await recordProven(kube, snapshot, current, { began: decision.position });
      const eventError = own ?? before;
      return { decision, writes, reads, ...(eventError ? { eventError } : {}) };
    }
    if (result === 'ok' || result === 'nothing') {
      // Deleted: nothing left to record an Event on.
      const eventError =
        read && decision.kind !== 'delete' ? await recordProven(kube, snapshot, read, { finished }) : undefined;
      return { decision, writes, reads, ...(eventError ? { eventError } : {}) };
    }
    if (result === 'gone') return { decision: { kind: 'done', reason: 'gone' }, writes, reads };

    // A conflict (someone wrote since the snapshot, or the event was not what the server has),
    // or a write the event alone cannot justify: decide again on what is there now.
    reads++;
    const fresh = await kube.get(namespace, name);
    const reparsed = fresh === null ? null : parseAction(fresh);
    current = reparsed === null || reparsed.kind === 'not-an-action' ? null : reparsed;
    read = current ?? undefined;
    fromServer = true;
  }
  throw new ConflictError(`${namespace}/${name}: still conflicting after ${MAX_ATTEMPTS} attempts`);
}

/** Whether the object read shows this very advance: its phase at its position, stamped with its time. */
function landed(object: unknown, uid: string, decision: Extract<Decision, { kind: 'advance' }>): boolean {
  const parsed = object === null ? null : parseAction(object);
  if (parsed?.kind !== 'valid' || parsed.envelope.metadata.uid !== uid) return false;
  return isDeepStrictEqual(
    parsed.action.status.timestamps[decision.position],
    decision.status.timestamps[decision.position],
  );
}

/**
 * The decision's one write, if it has one: 'nothing' to write, 'unproven' when what the
 * decision read cannot be proven in the write (the object must be read first), `lost` when its
 * answer was lost, or the write's result.
 */
async function write(
  kube: Kube,
  decision: Decision,
  current: ParsedAction,
  fromServer: boolean,
): Promise<WriteResult | 'unproven' | 'nothing' | { lost: unknown }> {
  if (decision.kind === 'advance' && !fromServer && current.kind === 'valid' && hadItsTurn(decision, current.action))
    return 'unproven';
  // An event showing the run finished reads first, once per run, to vouch for the last phase's
  // Event: a sweep or tick that began it and died before its Event is not retried.
  if (!fromServer && finishedRun(current) && (decision.kind === 'done' || decision.kind === 'wait')) return 'unproven';
  switch (decision.kind) {
    case 'advance':
    case 'refresh':
    case 'reject': {
      if (decision.status === null) return 'nothing';
      const patch = statusPatch(current.envelope, decision.status, fromServer);
      if (patch === null) return 'unproven';
      const { namespace, name } = current.envelope.metadata;
      return kube.patchStatus(namespace, name, patch).catch((error: unknown) => {
        // A refusal is definite; a server error or a broken connection may come after the write landed.
        if (error instanceof KubeError && error.apiStatus < 500) throw error;
        return { lost: error };
      });
    }
    case 'delete':
      // A delete cannot test the spec it read, only the version: so it deletes only a version
      // the function read itself. Once per Action.
      return fromServer
        ? kube.deleteAction(current.envelope.metadata.namespace, current.envelope.metadata.name, decision)
        : 'unproven';
    case 'wait':
    case 'done':
      return 'nothing';
  }
}

/**
 * An event a whole delay past the phase it shows has had its turn: it is back as the backup
 * carrier of the phase after, and what it shows is out of date. A read costs less than a patch
 * sure to fail. (The first phase is due when the Action was created.) Only a cost: the patch's
 * tests keep it safe either way.
 */
function hadItsTurn(decision: Extract<Decision, { kind: 'advance' }>, action: Action): boolean {
  const begins = startOf(decision.status.timestamps.at(-1) ?? {});
  const late = decision.lateSeconds ?? (begins - Date.parse(action.metadata.creationTimestamp ?? '')) / 1000;
  return late >= Math.max(action.spec.delay, 1);
}

/** Every phase begun, as the object shows it. */
function finishedRun(parsed: ParsedAction): boolean {
  return parsed.kind === 'valid' && parsed.action.status.timestamps.length >= parsed.action.spec.phases.length;
}
