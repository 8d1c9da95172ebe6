// Replays a Spin trail (its @-lines, test/model/spin.ts) through the real `reconcile` against the
// in-memory store: each model slot is a real reconcile whose Kube calls wait at a gate, and each
// model step lets exactly the call the model made go through, at the model's time. Where the
// code does something else (another call, another answer), the replay stops and says so: the
// model has drifted from the code. What the code did to the store is the verdict.
import { parseAction, type Action } from '../../functions/advance-phase/src/action.js';
import type { Kube } from '../../functions/advance-phase/src/kube.js';
import { reconcile, type Outcome } from '../../functions/advance-phase/src/reconcile.js';
import { replyTo, type WaitMode } from '../../functions/advance-phase/src/reply.js';
import { action, T0 } from '../support/actions.js';
import { ModelStore } from '../support/model-store.js';

export interface ReplayOptions {
  delay0: number;
  ttl?: number;
  waitMode: WaitMode;
  /** The seeded bug, in the code: every status patch loses its `test` of /status. */
  seededBug?: boolean;
}

export interface ReplayResult {
  store: ModelStore;
  /** Phases begun without a PhaseStarted Event, as uid/position. */
  missingEvents: string[];
}

const PHASES = ['p0', 'p1', 'p2'];
const uidOf = (inc: number) => `uid-${inc + 1}`;

interface Pending {
  what: string;
  /** The call goes through; `lost`: the caller gets a broken connection instead of its answer. */
  go: (lost?: 'landed' | 'not-landed') => Promise<void>;
}

/** What the function sees when the connection breaks before the answer. */
const connectionReset = () => Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });

/** One reconcile in flight, its Kube calls held until the replay lets each through. */
class Slot {
  pending: Pending | null = null;
  /** The reconcile, until the model's first step of this slot starts it. */
  begin: ((kube: Kube) => Promise<Outcome>) | null;
  /** The broker got no answer (the model lost it): the code's answer is not compared. */
  answerLost = false;
  result: { outcome: Outcome } | { error: unknown } | null = null;
  private wake: (() => void) | null = null;
  readonly kube: Kube;

  constructor(
    real: Kube,
    readonly job: 'event' | 'ping',
    begin: (kube: Kube) => Promise<Outcome>,
  ) {
    this.begin = begin;
    const gate = <T>(what: string, call: () => Promise<T>) =>
      new Promise<T>((resolve, reject) => {
        this.pending = {
          what,
          go: async (lost) => {
            if (lost === undefined) return call().then(resolve, reject);
            if (lost === 'landed') await call().catch(() => undefined);
            reject(connectionReset());
          },
        };
        this.signal();
      });
    this.kube = {
      patchStatus: (ns, name, patch) => gate('write', () => real.patchStatus(ns, name, patch)),
      get: (ns, name) => gate('get', () => real.get(ns, name)),
      list: (opts) => gate('list', () => real.list(opts)),
      deleteAction: (ns, name, version) => gate('delete', () => real.deleteAction(ns, name, version)),
      recordEvent: (event) =>
        gate(`event ${event.regarding.metadata.uid} ${event.key ?? ''}`, () => real.recordEvent(event)),
    };
  }

  /** Starts the reconcile if this is its first step, and waits until it calls or returns. */
  async step(): Promise<void> {
    const begin = this.begin;
    this.begin = null;
    begin?.(this.kube).then(
      (outcome) => {
        this.finish({ outcome });
      },
      (error: unknown) => {
        this.finish({ error });
      },
    );
    await this.settle();
  }

  private finish(result: Slot['result']): void {
    this.result = result;
    this.signal();
  }

  private signal(): void {
    this.wake?.();
    this.wake = null;
  }

  /** Until the reconcile waits at a call or has returned (the store answers at once). */
  async settle(): Promise<void> {
    while (this.pending === null && this.result === null) await new Promise<void>((r) => (this.wake = r));
  }

  /** Lets the held call through (its answer lost, if `lost`); it must be the one the model made. */
  async pass(what: string, lost?: 'landed' | 'not-landed'): Promise<void> {
    await this.settle();
    const call = this.pending;
    if (call?.what !== what)
      throw new Error(`the model's step is "${what}", the code's is "${call?.what ?? 'a return'}"`);
    this.pending = null;
    await call.go(lost);
    await this.settle();
  }

  /** The model's reconcile has returned: so must the code's, having made no further call. */
  async returned(): Promise<void> {
    await this.settle();
    if (this.result === null)
      throw new Error(`the model's reconcile returns, the code's is at "${this.pending?.what ?? '?'}"`);
  }
}

export async function replay(lines: string[], opts: ReplayOptions): Promise<ReplayResult> {
  let clock = T0.getTime();
  const now = () => new Date(clock);
  const spec = {
    phases: PHASES,
    delay: opts.delay0,
    ...(opts.ttl === undefined ? {} : { ttlSecondsAfterFinished: opts.ttl }),
  };
  const store = new ModelStore(action(spec), now);
  const kube: Kube = opts.seededBug ? withoutStatusTest(store) : store;
  const versions = new Map<number, Action>();
  const events = new Set<string>();
  let slots: (Slot | null)[] = [null, null];

  const slot = (n: number): Slot => {
    const s = slots[n];
    if (!s) throw new Error(`the model's slot ${n} is not busy`);
    return s;
  };
  const current = (): Action => {
    if (!store.object) throw new Error('the model sees an object the store does not have');
    return structuredClone(store.object);
  };
  const parsed = (a: Action) => {
    const p = parseAction(a);
    if (p.kind === 'not-an-action') throw new Error(p.reason);
    return p;
  };
  // Every PhaseStarted Event the code records, by uid and key, as the API server keeps them.
  const recording: Kube = {
    ...kube,
    recordEvent: async (event) => {
      await kube.recordEvent(event);
      events.add(`${event.regarding.metadata.uid}/${event.key ?? ''}`);
    },
    patchStatus: (ns, name, patch) => kube.patchStatus(ns, name, patch),
    get: (ns, name) => kube.get(ns, name),
    list: (o) => kube.list(o),
    deleteAction: (ns, name, v) => kube.deleteAction(ns, name, v),
  };

  for (const [index, line] of lines.entries()) {
    try {
      await replayLine(line);
    } catch (error) {
      throw new Error(`trail line ${index + 1} (${line}): ${(error as Error).message}`, { cause: error });
    }
  }

  async function replayLine(line: string): Promise<void> {
    const [tag, ...rest] = line.split(/\s+/);
    const [a = NaN, b = NaN, c = NaN] = rest.map(Number);
    switch (tag) {
      case '@tick':
        if (rest.length === 0) clock += 1000;
        else startPing(a, b);
        break;
      case '@create':
        if (b === 1) store.create(action(spec, undefined, { uid: uidOf(1), creationTimestamp: now().toISOString() }));
        versions.set(a, current());
        break;
      case '@emit':
      case '@lose':
        versions.set(a, current());
        break;
      case '@user':
        if (rest[0] === 'delay') store.editSpec({ delay: b });
        else if (rest[0] === 'pause') store.editSpec({ paused: b === 1 });
        else {
          const { uid, resourceVersion } = current().metadata;
          await store.deleteAction('default', 'demo', { uid, resourceVersion });
        }
        if (rest[0] !== 'delete') versions.set(c, current());
        break;
      case '@deliver': {
        const v = versions.get(b);
        if (!v) throw new Error(`no version ${b}`);
        slots[a] = new Slot(recording, 'event', (k) => reconcile(k, parsed(v), now));
        break;
      }
      case '@sweep':
        if (rest[0] !== 'none') startPing(a, b);
        break;
      case '@step':
        await slot(a).step();
        break;
      case '@write': // @write slot kind ok|conflict|gone, or lost 1|0 (its answer lost; landed or not)
        await slot(a).pass('write', rest[2] === 'lost' ? (rest[3] === '1' ? 'landed' : 'not-landed') : undefined);
        break;
      case '@delete':
        await slot(a).pass('delete');
        break;
      case '@get':
        await slot(a).pass('get');
        break;
      case '@event': // @event slot inc position: exactly this Event, now
        await slot(a).pass(`event ${uidOf(b)} p${c}`);
        break;
      case '@crash':
        slots[a] = null; // its reconcile waits at its gate for ever: the process is gone
        break;
      case '@lostanswer':
        slot(a).answerLost = true;
        break;
      case '@answer': {
        const s = slots[a];
        await s?.returned();
        if (s && s.job === 'event' && !s.answerLost) checkAnswer(s, b, now(), opts.waitMode);
        slots[a] = null;
        break;
      }
      case '@swap':
        slots = [slots[1] ?? null, slots[0] ?? null];
        break;
      default: // @decide, @unproven, @dup, @deadletter, @sweepphase: the model's own bookkeeping
    }
  }

  function startPing(n: number, v: number): void {
    const listed = current();
    if (listed.metadata.resourceVersion !== versions.get(v)?.metadata.resourceVersion)
      throw new Error(`the model lists version ${v}, the store holds another`);
    slots[n] = new Slot(recording, 'ping', (k) => reconcile(k, parsed(listed), now, true));
  }

  const missingEvents: string[] = [];
  const latest = store.object;
  if (latest)
    latest.status.timestamps.forEach((_, i) => {
      if (!events.has(`${latest.metadata.uid}/p${i}`)) missingEvents.push(`${latest.metadata.uid}/p${i}`);
    });
  return { store, missingEvents };
}

/** The code's answer must be the model's: 0 for a 200, a 503's Retry-After, or 15 for none (a throw). */
function checkAnswer(s: Slot, model: number, now: Date, waitMode: WaitMode): void {
  const result = s.result;
  if (result === null) throw new Error('the model answers, the code has not returned');
  let code: number;
  if ('error' in result) code = 15;
  else {
    const { reply } = replyTo(result.outcome.decision, { now, dryRun: false, waitMode });
    code = reply.status === 503 ? Number(reply.headers?.['retry-after']) : reply.status === 200 ? 0 : reply.status;
  }
  if (code !== model) throw new Error(`the model answers ${model}, the code ${code} (${JSON.stringify(result)})`);
}

/** The seeded bug, in the code: the status patch without its `test` of /status. */
function withoutStatusTest(store: ModelStore): Kube {
  return {
    patchStatus: (ns, name, patch) =>
      store.patchStatus(
        ns,
        name,
        patch.filter((op) => !(op.op === 'test' && op.path === '/status')),
      ),
    get: () => store.get(),
    list: (o) => store.list(o),
    deleteAction: (ns, name, v) => store.deleteAction(ns, name, v),
    recordEvent: (e) => store.recordEvent(e),
  };
}
