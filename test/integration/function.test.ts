// The function in real mode against a real kube-apiserver, authenticated as its own
// ServiceAccount (RBAC from config/knative). Events are posted exactly as ApiServerSource sends
// them; the function's clock is moved forward instead of sleeping; API calls are counted from
// the API server's audit log.
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Action } from '../../functions/advance-phase/src/action.js';
import { kubeFor } from '../../functions/advance-phase/src/kube.js';
import { Admin } from '../support/admin.js';
import { auditEventsSince, auditMark as auditMarkOf } from '../support/audit.js';
import { starts } from '../support/chain.js';
import { serveFunction, type FunctionUnderTest } from '../support/function.js';
import { example, post } from '../support/http.js';

const cluster = inject('cluster');
const admin = new Admin(cluster);
const FUNCTION_USER = 'system:serviceaccount:advance-phase:advance-phase';

let fn: FunctionUnderTest;
beforeAll(async () => {
  for (const ns of ['fn-a', 'fn-b']) await admin.namespace(ns);
  fn = await serveFunction(cluster);
});
afterAll(() => fn.close());

const send = (type: 'add' | 'update' | 'delete', object: unknown) => fn.send(type, object);
/** Moves the function's clock this many seconds ahead of the wall clock. */
const setSkew = (seconds: number) => void (fn.skew = seconds);
let names = 0;

async function create(ns: string, name: string, spec: Record<string, unknown>): Promise<Action> {
  const res = await admin.createAction(ns, name, spec);
  expect(res.status).toBe(201);
  return res.body as Action;
}
async function current(ns: string, name: string): Promise<Action> {
  return (await admin.getAction(ns, name)).body as Action;
}

/**
 * The function's requests since `mark` (a byte offset into the audit log), as
 * "verb resource[/sub] code", optionally only those in the given namespaces.
 */
function auditSince(mark: number, namespaces?: string[]): string[] {
  return auditEventsSince(cluster.auditLog as string, mark, [FUNCTION_USER])
    .filter((e) => e.stage === 'ResponseComplete')
    .filter((e) => !namespaces || namespaces.includes(e.objectRef?.namespace ?? ''))
    .map(
      (e) =>
        `${e.verb} ${e.objectRef?.resource}${e.objectRef?.subresource ? `/${e.objectRef.subresource}` : ''} ${e.responseStatus?.code}`,
    );
}
const auditMark = () => auditMarkOf(cluster.auditLog as string);

describe('one Action through its phases, event by event', () => {
  let snapshots: Action[] = [];

  it('add: begins the first phase with one status patch, no read, and comes back when the next is due', async () => {
    const created = await create('fn-a', 'walk', { phases: ['provision', 'configure', 'verify'], delay: 5 });
    const mark = auditMark();
    const res = await send('add', created);
    expect(res.status).toBe(503);
    expect(res.headers.get('x-advance-decision')).toBe('advance');
    expect(Number(res.headers.get('retry-after'))).toBe(5);
    const now = await current('fn-a', 'walk');
    expect(now.status).toMatchObject({ phase: 'provision', state: 'Running', progress: '1/3', observedGeneration: 1 });
    expect(now.status.timestamps).toHaveLength(1);
    expect(auditSince(mark)).toEqual(['patch actions/status 200', 'create events 201']);
    snapshots = [created, now];
  });

  it('not due: 503 with Retry-After and nothing written', async () => {
    const mark = auditMark();
    const res = await send('update', snapshots[1]);
    expect(res.status).toBe(503);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(4);
    expect(Number(res.headers.get('retry-after'))).toBeLessThanOrEqual(5);
    expect(auditSince(mark)).toEqual([]);
  });

  it('due: exactly one write, the next phase, spaced by the delay', async () => {
    setSkew(5);
    const mark = auditMark();
    const res = await send('update', snapshots[1]);
    expect(res.status).toBe(503);
    expect(res.headers.get('x-advance-phase')).toBe('configure');
    const now = await current('fn-a', 'walk');
    const [first, second] = starts(now);
    expect((second as number) - (first as number)).toBeGreaterThanOrEqual(5000);
    // Its Event, and the phase before's: a sweep that began that one and died before its Event
    // is not retried, so whoever begins the next makes sure of it (409).
    expect(auditSince(mark)).toEqual(['patch actions/status 200', 'create events 201', 'create events 409']);
    snapshots.push(now);
  });

  it('a snapshot one phase behind, not yet late: its failed test (422) is read back', async () => {
    const mark = auditMark();
    const res = await send('update', snapshots[1]); // the backup of phase 3, due in 5 s
    expect(res.status).toBe(503);
    expect(res.headers.get('x-advance-decision')).toBe('wait');
    expect((await current('fn-a', 'walk')).status.timestamps).toHaveLength(2);
    // It may have begun phase 2 itself (a crash, a lost answer): it makes sure of that Event (409).
    expect(auditSince(mark)).toEqual(['patch actions/status 422', 'get actions 200', 'create events 409']);
  });

  it('a stale snapshot: read, found two phases behind, that chain ends, no phase twice', async () => {
    setSkew(100);
    const mark = auditMark();
    const res = await send('add', snapshots[0]); // position 0; the object is at 2 now
    expect(res.status).toBe(200);
    expect(res.headers.get('x-advance-reason')).toBe('stale');
    expect((await current('fn-a', 'walk')).status.timestamps).toHaveLength(2);
    // Long past its due time it reads instead of a patch sure to fail, and makes sure of the
    // latest phase's Event, which it may have begun (it exists: 409).
    expect(auditSince(mark)).toEqual(['get actions 200', 'create events 409']);
  });

  it('duplicate deliveries at once: one of them begins the phase', async () => {
    const answers = await Promise.all([1, 2, 3].map(() => send('update', snapshots[2])));
    expect(answers.map((a) => a.headers.get('x-advance-decision')).sort()).toEqual(['advance', 'done', 'done']);
    const now = await current('fn-a', 'walk');
    expect(now.status.timestamps.map((t) => Object.keys(t)[0])).toEqual(['provision', 'configure', 'verify']);
    expect(now.status).toMatchObject({ state: 'Succeeded', progress: '3/3' });
    expect(now.status.conditions?.[0]).toMatchObject({ type: 'Succeeded', status: 'True', reason: 'Completed' });
    snapshots.push(now);
  });

  it("finished: read once to make sure of the last phase's Event, nothing written", async () => {
    const mark = auditMark();
    const res = await send('update', snapshots[3]);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-advance-reason')).toBe('finished');
    expect(auditSince(mark)).toEqual(['get actions 200', 'create events 409']);
  });

  it('recorded a PhaseStarted Event for each phase, once', async () => {
    const uid = snapshots[0]?.metadata.uid;
    const res = await admin.request<{ items: { reason: string; note: string; regarding: { uid: string } }[] }>(
      'GET',
      '/apis/events.k8s.io/v1/namespaces/fn-a/events',
    );
    const mine = res.body.items.filter((e) => e.regarding.uid === uid);
    expect(mine.map((e) => e.note).sort()).toEqual([
      'phase 1 provision started',
      'phase 2 configure started',
      'phase 3 verify started',
    ]);
    setSkew(0);
  });
});

describe('spec edits', () => {
  it('a delay edit refreshes status once, then the new delay decides the wait', async () => {
    const created = await create('fn-a', 'edit', { phases: ['a', 'b'], delay: 60 });
    await send('add', created);
    const edited = await admin.patchAction('fn-a', 'edit', { spec: { delay: 2 } });
    expect(edited.status).toBe(200);
    const res = await send('update', edited.body);
    expect(res.headers.get('x-advance-decision')).toBe('refresh');
    const refreshed = await current('fn-a', 'edit');
    expect(refreshed.status.observedGeneration).toBe(2);
    const [start] = starts(refreshed);
    expect(refreshed.status.nextPhaseAt).toBe(new Date((start as number) + 2000).toISOString());
    const wait = await send('update', refreshed);
    expect(wait.status).toBe(503);
    expect(Number(wait.headers.get('retry-after'))).toBeLessThanOrEqual(2);
  });
});

describe('TTL after finishing', () => {
  it('deletes a finished Action once its TTL has passed, not before', async () => {
    const created = await create('fn-a', 'ttl', { phases: ['only'], ttlSecondsAfterFinished: 3 });
    await send('add', created);
    const finished = await current('fn-a', 'ttl');
    expect(finished.status.state).toBe('Expiring');
    const early = await send('update', finished);
    expect(early.status).toBe(503);
    expect(early.headers.get('x-advance-reason')).toBe('ttl');
    setSkew(3);
    const mark = auditMark();
    const late = await send('update', finished);
    setSkew(0);
    expect(late.headers.get('x-advance-decision')).toBe('delete');
    expect((await admin.getAction('fn-a', 'ttl')).status).toBe(404);
    // A delete cannot test the spec, so it deletes only the version the function read itself.
    expect(auditSince(mark, ['fn-a'])).toEqual(['get actions 200', 'delete actions 200']);
  });

  it('never deletes a re-created Action with the same name', async () => {
    const first = await create('fn-a', 'reborn', { phases: ['only'], ttlSecondsAfterFinished: 0 });
    await send('add', first);
    const finished = await current('fn-a', 'reborn');
    await admin.deleteAction('fn-a', 'reborn');
    const second = await create('fn-a', 'reborn', { phases: ['only'] });
    const res = await send('update', finished);
    expect(res.status).toBe(200);
    expect((await current('fn-a', 'reborn')).metadata.uid).toBe(second.metadata.uid);
  });
});

describe('the sweep', () => {
  it('advances overdue Actions in every namespace and lists only unfinished ones', async () => {
    // Never seen by an event (older than the source), and one already finished.
    const namespaces = ['sweep-a', 'sweep-b'];
    for (const ns of namespaces) await admin.namespace(ns);
    for (const ns of namespaces)
      for (const n of [1, 2, 3]) await create(ns, `swept-${n}`, { phases: ['a', 'b'], delay: 1 });
    await send('add', await create('sweep-b', 'done-already', { phases: ['a'] }));
    const mark = auditMark();
    const res = await post(fn.server.url, { ...example('ping'), id: 'ping-1' }, 'binary');
    expect(res.status).toBe(200);
    expect(res.text).toBe('');
    for (const ns of namespaces) {
      for (const n of [1, 2, 3]) expect((await current(ns, `swept-${n}`)).status.phase).toBe('a');
    }
    // One write per overdue Action, no read, and nothing at all for the finished one.
    const onActions = auditSince(mark, namespaces).filter((c) => c.includes(' actions'));
    expect(onActions).toEqual(Array(6).fill('patch actions/status 200'));
    const lists = auditEventsSince(cluster.auditLog as string, mark, [FUNCTION_USER]).filter(
      (e) => e.verb === 'list' && e.stage === 'ResponseComplete',
    );
    expect(lists.length).toBeGreaterThan(0);
    for (const e of lists) expect(e.requestURI).toContain('fieldSelector=status.state');

    setSkew(1);
    await post(fn.server.url, { ...example('ping'), id: 'ping-2' }, 'binary');
    setSkew(0);
    for (const ns of namespaces) {
      for (const n of [1, 2, 3])
        expect((await current(ns, `swept-${n}`)).status).toMatchObject({ phase: 'b', state: 'Succeeded' });
    }
  });
});

describe('WAIT_MODE=tick: ticks carry the wait', () => {
  const ns = 'tick-a';
  let ticked: FunctionUnderTest;
  beforeAll(async () => {
    await admin.namespace(ns);
    ticked = await serveFunction(cluster, { waitMode: 'tick', namespace: ns });
  });
  afterAll(() => ticked.close());
  let ticks = 0;
  const tick = () => post(ticked.server.url, { ...example('tick'), id: `tick-${++ticks}` }, 'binary');
  const header = (res: { headers: Headers }, name: string) => res.headers.get(`x-advance-${name}`);

  it('a not-due event gets 200 and no Retry-After; each tick lists only the seconds since the last and begins what is due', async () => {
    for (const n of [1, 2, 3])
      expect((await ticked.send('add', await create(ns, `due-${n}`, { phases: ['a', 'b'], delay: 2 }))).status).toBe(
        200,
      );
    await ticked.send('add', await create(ns, 'later', { phases: ['a', 'b'], delay: 3600 }));
    const notDue = await ticked.send('update', await current(ns, 'due-1'));
    expect([notDue.status, notDue.headers.get('retry-after'), header(notDue, 'decision')]).toEqual([200, null, 'wait']);
    expect((await current(ns, 'due-1')).status.dueSlot).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    // Its first tick cannot know what it missed: it sweeps the unfinished Actions, none due yet.
    const first = await tick();
    expect([first.status, first.text, header(first, 'scope'), header(first, 'swept')]).toEqual([200, '', 'full', '4']);

    ticked.skew = 2.5;
    const mark = auditMark();
    const second = await tick();
    expect([header(second, 'scope'), header(second, 'swept')]).toEqual(['slots', '3']);
    for (const n of [1, 2, 3])
      expect((await current(ns, `due-${n}`)).status).toMatchObject({ phase: 'b', state: 'Succeeded' });
    expect((await current(ns, 'later')).status.phase).toBe('a');
    // The cost: a list per second since the first tick (three or four; pages of two here), the
    // three due ones listed, one patch each, and no read.
    const calls = auditEventsSince(cluster.auditLog as string, mark, [FUNCTION_USER]).filter(
      (e) => e.stage === 'ResponseComplete',
    );
    const selectors = calls
      .filter((e) => e.verb === 'list')
      .map((e) => new URL(e.requestURI, 'https://x').searchParams.get('fieldSelector') ?? '');
    expect(new Set(selectors).size).toBeGreaterThanOrEqual(3);
    expect(new Set(selectors).size).toBeLessThanOrEqual(4);
    for (const selector of selectors) expect(selector).toMatch(/^status\.dueSlot=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(auditSince(mark, [ns]).filter((c) => !c.startsWith('list ') && c.includes(' actions'))).toEqual(
      Array(3).fill('patch actions/status 200'),
    );

    // Nothing due: the seconds are listed and nothing comes back.
    const idle = await tick();
    expect([header(idle, 'scope'), header(idle, 'swept')]).toEqual(['slots', '0']);
    ticked.skew = 0;
  });
});

describe('events that end nothing', () => {
  it('an event for an Action that is gone: 200, nothing written', async () => {
    const created = await create('fn-b', 'gone', { phases: ['a'] });
    await admin.deleteAction('fn-b', 'gone');
    const mark = auditMark();
    const res = await send('add', created);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-advance-reason')).toBe('gone');
    expect(auditSince(mark)).toEqual(['patch actions/status 404']);
  });
});

describe('writes carry their own proof', () => {
  it('an unrelated write (a label) does not make the next advance conflict', async () => {
    // A delay of 5 s: an event late by its delay (at least a second) reads first (hadItsTurn), and
    // a slow machine can take a second between the add and the update, not five.
    const created = await create('fn-b', 'labelled', { phases: ['a', 'b'], delay: 5 });
    await send('add', created);
    const running = await current('fn-b', 'labelled');
    expect((await admin.patchAction('fn-b', 'labelled', { metadata: { labels: { team: 'x' } } })).status).toBe(200);
    setSkew(5);
    const mark = auditMark();
    const res = await send('update', running); // the snapshot from before the label
    setSkew(0);
    expect(res.headers.get('x-advance-phase')).toBe('b');
    expect(auditSince(mark)).toEqual(['patch actions/status 200', 'create events 201', 'create events 409']);
  });

  it('phase names Go escapes in JSON (<, >, &, U+2028) still prove themselves', async () => {
    const phases = ['a<b', 'c&d>', 'line\u2028break'];
    const created = await create('fn-b', 'escaped', { phases, delay: 0 });
    let object = created;
    for (const phase of phases) {
      const mark = auditMark();
      const res = await send('update', object);
      expect(res.status).toBe(phase === phases.at(-1) ? 200 : 503); // 503: it comes back as the next one's backup
      expect(decodeURIComponent(res.headers.get('x-advance-phase') ?? '')).toBe(phase);
      const before = phase === phases[0] ? [] : ['create events 409']; // the phase before's Event, made sure of
      // An event a second or more past its phase's due time has had its turn and reads first
      // (reconcile's hadItsTurn); on a slow machine, or with the first phase counted from the
      // whole-second creationTimestamp, this one may be. The patch must prove itself either way.
      const calls = auditSince(mark);
      const written = calls[0] === 'get actions 200' ? calls.slice(1) : calls;
      expect(written).toEqual(['patch actions/status 200', 'create events 201', ...before]);
      object = await current('fn-b', 'escaped');
    }
    expect(object.status.timestamps.map((t) => Object.keys(t)[0])).toEqual(phases);
  });

  it('a failed test is a conflict; a status the schema refuses is an error, not a retry', async () => {
    await create('fn-b', 'verdicts', { phases: ['a'] });
    const kc = new KubeConfig();
    kc.loadFromFile(fn.kubeconfig);
    const kube = kubeFor(kc);
    const wrongUid = [{ op: 'test' as const, path: '/metadata/uid', value: 'nope' }];
    expect(await kube.patchStatus('fn-b', 'verdicts', wrongUid)).toBe('conflict');
    const invalid = [{ op: 'add' as const, path: '/status/state', value: 'Bogus' }];
    await expect(kube.patchStatus('fn-b', 'verdicts', invalid)).rejects.toMatchObject({ apiStatus: 422 });
  });
});

describe('forged events change nothing (a sender with the right resourceVersion)', () => {
  // After the first phase of a 60 s wait, a reader of Actions takes the current object, edits
  // it and posts it as an update event. Whatever the answer, nothing may be written.
  const forgeries: { name: string; forge: (a: Action) => void }[] = [
    { name: 'a rewritten history', forge: (a) => void (a.status.timestamps = [{ one: '2020-01-01T00:00:00Z' }]) },
    { name: 'a removed history', forge: (a) => void (a.status.timestamps = []) },
    {
      name: 'no status at all',
      forge: (a) => {
        delete (a as Partial<Action>).status;
      },
    },
    { name: 'a wrong delay', forge: (a) => void (a.spec.delay = 0) },
    { name: 'a shortened phase list', forge: (a) => void (a.spec.phases = ['one']) },
    { name: 'another uid', forge: (a) => void (a.metadata.uid = '00000000-0000-0000-0000-000000000000') },
    { name: 'another generation', forge: (a) => void (a.metadata.generation = 7) },
  ];
  const writes = (calls: string[]) => calls.filter((c) => /^(patch|delete) actions\S* 2/.test(c));

  it.each(forgeries)('$name', async ({ forge }) => {
    const name = `forged-${++names}`;
    await send('add', await create('fn-b', name, { phases: ['one', 'two', 'three'], delay: 60 }));
    const before = await current('fn-b', name);
    const forged = structuredClone(before);
    forge(forged);
    const mark = auditMark();
    const res = await send('update', forged);
    expect([200, 503]).toContain(res.status);
    expect(writes(auditSince(mark))).toEqual([]);
    expect(await current('fn-b', name)).toEqual(before);
  });

  it('the reported attack: the genuine wait goes on', async () => {
    await send('add', await create('fn-b', 'reported', { phases: ['one', 'two'], delay: 60 }));
    const before = await current('fn-b', 'reported');
    const forged = structuredClone(before);
    forged.status.timestamps = [{ one: '2020-01-01T00:00:00Z' }];
    const res = await send('update', forged);
    expect(res.status).toBe(503);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(55);
    expect(await current('fn-b', 'reported')).toEqual(before);
  });

  it('a finished Action with a TTL of 0 is not deleted', async () => {
    await send('add', await create('fn-b', 'kept', { phases: ['only'] }));
    const finished = await current('fn-b', 'kept');
    const forged = structuredClone(finished);
    forged.spec.ttlSecondsAfterFinished = 0;
    const mark = auditMark();
    const res = await send('update', forged);
    expect(res.headers.get('x-advance-reason')).toBe('finished');
    expect(await current('fn-b', 'kept')).toEqual(finished);
    // The read before any delete, which also makes sure of the last phase's Event (409).
    expect(auditSince(mark)).toEqual(['get actions 200', 'create events 409']);
  });
});
