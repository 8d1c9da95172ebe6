// The status the function writes: derived from the spec and the phases begun, so every writer
// (an event, the sweep, a replica after a conflict) computes the same one.
import * as z from 'zod/mini';
import { Condition, type Action, type State, type Status, type Timestamp } from './action.js';

export const CONDITION_TYPE = 'Succeeded';

/** When the phase in this entry began, in epoch milliseconds. */
export function startOf(entry: Timestamp): number {
  const [start] = Object.values(entry);
  return Date.parse(start ?? '');
}

/**
 * The status the object should show for these timestamps. Deterministic except for the
 * condition's lastTransitionTime, which moves only when the condition's status changes.
 */
export function desiredStatus(action: Action, timestamps: Timestamp[], now: Date): Status {
  const { phases, delay, paused, ttlSecondsAfterFinished: ttl } = action.spec;
  const generation = action.metadata.generation;
  const begun = timestamps.length;
  const finished = begun >= phases.length;
  const last = timestamps.at(-1);
  const current = last ? Object.keys(last)[0] : undefined;
  const due = last ? new Date(startOf(last) + delay * 1000).toISOString() : undefined;

  let state: State;
  let condition: Pick<Condition, 'status' | 'reason' | 'message'>;
  if (finished) {
    state = ttl === undefined ? 'Succeeded' : 'Expiring';
    const expiry = ttl === undefined ? '' : `; deleted ${ttl}s after finishing`;
    condition = { status: 'True', reason: 'Completed', message: `all ${phases.length} phases begun${expiry}` };
  } else if (paused) {
    state = 'Running';
    condition = { status: 'Unknown', reason: 'Paused', message: `paused before phase ${phases[begun]}` };
  } else {
    state = 'Running';
    const next = `next ${phases[begun]}${due ? ` at ${due}` : ''}`;
    condition = { status: 'Unknown', reason: 'Running', message: `${begun}/${phases.length} phases begun; ${next}` };
  }

  return {
    ...(current === undefined ? {} : { phase: current }),
    timestamps,
    state,
    progress: `${Math.min(begun, phases.length)}/${phases.length}`,
    ...(finished || paused || due === undefined ? {} : { nextPhaseAt: due }),
    ...(generation === undefined ? {} : { observedGeneration: generation }),
    conditions: withCondition(action.status?.conditions, { ...condition, type: CONDITION_TYPE }, generation, now),
  };
}

/**
 * The verdict on an invalid spec, written over whatever status the object has (`existing` is
 * as it arrived, unparsed): the phases already begun stay on record.
 */
export function failedStatus(
  existing: Record<string, unknown>,
  reason: string,
  generation: number | undefined,
  now: Date,
): Record<string, unknown> {
  const { nextPhaseAt: _dropped, observedGeneration: _replaced, ...kept } = existing;
  const recorded = z.array(Condition).safeParse(existing['conditions']);
  const conditions = recorded.success ? recorded.data : undefined;
  const condition = { type: CONDITION_TYPE, status: 'False' as const, reason: 'InvalidSpec', message: reason };
  return {
    ...kept,
    state: 'Failed',
    ...(generation === undefined ? {} : { observedGeneration: generation }),
    conditions: withCondition(conditions, condition, generation, now),
  };
}

function withCondition(
  existing: Condition[] | undefined,
  next: Omit<Condition, 'lastTransitionTime' | 'observedGeneration'>,
  generation: number | undefined,
  now: Date,
): Condition[] {
  const others = (existing ?? []).filter((c) => c.type !== next.type);
  const previous = existing?.find((c) => c.type === next.type);
  const lastTransitionTime =
    previous && previous.status === next.status ? previous.lastTransitionTime : now.toISOString();
  const { type, status, reason, message } = next;
  return [
    ...others,
    { type, status, reason, message, lastTransitionTime, ...(generation === undefined ? {} : { observedGeneration: generation }) },
  ];
}
