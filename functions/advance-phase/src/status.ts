// The status the function writes: derived from the spec and the phases begun, so every writer
// (an event, the sweep, a replica after a conflict) computes the same one.
import * as z from 'zod/mini';
import { Condition, type Action, type State, type Status, type Timestamp } from './action.js';

/**
 * The conditions the function writes. `Succeeded` is Tekton's and Job's (what `kubectl wait
 * --for=condition=Succeeded` users rely on): Unknown while the run goes on, True once every
 * phase has begun, False for an invalid spec. `Reconciling` and `Stalled` are the "abnormal-true"
 * pair kstatus reads (Flux's health checks, kpt, cli-utils appliers): Reconciling=True while
 * phases are still ahead (InProgress), Stalled=True for an invalid spec (Failed), neither once
 * finished or paused (Current).
 */
export const CONDITIONS = { succeeded: 'Succeeded', reconciling: 'Reconciling', stalled: 'Stalled' } as const;
export const CONDITION_TYPE = CONDITIONS.succeeded;

type ConditionValue = Pick<Condition, 'type' | 'status' | 'reason' | 'message'>;

/**
 * The whole second (UTC, `2026-12-01T10:00:05Z`) in which a time falls: `status.dueSlot`, the
 * equality-friendly form of "when the next step is due" that a tick selects on (field selectors
 * take only `=` and `!=`). Fixed at one second, whatever the tick: slots written by any replica
 * or configuration line up with what any tick lists.
 */
export function slotOf(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** When the phase in this entry began, in epoch milliseconds. */
export function startOf(entry: Timestamp): number {
  const [start] = Object.values(entry);
  return Date.parse(start ?? '');
}

/**
 * When the next step after these timestamps is due, in epoch milliseconds: the next phase, or a
 * finished Action's deletion; undefined when nothing is (not begun, paused, finished for good).
 * The tick selects on it (status.dueSlot), and the delivery that began the last phase comes back then.
 */
export function nextStepAt(spec: Action['spec'], timestamps: Timestamp[]): number | undefined {
  const last = timestamps.at(-1);
  if (!last) return undefined;
  const finished = timestamps.length >= spec.phases.length;
  if (finished)
    return spec.ttlSecondsAfterFinished === undefined ? undefined : startOf(last) + spec.ttlSecondsAfterFinished * 1000;
  return spec.paused ? undefined : startOf(last) + spec.delay * 1000;
}

/**
 * The status the object should show for these timestamps. Deterministic except for each
 * condition's lastTransitionTime, which moves only when that condition's status changes.
 *
 * A paused Action is Current to kstatus, not InProgress: the pause is a state its owner asked
 * for, so a GitOps wait (Flux `wait: true`, `kpt live apply`) completes instead of hanging until
 * a person resumes it. `state: Paused` and the conditions' messages say so; Argo CD's health
 * check shows it Suspended; `kubectl wait --for=condition=Succeeded` still waits for the end.
 */
export function desiredStatus(action: Action, timestamps: Timestamp[], now: Date): Status {
  const { phases, delay, paused, ttlSecondsAfterFinished: ttl } = action.spec;
  const generation = action.metadata.generation;
  const begun = timestamps.length;
  const finished = begun >= phases.length;
  const last = timestamps.at(-1);
  const current = last ? Object.keys(last)[0] : undefined;
  const due = last ? new Date(startOf(last) + delay * 1000).toISOString() : undefined;
  const progress = `${Math.min(begun, phases.length)}/${phases.length}`;
  const next = nextStepAt(action.spec, timestamps);

  let state: State;
  let succeeded: Omit<ConditionValue, 'type'>;
  let reconciling: Omit<ConditionValue, 'type'>;
  if (finished) {
    state = ttl === undefined ? 'Succeeded' : 'Expiring';
    const expiry = ttl === undefined ? '' : `; deleted ${ttl}s after finishing`;
    succeeded = { status: 'True', reason: 'Completed', message: `all ${phases.length} phases begun${expiry}` };
    reconciling = { status: 'False', reason: 'Completed', message: 'no phase left to begin' };
  } else if (paused) {
    state = 'Paused';
    const message = `paused before phase ${begun + 1} ${phases[begun]} (${progress} begun); set spec.paused to false to go on`;
    succeeded = { status: 'Unknown', reason: 'Paused', message };
    reconciling = { status: 'False', reason: 'Paused', message };
  } else {
    state = 'Running';
    const message = `${progress} phases begun; next ${phases[begun]}${due ? ` at ${due}` : ''}`;
    succeeded = { status: 'Unknown', reason: 'Running', message };
    reconciling = { status: 'True', reason: 'Running', message };
  }

  // A spec that was invalid and is valid again is no longer stalled.
  const kept = (action.status.conditions ?? []).filter((c) => c.type !== CONDITIONS.stalled);
  return {
    ...(current === undefined ? {} : { phase: current }),
    timestamps,
    state,
    progress,
    ...(finished || paused || due === undefined ? {} : { nextPhaseAt: due }),
    ...(next === undefined ? {} : { dueSlot: slotOf(next) }),
    observedGeneration: generation ?? 0,
    conditions: withConditions(
      kept,
      [
        { ...succeeded, type: CONDITIONS.succeeded },
        { ...reconciling, type: CONDITIONS.reconciling },
      ],
      generation,
      now,
    ),
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
  const { nextPhaseAt: _next, dueSlot: _slot, observedGeneration: _replaced, ...kept } = existing;
  const recorded = z.array(Condition).safeParse(existing['conditions']);
  const verdict = { reason: 'InvalidSpec', message: reason };
  return {
    ...kept,
    state: 'Failed',
    ...(generation === undefined ? {} : { observedGeneration: generation }),
    conditions: withConditions(
      recorded.success ? recorded.data : undefined,
      [
        { type: CONDITIONS.succeeded, status: 'False', ...verdict },
        { type: CONDITIONS.reconciling, status: 'False', ...verdict },
        { type: CONDITIONS.stalled, status: 'True', ...verdict },
      ],
      generation,
      now,
    ),
  };
}

/** `existing` with each of `next` set, in the order given, after the conditions it leaves alone. */
function withConditions(
  existing: Condition[] | undefined,
  next: ConditionValue[],
  generation: number | undefined,
  now: Date,
): Condition[] {
  const types = new Set(next.map((c) => c.type));
  const others = (existing ?? []).filter((c) => !types.has(c.type));
  return [
    ...others,
    ...next.map(({ type, status, reason, message }) => {
      const previous = existing?.find((c) => c.type === type);
      const lastTransitionTime =
        previous && previous.status === status ? previous.lastTransitionTime : now.toISOString();
      return {
        type,
        status,
        reason,
        message,
        lastTransitionTime,
        ...(generation === undefined ? {} : { observedGeneration: generation }),
      };
    }),
  ];
}
