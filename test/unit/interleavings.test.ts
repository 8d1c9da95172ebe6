// Property: replicas running at once cannot break the walk, however their awaits interleave.
// Deliveries of the broker's events (updates, and the deliveries that come back to carry the
// next wait), sweeps and ticks run concurrently through the real handler, sweep and ticker;
// every API call they make is two scheduling points (its request reaching the server, its
// answer reaching the caller), and fast-check's scheduler picks which of them goes next. Meanwhile
// the user edits the delay, deletes the Action and creates it again (a new uid), and some calls
// commit but lose their answer. No phase is begun twice or skipped, starts are ordered and spaced
// by the delay in force, nothing is written to an incarnation its writer was not handed, at most
// one PhaseStarted Event exists per (uid, position), and once the run is quiet and finished the
// last incarnation has exactly one per phase. Why: convergence.test.ts awaits each reconcile in
// turn against a store that answers at once, so no two deciders there ever meet at an await.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Kube } from '../../functions/advance-phase/src/kube.js';
import type { WaitMode } from '../../functions/advance-phase/src/reply.js';
import { sweep } from '../../functions/advance-phase/src/sweep.js';
import { createTicker } from '../../functions/advance-phase/src/tick.js';
import { action, T0 } from '../support/actions.js';
import { Broker, type Delivery } from '../support/broker.js';
import { ModelApi, type SeededBug, type Wire } from '../support/model-api.js';

/** What happens next; then the scheduler lets `steps` awaits go on (requests reach the server, answers their caller). */
type Command = { steps: number } & (
  | { kind: 'deliver'; pick: number }
  | { kind: 'clock'; ms: number }
  | { kind: 'sweep' }
  | { kind: 'tick'; replica: number }
  | { kind: 'edit-delay'; delay: number }
  | { kind: 'delete' }
  | { kind: 'create' }
);

const steps = fc.integer({ min: 0, max: 8 });
const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('deliver' as const), pick: fc.nat(), steps }) },
  {
    weight: 5,
    arbitrary: fc.record({ kind: fc.constant('clock' as const), ms: fc.integer({ min: 0, max: 2500 }), steps }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('sweep' as const), steps }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('tick' as const), replica: fc.nat(), steps }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('edit-delay' as const), delay: fc.integer({ min: 0, max: 3 }), steps }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), steps }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('create' as const), steps }) },
);

interface Config {
  name: string;
  waitMode: WaitMode;
  /** Deliveries in flight at once (the replicas); sweeps and ticks run besides them. */
  replicas: number;
}

const OPTS = { pageSize: 10, concurrency: 2 };

/** A Kube that forwards to whichever one `current` returns: a ticker keeps its Kube, each tick gets a fresh caller. */
function forwarding(current: () => Kube): Kube {
  return {
    patchStatus: (...args) => current().patchStatus(...args),
    get: (...args) => current().get(...args),
    list: (...args) => current().list(...args),
    deleteAction: (...args) => current().deleteAction(...args),
    recordEvent: (...args) => current().recordEvent(...args),
  };
}

async function run(
  s: fc.Scheduler,
  config: Config,
  phases: string[],
  delay: number,
  commands: Command[],
  lost: Set<number>,
  bug?: SeededBug,
): Promise<ModelApi> {
  let clock = T0.getTime();
  const now = () => new Date(clock);
  const api = new ModelApi(action({ phases, delay }), now, { stamps: 'decided', ...(bug ? { bug } : {}) });
  const broker = new Broker(api, config.waitMode);
  let faults = true;
  // Each scheduling point is labelled with its caller, so a counterexample reads as a trace.
  const wire = (caller: string): Wire => ({
    request: (verb) => s.schedule(Promise.resolve(), `${caller}: ${verb} request`),
    answer: async (verb, index) => {
      const lose = faults && lost.has(index);
      await s.schedule(Promise.resolve(), `${caller}: ${verb} #${index} answer${lose ? ' lost' : ''}`);
      if (lose) throw new Error(`the answer to call ${index} was lost`);
    },
  });

  // Work runs on its own; the scheduler decides when each of its calls goes on.
  const start = (work: () => Promise<unknown>) => {
    work().catch(() => undefined); // a sweep or tick whose list failed: the next one lists again
  };
  let delivering = 0;
  const deliver = (d: Delivery) => {
    broker.take(d);
    delivering++;
    start(async () => {
      const caller = `event ${d.id} (${d.data.metadata.uid.slice(0, 8)} at ${d.data.status.timestamps.length}, try ${d.retries})`;
      const answer = await broker.deliver(d, api.kube(wire(caller), d.data.metadata.uid), now);
      broker.settle(d, answer, clock);
      delivering--;
    });
  };
  // One ticker per replica: each remembers its own last tick.
  const tickers = Array.from({ length: config.replicas }, (_, replica) => {
    let caller = api.kube(wire(`tick ${replica}`));
    const ticker = createTicker(
      forwarding(() => caller),
      { ...OPTS, now },
    );
    let busy = false; // pings.ts runs one tick at a time per process
    return () => {
      if (busy) return;
      busy = true;
      caller = api.kube(wire(`tick ${replica}`));
      start(() => ticker.tick().finally(() => (busy = false)));
    };
  });
  const release = async (count: number) => {
    for (let i = 0; i < count && s.count() > 0; i++) await s.waitNext(1);
  };

  for (const c of commands) {
    broker.collect(clock);
    if (c.kind === 'deliver') {
      while (delivering >= config.replicas && s.count() > 0) await release(1);
      const due = broker.due(clock);
      if (due.length > 0 && delivering < config.replicas) deliver(due[c.pick % due.length] as Delivery);
    } else if (c.kind === 'clock') clock += c.ms;
    else if (c.kind === 'sweep') start(() => sweep(api.kube(wire('sweep')), { ...OPTS, now }));
    else if (c.kind === 'tick') tickers[c.replica % tickers.length]?.();
    else if (c.kind === 'edit-delay') api.store.editSpec({ delay: c.delay });
    else if (c.kind === 'delete') api.remove();
    else if (api.store.object === null) api.create();
    await release(c.steps);
  }

  // Quiet: what is in flight lands, no more faults, the user creates the Action if it is gone,
  // and the broker delivers what is left; the sweep (or, in tick mode, a tick) when nothing is.
  await s.waitIdle();
  faults = false;
  if (api.store.object === null) api.create();
  for (let n = 0; n < 400; n++) {
    broker.collect(clock);
    const d = broker.next();
    if (d) {
      clock = Math.max(clock, d.notBefore);
      deliver(d);
    } else if (api.store.object?.status.state === 'Succeeded') break;
    else {
      clock += 1000;
      if (config.waitMode === 'tick') tickers[0]?.();
      else start(() => sweep(api.kube(wire('sweep')), { ...OPTS, now }));
    }
    await s.waitIdle();
  }
  return api;
}

// Each configuration runs RUNS (1 000 unless INTERLEAVING_RUNS says otherwise) generated runs of
// 10-60 steps: 1-4 phases, a delay of 0-3 s, up to 4 lost answers among the first 40 calls.
const CONFIGS: Config[] = [
  { name: 'retry-after, 2 replicas', waitMode: 'retry-after', replicas: 2 },
  { name: 'retry-after, 3 replicas', waitMode: 'retry-after', replicas: 3 },
  { name: 'tick mode, 2 replicas', waitMode: 'tick', replicas: 2 },
];
const RUNS = Number(process.env['INTERLEAVING_RUNS'] ?? 1000);

/** The checks on a run's end, each on its own so that a seeded bug can be shown to fail exactly the one it breaks. */
type Check = 'safety' | 'finished' | 'duplicates' | 'events';

function checks(api: ModelApi, phases: string[]): Record<Check, () => void> {
  const object = api.store.object;
  return {
    safety: () => {
      expect(api.violations()).toEqual([]);
    },
    finished: () => {
      expect(object?.status.state).toBe('Succeeded');
      expect(object?.status.timestamps.map((t) => Object.keys(t)[0])).toEqual(phases);
    },
    duplicates: () => {
      expect(api.duplicateEvents()).toEqual([]);
    },
    events: () => {
      const events = [...api.phaseEvents(object?.metadata.uid ?? '').keys()].sort((a, b) => a - b);
      expect(events, 'PhaseStarted Events of the last incarnation').toEqual(phases.map((_, i) => i));
    },
  };
}

/** The property for `config`; `seeded`: with a bug in the function's calls, and only the check it breaks. */
function property(config: Config, seeded?: { bug: SeededBug; check: Check }) {
  return fc.asyncProperty(
    fc.scheduler(),
    fc.array(fc.constantFrom('a', 'b', 'c'), { minLength: 1, maxLength: 4 }),
    fc.integer({ min: 0, max: 3 }),
    fc.array(command, { minLength: 10, maxLength: 60 }),
    fc.uniqueArray(fc.nat(40), { maxLength: 4 }),
    async (s, phases, delay, commands, lost) => {
      const api = await run(s, config, phases, delay, commands, new Set(lost), seeded?.bug);
      for (const [name, check] of Object.entries(checks(api, phases))) if (!seeded || seeded.check === name) check();
    },
  );
}

describe.each(CONFIGS)('interleavings: $name', (config) => {
  it(`no phase twice, none skipped, none early, each Event once (${RUNS} runs)`, async () => {
    await fc.assert(property(config), { numRuns: RUNS });
  }, 60_000);

  // Each check is seen to fail on the bug it is there for; the first counterexample is enough.
  it.each<[SeededBug, Check]>([
    ['no-spec-test', 'safety'],
    ['no-uid-test', 'safety'],
    ['unkeyed-events', 'duplicates'],
    ['no-event-after-read', 'events'],
  ])(
    'fails with a seeded bug: %s',
    async (bug, check) => {
      const result = await fc.check(property(config, { bug, check }), { numRuns: RUNS, endOnFailure: true });
      expect(result.failed).toBe(true);
    },
    60_000,
  );
});
