// Attacks on the running chain with Knative's OIDC on: requests to the function with no token,
// with a valid token of another ServiceAccount, with the Trigger's own identity for another
// audience, and an event slipped in through the Broker by a pod of its namespace. Each must be
// refused with nothing written, while the real chain walks every Action (the rest of the suite).
// And the function has no route from outside the cluster at all.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Action } from '../../functions/advance-phase/src/action.js';
import { createServiceAccountToken } from '../cluster/cluster.js';
import { attachStack, SHIPPED_NS } from '../stack/stack.js';
import { phaseOf } from '../support/chain.js';
import { throughIngress } from '../support/route.js';
import { until } from '../support/wait.js';
import { post, type CloudEventJson } from '../support/http.js';

const info = inject('stack');
const stack = attachStack(info);
const admin = stack.admin;
const BROKER_AUDIENCE = `eventing.knative.dev/broker/${stack.namespace}/advance-phase`;
/** The audience the function takes tokens for: its wiring's ConfigMap, in the namespace it was installed in. */
const SENDER_AUDIENCE = (
  await admin.request<{ data: { SENDER_AUDIENCE: string } }>(
    'GET',
    `/api/v1/namespaces/${stack.namespace}/configmaps/advance-phase`,
  )
).body.data.SENDER_AUDIENCE;
const ns = 'e2e-attack';

/** A token the cluster's issuer signs for `audiences`, as the ServiceAccount `name` of `namespace`. */
const tokenOf = (namespace: string, name: string, audiences: string[]) =>
  createServiceAccountToken(info.cluster, namespace, name, 600, audiences);
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
/** The Trigger's status: the OIDC ServiceAccount it sends as and the audience it sends tokens for. */
const triggerStatus = async () =>
  (
    await admin.request<{ status: { auth: { serviceAccountName: string }; subscriberAudience?: string } }>(
      'GET',
      `/apis/eventing.knative.dev/v1/namespaces/${stack.namespace}/triggers/advance-phase`,
    )
  ).body.status;
const triggerAccount = async () => (await triggerStatus()).auth.serviceAccountName;

/** The object as an update event, its history rewritten: the attack of the issue that filed this. */
function forged(object: Action): CloudEventJson {
  const data = structuredClone(object);
  data.status.timestamps = [{ one: '2020-01-01T00:00:00Z' }];
  return {
    specversion: '1.0',
    type: 'dev.knative.apiserver.resource.update',
    source: 'https://kubernetes.default.svc',
    id: `forged-${Date.now()}`,
    subject: `/apis/core.opdemo.net/v1/namespaces/${ns}/actions/${object.metadata.name}`,
    data,
  };
}

let victim: Action;
beforeAll(async () => {
  expect(info.oidc).toBe(true);
  await stack.namespaces([ns]);
  await admin.createAction(ns, 'victim', { phases: ['one', 'two'], delay: 600 });
  await until('the first phase', async () => (await phaseOf(admin, ns, 'victim')) === 'one');
  victim = (await admin.getAction(ns, 'victim')).body as Action;
});

// Its second phase, ten minutes on, would be the suite's only event in flight: gone with it.
afterAll(async () => {
  await admin.deleteAction(ns, 'victim');
});

const unchanged = async () => {
  expect((await admin.getAction(ns, 'victim')).body).toEqual(victim);
};

describe('with OIDC on, the function takes events from its senders only', () => {
  it('expects the audience Knative gives the Trigger, in the namespace the installation was moved to', async () => {
    expect(stack.namespace).not.toBe(SHIPPED_NS);
    expect((await triggerStatus()).subscriberAudience).toBe(SENDER_AUDIENCE);
  });

  it('no token: 401', async () => {
    const res = await post(await stack.functionUrl(), forged(victim), 'binary');
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('Bearer');
    await unchanged();
  });

  it("a valid token of another ServiceAccount, for the function's audience: 403", async () => {
    const res = await post(
      await stack.functionUrl(),
      forged(victim),
      'binary',
      bearer(await tokenOf(ns, 'intruder', [SENDER_AUDIENCE])),
    );
    expect(res.status).toBe(403);
    await unchanged();
  });

  it("the Trigger's own identity, minted for another audience (a token meant for the Broker): 401", async () => {
    const res = await post(
      await stack.functionUrl(),
      forged(victim),
      'binary',
      bearer(await tokenOf(stack.namespace, await triggerAccount(), [BROKER_AUDIENCE])),
    );
    expect(res.status).toBe(401);
    await unchanged();
  });

  it('an event posted to the Broker by any other pod of its namespace: refused by the EventPolicy', async () => {
    const res = await post(
      await stack.brokerUrl(),
      forged(victim),
      'binary',
      bearer(await tokenOf(stack.namespace, 'default', [BROKER_AUDIENCE])),
    );
    expect(res.status).toBe(403);
    await unchanged();
  });

  it("the Trigger's identity itself, had it leaked: the forged history is still not written", async () => {
    const res = await post(
      await stack.functionUrl(),
      forged(victim),
      'binary',
      bearer(await tokenOf(stack.namespace, await triggerAccount(), [SENDER_AUDIENCE])),
    );
    expect(res.status).toBe(503); // the genuine object is not due for ~10 minutes
    await unchanged();
  });
});

describe('the function is reachable inside the cluster only (func.yaml: cluster-local)', () => {
  it('has a cluster-local address, a route on the internal listener and none on the external one', async () => {
    const ksvc = await admin.request<{ status: { url: string } }>(
      'GET',
      `/apis/serving.knative.dev/v1/namespaces/${stack.namespace}/services/advance-phase`,
    );
    expect(ksvc.body.status.url).toBe(`http://advance-phase.${stack.namespace}.svc.cluster.local`);
    const inside = await throughIngress(
      'internal',
      `advance-phase.${stack.namespace}.svc.cluster.local`,
      '/health/readiness',
    );
    expect(inside.status).toBe(200);
    const outside = await throughIngress(
      'external',
      `advance-phase.${stack.namespace}.example.com`,
      '/health/readiness',
    );
    expect(outside.status).toBe(404);
  });
});
