// A one-object model of the API server's concurrency control (JSON Patch `test` operations and
// resourceVersion preconditions, an update event per write) for property tests of the sync path.
// It is a model for exploring event orders, not a substitute for the real server: the
// integration suite runs the same code against kube-apiserver.
import fastJsonPatch from 'fast-json-patch';
import type { Action } from '../../functions/advance-phase/src/action.js';
import type { Kube, WriteResult } from '../../functions/advance-phase/src/kube.js';
import { UNFINISHED } from '../../functions/advance-phase/src/sweep.js';

export class ModelStore implements Kube {
  object: Action | null;
  private rv = 1;
  /** Every object version a write produced, as the watch would send it. */
  readonly emitted: Action[] = [];
  readonly violations: string[] = [];
  /** Events by key, each created once; `eventCalls` counts every attempt, 409s included. */
  readonly phaseEvents = new Map<string, number>();
  eventCalls = 0;

  constructor(
    initial: Action,
    private readonly clock: () => Date,
  ) {
    this.object = structuredClone({ ...initial, metadata: { ...initial.metadata, resourceVersion: '1' } });
  }

  private bump(next: Action): void {
    this.rv++;
    next.metadata.resourceVersion = String(this.rv);
    this.object = next;
    this.emitted.push(structuredClone(next));
  }

  /** A user edit of the spec: bumps generation, like the API server does. */
  editSpec(spec: Partial<Action['spec']>): void {
    if (!this.object) return;
    const next = structuredClone(this.object);
    next.spec = { ...next.spec, ...spec };
    next.metadata.generation = (next.metadata.generation ?? 1) + 1;
    this.bump(next);
  }

  /** A user's create after a delete: a new incarnation (its own uid), and its add event. */
  create(next: Action): void {
    this.bump(structuredClone(next));
  }

  /** A write nobody in the chain cares about (a label by a user or a GitOps tool). */
  label(key: string, value: string): void {
    if (!this.object) return;
    const next = structuredClone(this.object);
    next.metadata['labels'] = { ...(next.metadata['labels'] as object | undefined), [key]: value };
    this.bump(next);
  }

  // The model answers at once; the interface is the API server's, asynchronous.
  patchStatus(_ns: string, _name: string, patch: Parameters<Kube['patchStatus']>[2]): Promise<WriteResult> {
    return Promise.resolve(this.applyStatus(patch));
  }

  private applyStatus(patch: Parameters<Kube['patchStatus']>[2]): WriteResult {
    if (!this.object) return 'gone';
    let patched: Action;
    try {
      patched = fastJsonPatch.applyPatch(structuredClone(this.object), patch, true).newDocument;
    } catch {
      return 'conflict'; // a `test` failed or a path is missing: the API server's 422
    }
    // The status subresource writes status only.
    const next = { ...structuredClone(this.object), status: patched.status };
    this.check(this.object, next);
    this.bump(next);
    return 'ok';
  }

  get(): Promise<unknown> {
    return Promise.resolve(this.object ? structuredClone(this.object) : null);
  }

  /** The two selectors the function sends: unfinished (the sweep), or one due second (a tick). */
  list(opts: Parameters<Kube['list']>[0]): Promise<{ items: unknown[]; continue: undefined }> {
    const slot = /^status\.dueSlot=(.+)$/.exec(opts.fieldSelector)?.[1];
    if (slot === undefined && opts.fieldSelector !== UNFINISHED)
      throw new Error(`the model knows no selector ${opts.fieldSelector}`);
    const state = this.object?.status.state;
    const selected =
      slot === undefined ? state !== 'Succeeded' && state !== 'Failed' : this.object?.status.dueSlot === slot;
    return Promise.resolve({
      items: this.object && selected ? [structuredClone(this.object)] : [],
      continue: undefined,
    });
  }

  deleteAction(_ns: string, _name: string, version: { uid: string; resourceVersion: string }): Promise<WriteResult> {
    if (!this.object) return Promise.resolve('gone');
    const { uid, resourceVersion } = this.object.metadata;
    if (version.uid !== uid || version.resourceVersion !== resourceVersion) return Promise.resolve('conflict');
    this.object = null;
    return Promise.resolve('ok');
  }

  /** Like the API server, an Event whose name exists is not created again (its 409 is success). */
  recordEvent(event: Parameters<Kube['recordEvent']>[0]): Promise<void> {
    const key = event.key ?? `${Math.random()}`;
    this.eventCalls++;
    // A PhaseStarted Event (key p<position>) must be about a phase that has begun.
    const position = /^p(\d+)$/.exec(key)?.[1];
    if (position !== undefined && !this.object?.status.timestamps[Number(position)])
      this.violations.push(`Event ${key} recorded before its phase began`);
    if (!this.phaseEvents.has(key)) this.phaseEvents.set(key, 1);
    return Promise.resolve();
  }

  /** The safety properties, checked on every write against the object it replaces. */
  private check(before: Action, after: Action): void {
    const was = before.status.timestamps;
    const now = after.status.timestamps;
    const fail = (msg: string) => this.violations.push(`${msg}: ${JSON.stringify(was)} -> ${JSON.stringify(now)}`);
    if (now.length < was.length || now.length > was.length + 1) fail('timestamps must grow by at most one');
    was.forEach((entry, i) => {
      if (JSON.stringify(entry) !== JSON.stringify(now[i])) fail(`entry ${i} rewritten`);
    });
    if (now.length === was.length + 1) {
      const i = was.length;
      const [name, start] = Object.entries(now[i] ?? {})[0] ?? [];
      if (name !== after.spec.phases[i]) fail(`entry ${i} is ${name}, expected ${after.spec.phases[i]}`);
      if (start !== this.clock().toISOString()) fail(`entry ${i} is not stamped with the time it began`);
      const previous = was.at(-1);
      if (previous) {
        const gap = Date.parse(start ?? '') - Date.parse(Object.values(previous)[0] ?? '');
        if (gap < after.spec.delay * 1000) fail(`gap ${gap} ms is shorter than the delay ${after.spec.delay} s`);
      }
    }
  }
}
