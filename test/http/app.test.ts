import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAction, type Action } from '../../functions/advance-phase/src/action.js';
import { createApp } from '../../functions/advance-phase/src/app.js';
import { desiredStatus } from '../../functions/advance-phase/src/status.js';
import { KubeError } from '../../functions/advance-phase/src/api-client.js';
import type { Kube } from '../../functions/advance-phase/src/kube.js';
import { createLogger } from '../../functions/advance-phase/src/log.js';
import { Metrics } from '../../functions/advance-phase/src/metrics.js';
import { DRY_RUN_ANSWER_TYPE, type WaitMode } from '../../functions/advance-phase/src/reply.js';
import { example, post, serve, type CloudEventJson, type Mode, type Served } from '../support/http.js';
import { ModelStore } from '../support/model-store.js';

// Two seconds after the examples' second phase became due (2026-11-22T10:00:05Z).
const NOW = new Date('2026-11-22T10:00:07.000Z');
const now = () => NOW;
const log = createLogger('silent');

function appWith(
  kube: Kube | null,
  metrics = new Metrics({ processMetrics: false }),
  waitMode: WaitMode = 'retry-after',
) {
  return createApp({
    kube,
    auth: null,
    log,
    metrics,
    maxBodyBytes: 64 * 1024,
    sweep: { pageSize: 10, concurrency: 2 },
    waitMode,
    now,
  });
}

function storeFor(event: CloudEventJson): ModelStore {
  const parsed = parseAction(event.data);
  if (parsed.kind !== 'valid') throw new Error('example is not a valid Action');
  const store = new ModelStore(parsed.action, now);
  // The example's own resourceVersion, so the event's snapshot is current.
  (store.object as Action).metadata.resourceVersion = parsed.action.metadata.resourceVersion;
  return store;
}

function expectNoReplyEvent(headers: Headers) {
  expect([...headers.keys()].filter((h) => h.startsWith('ce-'))).toEqual([]);
  expect(headers.get('content-type') ?? '').not.toContain('cloudevents');
}

/** A dry run's 2xx answer is a CloudEvent in binary mode, so that kn func invoke prints it; no other answer is one. */
function expectDryRunAnswer(headers: Headers, status: number) {
  if (status !== 200) {
    expectNoReplyEvent(headers);
    return;
  }
  expect(headers.get('ce-type')).toBe(DRY_RUN_ANSWER_TYPE);
  expect(headers.get('ce-specversion')).toBe('1.0');
  expect(headers.get('ce-id')).toMatch(/\.answer$/u);
  expect(headers.get('ce-source')).toBe('/advance-phase/dry-run');
  expect(headers.get('content-type')).toContain('application/json');
}

describe.each<Mode>(['binary', 'structured'])('%s mode', (mode) => {
  describe('dry-run: the answer shows the decision and the patch', () => {
    let server: Served;
    beforeAll(async () => void (server = await serve(appWith(null))));
    afterAll(() => server.close());

    it('add: begins the first phase', async () => {
      const res = await post(server.url, example('add'), mode);
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({
        dryRun: true,
        decision: { kind: 'advance', phase: 'provision', position: 0 },
        patch: expect.arrayContaining([
          { op: 'test', path: '/metadata/uid', value: '6f1c2a3e-0d4b-4c5e-9f61-2b7d8e9a0c11' },
          { op: 'test', path: '/status', value: { timestamps: [], observedGeneration: 0 } },
          { op: 'add', path: '/status/timestamps/-', value: { provision: NOW.toISOString() } },
          { op: 'add', path: '/status/phase', value: 'provision' },
        ]),
      });
      expectDryRunAnswer(res.headers, 200);
    });

    it('update, due: begins the next phase', async () => {
      const res = await post(server.url, example('update-due'), mode);
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({ decision: { kind: 'advance', phase: 'configure', position: 1 } });
    });

    it('update, not due: 503 with Retry-After in whole seconds', async () => {
      const event = example('update-due');
      const data = event.data as Action;
      // Began 2.5 s ago with a 5 s delay: 2.5 s left, rounded up.
      data.status = desiredStatus(data, [{ provision: new Date(NOW.getTime() - 2500).toISOString() }], NOW);
      const res = await post(server.url, event, mode);
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('3');
      expect(res.json).toMatchObject({ decision: { kind: 'wait', reason: 'not-due' } });
    });

    it.each([
      ['finished', 200, { decision: { kind: 'done', reason: 'finished' } }],
      ['delete', 200, { decision: { kind: 'done', reason: 'gone' } }],
      ['ping', 200, { dryRun: true, sweep: expect.stringContaining('skipped') }],
      ['tick', 200, { dryRun: true, tick: expect.stringContaining('skipped') }],
      ['dead-letter', 200, { deadLetter: { code: '503' } }],
      [
        'invalid-spec',
        400,
        { error: 'invalid Action spec', reason: expect.stringMatching(/spec\.phases.*spec\.delay/) },
      ],
      ['not-an-action', 400, { reason: expect.stringContaining('data is not an Action') }],
      [
        'unsupported-type',
        400,
        {
          reason: expect.stringContaining('unsupported event type'),
          supported: expect.arrayContaining(['dev.knative.apiserver.resource.update']),
          // kn func invoke's default event lands here: the answer says what to send instead.
          hint: expect.stringMatching(
            /examples\/events\/.*kn func invoke .*--type dev\.knative\.apiserver\.resource\.update/,
          ),
        },
      ],
    ] as const)('%s: %i', async (name, status, body) => {
      const res = await post(server.url, example(name), mode);
      expect(res.status).toBe(status);
      expect(res.json).toMatchObject(body);
      expectDryRunAnswer(res.headers, status);
    });
  });

  describe('real mode: every 2xx has an empty body', () => {
    /** Serves an app over `kube` for one event. */
    async function sendTo(
      kube: Kube,
      event: CloudEventJson,
      metrics = new Metrics({ processMetrics: false }),
      waitMode: WaitMode = 'retry-after',
    ) {
      const server = await serve(appWith(kube, metrics, waitMode));
      try {
        return await post(server.url, event, mode);
      } finally {
        await server.close();
      }
    }

    /** The answer names the phase begun, and the store shows exactly that one write. */
    function expectOneAdvanceTo(phase: string, res: Awaited<ReturnType<typeof sendTo>>, store: ModelStore): void {
      expect(res.headers.get('x-advance-decision')).toBe('advance');
      expect(res.headers.get('x-advance-phase')).toBe(phase);
      expectNoReplyEvent(res.headers);
      expect(store.emitted).toHaveLength(1);
      expect(store.object?.status.timestamps.at(-1)).toEqual({ [phase]: NOW.toISOString() });
    }

    it('advances with one write and comes back when the next phase is due: 503, Retry-After', async () => {
      const event = example('update-due');
      const store = storeFor(event);
      const res = await sendTo(store, event);
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('5');
      expectOneAdvanceTo('configure', res, store);
    });

    it('advances to the last phase with one write and answers 200 with nothing in the body', async () => {
      const event = example('update-due');
      const data = event.data as Action;
      data.spec.phases = data.spec.phases.slice(0, 2);
      const store = storeFor(event);
      const res = await sendTo(store, event);
      expect(res.status).toBe(200);
      expect(res.text).toBe('');
      expect(res.headers.get('content-length')).toBe('0');
      expectOneAdvanceTo('configure', res, store);
    });

    it('writes nothing when not due', async () => {
      const event = example('update-not-due');
      const store = storeFor(event);
      const res = await sendTo(store, event);
      expect(res.status).toBe(503);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(1_000_000);
      expect(store.emitted).toHaveLength(0);
    });

    it.each(['finished', 'delete', 'dead-letter', 'ping'])('%s: 200, empty', async (name) => {
      const metrics = new Metrics({ processMetrics: false });
      const res = await sendTo(storeFor(example('update-due')), example(name), metrics);
      expect(res.status).toBe(200);
      expect(res.text).toBe('');
      expectNoReplyEvent(res.headers);
      if (name === 'dead-letter')
        expect((await metrics.deadLetters.get()).values).toEqual([
          expect.objectContaining({ labels: { code: '503' }, value: 1 }),
        ]);
    });

    it('the sweep advances an overdue Action', async () => {
      const store = storeFor(example('update-due'));
      const res = await sendTo(store, example('ping'));
      expect(res.status).toBe(200);
      expect(res.headers.get('x-advance-swept')).toBe('1');
      expect(store.object?.status.phase).toBe('configure');
    });

    it('phase names and reasons outside ASCII travel percent-encoded in headers', async () => {
      const event = example('update-due');
      const data = event.data as Action;
      data.spec.phases = ['準備', '設定'];
      data.status = desiredStatus(data, [{ 準備: new Date(NOW.getTime() - 5000).toISOString() }], NOW);
      const res = await sendTo(storeFor(event), event);
      expect(res.status).toBe(200);
      expect(res.headers.get('x-advance-phase')).toBe(encodeURIComponent('設定'));
      const invalid = example('invalid-spec');
      (invalid.data as { spec: Record<string, unknown> }).spec['速度'] = 1;
      const dryRun = await serve(appWith(null));
      const refused = await post(dryRun.url, invalid, mode).finally(() => dryRun.close());
      expect(refused.status).toBe(400);
      expect(decodeURIComponent(refused.headers.get('x-advance-reason') ?? '')).toContain('速度');
    });

    it('pings that arrive while a sweep runs share it: one list, not one per ping', async () => {
      const store = storeFor(example('update-due'));
      const list = store.list.bind(store);
      let lists = 0;
      store.list = async (opts) => {
        lists++;
        await new Promise((r) => setTimeout(r, 50));
        return list(opts);
      };
      const server = await serve(appWith(store));
      try {
        const answers = await Promise.all([1, 2, 3].map(() => post(server.url, example('ping'), mode)));
        expect(answers.map((a) => a.headers.get('x-advance-decision')).sort()).toEqual([
          'sweep',
          'sweep-shared',
          'sweep-shared',
        ]);
        expect(lists).toBe(1);
        await post(server.url, example('ping'), mode);
        expect(lists).toBe(2); // a later ping sweeps anew
      } finally {
        await server.close();
      }
    });

    describe("WAIT_MODE=tick: the wait is a tick's, so no answer asks for a retry", () => {
      const sendTicked = (kube: Kube, event: CloudEventJson) => sendTo(kube, event, undefined, 'tick');

      it('not due: 200, empty, no Retry-After, the due time in a header, nothing written', async () => {
        const event = example('update-not-due');
        const store = storeFor(event);
        const res = await sendTicked(store, event);
        expect(res.status).toBe(200);
        expect(res.text).toBe('');
        expect(res.headers.get('retry-after')).toBeNull();
        expect(res.headers.get('x-advance-decision')).toBe('wait');
        expect(res.headers.get('x-advance-until')).toBe('2099-01-01T00:00:05.000Z');
        expect(store.emitted).toHaveLength(0);
      });

      it('due: advances as in retry-after mode', async () => {
        const event = example('update-due');
        const store = storeFor(event);
        const res = await sendTicked(store, event);
        expect(res.headers.get('x-advance-decision')).toBe('advance');
        expect(store.object?.status).toMatchObject({ phase: 'configure', dueSlot: '2026-11-22T10:00:12Z' });
      });

      it('a tick begins what is due: its first tick sweeps, the next lists the seconds since', async () => {
        const store = storeFor(example('update-due'));
        const selectors: string[] = [];
        const list = store.list.bind(store);
        store.list = (opts) => (selectors.push(opts.fieldSelector), list(opts));
        const server = await serve(appWith(store, new Metrics({ processMetrics: false }), 'tick'));
        try {
          const first = await post(server.url, example('tick'), mode);
          expect(first.status).toBe(200);
          expect(first.text).toBe('');
          expect(
            Object.fromEntries(
              ['x-advance-decision', 'x-advance-scope', 'x-advance-swept'].map((h) => [h, first.headers.get(h)]),
            ),
          ).toEqual({
            'x-advance-decision': 'tick',
            'x-advance-scope': 'full',
            'x-advance-swept': '1',
          });
          expect(store.object?.status.phase).toBe('configure');
          const second = await post(server.url, example('tick'), mode);
          expect(second.headers.get('x-advance-scope')).toBe('slots');
          expect(selectors.slice(1)).toEqual(['status.dueSlot=2026-11-22T10:00:07Z']); // the test's clock stands still
        } finally {
          await server.close();
        }
      });
    });

    // A 403 too: right after an API server restart its RBAC cache is not yet filled, and it refuses
    // for a moment; passed on, the refusal would dead-letter the event.
    it.each([
      [500, 'etcd unavailable'],
      [403, 'forbidden'],
    ] as const)(
      "the API server's %i is the function's trouble, not the sender's: 500 so Knative retries",
      async (code, body) => {
        const broken = storeFor(example('update-due'));
        broken.patchStatus = () => Promise.reject(new KubeError(code, body, 'patch'));
        const res = await sendTo(broken, example('update-due'));
        expect(res.status).toBe(500);
        expect(res.json).toMatchObject({ error: expect.stringContaining(`HTTP ${code} ${body}`) });
      },
    );
  });
});

describe('anything that is not a CloudEvent', () => {
  let server: Served;
  beforeAll(async () => void (server = await serve(appWith(null))));
  afterAll(() => server.close());

  it('plain JSON without ce- headers: 400', async () => {
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ reason: expect.stringContaining('malformed CloudEvent') });
  });

  it.each<Mode>(['binary', 'structured'])('%s event without an id: 400', async (mode) => {
    const { id: _id, ...event } = example('add');
    const res = await post(server.url, event, mode);
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ reason: 'malformed CloudEvent: missing id' });
  });

  it('unparseable JSON: 400', async () => {
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/cloudevents+json' },
      body: '{"specversion":',
    });
    expect(res.status).toBe(400);
  });

  it('a batch: 400', async () => {
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/cloudevents-batch+json' },
      body: JSON.stringify([example('add')]),
    });
    expect(res.status).toBe(400);
  });

  it('an oversized body: 413', async () => {
    const event = example('add');
    (event.data as Action).spec.phases = Array.from({ length: 5000 }, (_, i) => `phase-${i}-${'x'.repeat(20)}`);
    const res = await post(server.url, event, 'binary');
    expect(res.status).toBe(413);
    expect(res.json).toMatchObject({ error: 'body too large' });
  });

  it('GET /: 405', async () => {
    expect((await fetch(server.url)).status).toBe(405);
  });

  it('health endpoints answer 200', async () => {
    expect((await fetch(`${server.url}/health/liveness`)).status).toBe(200);
    expect(await (await fetch(`${server.url}/health/readiness`)).json()).toEqual({ status: 'ok', dryRun: true });
  });
});
