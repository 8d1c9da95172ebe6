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

type Carrier = 'backup' | 'primary';
/** Sorts a writer's retry after every other delivery due at the same moment. */
const PRIMARY_FIRST = 1e9;

interface Delivery {
  snapshot: Action;
  at: number;
  /** Answers reached the dispatcher in this order; equal times are redelivered in it. */
  order: number;
}

/**
 * Runs one Action to the end; `lost(i)` says whether the i-th update event never arrives. `first`:
 * whose answer reaches the dispatcher first, so whose retry comes first when both are due: the
 * delivery that wrote (`backup`), or the update event its write produced (`primary`, as on the
 * test bed, where the writer answers after its Kubernetes Event).
 */
async function run(phases: string[], delay: number, lost: (i: number) => boolean, first: Carrier = 'backup') {
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
    // On the test bed the writer answers after its Kubernetes Event, later than the update event
    // its write produced gets its first answer: its retry then comes second.
    const late = first === 'primary' && decision.kind === 'advance' ? PRIMARY_FIRST : 0;
    if (retryAt) queue.push({ ...next, at: retryAt.getTime(), order: late + order++ });
    for (; seen < store.emitted.length; seen++) {
      if (!lost(seen)) queue.push({ snapshot: store.emitted[seen] as Action, at: clock, order: order++ });
    }
  }
  return { store, deliveries, reads, writes };
}

describe('a lost update event does not stop the chain', () => {
  it.each<Carrier>(['backup', 'primary'])(
    'begins every phase on time without the sweep when no two update events in a row are lost (%s first)',
    async (first) => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.constantFrom('a', 'b', 'c'), { minLength: 1, maxLength: 8 }),
          fc.integer({ min: 0, max: 5 }),
          fc.array(fc.boolean(), { maxLength: 8 }),
          async (phases, delay, losses) => {
            // Never two in a row: one lost event is what a source's watch restart costs a run whose
            // delay outlasts the restart.
            const lost = (i: number) => losses[i] === true && losses[i - 1] !== true;
            const { store } = await run(phases, delay, lost, first);
            expect(store.violations).toEqual([]);
            const timestamps = store.object?.status.timestamps ?? [];
            expect(timestamps.map((t) => Object.keys(t)[0])).toEqual(phases);
            const starts = timestamps.map(startOf);
            expect(starts).toEqual(phases.map((_, i) => T0.getTime() + i * delay * 1000));
            expect([...store.phaseEvents.keys()].sort()).toEqual(phases.map((_, i) => `p${i}`).sort());
          },
        ),
        { numRuns: 300 },
      );
    },
  );

  // What the second carrier costs. The add event: one delivery, one write, one Event. The update
  // event of the last write: a delivery that reads once to vouch for the last phase's Event.
  const phases = ['a', 'b', 'c', 'd', 'e', 'f'];
  const transitions = phases.length - 1;
  it.each([
    {
      first: 'backup' as const,
      // Each transition: the update event's first delivery (a wait), the backup's return (a read,
      // the write, its Event and the previous phase's, a 409) and the update event's return (a
      // failed write, a read, the Event it carried: a 409).
      want: { deliveries: 3, reads: 2, writes: 2, eventCalls: 3 },
    },
    {
      first: 'primary' as const,
      // Each transition: the update event's first delivery (a wait) and return (the write and its
      // Event), and the backup's return (a read, and the two Events it may owe: 409s).
      want: { deliveries: 3, reads: 1, writes: 1, eventCalls: 3 },
    },
  ])('costs per transition, $first first: $want', async ({ first, want }) => {
    const { store, deliveries, reads, writes } = await run(phases, 5, () => false, first);
    expect({ deliveries, reads, writes, eventCalls: store.eventCalls }).toEqual({
      deliveries: 1 + want.deliveries * transitions + 1,
      reads: want.reads * transitions + 1,
      writes: 1 + want.writes * transitions,
      eventCalls: 1 + want.eventCalls * transitions + 1,
    });
  });
});
