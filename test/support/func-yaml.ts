// func.yaml as kn func's deployer turns it into a container (knative.dev/func v0.50.1,
// pkg/k8s/deployer.go createEnvVarSource): a run env `{{ configMap:name:key }}` becomes a
// configMapKeyRef, everything else is a literal value. The buildpack replay (which launches
// without a cluster, so it resolves the references against config/knative/base as kustomize
// builds it) and the checks of func.yaml read it through this one file; the test bed deploys
// with kn func's own deployer.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { Manifest } from './kustomize.js';
import { repoRoot } from './repo.js';

export interface FuncYaml {
  name: string;
  build: { buildEnvs?: { name: string; value: string }[] };
  run?: { envs?: { name: string; value: string }[] };
  deploy: { serviceAccountName: string; healthEndpoints: { liveness: string; readiness: string } };
}

export type EnvVar =
  { name: string; value: string } | { name: string; valueFrom: { configMapKeyRef: { name: string; key: string } } };

/** func's own pattern for a key from a ConfigMap (pkg/functions/function.go regKeyFromConfigMap). */
const CONFIG_MAP_KEY = /^{{\s*configMap:((?:\w|['-]\w)+):([-._a-zA-Z0-9]+)\s*}}$/;

export function readFuncYaml(): FuncYaml {
  return parse(readFileSync(join(repoRoot, 'func.yaml'), 'utf8')) as FuncYaml;
}

/** The run envs as the deployer writes them into the Knative Service's container. */
export function deployedEnvs(func: FuncYaml = readFuncYaml()): EnvVar[] {
  return (func.run?.envs ?? []).map(({ name, value }) => {
    const ref = CONFIG_MAP_KEY.exec(value);
    return ref
      ? { name, valueFrom: { configMapKeyRef: { name: ref[1] as string, key: ref[2] as string } } }
      : { name, value };
  });
}

/**
 * The run envs a pod gets where `wiring` (config/knative/base as `kustomize` builds it: its
 * namespace is in some values) is applied: its ConfigMaps' values filled in.
 */
export function launchEnvs(wiring: Manifest[], func: FuncYaml = readFuncYaml()): Record<string, string> {
  const data = (name: string) =>
    (wiring.find((o) => o.kind === 'ConfigMap' && o.metadata.name === name)?.['data'] ?? {}) as Record<string, string>;
  return Object.fromEntries(
    deployedEnvs(func).map((e) => {
      if ('value' in e) return [e.name, e.value];
      const { name, key } = e.valueFrom.configMapKeyRef;
      const value = data(name)[key];
      if (value === undefined)
        throw new Error(
          `func.yaml's ${e.name} reads configMap ${name} key ${key}, which config/knative/base does not define`,
        );
      return [e.name, value];
    }),
  );
}
