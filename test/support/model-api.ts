// The API server the fault tests run against: the one-object ModelStore, plus what those tests
// need around it. Incarnations (a user deletes the Action and creates it again: a new uid), Events
// kept by name as kube.ts names them (a second create of a name is a 409, which the function
// takes as success), and every call through a Wire: the tests schedule each request and each
// answer, lose answers, and kill the calling process there.
import type { Action } from '../../functions/advance-phase/src/action.js';
import type { ActionEvent, Kube } from '../../functions/advance-phase/src/kube.js';
import { ModelStore } from './model-store.js';

export type Verb = 'patch' | 'get' | 'list' | 'delete' | 'event';

/** What happens around one call. A hook that throws: the process died there, or the answer was lost. */
export interface Wire {
  /** Before the request reaches the server. */
  request(verb: Verb): Promise<void> | void;
  /** After the server applied call number `index` (counted over the whole run), before the caller hears. */
  answer(verb: Verb, index: number): Promise<void> | void;
}

/**
 * A bug seeded into the function's calls, to show that a property can fail. `no-spec-test`: a
 * status patch no longer proves the spec it decided on (nor the generation, whose test alone
 * would catch a spec edit); `no-uid-test`: nor the uid; `unkeyed-events`: Events lose their
 * deterministic key; `no-event-after-read`: a caller that has read the object records no Event
 * (neither the one it ensures nor its own after a conflict).
 */
export type SeededBug = 'no-spec-test' | 'no-uid-test' | 'unkeyed-events' | 'no-event-after-read';

/** The `test` operations each seeded bug leaves out of a status patch. */
const UNPROVEN: Record<SeededBug, string[]> = {
  'no-spec-test': ['/spec', '/metadata/generation'],
  'no-uid-test': ['/metadata/uid'],
  'unkeyed-events': [],
  'no-event-after-read': [],
};

/** The ModelStore's own stamp check wants the write's time; under `stamps: 'decided'` a request in flight may be older. */
const STAMP_CHECK = 'is not stamped with the time it began';

export class ModelApi {
  readonly store: ModelStore;
  /** Events by name, each created once. */
  readonly events = new Map<string, ActionEvent>();
  /** Every call the server received, in order. */
  readonly calls: Verb[] = [];
  private readonly own: string[] = [];
  /** Phases begun per uid, as far as each incarnation got. */
  private readonly begun = new Map<string, number>();
  private incarnation = 1;

  constructor(
    private readonly initial: Action,
    private readonly clock: () => Date,
    private readonly opts: { stamps?: 'applied' | 'decided'; bug?: SeededBug } = {},
  ) {
    this.store = new ModelStore(initial, clock);
  }

  get uid(): string | undefined {
    return this.store.object?.metadata.uid;
  }

  /** The safety violations found so far, the store's and this model's. */
  violations(): string[] {
    const store = this.store.violations.filter((v) => this.opts.stamps !== 'decided' || !v.includes(STAMP_CHECK));
    return [...store, ...this.own];
  }

  /** A user deletes the Action (no finalizers: gone at once; the function ignores delete events). */
  remove(): void {
    this.store.object = null;
  }

  /** A user creates it again: a new uid, no status yet, and its add event among the emitted versions. */
  create(): void {
    this.incarnation++;
    const uid = `${String(this.incarnation).padStart(8, '0')}-incarnation`;
    const fresh = structuredClone(this.initial);
    // The API server stamps creation in whole seconds.
    const creationTimestamp = this.clock()
      .toISOString()
      .replace(/\.\d{3}Z$/, 'Z');
    fresh.metadata = { ...fresh.metadata, uid, resourceVersion: `created-${this.incarnation}`, creationTimestamp };
    this.store.object = fresh;
    this.store.emitted.push(structuredClone(fresh));
  }

  /** Each (uid, position) with more than one PhaseStarted Event. */
  duplicateEvents(): string[] {
    const counts = new Map<string, number>();
    for (const event of this.events.values()) {
      const position = positionOf(event);
      const key = `${event.regarding.metadata.uid} p${position}`;
      if (position !== undefined) counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    return [...counts].filter(([, n]) => n > 1).map(([key, n]) => `${key}: ${n}`);
  }

  /** PhaseStarted Events about `uid`, counted by position. */
  phaseEvents(uid: string): Map<number, number> {
    const counts = new Map<number, number>();
    for (const event of this.events.values()) {
      const position = positionOf(event);
      if (event.regarding.metadata.uid === uid && position !== undefined)
        counts.set(position, (counts.get(position) ?? 0) + 1);
    }
    return counts;
  }

  /**
   * A Kube for one caller (a delivery, a sweep, a tick), through `wire`. `seen`: the incarnation
   * the caller was handed (its event's uid; a list's answer for a sweep): it must write to no other.
   */
  kube(wire: Wire, seen?: string): Kube {
    let known = seen;
    const call = async <T>(verb: Verb, apply: () => Promise<T>): Promise<T> => {
      await wire.request(verb);
      const result = await apply();
      const index = this.calls.push(verb) - 1;
      await wire.answer(verb, index);
      return result;
    };
    const wrote = (what: string, uid: string | undefined) => {
      if (uid !== known) this.own.push(`${what} written to ${uid ?? 'nothing'}, the caller was handed ${known}`);
    };
    const store = this.store;
    const bug = this.opts.bug;
    let read = false;
    return {
      patchStatus: (ns, name, patch) =>
        call('patch', async () => {
          const uid = this.uid;
          const dropped = bug ? UNPROVEN[bug] : [];
          const sent = patch.filter((op) => op.op !== 'test' || !dropped.includes(op.path));
          const result = await store.patchStatus(ns, name, sent);
          if (result === 'ok' && uid !== undefined) {
            wrote('status', uid);
            this.begun.set(uid, this.store.object?.status.timestamps.length ?? 0);
            this.checkStamp();
          }
          return result;
        }),
      get: () => {
        read = true;
        return call('get', () => store.get());
      },
      list: (opts) =>
        call('list', async () => {
          const page = await store.list(opts);
          const first = page.items[0] as Action | undefined;
          if (first) known = first.metadata.uid;
          return page;
        }),
      deleteAction: (ns, name, version) =>
        call('delete', async () => {
          const uid = this.uid;
          const result = await store.deleteAction(ns, name, version);
          if (result === 'ok') wrote('delete', uid);
          return result;
        }),
      recordEvent: (event) =>
        call('event', () => {
          const { key: _key, ...unkeyed } = event;
          if (bug !== 'no-event-after-read' || !read) this.createEvent(bug === 'unkeyed-events' ? unkeyed : event);
          return Promise.resolve();
        }),
    };
  }

  private createEvent(event: ActionEvent): void {
    const { name, uid } = event.regarding.metadata;
    const position = positionOf(event);
    if (position !== undefined && (this.begun.get(uid) ?? 0) <= position)
      this.own.push(`PhaseStarted ${position} of ${uid} recorded before that phase began`);
    const eventName = `${name}.${uid.slice(0, 8)}.${event.key ?? `${this.events.size}-unkeyed`}`;
    if (!this.events.has(eventName)) this.events.set(eventName, structuredClone(event));
  }

  /** With `stamps: 'decided'`: a phase's start is never after the write that records it. */
  private checkStamp(): void {
    const last = this.store.object?.status.timestamps.at(-1);
    const start = last ? Date.parse(Object.values(last)[0] ?? '') : Number.NaN;
    if (this.opts.stamps === 'decided' && start > this.clock().getTime())
      this.own.push(`a phase stamped ${new Date(start).toISOString()}, in the future`);
  }
}

/** The phase a PhaseStarted Event is about (its note says "phase <n> <name> started"), from 0. */
function positionOf(event: ActionEvent): number | undefined {
  const n = /^phase (\d+) /.exec(event.note)?.[1];
  return event.reason === 'PhaseStarted' && n !== undefined ? Number(n) - 1 : undefined;
}
