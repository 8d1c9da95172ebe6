// The status write's proof, without a server: what it tests, what it changes, and the JSON it is
// sent as. test/integration/function.test.ts sends the same patches to kube-apiserver.
import fastJsonPatch from 'fast-json-patch';
import { describe, expect, it } from 'vitest';
import type { Action } from '../../functions/advance-phase/src/action.js';
import { goJson, statusPatch } from '../../functions/advance-phase/src/status-patch.js';
import { desiredStatus } from '../../functions/advance-phase/src/status.js';
import { action, at, begun } from '../support/actions.js';

const running = (a: Action, phases: string[]): Action => ({
  ...a,
  status: desiredStatus(a, begun(phases, a.spec.delay), at(0)),
});

describe('statusPatch', () => {
  const seen = running(action(), ['provision']);
  const next = desiredStatus(seen, begun(['provision', 'configure'], 5), at(5));

  it('tests everything the decision read, then appends the phase', () => {
    const patch = statusPatch(seen, next, false);
    expect(patch?.filter((op) => op.op === 'test')).toEqual([
      { op: 'test', path: '/metadata/uid', value: 'uid-1' },
      { op: 'test', path: '/metadata/generation', value: 1 },
      { op: 'test', path: '/spec', value: seen.spec },
      { op: 'test', path: '/status', value: seen.status },
    ]);
    expect(patch).toContainEqual({
      op: 'add',
      path: '/status/timestamps/-',
      value: { configure: at(5).toISOString() },
    });
    expect(patch?.some((op) => op.path === '/metadata/resourceVersion')).toBe(false);
  });

  it('turns the object it read into exactly the status decided', () => {
    const patch = statusPatch(seen, next, false) ?? [];
    const patched = fastJsonPatch.applyPatch(structuredClone(seen), patch, true).newDocument;
    expect(patched).toEqual({ ...seen, status: next });
  });

  it('removes what the new status no longer has (a pause drops nextPhaseAt)', () => {
    const paused = { ...seen, spec: { ...seen.spec, paused: true } };
    const patch = statusPatch(seen, desiredStatus(paused, seen.status.timestamps, at(1)), false);
    expect(patch).toContainEqual({ op: 'remove', path: '/status/nextPhaseAt' });
  });

  it('applies to nothing else: a different history, spec or object fails a test', () => {
    const patch = statusPatch(seen, next, false) ?? [];
    const others: Action[] = [
      { ...seen, status: { ...seen.status, timestamps: [{ provision: '2020-01-01T00:00:00.000Z' }] } },
      { ...seen, spec: { ...seen.spec, delay: 0 } },
      { ...seen, metadata: { ...seen.metadata, uid: 'uid-2' } },
    ];
    for (const other of others) {
      expect(() => fastJsonPatch.applyPatch(structuredClone(other), patch, true)).toThrow(/Test operation failed/);
    }
  });

  it('cannot prove an event without a status, but pins the version of an object it read', () => {
    const { status: _none, ...bare } = seen;
    const envelope = bare as unknown as Action;
    expect(statusPatch(envelope, next, false)).toBeNull();
    expect(statusPatch(envelope, next, true)).toEqual([
      { op: 'test', path: '/metadata/uid', value: 'uid-1' },
      { op: 'test', path: '/metadata/generation', value: 1 },
      { op: 'test', path: '/spec', value: seen.spec },
      { op: 'test', path: '/metadata/resourceVersion', value: '1' },
      { op: 'add', path: '/status', value: next },
    ]);
  });
});

describe('goJson', () => {
  it('escapes inside strings what Go escapes, and is the same JSON', () => {
    const value = { phases: ['a<b', 'c&d>', 'x\u2028y\u2029', 'é', '"\n'] };
    const text = goJson(value);
    expect(text).toBe('{"phases":["a\\u003cb","c\\u0026d\\u003e","x\\u2028y\\u2029","é","\\"\\n"]}');
    expect(JSON.parse(text)).toEqual(value);
  });
});
