// The node's stand-ins on a running bed, as a pod sees them: the kubelet runs a pod of two
// containers sharing one network (as a revision's function and queue-proxy do), Ready only when
// both are, restarts the one that exits, and on deletion runs a container's preStop hook before
// its SIGTERM; cluster DNS answers every Service's name as a pod's container starts, and a
// Service whose Endpoints are written by hand, as Knative Serving writes them.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBed, type Bed } from '../stack/bed.js';
import { clusterDns } from '../support/route.js';
import { until } from '../support/wait.js';

const node = process.execPath;
// The app: answers on 8080, logs its preStop hook and its SIGTERM (and takes 300 ms to drain).
const APP = `
const log = (m) => console.log(Date.now() + ' ' + m);
require('node:http').createServer((q, s) => {
  if (q.url === '/pre-stop') { log('preStop'); setTimeout(() => s.end('drained'), 300); return; }
  s.end('app');
}).listen(8080);
process.on('SIGTERM', () => { log('SIGTERM'); process.exit(0); });`;
// Its sidecar: on 8012, answers with what the app answers at 127.0.0.1:8080, so it is ready only
// when the app is, and only if both share the pod's loopback.
const SIDECAR = `
require('node:http').createServer(async (q, s) => {
  const r = await fetch('http://127.0.0.1:8080/').catch(() => undefined);
  s.statusCode = r?.ok ? 200 : 503;
  s.end(r ? 'via sidecar: ' + (await r.text()) : 'no app');
}).listen(8012);`;

interface PodStatus {
  status: {
    podIP?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: { name: string; ready: boolean; restartCount: number }[];
  };
}

let bed: Bed;
beforeAll(async () => {
  bed = await startBed({
    images: {
      app: { exe: node, args: ['-e', APP] },
      sidecar: { exe: node, args: ['-e', SIDECAR] },
      names: {
        exe: '/bin/sh',
        args: [
          '-c',
          'getent hosts kubernetes.default.svc eventing-webhook.knative-eventing; echo done; exec sleep 600',
        ],
      },
    },
    log: () => undefined,
  });
}, 300_000);
afterAll(() => bed.stop());

const podPath = (name: string) => `/api/v1/namespaces/default/pods/${name}`;
const getPod = async (name: string) => (await bed.admin.request<PodStatus>('GET', podPath(name))).body;
const ready = (pod: PodStatus) => pod.status.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
const podLog = (pod: string, container: string) => join(bed.dir, 'node', 'pods', `default_${pod}`, `${container}.log`);

describe('the kubelet stand-in', () => {
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'two', namespace: 'default' },
    spec: {
      terminationGracePeriodSeconds: 5,
      containers: [
        {
          name: 'app',
          image: 'app',
          ports: [{ name: 'user-port', containerPort: 8080 }],
          lifecycle: { preStop: { httpGet: { path: '/pre-stop', port: 'user-port' } } },
        },
        {
          name: 'sidecar',
          image: 'sidecar',
          readinessProbe: { httpGet: { port: 8012, httpHeaders: [{ name: 'K-Network-Probe', value: 'queue' }] } },
        },
      ],
    },
  };

  it('runs a pod of two containers on one network, Ready when both are', async () => {
    expect((await bed.admin.request('POST', '/api/v1/namespaces/default/pods', pod)).status).toBe(201);
    const running = await until('the pod to be Ready', async () => {
      const p = await getPod('two');
      return ready(p) ? p : undefined;
    });
    expect(running.status.containerStatuses?.map((c) => [c.name, c.ready])).toEqual([
      ['app', true],
      ['sidecar', true],
    ]);
    expect(await (await fetch(`http://${running.status.podIP}:8012/`)).text()).toBe('via sidecar: app');
  }, 60_000);

  it('restarts the container that exits, the pod not Ready until it is back', async () => {
    const pidFile = join(bed.dir, 'node', 'pods', 'default_two', 'app.pid');
    process.kill(Number(readFileSync(pidFile, 'utf8').split(' ')[0]), 'SIGKILL');
    await until('the pod to be not Ready', async () => !ready(await getPod('two')), 10_000, 50);
    const back = await until('the pod to be Ready again', async () => {
      const p = await getPod('two');
      return ready(p) ? p : undefined;
    });
    expect(back.status.containerStatuses?.map((c) => [c.name, c.restartCount])).toEqual([
      ['app', 1],
      ['sidecar', 0],
    ]);
  }, 60_000);

  it("runs a container's preStop hook to its end before its SIGTERM", async () => {
    await bed.admin.request('DELETE', podPath('two'));
    await until('the pod to be gone', async () => (await bed.admin.request('GET', podPath('two'))).status === 404);
    const lines = readFileSync(podLog('two', 'app'), 'utf8')
      .split('\n')
      .map((l) => /^(\d+) (preStop|SIGTERM)$/.exec(l))
      .filter((m) => m !== null)
      .map((m) => [m[2], Number(m[1])] as const);
    expect(lines.map(([what]) => what)).toEqual(['preStop', 'SIGTERM']);
    const [[, hook], [, term]] = lines as [readonly [string, number], readonly [string, number]];
    expect(term - hook).toBeGreaterThanOrEqual(300); // the hook's answer came before the signal
  }, 60_000);
});

describe('the cluster DNS stand-in', () => {
  it('answers every Service name as a pod starts', async () => {
    // A process that resolves a name once at start must find it: Knative's OIDC verifier resolves
    // kubernetes.default.svc once, and a start failed one time in five when it raced the names.
    const names = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'names' },
      spec: { containers: [{ name: 'c', image: 'names' }] },
    };
    expect((await bed.admin.request('POST', '/api/v1/namespaces/default/pods', names)).status).toBe(201);
    const log = podLog('names', 'c');
    const first = await until('the pod to print what it resolved', () =>
      existsSync(log) && readFileSync(log, 'utf8').includes('done') ? readFileSync(log, 'utf8') : undefined,
    );
    expect(first).toMatch(/^10\.231\.0\.1 +kubernetes\.default\.svc\.cluster\.local$/m);
    expect(first).toMatch(/^10\.231\.0\.\d+ +eventing-webhook\.knative-eventing\.svc\.cluster\.local$/m);
  }, 60_000);

  it('answers for a Service without a selector from the Endpoints written for it (mirrored into EndpointSlices)', async () => {
    const create = async (path: string, body: object) => {
      expect((await bed.admin.request('POST', `/api/v1/namespaces/default/${path}`, body)).status).toBe(201);
    };
    await create('services', { metadata: { name: 'by-hand' }, spec: { ports: [{ port: 80 }] } });
    await create('endpoints', {
      metadata: { name: 'by-hand' },
      subsets: [{ addresses: [{ ip: '10.231.0.250' }], ports: [{ port: 80 }] }],
    });
    const resolver = clusterDns();
    const found = await until('cluster DNS to answer for by-hand', () =>
      resolver.resolve4('by-hand.default.svc.cluster.local').catch(() => undefined),
    );
    expect(found).toEqual(['10.231.0.250']);
  }, 60_000);
});
