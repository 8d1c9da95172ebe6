// The shipped wiring as a cluster gets it: `kubectl kustomize`, run by the kubectl built with the
// control plane (test/cluster/build.sh, cached under .cache/bin), parsed. Tests read the built
// objects rather than the files wherever kustomize adds something (labels, namespaces, vars).
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { buildControlPlane } from '../cluster/cluster.js';
import { repoRoot } from './repo.js';

const run = promisify(execFile);

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

let kubectl: Promise<string> | undefined;

/** The built kubectl (the build is a no-op once cached; the first call waits for it otherwise). */
export function kubectlPath(): Promise<string> {
  kubectl ??= buildControlPlane().then((dir) => join(dir, 'kubectl'));
  return kubectl;
}

/** The objects `kubectl kustomize dir` builds; dir is relative to the repository or absolute. */
export async function kustomize(dir: string): Promise<Manifest[]> {
  const { stdout } = await run(await kubectlPath(), ['kustomize', dir], { cwd: repoRoot, maxBuffer: 16 << 20 });
  return parseAllDocuments(stdout).map((doc) => doc.toJS() as Manifest);
}
