// Starts a real kube-apiserver + etcd (built from their Go modules on first use) for the
// integration suite and installs the Action CRD. If it cannot start, the suite fails here,
// loudly: there is no skipping.
import type { TestProject } from 'vitest/node';
import { startCluster, type ClusterInfo } from '../cluster/cluster.js';
import { Admin } from '../support/admin.js';

declare module 'vitest' {
  export interface ProvidedContext {
    cluster: ClusterInfo;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const cluster = await startCluster({ auditPolicy: true });
  try {
    await new Admin(cluster).installCrd();
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  const { stop, ...info } = cluster;
  project.provide('cluster', info);
  return stop;
}
