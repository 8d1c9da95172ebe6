// Clocks: a replica decides "due" by its own clock and stamps a start with it, so two replicas
// whose clocks differ by s seconds can space two phases s seconds closer (or further) apart than
// the delay, in true time, while the stamps still show the delay. Measured here with one replica's
// clock 2 s off: the bound is the skew between replicas, and no worse. docs/reliability.md says
// why that is acceptable (NTP keeps nodes within milliseconds).
import { describe, expect, it } from 'vitest';
import { parseAction, type Action } from '../../functions/advance-phase/src/action.js';
import { reconcile } from '../../functions/advance-phase/src/reconcile.js';
import { startOf } from '../../functions/advance-phase/src/status.js';
import { action, T0 } from '../support/actions.js';
import { ModelStore } from '../support/model-store.js';

const DELAY = 5;
const SKEW_MS = 2000;

/**
 * Phase a begun by a replica whose clock is `first` ms off, phase b by one `second` ms off, each
 * event delivered as soon as that replica finds it due. Returns b's start minus a's, in true time
 * and as stamped.
 */
async function gap(first: number, second: number): Promise<{ trueMs: number; stampedMs: number }> {
  let truth = T0.getTime();
  const store = new ModelStore(action({ phases: ['a', 'b'], delay: DELAY }), () => new Date(truth + first));
  const clockOf = (offset: number) => () => new Date(truth + offset);
  const parse = (object: Action) => {
    const parsed = parseAction(structuredClone(object));
    if (parsed.kind !== 'valid') throw new Error('the model only holds valid Actions');
    return parsed;
  };
  await reconcile(store, parse(store.object as Action), clockOf(first));
  const beganA = truth;
  const update = store.emitted.at(-1) as Action;
  // The second replica is asked every 10 ms of true time until it finds b due.
  for (;;) {
    truth += 10;
    const outcome = await reconcile(store, parse(update), clockOf(second));
    if (outcome.decision.kind === 'advance') break;
  }
  const stamps = (store.object as Action).status.timestamps.map(startOf);
  return { trueMs: truth - beganA, stampedMs: (stamps[1] as number) - (stamps[0] as number) };
}

describe('clocks', () => {
  it('replicas that agree space phases by the delay, in true time as in the stamps', async () => {
    expect(await gap(0, 0)).toEqual({ trueMs: DELAY * 1000, stampedMs: DELAY * 1000 });
  });

  it('a writer 2 s slow, then one on time: 2 s early in true time, on time by the stamps', async () => {
    expect(await gap(-SKEW_MS, 0)).toEqual({ trueMs: DELAY * 1000 - SKEW_MS, stampedMs: DELAY * 1000 });
  });

  it('a writer 2 s fast, then one on time: 2 s late in true time, on time by the stamps', async () => {
    expect(await gap(SKEW_MS, 0)).toEqual({ trueMs: DELAY * 1000 + SKEW_MS, stampedMs: DELAY * 1000 });
  });
});
