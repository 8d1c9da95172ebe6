// The ingress stand-in's process (ingress.ts), run by the kubelet stand-in as the Pod of the
// Deployment in ingress.yaml, with that Pod's ServiceAccount credentials in $KUBECONFIG. It
// watches every Ingress, serves ClusterLocal routes on :8080 and ExternalIP routes on :8081 once
// the first list is in, and writes each owned Ingress's status once its routes are served.
//
//   node --import tsx test/stack/ingress-main.ts
import { createServer } from 'node:http';
import { KubeConfig, makeInformer, type KubernetesListObject } from '@kubernetes/client-node';
import { apiClient } from '../../functions/advance-phase/src/api-client.js';
import { isReady, ownsIngress, proxy, readyStatus, route, type KIngress, type Visibility } from './ingress.js';

const API = '/apis/networking.internal.knative.dev/v1alpha1';
const INGRESSES = `${API}/ingresses`;
const LISTENERS: Record<Visibility, number> = { ClusterLocal: 8080, ExternalIP: 8081 };

const log = (line: string) => {
  console.log(`${new Date().toISOString()} ${line}`);
};
const kc = new KubeConfig();
kc.loadFromDefault();
const client = apiClient(kc);
const table = new Map<string, KIngress>();
const keyOf = (ing: KIngress) => `${ing.metadata.namespace}/${ing.metadata.name}`;

async function markReady(ing: KIngress): Promise<void> {
  const path = `${API}/namespaces/${ing.metadata.namespace}/ingresses/${ing.metadata.name}/status`;
  const status = readyStatus(ing, new Date().toISOString());
  const res = await client.call('PATCH', path, { status }, { contentType: 'application/merge-patch+json' });
  if (res.status === 200) log(`ingress ${keyOf(ing)}: Ready at generation ${ing.metadata.generation}`);
  else if (res.status !== 404) log(`ingress ${keyOf(ing)}: status ${res.status} ${res.text}`);
}

const informer = makeInformer<KIngress & { apiVersion?: string; kind?: string }>(
  kc,
  INGRESSES,
  async () =>
    JSON.parse(
      (await client.call('GET', INGRESSES, undefined, { verb: 'list' })).text,
    ) as KubernetesListObject<KIngress>,
);
const upsert = (ing: KIngress) => {
  if (!ownsIngress(ing)) return;
  table.set(keyOf(ing), ing); // routed from here on: now its status may say so
  if (!isReady(ing))
    void markReady(ing).catch((e: unknown) => {
      log(`ingress ${keyOf(ing)}: ${String(e)}`);
    });
};
informer.on('add', upsert);
informer.on('update', upsert);
informer.on('delete', (ing) => table.delete(keyOf(ing)));
informer.on('error', (e: unknown) => {
  log(`watching Ingresses: ${String(e)}; listing again in 1 s`);
  setTimeout(() => void informer.start(), 1000);
});
await informer.start();

for (const [visibility, port] of Object.entries(LISTENERS) as [Visibility, number][]) {
  createServer((req, res) => {
    const to = route(table.values(), visibility, {
      host: req.headers.host ?? '',
      path: req.url ?? '/',
      headers: req.headers,
    });
    if (to) proxy(req, res, to);
    else
      res
        .writeHead(404, { 'content-type': 'text/plain' })
        .end(`no ${visibility} route for ${req.headers.host ?? ''}\n`);
  }).listen(port);
  log(`serving ${visibility} routes on :${port}`);
}
