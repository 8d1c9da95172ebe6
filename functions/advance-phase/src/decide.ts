// The pure decision: (what the event saw, what the object is now, now) -> what to do.
// No I/O and no clock of its own, so every ordering of events can be replayed in a unit test.
import type { Action, Condition, Envelope, ParsedAction, State, Status, Timestamp } from './action.js';

/** The event's view of the object: enough to tell whether a newer event carries the chain. */
export interface Snapshot {
  uid: string;
  position: number;
}

/** A JSON merge patch for the status subresource. `null` removes a field. */
export interface StatusPatch {
  metadata: { resourceVersion: string };
  status: { [K in keyof Status]?: Status[K] | null };
}

export type Decision =
  /** Begin the phase at `position` now: one status write. */
  | { kind: 'advance'; phase: string; position: number; patch: StatusPatch }
  /** Bring status in line with the spec (a delay edit, a pause, a shortened list): one write. */
  | { kind: 'update'; reason: UpdateReason; patch: StatusPatch }
  /** Nothing is due before `until`: ask the sender to come back then. */
  | { kind: 'wait'; reason: 'not-due' | 'ttl'; until: Date }
  /** The TTL after finishing has passed: delete the object (uid precondition). */
  | { kind: 'delete'; uid: string }
  /** The spec is invalid: record Succeeded=False once, then refuse. */
  | { kind: 'reject'; reason: string; patch: StatusPatch | null }
  /** This event's chain ends here. */
  | { kind: 'done'; reason: DoneReason };

export type UpdateReason = 'finished' | 'status-refresh';
export type DoneReason = 'gone' | 'other-incarnation' | 'deleting' | 'stale' | 'finished' | 'paused';

export const CONDITION_TYPE = 'Succeeded';

/** The run position: how many phases have begun. Phase names may repeat, so count, don't search. */
export function position(status: Status | undefined): number {
  return status?.timestamps?.length ?? 0;
}

/** Reads a snapshot's position leniently: an event whose spec is invalid still has a position. */
export function snapshotOf(data: { metadata: { uid: string }; status?: unknown }): Snapshot {
  const status = data.status as { timestamps?: unknown } | undefined;
  const timestamps = status?.timestamps;
  return { uid: data.metadata.uid, position: Array.isArray(timestamps) ? timestamps.length : 0 };
}

function startOf(entry: Timestamp): number {
  const [start] = Object.values(entry);
  return Date.parse(start ?? '');
}

export function decide(snapshot: Snapshot, current: ParsedAction | null, now: Date): Decision {
  if (current === null) return { kind: 'done', reason: 'gone' };
  const meta = current.valid ? current.action.metadata : current.envelope.metadata;
  if (meta.uid !== snapshot.uid) return { kind: 'done', reason: 'other-incarnation' };
  if (meta.deletionTimestamp) return { kind: 'done', reason: 'deleting' };
  if (!current.valid) return reject(current.envelope, current.reason, now);

  const action = current.action;
  const timestamps = action.status?.timestamps ?? [];
  if (snapshot.position < timestamps.length) return { kind: 'done', reason: 'stale' };

  const { phases, delay, paused, ttlSecondsAfterFinished: ttl } = action.spec;
  const last = timestamps.at(-1);
  const lastStart = last ? startOf(last) : Number.NaN;
  // A spec edit (delay, pause, phases) may have left status behind; the write's own event then
  // carries the chain on.
  const refresh = refreshed(action, now);

  if (timestamps.length >= phases.length) {
    if (refresh) return { kind: 'update', reason: 'finished', patch: refresh };
    if (ttl === undefined) return { kind: 'done', reason: 'finished' };
    const expires = new Date(lastStart + ttl * 1000);
    return now >= expires ? { kind: 'delete', uid: meta.uid } : { kind: 'wait', reason: 'ttl', until: expires };
  }
  if (paused) {
    return refresh ? { kind: 'update', reason: 'status-refresh', patch: refresh } : { kind: 'done', reason: 'paused' };
  }

  const due = new Date(last ? lastStart + delay * 1000 : now.getTime());
  if (now >= due) {
    // The advance writes the whole status, so it needs no refresh first.
    const phase = phases[timestamps.length] as string;
    const next = [...timestamps, { [phase]: now.toISOString() }];
    const patch = patchOf(action.metadata.resourceVersion, desiredStatus(action, next, now));
    return { kind: 'advance', phase, position: timestamps.length, patch };
  }
  if (refresh) return { kind: 'update', reason: 'status-refresh', patch: refresh };
  return { kind: 'wait', reason: 'not-due', until: due };
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

function reject(envelope: Envelope, reason: string, now: Date): Decision {
  const generation = envelope.metadata.generation;
  const status = (envelope.status ?? {}) as Status;
  const failed = status.conditions?.find((c) => c.type === CONDITION_TYPE);
  const recorded =
    status.state === 'Failed' && failed?.message === reason && status.observedGeneration === generation;
  if (recorded) return { kind: 'reject', reason, patch: null };
  const condition = { type: CONDITION_TYPE, status: 'False' as const, reason: 'InvalidSpec', message: reason };
  // Only the verdict is written: the phases already begun stay on record.
  const patch: StatusPatch = {
    metadata: { resourceVersion: envelope.metadata.resourceVersion },
    status: {
      state: 'Failed',
      nextPhaseAt: null,
      observedGeneration: generation ?? null,
      conditions: withCondition(status.conditions, condition, generation, now),
    },
  };
  return { kind: 'reject', reason, patch };
}

/**
 * A patch that brings status in line with a spec edit, or null. As everywhere in Kubernetes,
 * status.observedGeneration says which spec the status reflects: only an edit moves it.
 */
function refreshed(action: Action, now: Date): StatusPatch | null {
  if (action.status?.observedGeneration === action.metadata.generation) return null;
  return patchOf(action.metadata.resourceVersion, desiredStatus(action, action.status?.timestamps ?? [], now));
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

/**
 * Every managed field is written, absent ones as null, so a merge patch leaves no stale value.
 * `timestamps` is replaced whole; the resourceVersion precondition makes that safe.
 */
function patchOf(resourceVersion: string, status: Status): StatusPatch {
  return {
    metadata: { resourceVersion },
    status: {
      phase: status.phase ?? null,
      timestamps: status.timestamps ?? null,
      state: status.state ?? null,
      progress: status.progress ?? null,
      nextPhaseAt: status.nextPhaseAt ?? null,
      observedGeneration: status.observedGeneration ?? null,
      conditions: status.conditions ?? null,
    },
  };
}
