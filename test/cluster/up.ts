// Starts a detached local control plane that outlives this script (stop it with down.ts).
// Usage: tsx test/cluster/up.ts [--audit]. The last stdout line is KUBECONFIG=<path>.
import { isRunning, readDetachedCluster, startCluster, statePath } from './cluster.js';

const existing = await readDetachedCluster();
let kubeconfig: string;
if (existing && isRunning(existing)) {
  console.error(`cluster:up: already running at ${existing.server} (state ${statePath})`);
  kubeconfig = existing.kubeconfig;
} else {
  if (existing) {
    console.error(`cluster:up: clearing a dead cluster from ${statePath}`);
    await existing.stop();
  }
  const cluster = await startCluster({ detached: true, auditPolicy: process.argv.includes('--audit') });
  console.error(
    `cluster:up: etcd pid ${cluster.pids.etcd}, kube-apiserver pid ${cluster.pids.apiserver}, logs in ${cluster.dir}`,
  );
  if (cluster.auditLog) console.error(`cluster:up: audit log ${cluster.auditLog}`);
  console.error(`cluster:up: kubectl is ${cluster.binDir}/kubectl`);
  kubeconfig = cluster.kubeconfig;
}
console.log(`KUBECONFIG=${kubeconfig}`);
