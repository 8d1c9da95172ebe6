// Starts a real kube-apiserver + etcd (built from their Go modules on first use) for the
// integration suite and installs the Action CRD. If it cannot start, the suite fails here,
// loudly: there is no skipping. It also builds, here where no test's timeout runs, the Go modules
// the suite's test beds and checks use, which take minutes on a new machine (cached after).
import type { TestProject } from 'vitest/node';
import { join } from 'node:path';
import { startCluster, type ClusterInfo } from '../cluster/cluster.js';
import { runBuildScript } from '../cluster/processes.js';
import { logToStderr } from '../support/log.js';
import { repoRoot } from '../support/repo.js';
import { Admin } from '../support/admin.js';

declare module 'vitest' {
  export interface ProvidedContext {
    cluster: ClusterInfo;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  for (const module of ['test/knative', 'test/serving', 'test/funcyaml', 'test/prometheus'])
    await runBuildScript(join(repoRoot, module, 'build.sh'), logToStderr);
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
