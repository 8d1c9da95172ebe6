// What the ecosystem's own tools make of Actions the function wrote on a real API server:
// kstatus (sigs.k8s.io/cli-utils, built by test/kstatus/build.sh: Flux, kpt and cli-utils
// appliers), Argo CD's health check (config/argocd/health.lua, run by test/argocd/build.sh's binary
// on Argo CD's Lua interpreter, gopher-lua, as Argo CD's util/lua runs an argocd-cm health
// customization: see test/argocd/main.go), `kubectl get` and `kubectl explain`.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse } from 'yaml';
import { LIMITS, type Action } from '../../functions/advance-phase/src/action.js';
import { Admin } from '../support/admin.js';
import { until } from '../support/wait.js';
import { serveFunction, type FunctionUnderTest } from '../support/function.js';
import { pipeThrough } from '../support/pipe.js';

const cluster = inject('cluster');
const admin = new Admin(cluster);
const run = promisify(execFile);
const ns = 'eco';
const HEALTH = 'config/argocd/health.lua';

let fn: FunctionUnderTest;
let kstatusBin = '';
let argoBin = '';
beforeAll(async () => {
  await admin.namespace(ns);
  fn = await serveFunction(cluster);
  // Each well under a minute cold; a build that fails rejects here, failing every test.
  const build = async (script: string) => (await run('bash', [script], { timeout: 290_000 })).stdout.trim();
  [kstatusBin, argoBin] = await Promise.all([build('test/kstatus/build.sh'), build('test/argocd/build.sh')]);
}, 300_000);
afterAll(() => fn.close());

/** What kstatus computes for the object, as Flux's health check would. */
async function kstatus(object: Action): Promise<{ status: string; message: string }> {
  const [verdict] = JSON.parse(await pipeThrough(kstatusBin, [], JSON.stringify([object]))) as {
    name: string;
    status: string;
    message: string;
  }[];
  const { status, message } = verdict as { status: string; message: string };
  return { status, message };
}

/** What Argo CD's health check (the shipped Lua) says of the object. */
async function argo(object: Action): Promise<{ status: string; message: string }> {
  return JSON.parse(await pipeThrough(argoBin, [HEALTH], JSON.stringify(object))) as {
    status: string;
    message: string;
  };
}

const current = async (name: string) => (await admin.getAction(ns, name)).body as Action;
const editSpec = async (name: string, spec: Record<string, unknown>) => {
  const res = await admin.patchAction(ns, name, { spec });
  expect(res.status).toBe(200);
  return res.body as Action;
};

describe('health as Kubernetes tools read it, on objects the function wrote', () => {
  it('new, running, paused, running again, finished', async () => {
    const created = (await admin.createAction(ns, 'walk', { phases: ['a', 'b'], delay: 5 })).body as Action;
    // Before the function has seen it: generation 1, observedGeneration 0.
    expect(await kstatus(created)).toMatchObject({ status: 'InProgress' });
    expect(await argo(created)).toMatchObject({ status: 'Progressing' });

    await fn.send('add', created);
    const running = await current('walk');
    expect(await kstatus(running)).toEqual({
      status: 'InProgress',
      message: expect.stringContaining('1/2 phases begun; next b at'),
    });
    expect(await argo(running)).toEqual({
      status: 'Progressing',
      message: expect.stringContaining('1/2 phases begun'),
    });

    await fn.send('update', await editSpec('walk', { paused: true }));
    const paused = await current('walk');
    expect(paused.status.state).toBe('Paused');
    expect(await kstatus(paused)).toMatchObject({ status: 'Current' });
    expect(await argo(paused)).toEqual({
      status: 'Suspended',
      message: expect.stringContaining('paused before phase 2 b'),
    });
    expect(await admin.kubectl('get', 'actions', '-n', ns, 'walk')).toMatch(/walk\s+a\s+1\/2\s+Paused\s+5\s/);

    await fn.send('update', await editSpec('walk', { paused: false }));
    expect(await kstatus(await current('walk'))).toMatchObject({ status: 'InProgress' });
    fn.skew = 5;
    await fn.send('update', await current('walk'));
    fn.skew = 0;
    const finished = await current('walk');
    expect(finished.status.state).toBe('Succeeded');
    expect(await kstatus(finished)).toMatchObject({ status: 'Current' });
    expect(await argo(finished)).toEqual({ status: 'Healthy', message: 'all 2 phases begun' });
  });

  it('an invalid spec: Failed to kstatus, Degraded to Argo CD', async () => {
    // zod and the CRD agree on every spec, so the API server refuses what the function would
    // reject. An older, looser CRD lets one through: loosen it for one object, as an old one would.
    const maxItems = `/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/phases/maxItems`;
    const crd = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/actions.core.opdemo.net';
    const setMax = (value: number) =>
      admin.request('PATCH', crd, [{ op: 'replace', path: maxItems, value }], 'application/json-patch+json');
    expect((await setMax(LIMITS.maxPhases + 1)).status).toBe(200);
    try {
      const phases = Array.from({ length: LIMITS.maxPhases + 1 }, (_, i) => `p${i}`);
      // The loosened schema takes a moment to serve.
      const created = await until(
        'the loosened CRD to admit 101 phases',
        async () => {
          const res = await admin.createAction(ns, 'broken', { phases });
          return res.status === 201 && res.body;
        },
        5_000,
      );
      expect((await fn.send('add', created)).status).toBe(400);
    } finally {
      expect((await setMax(LIMITS.maxPhases)).status).toBe(200);
    }
    const failed = await current('broken');
    expect(failed.status.state).toBe('Failed');
    expect(await kstatus(failed)).toEqual({ status: 'Failed', message: expect.stringContaining('spec.phases') });
    expect(await argo(failed)).toEqual({ status: 'Degraded', message: expect.stringContaining('spec.phases') });
  });
});

describe('shipped as Argo CD takes it', () => {
  it('argocd-cm-patch.yaml carries health.lua verbatim, under the key Argo CD looks up', () => {
    const patch = parse(readFileSync('config/argocd/argocd-cm-patch.yaml', 'utf8')) as { data: Record<string, string> };
    expect(patch.data['resource.customizations.health.core.opdemo.net_Action']).toBe(readFileSync(HEALTH, 'utf8'));
  });
});

describe('kubectl explain', () => {
  it('describes the kind and the status fields', async () => {
    const kind = await admin.kubectl('explain', 'actions');
    expect(kind).toContain('walks through spec.phases in order');
    const status = await admin.kubectl('explain', 'actions.status');
    for (const field of ['conditions', 'nextPhaseAt', 'observedGeneration', 'state', 'timestamps']) {
      expect(status).toMatch(new RegExp(`${field}\\s+<[^>]+>\\n\\s+\\S`));
    }
    expect(await admin.kubectl('explain', 'actions.status.conditions')).toContain(
      'as kstatus and kubectl wait read them',
    );
  });
});
