// The function in real mode, in this process, against a test cluster, authenticated as its own
// ServiceAccount with the shipped RBAC; its clock can run ahead of the wall clock, so tests move
// time instead of sleeping. Events are posted exactly as ApiServerSource sends them.
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import type { Action } from '../../functions/advance-phase/src/action.js';
import { createApp } from '../../functions/advance-phase/src/app.js';
import type { WaitMode } from '../../functions/advance-phase/src/reply.js';
import { kubeFor } from '../../functions/advance-phase/src/kube.js';
import { createLogger } from '../../functions/advance-phase/src/log.js';
import { Metrics } from '../../functions/advance-phase/src/metrics.js';
import { createServiceAccountToken, writeKubeconfigForToken, type ClusterInfo } from '../cluster/cluster.js';
import { Admin } from './admin.js';
import { applyBuilt, RBAC_KINDS } from './kustomize.js';
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

/** The shipped RBAC of the function applied, and a kubeconfig as the function's ServiceAccount. */
export async function functionKubeconfig(cluster: ClusterInfo): Promise<string> {
  const admin = new Admin(cluster);
  await admin.namespace('advance-phase');
  await applyBuilt(
    admin,
    'config/knative/base',
    (o) => RBAC_KINDS.has(o.kind) && o.metadata.labels?.['app.kubernetes.io/component'] === 'function',
  );
  const kubeconfig = join(cluster.dir, 'function.kubeconfig');
  await writeKubeconfigForToken(
    cluster,
    await createServiceAccountToken(cluster, 'advance-phase', 'advance-phase'),
    kubeconfig,
  );
  return kubeconfig;
}

/** `namespace`: the sweep and the ticks list only there (WATCH_NAMESPACE). */
export async function serveFunction(
  cluster: ClusterInfo,
  opts: { waitMode?: WaitMode; namespace?: string } = {},
): Promise<FunctionUnderTest> {
  const kubeconfig = await functionKubeconfig(cluster);
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  let skew = 0;
  const server = await serve(
    createApp({
      kube: kubeFor(kc),
      auth: null, // no OIDC here: what protects the writes is their own proof
      log: createLogger('silent'),
      metrics: new Metrics({ processMetrics: false }),
      maxBodyBytes: 1024 * 1024,
      sweep: { pageSize: 2, concurrency: 4, ...(opts.namespace ? { namespace: opts.namespace } : {}) },
      waitMode: opts.waitMode ?? 'retry-after',
      now: () => new Date(Date.now() + skew * 1000),
    }),
  );
  return {
    server,
    kubeconfig,
    get skew() {
      return skew;
    },
    set skew(seconds: number) {
      skew = seconds;
    },
    send: (type, object) => post(server.url, event(cluster, type, object), 'binary'),
    close: () => server.close(),
  };
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
