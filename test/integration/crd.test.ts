// The CRD on a real kube-apiserver: established, judging every shared example exactly as zod
// does, with the printer columns and the selectable field the sweep relies on.
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { Action, Spec } from '../../functions/advance-phase/src/action.js';
import { UNFINISHED } from '../../functions/advance-phase/src/sweep.js';
import { ACTIONS, Admin } from '../support/admin.js';
import { SPEC_EXAMPLES } from '../support/spec-examples.js';

const admin = new Admin(inject('cluster'));
const ns = 'crd-test';

beforeAll(() => admin.namespace(ns));

describe('the Action CRD on kube-apiserver', () => {
  it.each(SPEC_EXAMPLES.map((e, i) => ({ ...e, i })))(
    '"$name": API server and zod agree',
    async ({ spec, valid, i }) => {
      const res = await admin.createAction(ns, `example-${i}`, spec);
      const accepted = res.status === 201;
      expect({ accepted, zod: Spec.safeParse(spec).success }).toEqual({ accepted: valid, zod: valid });
      if (!valid) {
        // 422 Invalid for a schema violation, 400 BadRequest for an unknown field (strict validation).
        expect([400, 422]).toContain(res.status);
        expect(String((res.body as { message?: string }).message)).toMatch(/spec\.|unknown field "spec\./);
      }
    },
  );

  it('defaults the delay and the status, as zod does', async () => {
    const res = await admin.createAction(ns, 'defaulted', { phases: ['a'] });
    expect(res.status).toBe(201);
    expect((res.body as { spec: unknown }).spec).toEqual(Spec.parse({ phases: ['a'] }));
    const served = await admin.request<Action>('GET', `${ACTIONS}/namespaces/${ns}/actions/defaulted`);
    expect(served.body.status).toEqual(Action.parse(served.body).status);
    expect(served.body.status).toEqual({ timestamps: [], observedGeneration: 0 });
  });

  it('shows phase, progress, state, next due time and delay in kubectl get', async () => {
    await admin.createAction(ns, 'columns', { phases: ['a', 'b'], delay: 7 });
    await admin.patchAction(
      ns,
      'columns',
      {
        status: {
          phase: 'a',
          progress: '1/2',
          state: 'Running',
          nextPhaseAt: '2099-01-01T00:00:00Z',
          timestamps: [{ a: '2098-12-31T23:59:53Z' }],
        },
      },
      '/status',
    );
    const out = await admin.kubectl('get', 'actions', '-n', ns, 'columns');
    expect(out).toMatch(/NAME\s+PHASE\s+PROGRESS\s+STATE\s+NEXT\s+DELAY\s+AGE/);
    expect(out).toMatch(/columns\s+a\s+1\/2\s+Running\s+\S+\s+7\s+/);
  });

  it('rejects a status entry that is not a single {phase: time} pair', async () => {
    await admin.createAction(ns, 'bad-status', { phases: ['a'] });
    const two = await admin.patchAction(
      ns,
      'bad-status',
      { status: { timestamps: [{ a: '2026-01-01T00:00:00Z', b: '2026-01-01T00:00:00Z' }] } },
      '/status',
    );
    expect(two.status).toBe(422);
    const notTime = await admin.patchAction(
      ns,
      'bad-status',
      { status: { timestamps: [{ a: 'yesterday' }] } },
      '/status',
    );
    expect(notTime.status).toBe(422);
  });

  it('selects unfinished Actions by status.state, including those with no status yet', async () => {
    const sel = 'sel-test';
    await admin.namespace(sel);
    await admin.createAction(sel, 'fresh', { phases: ['a'] });
    for (const [name, state] of [
      ['running', 'Running'],
      ['expiring', 'Expiring'],
      ['succeeded', 'Succeeded'],
      ['failed', 'Failed'],
    ] as const) {
      await admin.createAction(sel, name, { phases: ['a'] });
      expect((await admin.patchAction(sel, name, { status: { state } }, '/status')).status).toBe(200);
    }
    const res = await admin.request<{ items: { metadata: { name: string } }[] }>(
      'GET',
      `${ACTIONS}/namespaces/${sel}/actions?fieldSelector=${encodeURIComponent(UNFINISHED)}`,
    );
    expect(res.body.items.map((i) => i.metadata.name).sort()).toEqual(['expiring', 'fresh', 'running']);
  });
});
