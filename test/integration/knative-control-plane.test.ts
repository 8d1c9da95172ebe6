// Knative Eventing's own controllers and webhooks, installed from the release manifests onto the
// test bed (test/stack/bed.ts), judge what this project ships: the shipped manifests pass
// Knative's admission webhooks only with the README's cluster-admin step (the any-broker overlay
// without it), an invalid delivery is denied, the OIDC overlay passes only with the OIDC patch,
// and the webhook defaults the Broker as it does on a real cluster.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBed, type Bed } from '../stack/bed.js';
import { applyOnceAdmitted, patchFeatures, RELEASE_DEPLOYMENTS, SYSTEM_NS } from '../stack/knative.js';
import { messageOf } from '../support/log.js';

let bed: Bed;
const NS = 'advance-phase';

beforeAll(async () => {
  // With Serving: the shipped kustomizations hold the function's Knative Service too.
  bed = await startBed({ serving: true });
}, 300_000);

afterAll(async () => {
  await bed.stop();
}, 60_000);

const kubectl = (...args: string[]) => bed.admin.kubectl(...args);
const applyFails = (...args: string[]) => kubectl('apply', ...args).then(() => '', messageOf);

describe("Knative's control plane on the test bed", () => {
  it('runs every controller and webhook of the release as a Ready Pod of its Deployment', async () => {
    const pods = JSON.parse(await kubectl('get', 'pods', '-n', SYSTEM_NS, '-o', 'json')) as {
      items: {
        metadata: { labels?: Record<string, string>; ownerReferences?: { kind: string }[] };
        status: { podIP?: string; conditions?: { type: string; status: string }[] };
      }[];
    };
    expect(pods.items.length).toBeGreaterThanOrEqual(RELEASE_DEPLOYMENTS.length);
    for (const pod of pods.items) {
      expect(pod.metadata.ownerReferences?.[0]?.kind).toBe('ReplicaSet');
      expect(pod.status.podIP).toMatch(/^10\.231\.0\.\d+$/);
      expect(pod.status.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    }
  });

  it("refuses the shipped Trigger while delivery-retryafter is off, so the README's cluster-admin step is required", async () => {
    await bed.admin.installCrd();
    const refused = await applyFails('-k', 'config/knative');
    expect(refused).toMatch(/admission webhook "validation\.webhook\.eventing\.knative\.dev" denied the request/);
    expect(refused).toMatch(/retryAfterMax/);
  });

  it('admits the any-broker overlay with delivery-retryafter off: no alpha flag, and a seconds-field cron', async () => {
    expect(await applyFails('-k', 'config/knative/overlays/any-broker')).toBe('');
    const tick = JSON.parse(await kubectl('get', 'pingsource', 'advance-phase-tick', '-n', NS, '-o', 'json')) as {
      spec: { schedule: string };
    };
    expect(tick.spec.schedule.split(' ')).toHaveLength(6);
    const trigger = JSON.parse(await kubectl('get', 'trigger', 'advance-phase', '-n', NS, '-o', 'json')) as {
      spec: { delivery: Record<string, unknown> };
    };
    expect(trigger.spec.delivery).not.toHaveProperty('retryAfterMax');
    await kubectl('delete', '-f', 'config/knative/overlays/any-broker/tick.yaml', '-n', NS);
  });

  it("admits every shipped manifest once config-features has the README's patch", async () => {
    await patchFeatures(bed.admin, 'config/knative/cluster/config-features-patch.yaml');
    expect(await applyOnceAdmitted(bed.admin, 'config/knative', 10_000)).toBe('');
  });

  it('defaults the Broker as on a real cluster: its channel config and class come from the webhook', async () => {
    const broker = JSON.parse(await kubectl('get', 'broker', 'advance-phase', '-n', NS, '-o', 'json')) as {
      metadata: { annotations?: Record<string, string> };
      spec: { config?: { kind?: string; name?: string } };
    };
    expect(broker.spec.config).toMatchObject({ kind: 'ConfigMap', name: 'config-br-default-channel' });
    expect(broker.metadata.annotations?.['eventing.knative.dev/broker.class']).toBe('MTChannelBasedBroker');
  });

  it("refuses the OIDC overlay's EventPolicy while OIDC is off, and admits it with the README's OIDC patch", async () => {
    expect(await applyFails('-k', 'config/knative/overlays/oidc')).toMatch(
      /denied the request: validation failed: oidc-authentication feature not enabled/,
    );
    await patchFeatures(bed.admin, 'config/knative/cluster/oidc-patch.yaml');
    expect(await applyOnceAdmitted(bed.admin, 'config/knative/overlays/oidc', 10_000)).toBe('');
  });

  it('denies an invalid delivery at admission', async () => {
    const trigger = {
      apiVersion: 'eventing.knative.dev/v1',
      kind: 'Trigger',
      metadata: { name: 'bad-delivery', namespace: NS },
      spec: {
        broker: 'advance-phase',
        subscriber: { uri: 'http://example.invalid/' },
        delivery: { retry: 3, backoffDelay: 'soon' },
      },
    };
    const res = await bed.admin.request<{ message?: string }>(
      'POST',
      `/apis/eventing.knative.dev/v1/namespaces/${NS}/triggers`,
      trigger,
    );
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/denied the request.*backoffDelay/s);
  });
});
