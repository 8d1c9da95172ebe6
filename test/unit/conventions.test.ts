// Kubernetes conventions in what this project ships (issue 26): Kubernetes' recommended
// app.kubernetes.io labels on every object, at package.json's version, and the CRD's category.
// Read from what the real kustomize (the control plane's kubectl) builds, not from the files.
// That `edit` and `view` reach Actions is test/integration/rbac.test.ts's; the labels kn func's
// deployer puts on the Knative Service, test/integration/func-yaml.test.ts's.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { FuncYaml } from '../support/func-yaml.js';
import { kustomize, type Manifest } from '../support/kustomize.js';
import { repoRoot } from '../support/repo.js';

const read = (file: string) => readFileSync(join(repoRoot, file), 'utf8');
const { version } = JSON.parse(read('package.json')) as { version: string };
const NS = 'advance-phase';

/** Every kustomization a user applies. */
const KUSTOMIZATIONS = [
  'config/knative',
  'config/knative/base',
  'config/knative/overlays/any-broker',
  'config/knative/overlays/oidc',
];
/** The parts an object can belong to (docs/operators.md). */
const COMPONENTS = ['namespace', 'function', 'source', 'broker', 'sweep', 'tick', 'user-roles', 'crd'];

const recommended = {
  'app.kubernetes.io/name': NS,
  'app.kubernetes.io/part-of': NS,
  'app.kubernetes.io/version': version,
};
const id = (o: Manifest) => `${o.kind}/${o.metadata.name}`;

const built = new Map<string, Manifest[]>();
const builtOf = (dir: string) => built.get(dir) ?? [];

beforeAll(async () => {
  for (const dir of KUSTOMIZATIONS) built.set(dir, await kustomize(dir));
}, 1_800_000); // the first use builds the control plane's kubectl: minutes on a new machine, cached after

describe('app.kubernetes.io labels, at the version package.json gives', () => {
  it.each(KUSTOMIZATIONS)('on every object %s builds', (dir) => {
    expect(builtOf(dir).length).toBeGreaterThan(0);
    for (const object of builtOf(dir)) {
      const labels = object.metadata.labels ?? {};
      expect(labels, id(object)).toMatchObject(recommended);
      expect(COMPONENTS, id(object)).toContain(labels['app.kubernetes.io/component']);
    }
  });

  it('on the CRD, applied alone from crds/action.yaml', () => {
    const crd = parse(read('crds/action.yaml')) as Manifest;
    expect(crd.metadata.labels).toEqual({ ...recommended, 'app.kubernetes.io/component': 'crd' });
  });

  it("in func.yaml's deploy.labels, for the Knative Service kn func's deployer makes", () => {
    const func = parse(read('func.yaml')) as FuncYaml & { deploy: { labels: { key: string; value: string }[] } };
    const labels = Object.fromEntries(func.deploy.labels.map((l) => [l.key, l.value]));
    expect(labels).toMatchObject({ ...recommended, 'app.kubernetes.io/component': 'function' });
  });
});

describe('the CRD', () => {
  it('is in the category advance-phase (`kubectl get advance-phase`), not in `all`', () => {
    const crd = parse(read('crds/action.yaml')) as { spec: { names: { categories?: string[] } } };
    expect(crd.spec.names.categories).toEqual(['advance-phase']);
  });
});
