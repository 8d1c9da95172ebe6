// The tick (WAIT_MODE=tick): which seconds it lists, when it sweeps instead, and the dueSlot the
// status carries for it to find.
import { describe, expect, it } from 'vitest';
import type { Kube } from '../../functions/advance-phase/src/kube.js';
import { desiredStatus, slotOf } from '../../functions/advance-phase/src/status.js';
import { UNFINISHED } from '../../functions/advance-phase/src/sweep.js';
import { createTicker, MAX_GAP_MS, slotsBetween } from '../../functions/advance-phase/src/tick.js';
import { action, at, begun } from '../support/actions.js';

describe('status.dueSlot', () => {
  const statusOf = (spec: Parameters<typeof action>[0], phases: string[]) =>
    desiredStatus(action(spec), begun(phases, spec?.delay ?? 5), at(0));

  it('is the whole second the next phase is due in', () => {
    expect(slotOf(Date.parse('2026-11-22T10:00:05.999Z'))).toBe('2026-11-22T10:00:05Z');
    expect(statusOf({ delay: 5 }, ['provision'])).toMatchObject({
      nextPhaseAt: at(5).toISOString(),
      dueSlot: '2026-11-22T10:00:05Z',
    });
  });

  it("is a finished Action's deletion when it has a TTL", () => {
    const all = ['provision', 'configure', 'verify', 'done'];
    expect(statusOf({ delay: 1, ttlSecondsAfterFinished: 30 }, all)).toMatchObject({
      state: 'Expiring',
      dueSlot: '2026-11-22T10:00:33Z',
    });
  });

  it('is absent when nothing is due: finished without a TTL, paused', () => {
    expect(statusOf({}, ['provision', 'configure', 'verify', 'done'])).not.toHaveProperty('dueSlot');
    expect(statusOf({ paused: true }, ['provision'])).not.toHaveProperty('dueSlot');
  });
});

describe('slotsBetween', () => {
  it('lists every second from the one the last tick began in to the current one', () => {
    expect(slotsBetween(at(0.7).getTime(), at(2.1).getTime())).toEqual([
      '2026-11-22T10:00:00Z',
      '2026-11-22T10:00:01Z',
      '2026-11-22T10:00:02Z',
    ]);
    expect(slotsBetween(at(3.2).getTime(), at(3.9).getTime())).toEqual(['2026-11-22T10:00:03Z']);
  });

  it('lists the current second when the clock went back', () => {
    expect(slotsBetween(at(5).getTime(), at(4.5).getTime())).toEqual(['2026-11-22T10:00:04Z']);
  });
});

describe('createTicker', () => {
  function recording() {
    const selectors: string[] = [];
    let failNext = false;
    const kube = {
      list: ({ fieldSelector }: { fieldSelector: string }) => {
        selectors.push(fieldSelector);
        if (failNext) {
          failNext = false;
          return Promise.reject(new Error('API server down'));
        }
        return Promise.resolve({ items: [], continue: undefined });
      },
    } as unknown as Kube;
    return { kube, selectors, failNextList: () => (failNext = true) };
  }

  it('sweeps on its first tick, then lists only the seconds since the previous tick', async () => {
    const { kube, selectors } = recording();
    let now = at(0.4);
    const ticker = createTicker(kube, { pageSize: 10, concurrency: 1, now: () => now });
    expect(await ticker.tick()).toMatchObject({ scope: 'full', slots: 0 });
    expect(selectors).toEqual([UNFINISHED]);
    now = at(2.3);
    expect(await ticker.tick()).toMatchObject({ scope: 'slots', slots: 3 });
    expect(selectors.slice(1)).toEqual([
      'status.dueSlot=2026-11-22T10:00:00Z',
      'status.dueSlot=2026-11-22T10:00:01Z',
      'status.dueSlot=2026-11-22T10:00:02Z',
    ]);
  });

  it('sweeps again after a gap longer than it would list second by second', async () => {
    const { kube, selectors } = recording();
    let now = at(0);
    const ticker = createTicker(kube, { pageSize: 10, concurrency: 1, now: () => now });
    await ticker.tick();
    now = new Date(at(0).getTime() + MAX_GAP_MS + 1);
    expect(await ticker.tick()).toMatchObject({ scope: 'full' });
    expect(selectors).toEqual([UNFINISHED, UNFINISHED]);
  });

  it('after a failed list, the next tick lists from the last tick that completed', async () => {
    const { kube, selectors, failNextList } = recording();
    let now = at(0);
    const ticker = createTicker(kube, { pageSize: 10, concurrency: 1, now: () => now });
    await ticker.tick();
    now = at(2);
    failNextList();
    await expect(ticker.tick()).rejects.toThrow('API server down');
    now = at(4);
    await ticker.tick();
    expect(selectors.slice(2)).toEqual([0, 1, 2, 3, 4].map((s) => `status.dueSlot=2026-11-22T10:00:0${s}Z`));
  });
});
