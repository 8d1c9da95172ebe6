// A one-object model of the API server's optimistic concurrency (resourceVersion preconditions,
// merge patches on /status, an update event per write) for property tests of the sync path.
// It is a model for exploring event orders, not a substitute for the real server: the
// integration suite runs the same code against kube-apiserver.
import type { Action } from '../../functions/advance-phase/src/action.js';
import type { Kube, WriteResult } from '../../functions/advance-phase/src/kube.js';
import { merged } from './actions.js';

export class ModelStore implements Kube {
  object: Action | null;
  private rv = 1;
  /** Every object version a write produced, as the watch would send it. */
  readonly emitted: Action[] = [];
  readonly violations: string[] = [];
  readonly phaseEvents = new Map<string, number>();

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

  async patchStatus(_ns: string, _name: string, patch: Parameters<Kube['patchStatus']>[2]): Promise<WriteResult> {
    if (!this.object) return 'gone';
    if (patch.metadata.resourceVersion !== this.object.metadata.resourceVersion) return 'conflict';
    const next = structuredClone(this.object);
    next.status = merged(next.status, patch.status);
    this.check(this.object, next);
    this.bump(next);
    return 'ok';
  }

  async get(): Promise<unknown | null> {
    return this.object ? structuredClone(this.object) : null;
  }

  async list(): Promise<{ items: unknown[]; continue: undefined }> {
    const state = this.object?.status?.state;
    const unfinished = this.object && state !== 'Succeeded' && state !== 'Failed';
    return { items: unfinished ? [structuredClone(this.object)] : [], continue: undefined };
  }

  async deleteAction(_ns: string, _name: string, uid: string): Promise<WriteResult> {
    if (!this.object) return 'gone';
    if (this.object.metadata.uid !== uid) return 'conflict';
    this.object = null;
    return 'ok';
  }

  async recordEvent(event: Parameters<Kube['recordEvent']>[0]): Promise<void> {
    const key = event.key ?? `${Math.random()}`;
    this.phaseEvents.set(key, (this.phaseEvents.get(key) ?? 0) + 1);
  }

  /** The safety properties, checked on every write against the object it replaces. */
  private check(before: Action, after: Action): void {
    const was = before.status?.timestamps ?? [];
    const now = after.status?.timestamps ?? [];
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
