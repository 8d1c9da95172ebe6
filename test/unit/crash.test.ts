// Property: a crash at any step changes nothing but timing. A reference run walks one Action of
// four phases through the real handler, driven by the events the broker delivers (the update
// events its writes produce, and the deliveries that come back as carriers of the next wait).
// Then, for every API call of that run, one run in which the function dies right after that call
// (the rest of its delivery never runs, and the broker redelivers after its backoff, or after the
// attempt's 10 s timeout when the dead process's connection hangs) and one in which the call
// commits but its answer is lost. Each must end as the reference does, apart from
// timestamps: every phase begun once, in order, and its PhaseStarted Event there exactly once.
// Why: Sieve (OSDI '22) found most of its controller bugs this way; here a crash between the
// status write and its Event would lose the Event for good unless a later delivery records it.
import { beforeAll, describe, expect, it } from 'vitest';
import { action, T0 } from '../support/actions.js';
import { Broker } from '../support/broker.js';
import { ModelApi, type SeededBug, type Wire } from '../support/model-api.js';

const PHASES = ['provision', 'configure', 'verify', 'done'];

/** `crash`: the process dies, its connection reset; `hang`: it dies and the delivery times out; `lose`: the answer is lost. */
type Fault = { kind: 'crash' | 'hang' | 'lose'; at: number };

/** Ties: which of two deliveries due at the same moment the dispatcher sends first. */
interface Config {
  delay: number;
  ties: 'oldest' | 'newest';
}

interface Run {
  api: ModelApi;
  broker: Broker;
}

/** Deliveries one at a time, in the dispatcher's order, until none is left. */
async function drive({ delay, ties }: Config, fault?: Fault, bug?: SeededBug): Promise<Run> {
  let clock = T0.getTime();
  const now = () => new Date(clock);
  const api = new ModelApi(action({ phases: PHASES, delay }), now, bug ? { bug } : {});
  const broker = new Broker(api, 'retry-after');
  const pod = { dead: false };
  const death = fault?.kind === 'hang' ? 'timed-out' : 'failed';
  const wire: Wire = {
    request: () => {
      if (pod.dead) throw new Error('the process is dead');
    },
    answer: (_verb, index) => {
      if (index !== fault?.at) return;
      if (fault.kind !== 'lose') pod.dead = true;
      throw new Error(pod.dead ? 'the process died' : 'the answer was lost');
    },
  };
  for (let n = 0; n < 200; n++) {
    const d = broker.next(ties);
    if (!d) break;
    broker.take(d);
    clock = Math.max(clock, d.notBefore);
    const answer = await broker.deliver(d, api.kube(wire, d.data.metadata.uid), now);
    // A dead process answers nothing, whatever its handler went on to return; Knative sends the
    // retry to a new one.
    broker.settle(d, pod.dead ? death : answer, clock);
    pod.dead = false;
    broker.collect(clock);
  }
  return { api, broker };
}

/** The final state apart from timestamps. */
function outcome({ api, broker }: Run) {
  const uid = api.uid ?? '';
  return {
    status: JSON.stringify(api.store.object?.status).replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, '<time>'),
    phases: api.store.object?.status.timestamps.map((t) => Object.keys(t)[0]),
    events: Object.fromEntries([...api.phaseEvents(uid)].sort(([a], [b]) => a - b)),
    violations: api.violations(),
    unsent: broker.pending.length,
    deadLettered: broker.deadLettered,
  };
}

const CONFIGS = [5, 1, 0].flatMap((delay) =>
  (['oldest', 'newest'] as const).map((ties) => ({ delay, ties, name: `delay ${delay} s, ties to the ${ties}` })),
);

describe.each(CONFIGS)('one Action of 4 phases, $name', (config) => {
  let reference: Run;
  beforeAll(async () => void (reference = await drive(config)));

  it('the reference run begins every phase once, each with its Event', () => {
    expect(outcome(reference)).toMatchObject({
      phases: PHASES,
      events: { 0: 1, 1: 1, 2: 1, 3: 1 },
      violations: [],
      unsent: 0,
      deadLettered: 0,
    });
  });

  /** A run per call of the reference with `kind` at that call: how each differs from the reference. */
  async function failures(kind: Fault['kind'], bug?: SeededBug): Promise<string[]> {
    const expected = outcome(reference);
    const found: string[] = [];
    for (const [at, verb] of reference.api.calls.entries()) {
      const got = outcome(await drive(config, { kind, at }, bug));
      const differs = Object.entries(got).filter(
        ([key, value]) => JSON.stringify(value) !== JSON.stringify(expected[key as keyof typeof got]),
      );
      if (differs.length)
        found.push(`${kind} after call ${at} (${verb}): ${JSON.stringify(Object.fromEntries(differs))}`);
    }
    return found;
  }

  it.each<Fault['kind']>(['crash', 'hang', 'lose'])(
    '%s after each API call ends as the reference does',
    async (kind) => {
      expect(reference.api.calls.length).toBeGreaterThan(8);
      expect(await failures(kind)).toEqual([]);
    },
  );

  it.each<SeededBug>(['unkeyed-events', 'no-event-after-read'])('fails with a seeded bug: %s', async (bug) => {
    expect(await failures('crash', bug)).not.toEqual([]);
  });
});
