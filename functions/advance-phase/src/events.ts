// The Kubernetes Events the function records on an Action: PhaseStarted for each phase begun, and
// DeliveryFailed for a dead letter. A PhaseStarted Event's name is fixed by the uid and the
// position, so recording one twice is the API server's 409, which counts as done: that is what
// lets anyone who has proof that a phase began record its Event again, in case its writer died
// between the status write and the Event, or its answer was lost.
import type { Envelope, ParsedAction } from './action.js';
import type { Snapshot } from './decide.js';
import type { Kube } from './kube.js';

/** The PhaseStarted Event; its failure is returned, not thrown: the phase is written either way. */
export async function recordPhase(
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
 * The Events of the phases whose writer this delivery may be, as the object read proves them
 * begun: an event's own position and the one after (it is retried when its writer dies or its
 * answer is lost, and cannot tell that retry from its return as a backup). A `witness` (an Action
 * listed by the sweep or a tick, or an event showing the run finished) vouches for the phase
 * before its position too: a sweep or tick is not retried, so the next one to see the Action, or
 * the update event of the last write, is the retry. `own`: the position this delivery began and
 * recorded itself.
 */
export async function recordVouchedFor(
  kube: Kube,
  snapshot: Snapshot,
  read: ParsedAction,
  opts: { witness: boolean; own?: number },
): Promise<Error | undefined> {
  if (read.kind !== 'valid' || read.envelope.metadata.uid !== snapshot.uid) return undefined;
  const timestamps = read.action.status.timestamps;
  const first = Math.max(0, snapshot.position - (opts.witness ? 1 : 0));
  const last = Math.min(timestamps.length - 1, snapshot.position + 1);
  let failed: Error | undefined;
  for (let position = first; position <= last; position++) {
    const [phase] = Object.keys(timestamps[position] ?? {});
    if (position === opts.own || phase === undefined) continue;
    failed = (await recordPhase(kube, read.envelope, phase, position)) ?? failed;
  }
  return failed;
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
