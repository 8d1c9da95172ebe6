import { describe, expect, it } from 'vitest';
import { parseAction, type Action, type ParsedAction } from '../../functions/advance-phase/src/action.js';
import { decide, snapshotOf, type Decision } from '../../functions/advance-phase/src/decide.js';
import { desiredStatus } from '../../functions/advance-phase/src/status.js';
import { action, at, begun } from '../support/actions.js';

const valid = (a: Action): ParsedAction => ({ kind: 'valid', action: a, envelope: a });
/** The happy path: the event's snapshot is all the function looks at. */
const fast = (a: Action, now: Date): Decision => decide(snapshotOf(a), valid(a), now);
/** A status exactly as the function would have written it after these phases began. */
function running(a: Action, phases: string[]): Action {
  const withStatus = action(a.spec, undefined, a.metadata);
  return { ...withStatus, status: desiredStatus(withStatus, begun(phases, a.spec.delay), at(0)) };
}

describe('decide', () => {
  it('begins the first phase at once when the Action is new', () => {
    const d = fast(action(), at(0));
    expect(d).toMatchObject({ kind: 'advance', phase: 'provision', position: 0 });
    if (d.kind !== 'advance') throw new Error('unreachable');
    expect(d.status).toMatchObject({
      phase: 'provision',
      timestamps: [{ provision: at(0).toISOString() }],
      state: 'Running',
      progress: '1/4',
      nextPhaseAt: at(5).toISOString(),
      observedGeneration: 1,
    });
    expect(d.status.conditions).toEqual([
      expect.objectContaining({ type: 'Succeeded', status: 'Unknown', reason: 'Running' }),
      expect.objectContaining({ type: 'Reconciling', status: 'True', reason: 'Running' }),
    ]);
  });

  const table: { name: string; a: Action; now: Date; want: Partial<Decision> & { kind: Decision['kind'] } }[] = [
    {
      name: 'waits until the previous start plus the delay',
      a: running(action(), ['provision']),
      now: at(2.5),
      want: { kind: 'wait', reason: 'not-due', until: at(5) },
    },
    {
      name: 'begins the next phase exactly when due',
      a: running(action(), ['provision']),
      now: at(5),
      want: { kind: 'advance', phase: 'configure', position: 1 },
    },
    {
      name: 'begins an overdue phase late, never two at once',
      a: running(action(), ['provision']),
      now: at(60),
      want: { kind: 'advance', phase: 'configure', position: 1 },
    },
    {
      name: 'walks repeated phase names by position',
      a: running(action({ phases: ['a', 'b', 'a', 'b'] }), ['a', 'b', 'a']),
      now: at(15),
      want: { kind: 'advance', phase: 'b', position: 3 },
    },
    {
      name: 'delay 0 begins the next phase on the next event',
      a: running(action({ delay: 0 }), ['provision']),
      now: at(0),
      want: { kind: 'advance', phase: 'configure' },
    },
    {
      name: 'is done once every phase has begun',
      a: running(action(), ['provision', 'configure', 'verify', 'done']),
      now: at(100),
      want: { kind: 'done', reason: 'finished' },
    },
    {
      name: 'waits for the TTL after finishing',
      a: running(action({ ttlSecondsAfterFinished: 30 }), ['provision', 'configure', 'verify', 'done']),
      now: at(20),
      want: { kind: 'wait', reason: 'ttl', until: at(45) },
    },
    {
      name: 'deletes once the TTL has passed, exactly the version it read',
      a: running(action({ ttlSecondsAfterFinished: 30 }), ['provision', 'configure', 'verify', 'done']),
      now: at(45),
      want: { kind: 'delete', uid: 'uid-1', resourceVersion: '1' },
    },
    {
      name: 'does nothing for an object being deleted',
      a: running(action({}, undefined, { deletionTimestamp: at(1).toISOString() }), ['provision']),
      now: at(10),
      want: { kind: 'done', reason: 'deleting' },
    },
  ];
  it.each(table)('$name', ({ a, now, want }) => {
    expect(fast(a, now)).toMatchObject(want);
  });

  it('applies a delay edit to the wait ahead, after bringing status in line once', () => {
    const before = running(action({ delay: 10 }), ['provision']);
    const edited = { ...before, spec: { ...before.spec, delay: 2 }, metadata: { ...before.metadata, generation: 2 } };
    const refresh = fast(edited, at(1));
    expect(refresh).toMatchObject({ kind: 'refresh', reason: 'spec-edited' });
    if (refresh.kind !== 'refresh') throw new Error('unreachable');
    expect(refresh.status).toMatchObject({ nextPhaseAt: at(2).toISOString(), observedGeneration: 2 });
    // The refreshed object (what the update event carries) then waits for the new due time.
    const refreshed = { ...edited, status: refresh.status };
    expect(fast(refreshed, at(1))).toMatchObject({ kind: 'wait', until: at(2) });
    expect(fast(refreshed, at(2))).toMatchObject({ kind: 'advance', phase: 'configure' });
  });

  it('pauses: records it once, then begins nothing until unpaused', () => {
    const before = running(action(), ['provision']);
    const a = { ...before, spec: { ...before.spec, paused: true }, metadata: { ...before.metadata, generation: 2 } };
    const first = fast(a, at(30));
    expect(first).toMatchObject({ kind: 'refresh' });
    if (first.kind !== 'refresh') throw new Error('unreachable');
    expect(first.status).toMatchObject({ state: 'Paused' });
    expect(first.status.conditions).toEqual([
      expect.objectContaining({ type: 'Succeeded', status: 'Unknown', reason: 'Paused' }),
      expect.objectContaining({
        type: 'Reconciling',
        status: 'False',
        reason: 'Paused',
        message: expect.stringContaining('paused before phase 2 configure'),
      }),
    ]);
    expect(first.status).not.toHaveProperty('nextPhaseAt');
    const recorded = { ...a, status: first.status };
    expect(fast(recorded, at(30))).toEqual({ kind: 'done', reason: 'paused' });
  });

  it('finishes an Action whose phase list was shortened below its position', () => {
    const a = running(action(), ['provision', 'configure', 'verify']);
    const shortened = {
      ...a,
      spec: { ...a.spec, phases: ['provision', 'configure'] },
      metadata: { ...a.metadata, generation: 2 },
    };
    const d = fast(shortened, at(11));
    expect(d).toMatchObject({ kind: 'refresh', reason: 'finished' });
    if (d.kind !== 'refresh') throw new Error('unreachable');
    expect(d.status).toMatchObject({ state: 'Succeeded', progress: '2/2' });
    expect(d.status).not.toHaveProperty('nextPhaseAt');
    expect(d.status.conditions?.[0]).toMatchObject({ status: 'True', reason: 'Completed' });
  });

  it('marks the finishing write Succeeded, or Expiring when a TTL will delete it', () => {
    const last = (a: Action) => fast(running(a, ['provision', 'configure', 'verify']), at(15));
    const finished = last(action());
    expect(finished).toMatchObject({ kind: 'advance', status: { state: 'Succeeded' } });
    expect(finished).not.toHaveProperty('status.nextPhaseAt');
    expect(last(action({ ttlSecondsAfterFinished: 60 }))).toMatchObject({ status: { state: 'Expiring' } });
  });

  it('says how late a phase begins against its due time, and nothing for the first phase', () => {
    expect(fast(action(), at(0))).not.toHaveProperty('lateSeconds');
    expect(fast(running(action(), ['provision']), at(5.25))).toMatchObject({ kind: 'advance', lateSeconds: 0.25 });
  });

  it('keeps lastTransitionTime while the condition status stays the same', () => {
    const a = running(action(), ['provision']);
    const d = fast(a, at(5));
    if (d.kind !== 'advance') throw new Error('unreachable');
    expect(d.status.conditions?.[0]?.lastTransitionTime).toBe(at(0).toISOString());
  });

  describe('carrying the chain', () => {
    it("an advance of the event's own phase carries the wait for the next", () => {
      expect(fast(running(action(), ['provision']), at(5.25))).toMatchObject({
        kind: 'advance',
        position: 1,
        carryUntil: at(10.25),
      });
    });
    it('the last phase carries nothing, or the TTL when one is set', () => {
      const last = running(action(), ['provision', 'configure', 'verify']);
      const d = fast(last, at(15));
      expect(d).toMatchObject({ kind: 'advance', phase: 'done' });
      expect(d).not.toHaveProperty('carryUntil');
      const expiring = running(action({ ttlSecondsAfterFinished: 30 }), ['provision', 'configure', 'verify']);
      expect(fast(expiring, at(15))).toMatchObject({ kind: 'advance', carryUntil: at(45) });
    });
    it('an event one phase behind is the backup: it begins the next phase when due, and carries no further', () => {
      const current = running(action(), ['provision', 'configure']);
      const d = decide({ uid: 'uid-1', position: 1 }, valid(current), at(10));
      expect(d).toMatchObject({ kind: 'advance', phase: 'verify', position: 2 });
      expect(d).not.toHaveProperty('carryUntil');
      expect(decide({ uid: 'uid-1', position: 1 }, valid(current), at(7))).toEqual({
        kind: 'wait',
        reason: 'not-due',
        until: at(10),
      });
    });
  });

  describe('stale and foreign snapshots end their chain', () => {
    const now = at(100);
    const current = running(action(), ['provision', 'configure']);

    it('two positions behind: newer events carry the chain', () => {
      expect(decide({ uid: 'uid-1', position: 0 }, valid(current), now)).toEqual({ kind: 'done', reason: 'stale' });
    });
    it('another incarnation with the same name', () => {
      expect(decide({ uid: 'old-uid', position: 2 }, valid(current), now)).toEqual({
        kind: 'done',
        reason: 'other-incarnation',
      });
    });
    it('an object that is gone', () => {
      expect(decide({ uid: 'uid-1', position: 2 }, null, now)).toEqual({ kind: 'done', reason: 'gone' });
    });
  });

  describe('an invalid spec', () => {
    const bad = { ...running(action(), ['provision']), spec: { phases: [] } };

    it('is recorded as Succeeded=False once, keeping the phases already begun', () => {
      const parsed = parseAction(bad);
      if (parsed.kind !== 'invalid') throw new Error('expected an invalid spec');
      const d = decide(snapshotOf(bad), parsed, at(0));
      expect(d).toMatchObject({ kind: 'reject', reason: expect.stringContaining('spec.phases') });
      if (d.kind !== 'reject' || d.status === null) throw new Error('expected a status to write');
      expect(d.status).toMatchObject({ state: 'Failed', timestamps: bad.status.timestamps });
      expect(d.status['conditions']).toEqual([
        expect.objectContaining({ type: 'Succeeded', status: 'False', reason: 'InvalidSpec' }),
        expect.objectContaining({ type: 'Reconciling', status: 'False', reason: 'InvalidSpec' }),
        expect.objectContaining({ type: 'Stalled', status: 'True', reason: 'InvalidSpec' }),
      ]);

      const recorded = parseAction({ ...bad, status: d.status });
      if (recorded.kind !== 'invalid') throw new Error('expected an invalid spec');
      expect(decide(snapshotOf(bad), recorded, at(1))).toMatchObject({ kind: 'reject', status: null });
    });

    it('is no longer Stalled once the spec is fixed', () => {
      const parsed = parseAction(bad);
      if (parsed.kind !== 'invalid') throw new Error('expected an invalid spec');
      const d = decide(snapshotOf(bad), parsed, at(0));
      if (d.kind !== 'reject' || d.status === null) throw new Error('expected a status to write');
      const fixed = parseAction({
        ...bad,
        spec: { phases: ['provision', 'configure', 'verify'], delay: 5 },
        metadata: { ...bad.metadata, generation: 2 },
        status: d.status,
      });
      if (fixed.kind !== 'valid') throw new Error('expected a valid spec');
      const next = decide(snapshotOf(fixed.action), fixed, at(5));
      expect(next).toMatchObject({ kind: 'advance', phase: 'configure' });
      if (next.kind !== 'advance') throw new Error('unreachable');
      expect(next.status.conditions?.map((c) => `${c.type}=${c.status}`)).toEqual([
        'Succeeded=Unknown',
        'Reconciling=True',
      ]);
    });
  });
});
