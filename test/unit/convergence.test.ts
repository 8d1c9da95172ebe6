// Property: whatever the order of deliveries (duplicates, late retries, lost events, stale
// snapshots, conflicts, delay edits, unrelated label writes, sweeps, ticks) and whatever forged
// events arrive in between, no phase is begun twice or skipped, no entry is rewritten, starts are
// spaced by at least the delay in force, nothing is deleted early, and the sweep alone finishes
// what events did not. With every event lost, ticks alone finish a run, each phase within one
// tick period (plus mtping's jitter) of its due time.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAction, type Action, type ParsedAction } from '../../functions/advance-phase/src/action.js';
import { reconcile } from '../../functions/advance-phase/src/reconcile.js';
import { startOf } from '../../functions/advance-phase/src/status.js';
import { sweep } from '../../functions/advance-phase/src/sweep.js';
import { createTicker } from '../../functions/advance-phase/src/tick.js';
import { action, T0 } from '../support/actions.js';
import { ModelStore } from '../support/model-store.js';

type Step =
  | { kind: 'deliver'; pick: number; duplicate: boolean }
  | { kind: 'lose'; pick: number }
  | { kind: 'tick'; ms: number }
  | { kind: 'edit-delay'; delay: number }
  | { kind: 'label' }
  | { kind: 'forge'; how: Forgery }
  | { kind: 'sweep' }
  | { kind: 'ping-tick' };

/** What a hostile sender changes in the current object before posting it as an event. */
type Forgery = 'history' | 'delay' | 'phases' | 'uid' | 'ttl';
function forge(object: Action, how: Forgery): ParsedAction {
  const forged = structuredClone(object);
  if (how === 'history') forged.status.timestamps = forged.status.timestamps.slice(0, -1);
  if (how === 'delay') forged.spec.delay = 0;
  if (how === 'phases') forged.spec.phases = forged.spec.phases.slice(0, 1);
  if (how === 'uid') forged.metadata.uid = 'someone-else';
  if (how === 'ttl') forged.spec.ttlSecondsAfterFinished = 0;
  const parsed = parseAction(forged);
  if (parsed.kind !== 'valid') throw new Error('a forgery must look valid');
  return parsed;
}

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({ kind: fc.constant('deliver' as const), pick: fc.nat(), duplicate: fc.boolean() }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('lose' as const), pick: fc.nat() }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 4000 }) }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('edit-delay' as const), delay: fc.integer({ min: 0, max: 3 }) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('label' as const) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('forge' as const),
      how: fc.constantFrom<Forgery>('history', 'delay', 'phases', 'uid', 'ttl'),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('sweep' as const) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('ping-tick' as const) }) },
);

interface Pending {
  snapshot: unknown;
  /** A retry is not redelivered before the time the function asked for. */
  notBefore: number;
}

async function run(phases: string[], delay: number, steps: Step[]) {
  let clock = T0.getTime();
  const now = () => new Date(clock);
  const store = new ModelStore(action({ phases, delay }), now);
  const pending: Pending[] = [{ snapshot: structuredClone(store.object), notBefore: 0 }];
  const ticker = createTicker(store, { pageSize: 10, concurrency: 2, now });
  let seen = 0;
  const collect = () => {
    for (; seen < store.emitted.length; seen++) pending.push({ snapshot: store.emitted[seen], notBefore: 0 });
  };

  for (const s of steps) {
    collect();
    if (s.kind === 'tick') clock += s.ms;
    else if (s.kind === 'edit-delay') store.editSpec({ delay: s.delay });
    else if (s.kind === 'label') store.label('touched', String(clock));
    else if (s.kind === 'forge') {
      if (store.object) await reconcile(store, forge(store.object, s.how), now);
    } else if (s.kind === 'sweep') await sweep(store, { pageSize: 10, concurrency: 2, now });
    else if (s.kind === 'ping-tick') await ticker.tick();
    else if (pending.length > 0) {
      const i = s.pick % pending.length;
      const event = pending[i] as Pending;
      if (s.kind === 'lose') pending.splice(i, 1);
      else if (event.notBefore <= clock) {
        const parsed = parseAction(event.snapshot);
        if (parsed.kind === 'not-an-action') throw new Error(parsed.reason);
        const outcome = await reconcile(store, parsed, now);
        // A wait, or an advance that carries the next wait, is redelivered when it asked to be.
        const { decision } = outcome;
        const retryAt =
          decision.kind === 'wait' ? decision.until : decision.kind === 'advance' ? decision.carryUntil : undefined;
        if (retryAt) event.notBefore = retryAt.getTime();
        else if (!s.duplicate) pending.splice(i, 1);
      }
    }
  }

  // Every event may be lost from here on: the sweep alone must finish the run.
  for (let i = 0; i <= phases.length; i++) {
    clock += 4000;
    await sweep(store, { pageSize: 10, concurrency: 2, now });
  }
  return store;
}

describe('convergence under any delivery order', () => {
  it('begins every phase exactly once, in order, spaced by the delay', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom('a', 'b', 'c'), { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 0, max: 3 }),
        fc.array(step, { maxLength: 80 }),
        async (phases, delay, steps) => {
          const store = await run(phases, delay, steps);
          expect(store.violations).toEqual([]);
          const timestamps = store.object?.status.timestamps ?? [];
          expect(timestamps.map((t) => Object.keys(t)[0])).toEqual(phases);
          expect(store.object?.status.state).toBe('Succeeded');
          // One PhaseStarted event per position, however often each was tried.
          expect(Object.fromEntries(store.phaseEvents)).toEqual(Object.fromEntries(phases.map((_, i) => [`p${i}`, 1])));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('with every event lost, ticks alone begin each phase within one period of its due time', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom('a', 'b', 'c'), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 0, max: 5 }),
        fc.integer({ min: 500, max: 3000 }),
        fc.array(fc.integer({ min: 0, max: 499 }), { minLength: 1, maxLength: 50 }),
        async (phases, delay, period, jitters) => {
          let clock = T0.getTime();
          const now = () => new Date(clock);
          const store = new ModelStore(action({ phases, delay }), now);
          const ticker = createTicker(store, { pageSize: 10, concurrency: 2, now });
          // Enough ticks for the whole run if each phase took its worst case.
          const ticks = Math.ceil((phases.length * (delay * 1000 + period + 500)) / period) + 1;
          for (let i = 0; i < ticks; i++) {
            await ticker.tick();
            // The next tick: one period on, plus the jitter mtping adds to each send.
            clock = T0.getTime() + (i + 1) * period + (jitters[i % jitters.length] as number);
          }
          expect(store.violations).toEqual([]);
          const timestamps = store.object?.status.timestamps ?? [];
          expect(timestamps.map((t) => Object.keys(t)[0])).toEqual(phases);
          const starts = timestamps.map(startOf);
          for (let i = 1; i < starts.length; i++) {
            const late = (starts[i] as number) - (starts[i - 1] as number) - delay * 1000;
            expect(late).toBeGreaterThanOrEqual(0);
            expect(late).toBeLessThan(period + 500);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
