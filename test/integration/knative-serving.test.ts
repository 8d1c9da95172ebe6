// Knative Serving as released, on the test bed: its controller, webhook, autoscaler and activator
// as Pods, queue-proxy beside the revision's container, the ingress stand-in as its networking
// layer. A Knative Service becomes Ready as Serving says, is reached through the internal
// listener by its cluster-local name (on the external listener only when it is public), scales to
// zero when idle, and comes back through the activator for the next request.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBed, type Bed } from '../stack/bed.js';
import { clusterDns, throughIngress } from '../support/route.js';
import { until } from '../support/wait.js';

const HELLO = `require('node:http').createServer((q, s) => s.end('hello from ' + process.env.K_REVISION)).listen(process.env.PORT);`;
const NS = 'default';

let bed: Bed;

beforeAll(async () => {
  bed = await startBed({
    serving: true,
    images: { 'dev.local/hello': { exe: process.execPath, args: ['-e', HELLO] } },
    log: () => undefined,
  });
}, 600_000);
afterAll(() => bed.stop());

const ksvc = (name: string, labels: Record<string, string> = {}) => ({
  apiVersion: 'serving.knative.dev/v1',
  kind: 'Service',
  metadata: { name, namespace: NS, labels },
  spec: { template: { spec: { containers: [{ image: 'dev.local/hello' }] } } },
});

const pods = async (service: string) =>
  (
    await bed.admin.request<{ items: { spec: { containers: { name: string }[] } }[] }>(
      'GET',
      `/api/v1/namespaces/${NS}/pods?labelSelector=serving.knative.dev%2Fservice%3D${service}`,
    )
  ).body.items;

describe('Knative Serving', () => {
  it('makes a cluster-local Service Ready, reached by its cluster-local name through the internal listener only', async () => {
    const created = await bed.admin.request(
      'POST',
      `/apis/serving.knative.dev/v1/namespaces/${NS}/services`,
      ksvc('hello', { 'networking.knative.dev/visibility': 'cluster-local' }),
    );
    expect(created.status).toBe(201);
    await bed.admin.kubectl('wait', '--for=condition=Ready', '--timeout=120s', '-n', NS, 'ksvc/hello');
    const { body } = await bed.admin.request<{ status: { address: { url: string } } }>(
      'GET',
      `/apis/serving.knative.dev/v1/namespaces/${NS}/services/hello`,
    );
    expect(body.status.address.url).toBe('http://hello.default.svc.cluster.local');
    expect((await pods('hello'))[0]?.spec.containers.map((c) => c.name)).toEqual(['user-container', 'queue-proxy']);
    expect(await throughIngress('internal', 'hello.default.svc.cluster.local')).toEqual({
      status: 200,
      body: 'hello from hello-00001',
    });
    expect((await throughIngress('external', 'hello.default.example.com')).status).toBe(404);
  }, 180_000);

  it('routes a public Service on the external listener too', async () => {
    await bed.admin.request('POST', `/apis/serving.knative.dev/v1/namespaces/${NS}/services`, ksvc('public'));
    await bed.admin.kubectl('wait', '--for=condition=Ready', '--timeout=120s', '-n', NS, 'ksvc/public');
    expect(await throughIngress('external', 'public.default.example.com')).toEqual({
      status: 200,
      body: 'hello from public-00001',
    });
  }, 180_000);

  it('scales an idle Service to zero, and the next request wakes it through the activator', async () => {
    await until('hello to scale to zero', async () => (await pods('hello')).length === 0, 120_000, 500);
    // At zero, the revision's Service leads to the activator (its ServerlessService in Proxy mode).
    const sks = await bed.admin.request<{ spec: { mode: string } }>(
      'GET',
      `/apis/networking.internal.knative.dev/v1alpha1/namespaces/${NS}/serverlessservices/hello-00001`,
    );
    expect(sks.body.spec.mode).toBe('Proxy');
    const activator = await bed.admin.request<{ items: { status: { podIP: string } }[] }>(
      'GET',
      '/api/v1/namespaces/knative-serving/pods?labelSelector=app%3Dactivator',
    );
    expect(await clusterDns().resolve4('hello-00001.default.svc.cluster.local')).toEqual(
      activator.body.items.map((p) => p.status.podIP),
    );
    expect(await throughIngress('internal', 'hello.default.svc.cluster.local')).toEqual({
      status: 200,
      body: 'hello from hello-00001',
    });
    expect((await pods('hello')).length).toBe(1);
  }, 180_000);
});
