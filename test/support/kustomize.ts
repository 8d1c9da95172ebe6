// The shipped wiring as a cluster gets it: `kubectl kustomize`, run by the kubectl built with the
// control plane (test/cluster/build.sh, cached under .cache/bin), parsed. Tests read the built
// objects rather than the files wherever kustomize adds something (labels, namespaces, vars).
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments, stringify } from 'yaml';
import { buildControlPlane } from '../cluster/cluster.js';
import type { Admin } from './admin.js';
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

/** What a user's own kustomization sets over one of this repository's. */
export interface OwnSettings {
  namespace?: string;
  images?: { name: string; newName: string }[];
}

/**
 * Runs `use` on the folder of a user's own kustomization that lists `dir` (a kustomization of
 * this repository) as its resource, with what it sets: a `namespace` (the installation moved,
 * overlay-free) or `images` (the function's image, as a GitOps user sets theirs).
 */
export async function withOwnKustomization<T>(
  dir: string,
  set: OwnSettings,
  use: (ownDir: string) => Promise<T>,
): Promise<T> {
  const tmp = await mkdtemp(join(tmpdir(), 'kustomize-'));
  try {
    // kustomize takes a directory resource only by a relative path.
    const own = {
      apiVersion: 'kustomize.config.k8s.io/v1beta1',
      kind: 'Kustomization',
      ...set,
      resources: [relative(tmp, join(repoRoot, dir))],
    };
    await writeFile(join(tmp, 'kustomization.yaml'), stringify(own));
    return await use(tmp);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** What that kustomization builds. */
export const kustomizeAs = (dir: string, set: OwnSettings): Promise<Manifest[]> =>
  withOwnKustomization(dir, set, kustomize);

/** Kinds every API server serves, which a cluster without Knative's CRDs accepts. */
export const RBAC_KINDS: ReadonlySet<string> = new Set([
  'Namespace',
  'ServiceAccount',
  'ClusterRole',
  'ClusterRoleBinding',
  'Role',
  'RoleBinding',
]);

/**
 * Applies, as cluster-admin, what `dir` builds and `keep` selects: the shipped RBAC on a cluster
 * without Knative, say. Built, not the files: the binding subjects' namespace is kustomize's.
 */
export async function applyBuilt(admin: Admin, dir: string, keep: (o: Manifest) => boolean): Promise<void> {
  const objects = (await kustomize(dir)).filter(keep);
  const tmp = await mkdtemp(join(tmpdir(), 'kustomize-'));
  try {
    const file = join(tmp, 'objects.yaml');
    await writeFile(file, objects.map((o) => stringify(o)).join('---\n'));
    await admin.kubectl('apply', '-f', file);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
