// The test bed Knative runs on, this project's envtest: a real control plane (etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler) listening on a bridge, one node whose
// kubelet, cluster DNS and kube-proxy are the small stand-ins beside this file, and Knative
// Eventing installed from its release manifests, its controllers and webhooks running as Pods.
// Start order: each part is up before anything needs it; stop in reverse; a failed start leaves
// nothing behind and names the log that says why.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { startCluster, type Cluster } from '../cluster/cluster.js';
import { runBuildScript } from '../cluster/processes.js';
import { Admin } from '../support/admin.js';
import { installKnative, knativeImages } from './knative.js';
import { startKubelet, type Images, type Kubelet } from './kubelet.js';
import { createBridge, GATEWAY, removeAll } from './netns.js';
import { startNetwork, type Network } from './network.js';

const repo = new URL('../../', import.meta.url).pathname;

export interface Bed {
  cluster: Cluster;
  admin: Admin;
  kubelet: Kubelet;
  network: Network;
  /** Folder holding the control plane's logs and, under node/pods/, each pod's. */
  dir: string;
  stop(): Promise<void>;
}

export interface BedOptions {
  /** Images beyond Knative's that the kubelet can run (the function, under the Serving stand-in). */
  images?: Images;
  auditPolicy?: boolean;
  log?: (line: string) => void;
}

export async function startBed(opts: BedOptions = {}): Promise<Bed> {
  const log = opts.log ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const knativeBin = await runBuildScript(join(repo, 'test/knative/build.sh'), log);
  await createBridge(); // also removes what a crashed run left
  let cluster: Cluster | undefined;
  let kubelet: Kubelet | undefined;
  let network: Network | undefined;
  const stop = async () => {
    await network?.stop();
    await kubelet?.stop();
    await cluster?.stop();
    await removeAll();
  };
  try {
    cluster = await startCluster({ address: GATEWAY, controllers: true, auditPolicy: opts.auditPolicy ?? false, log });
    const admin = new Admin(cluster);
    const dir = join(cluster.dir, 'node');
    await mkdir(dir, { recursive: true });
    kubelet = await startKubelet({
      admin,
      cluster,
      images: { ...knativeImages(knativeBin), ...opts.images },
      dir,
      log,
      onChange: () => network?.sync(),
    });
    const pods = (k: Kubelet) => [...k.pods()].map(([key, pod]) => ({ name: key.split('/')[1] as string, host: pod.host }));
    const running = kubelet;
    network = startNetwork(admin, () => pods(running), log);
    const started = Date.now();
    await installKnative(admin, knativeBin, log);
    log(`bed: Knative Eventing's control plane and data plane running in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return { cluster, admin, kubelet, network, dir: cluster.dir, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
