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
 * The Event of a phase whose writer may have died between its status write and its Event (or
 * lost its answer), recorded by the next one to have proof that the phase began. `began`: this
 * delivery began the phase after it, which proves the phase before (what it decided on, read or
 * held by its patch's `test` of the whole status): it records that one, so that a phase begun by
 * a sweep or tick, which nobody retries, is covered by whoever begins the next. Otherwise `read`
 * is an object it read without beginning anything: it records the latest phase begun, if that
 * is one this event may have carried (its own position or later; for an event showing the run
 * finished, the last phase). Each transition is covered either way: by its writer's retry, by the
 * next writer, or by the other carrier that finds it begun.
 */
export async function recordProven(
  kube: Kube,
  snapshot: Snapshot,
  proof: ParsedAction,
  opts: { began: number } | { finished: boolean },
): Promise<Error | undefined> {
  if (proof.kind !== 'valid' || proof.envelope.metadata.uid !== snapshot.uid) return undefined;
  const timestamps = proof.action.status.timestamps;
  const position = 'began' in opts ? opts.began - 1 : timestamps.length - 1;
  const first = 'began' in opts ? 0 : snapshot.position - (opts.finished ? 1 : 0);
  const [phase] = Object.keys(timestamps[position] ?? {});
  if (phase === undefined || position < first) return undefined;
  return recordPhase(kube, proof.envelope, phase, position);
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
