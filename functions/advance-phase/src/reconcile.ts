// One sync path, used by events and the sweep alike: decide, write at most once, and on a
// conflict re-read and decide again. The happy path trusts nothing in the event yet reads
// nothing: its write asserts what it read from the event (status-patch.ts), and the API server
// checks that in the write itself.
import { parseAction, type Action, type Envelope, type ParsedAction } from './action.js';
import { startOf } from './status.js';
import { decide, snapshotOf, type Decision, type Snapshot } from './decide.js';
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
  let current: ParsedAction | null = parsed;
  let writes = 0;
  let reads = 0;

  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const decision = decide(snapshot, current, now());
    if (kube === null || current === null) return { decision, writes, reads };
    const result = await write(kube, decision, current, fromServer);
    if (result !== 'unproven' && result !== 'nothing') writes++;

    if (result === 'ok' && decision.kind === 'advance') {
      const eventError = await recordPhase(kube, current.envelope, decision.phase, decision.position);
      return { decision, writes, reads, ...(eventError ? { eventError } : {}) };
    }
    if (result === 'ok' || result === 'nothing') {
      const eventError = reads > 0 ? await recordBegunByOther(kube, snapshot, current) : undefined;
      return { decision, writes, reads, ...(eventError ? { eventError } : {}) };
    }
    if (result === 'gone') return { decision: { kind: 'done', reason: 'gone' }, writes, reads };

    // A conflict (someone wrote since the snapshot, or the event was not what the server has),
    // or a write the event alone cannot justify: decide again on what is there now.
    reads++;
    const fresh = await kube.get(namespace, name);
    const reparsed = fresh === null ? null : parseAction(fresh);
    current = reparsed === null || reparsed.kind === 'not-an-action' ? null : reparsed;
    fromServer = true;
  }
  throw new ConflictError(`${namespace}/${name}: still conflicting after ${MAX_ATTEMPTS} attempts`);
}

/**
 * The decision's one write, if it has one: 'nothing' to write, 'unproven' when what the
 * decision read cannot be proven in the write (the object must be read first), or the write's result.
 */
async function write(
  kube: Kube,
  decision: Decision,
  current: ParsedAction,
  fromServer: boolean,
): Promise<WriteResult | 'unproven' | 'nothing'> {
  if (decision.kind === 'advance' && !fromServer && current.kind === 'valid' && hadItsTurn(decision, current.action))
    return 'unproven';
  switch (decision.kind) {
    case 'advance':
    case 'refresh':
    case 'reject': {
      if (decision.status === null) return 'nothing';
      const patch = statusPatch(current.envelope, decision.status, fromServer);
      return patch === null
        ? 'unproven'
        : kube.patchStatus(current.envelope.metadata.namespace, current.envelope.metadata.name, patch);
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

/** The PhaseStarted Event; its failure is returned, not thrown: the phase is written either way. */
async function recordPhase(
  kube: Kube,
  regarding: Envelope,
  phase: string,
  position: number,
): Promise<Error | undefined> {
  try {
    await kube.recordEvent({
      regarding,
      type: 'Normal',
      reason: 'PhaseStarted',
      action: 'Advance',
      note: `phase ${position + 1} ${phase} started`,
      key: `p${position}`,
    });
    return undefined;
  } catch (error) {
    return error as Error;
  }
}

/**
 * A delivery that read the object and found the phase it carries begun by another writer
 * records that phase's Event too: the writer may have died between its status write and its
 * Event, or been the same event whose answer was lost. The Event's name is fixed by the uid and
 * the position, so the usual outcome is the API server's 409: it exists.
 */
function recordBegunByOther(kube: Kube, snapshot: Snapshot, read: ParsedAction): Promise<Error | undefined> {
  if (read.kind !== 'valid' || read.envelope.metadata.uid !== snapshot.uid) return Promise.resolve(undefined);
  const timestamps = read.action.status.timestamps;
  const position = Math.min(timestamps.length - 1, snapshot.position + 1);
  const [phase] = Object.keys(timestamps[position] ?? {});
  if (position < snapshot.position || phase === undefined) return Promise.resolve(undefined);
  return recordPhase(kube, read.envelope, phase, position);
}

/**
 * A dead letter as a Warning Event on its Action. Returns the error instead of throwing: the
 * event is lost either way, and the sweep picks the Action up.
 */
export async function recordDeadLetter(
  kube: Kube,
  regarding: Envelope,
  letter: { type: string; id: string; code: string; dest: string; detail: string },
): Promise<Error | undefined> {
  const { type, id, code, dest, detail } = letter;
  try {
    await kube.recordEvent({
      regarding,
      type: 'Warning',
      reason: 'DeliveryFailed',
      action: 'DeadLetter',
      note: `${type} ${id} gave up after HTTP ${code} from ${dest}${detail ? `: ${detail}` : ''}; the sweep will pick the Action up`,
    });
    return undefined;
  } catch (error) {
    return error as Error;
  }
}
