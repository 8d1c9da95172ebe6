// Stops the cluster that up.ts started and removes its folder; does nothing if none is recorded.
import { isRunning, readDetachedCluster, statePath } from './cluster.js';

const cluster = await readDetachedCluster();
if (!cluster) {
  console.log(`cluster:down: no cluster recorded (${statePath}); nothing to do`);
} else {
  const was = isRunning(cluster) ? 'stopped' : 'cleaned up after';
  await cluster.stop();
  console.log(
    `cluster:down: ${was} etcd (pid ${cluster.pids.etcd}) and kube-apiserver (pid ${cluster.pids.apiserver}) at ${cluster.server}; removed ${cluster.dir}`,
  );
}
