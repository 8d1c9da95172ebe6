// The chain survives a lost update event: the delivery that began a phase comes back when the
// next is due (its 503's Retry-After) and begins it if the update event its write produced never
// arrived. Driven as Knative's delivery drives it (each event redelivered at the time it asked
// for, in the order the answers reached the dispatcher), with no sweep: every phase must begin on
// time, once, with its Event. Also counts what the second carrier costs per transition.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAction, type Action } from '../../functions/advance-phase/src/action.js';
import { reconcile } from '../../functions/advance-phase/src/reconcile.js';
import { startOf } from '../../functions/advance-phase/src/status.js';
import { action, T0 } from '../support/actions.js';
import { ModelStore } from '../support/model-store.js';

interface Delivery {
  snapshot: Action;
  at: number;
  /** Answers reached the dispatcher in this order; equal times are redelivered in it. */
  order: number;
}

/** Runs one Action to the end; `lost(i)` says whether the i-th update event never arrives. */
async function run(phases: string[], delay: number, lost: (i: number) => boolean) {
  let clock = T0.getTime();
  const now = () => new Date(clock);
  const store = new ModelStore(action({ phases, delay }), now);
  const queue: Delivery[] = [{ snapshot: structuredClone(store.object as Action), at: clock, order: 0 }];
  let order = 1;
  let seen = 0;
  let deliveries = 0;
  let reads = 0;
  let writes = 0;
  while (queue.length > 0) {
    queue.sort((a, b) => a.at - b.at || a.order - b.order);
    const next = queue.shift() as Delivery;
    clock = Math.max(clock, next.at);
    deliveries++;
    const parsed = parseAction(next.snapshot);
    if (parsed.kind !== 'valid') throw new Error('the model only emits valid Actions');
    const outcome = await reconcile(store, parsed, now);
    reads += outcome.reads;
    writes += outcome.writes;
    const { decision } = outcome;
    const retryAt =
      decision.kind === 'wait' ? decision.until : decision.kind === 'advance' ? decision.carryUntil : undefined;
    // The write's own answer goes out first; the update event it produced reaches the function after it.
    if (retryAt) queue.push({ ...next, at: retryAt.getTime(), order: order++ });
    for (; seen < store.emitted.length; seen++) {
      if (!lost(seen)) queue.push({ snapshot: store.emitted[seen] as Action, at: clock, order: order++ });
    }
  }
  return { store, deliveries, reads, writes };
}

describe('a lost update event does not stop the chain', () => {
  it('begins every phase on time without the sweep when no two update events in a row are lost', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom('a', 'b', 'c'), { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 0, max: 5 }),
        fc.array(fc.boolean(), { maxLength: 8 }),
        async (phases, delay, losses) => {
          // Never two in a row: one lost event is what a source's watch restart costs a run whose
          // delay outlasts the restart.
          const lost = (i: number) => losses[i] === true && losses[i - 1] !== true;
          const { store } = await run(phases, delay, lost);
          expect(store.violations).toEqual([]);
          const timestamps = store.object?.status.timestamps ?? [];
          expect(timestamps.map((t) => Object.keys(t)[0])).toEqual(phases);
          const starts = timestamps.map(startOf);
          expect(starts).toEqual(phases.map((_, i) => T0.getTime() + i * delay * 1000));
          expect([...store.phaseEvents.keys()].sort()).toEqual(phases.map((_, i) => `p${i}`).sort());
        },
      ),
      { numRuns: 500 },
    );
  });

  it('costs, per transition, one more delivery, two reads, one failed write and one Event that exists', async () => {
    const phases = ['a', 'b', 'c', 'd', 'e', 'f'];
    const { store, deliveries, reads, writes } = await run(phases, 5, () => false);
    const transitions = phases.length - 1;
    // The add event: one delivery, one write. Each transition: the update event's first delivery
    // (a wait), the backup's return (a read and the write that begins the phase) and the update
    // event's return (a failed write, a read and the Event's 409). The last answers nothing more.
    expect({ deliveries, reads, writes, eventCalls: store.eventCalls }).toEqual({
      deliveries: 1 + 3 * transitions + 1,
      reads: 2 * transitions,
      writes: 1 + 2 * transitions,
      eventCalls: 1 + 2 * transitions,
    });
  });
});
