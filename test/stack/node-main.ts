// The test bed's one node as a process of its own, as a kubelet and kube-proxy are on a real
// node: runs the kubelet, DNS and kube-proxy stand-ins against the cluster its config names until
// SIGTERM, then ends its pods and exits. Started by bed.ts; its log is the bed's node.log. A
// stand-in that cannot do its job ends the process at once (exit 1), its last line saying which
// and why: the bed's start watches for that and fails with it.
//
//   node --import tsx test/stack/node-main.ts <config.json>   (config: NodeConfig)
import { readFileSync } from 'node:fs';
import type { ClusterInfo } from '../cluster/cluster.js';
import { Admin } from '../support/admin.js';
import { startKubelet, type Images, type Kubelet } from './kubelet.js';
import { startNetwork, type Network } from './network.js';
import { DNS_PORT, startDns } from './dns.js';
import { GATEWAY } from './netns.js';
import { messageOf } from '../support/log.js';

export interface NodeConfig {
  cluster: ClusterInfo;
  images: Images;
  /** Where each pod's folder (log, kubeconfig, pid) goes. */
  dir: string;
}

const config = JSON.parse(readFileSync(process.argv[2] as string, 'utf8')) as NodeConfig;
const log = (line: string) => {
  console.log(`${new Date().toISOString()} ${line}`);
};
const admin = new Admin(config.cluster);
/** Pods die with this process (their launcher's parent-death signal); the bed removes their hosts. */
const fatal = (error: unknown): never => {
  log(`node: FATAL: ${messageOf(error)}`);
  process.exit(1);
};
// The network first, its Services and EndpointSlices listed and cluster DNS serving them, so that
// every name resolves before any pod's container starts, as on a cluster.
let kubelet: Kubelet | undefined;
const network: Network = startNetwork(admin, () => kubelet?.hosts() ?? [], fatal);
await network.synced;
const dns = await startDns(GATEWAY, DNS_PORT, () => network.records(), fatal).catch(fatal);
kubelet = await startKubelet({
  admin,
  cluster: config.cluster,
  images: config.images,
  dir: config.dir,
  log,
  onChange: () => {
    network.sync();
  },
  fatal,
});
log('node: kubelet, DNS and kube-proxy stand-ins running');

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    log(`node: ${signal}: ending pods`);
    void (async () => {
      await network.stop();
      await dns.close();
      await kubelet.stop();
      log('node: stopped');
      process.exit(0);
    })();
  });
}
