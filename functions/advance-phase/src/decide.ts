// The pure decision: (what the event saw, what the object is now, now) -> what to do.
// No I/O and no clock of its own, so every ordering of events can be replayed in a unit test.
import { isRecord, type Envelope, type ParsedAction, type Status } from './action.js';
import { CONDITION_TYPE, desiredStatus, failedStatus, nextStepAt, startOf } from './status.js';

/**
 * The event's view of the object: how many phases it shows begun. An event may begin the phase
 * at its own position (it is that phase's primary carrier) or the one after (the backup: the
 * delivery that began a phase comes back when the next is due, in case the update event its
 * write produced is lost). Anything older than that has nothing left to carry.
 */
export interface Snapshot {
  uid: string;
  position: number;
}

export type Decision =
  /**
   * Begin the phase at `position` now: one status write. `lateSeconds`: now minus its due time
   * (none for the first). `carryUntil`: when the next step is due, set when this event begins
   * its own position's phase: the delivery then comes back as that step's backup carrier.
   */
  | { kind: 'advance'; phase: string; position: number; status: Status; lateSeconds?: number; carryUntil?: Date }
  /** Bring status in line with the spec (a delay edit, a pause, a shortened list): one write. */
  | { kind: 'refresh'; reason: RefreshReason; status: Status }
  /** Nothing is due before `until`: ask the sender to come back then. */
  | { kind: 'wait'; reason: 'not-due' | 'ttl'; until: Date }
  /** The TTL after finishing has passed: delete exactly this version of the object. */
  | { kind: 'delete'; uid: string; resourceVersion: string }
  /** The spec is invalid: record Succeeded=False once (`status` null: already recorded), then refuse. */
  | { kind: 'reject'; reason: string; status: Record<string, unknown> | null }
  /** This event's chain ends here. */
  | { kind: 'done'; reason: DoneReason };

/** `finished`: a finished Action's spec was edited; `spec-edited`: a running or paused one's. */
export type RefreshReason = 'finished' | 'spec-edited';
export type DoneReason = 'gone' | 'other-incarnation' | 'deleting' | 'stale' | 'finished' | 'paused';

/** Reads a snapshot's position leniently: an event whose spec is invalid still has a position. */
export function snapshotOf(data: { metadata: { uid: string }; status?: unknown }): Snapshot {
  const status = data.status as { timestamps?: unknown } | undefined;
  const timestamps = status?.timestamps;
  return { uid: data.metadata.uid, position: Array.isArray(timestamps) ? timestamps.length : 0 };
}

export function decide(snapshot: Snapshot, current: ParsedAction | null, now: Date): Decision {
  if (current === null) return { kind: 'done', reason: 'gone' };
  const meta = current.envelope.metadata;
  if (meta.uid !== snapshot.uid) return { kind: 'done', reason: 'other-incarnation' };
  if (meta.deletionTimestamp) return { kind: 'done', reason: 'deleting' };
  if (current.kind === 'invalid') return reject(current.envelope, current.reason, now);

  const action = current.action;
  const timestamps = action.status.timestamps;
  if (snapshot.position < timestamps.length - 1) return { kind: 'done', reason: 'stale' };

  const { phases, delay, paused, ttlSecondsAfterFinished: ttl } = action.spec;
  const last = timestamps.at(-1);
  const lastStart = last ? startOf(last) : Number.NaN;
  // A spec edit (delay, pause, phases) may have left status behind; as everywhere in Kubernetes,
  // status.observedGeneration says which spec the status reflects. The write's own event then
  // carries the chain on.
  const stale = action.status.observedGeneration !== action.metadata.generation;
  const refresh = () => desiredStatus(action, timestamps, now);

  if (timestamps.length >= phases.length) {
    if (stale) return { kind: 'refresh', reason: 'finished', status: refresh() };
    if (ttl === undefined) return { kind: 'done', reason: 'finished' };
    const expires = new Date(lastStart + ttl * 1000);
    if (now < expires) return { kind: 'wait', reason: 'ttl', until: expires };
    return { kind: 'delete', uid: meta.uid, resourceVersion: meta.resourceVersion };
  }
  if (paused) {
    return stale ? { kind: 'refresh', reason: 'spec-edited', status: refresh() } : { kind: 'done', reason: 'paused' };
  }

  const due = new Date(last ? lastStart + delay * 1000 : now.getTime());
  if (now >= due) {
    // The advance writes the whole status, so it needs no refresh first.
    const phase = phases[timestamps.length] as string;
    const begun = [...timestamps, { [phase]: now.toISOString() }];
    const status = desiredStatus(action, begun, now);
    const late = last ? { lateSeconds: (now.getTime() - due.getTime()) / 1000 } : {};
    const next = snapshot.position === timestamps.length ? nextStepAt(action.spec, begun) : undefined;
    const carry = next === undefined ? {} : { carryUntil: new Date(next) };
    return { kind: 'advance', phase, position: timestamps.length, status, ...late, ...carry };
  }
  if (stale) return { kind: 'refresh', reason: 'spec-edited', status: refresh() };
  return { kind: 'wait', reason: 'not-due', until: due };
}

function reject(envelope: Envelope, reason: string, now: Date): Decision {
  const generation = envelope.metadata.generation;
  const existing = isRecord(envelope['status']) ? envelope['status'] : {};
  const failed = Array.isArray(existing['conditions'])
    ? (existing['conditions'] as unknown[]).find((c) => isRecord(c) && c['type'] === CONDITION_TYPE)
    : undefined;
  const recorded =
    existing['state'] === 'Failed' &&
    isRecord(failed) &&
    failed['message'] === reason &&
    existing['observedGeneration'] === generation;
  return { kind: 'reject', reason, status: recorded ? null : failedStatus(existing, reason, generation, now) };
}
