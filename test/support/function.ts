// The function in real mode, in this process, against a test cluster, authenticated as its own
// ServiceAccount with the shipped RBAC; its clock can run ahead of the wall clock, so tests move
// time instead of sleeping. Events are posted exactly as ApiServerSource sends them.
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import type { Action } from '../../functions/advance-phase/src/action.js';
import { createApp } from '../../functions/advance-phase/src/app.js';
import { kubeFor } from '../../functions/advance-phase/src/kube.js';
import { createLogger } from '../../functions/advance-phase/src/log.js';
import { Metrics } from '../../functions/advance-phase/src/metrics.js';
import { createServiceAccountToken, writeKubeconfigForToken, type ClusterInfo } from '../cluster/cluster.js';
import { Admin } from './admin.js';
import { post, serve, type CloudEventJson, type Served } from './http.js';

export interface FunctionUnderTest {
  server: Served;
  /** A kubeconfig as the function's ServiceAccount. */
  kubeconfig: string;
  /** Seconds the function's clock runs ahead of the wall clock. */
  skew: number;
  send(type: 'add' | 'update' | 'delete', object: unknown): ReturnType<typeof post>;
  close(): Promise<void>;
}

let ids = 0;

export async function serveFunction(cluster: ClusterInfo): Promise<FunctionUnderTest> {
  const admin = new Admin(cluster);
  await admin.namespace('advance-phase');
  await admin.kubectl('apply', '-n', 'advance-phase', '-f', 'config/knative/base/function-rbac.yaml');
  const kubeconfig = join(cluster.dir, 'function.kubeconfig');
  await writeKubeconfigForToken(cluster, await createServiceAccountToken(cluster, 'advance-phase', 'advance-phase'), kubeconfig);
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const fn: FunctionUnderTest = {
    server: undefined as unknown as Served,
    kubeconfig,
    skew: 0,
    send: (type, object) => post(fn.server.url, event(cluster, type, object), 'binary'),
    close: () => fn.server.close(),
  };
  fn.server = await serve(
    createApp({
      kube: kubeFor(kc),
      auth: null, // no OIDC here: what protects the writes is their own proof
      log: createLogger('silent'),
      metrics: new Metrics({ processMetrics: false }),
      maxBodyBytes: 1024 * 1024,
      sweep: { pageSize: 2, concurrency: 4 },
      now: () => new Date(Date.now() + fn.skew * 1000),
    }),
  );
  return fn;
}

function event(cluster: ClusterInfo, type: 'add' | 'update' | 'delete', object: unknown): CloudEventJson {
  const o = object as Action;
  return {
    specversion: '1.0',
    type: `dev.knative.apiserver.resource.${type}`,
    source: cluster.server,
    id: `it-${++ids}`,
    subject: `/apis/core.opdemo.net/v1/namespaces/${o.metadata.namespace}/actions/${o.metadata.name}`,
    kind: 'Action',
    name: o.metadata.name,
    namespace: o.metadata.namespace,
    apiversion: 'core.opdemo.net/v1',
    data: object,
  };
}
