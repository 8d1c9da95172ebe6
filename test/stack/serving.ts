// The one part of the chain that cannot run here, Knative Serving (it needs an ingress layer),
// and `kn func deploy`, which would create the function's Knative Service. This stands in for
// both with the least that Eventing reads and the function needs, all written by the harness:
//   - a minimal `services.serving.knative.dev/v1` CRD and the function's Knative Service, whose
//     `status.address.url` is all Eventing's addressable resolver reads (it checks no condition);
//   - what Serving would run behind that address: a Deployment of the function (image
//     `advance-phase`, run by the kubelet as `node dist/index.js`) with func.yaml's ServiceAccount,
//     run envs and health endpoints, PORT=8080 as Knative sets it, and a Service port 80 -> 8080.
// No scale to zero, no activator, no queue-proxy: the filter delivers straight to the pod.
import type { Admin } from '../support/admin.js';
import { deployedEnvs, readFuncYaml } from '../support/func-yaml.js';
import { fqdn } from './services.js';

export const FUNCTION_IMAGE = 'advance-phase';
const CRD = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'services.serving.knative.dev' },
  spec: {
    group: 'serving.knative.dev',
    names: { kind: 'Service', plural: 'services', singular: 'service', shortNames: ['ksvc'], listKind: 'ServiceList' },
    scope: 'Namespaced',
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        subresources: { status: {} },
        schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
      },
    ],
  },
};

const must = async (what: string, res: Promise<{ status: number; body: unknown }>, ok = [200, 201, 409]) => {
  const { status, body } = await res;
  if (!ok.includes(status)) throw new Error(`${what}: ${status} ${JSON.stringify(body)}`);
};

/**
 * The Knative Service CRD, as an installed Serving has it before anything refers to a Service.
 * Installed first: Knative's resolver tracks a sink only for a kind that exists, so a PingSource
 * reconciled before the CRD would never hear of the Service created later (seen once in CI).
 */
export async function installServingCrd(admin: Admin): Promise<void> {
  await must(
    'the Knative Service CRD',
    admin.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', CRD),
  );
  await admin.kubectl('wait', '--for=condition=Established', '--timeout=60s', 'crd/services.serving.knative.dev');
}

/** Installs the function's Knative Service (with its address) and what serves it, as `kn func deploy` would. Returns the Service's name. */
export async function deployFunction(admin: Admin, namespace: string): Promise<string> {
  const func = readFuncYaml();
  const name = func.name;

  const labels = { 'serving.knative.dev/service': name };
  const probe = (path: string) => ({ httpGet: { path, port: 8080 } });
  await must(
    'the function Deployment',
    admin.request('POST', `/apis/apps/v1/namespaces/${namespace}/deployments`, {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace, labels },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: func.deploy.serviceAccountName,
            containers: [
              {
                name: 'user-container',
                image: FUNCTION_IMAGE,
                env: [{ name: 'PORT', value: '8080' }, ...deployedEnvs(func)],
                ports: [{ name: 'http1', containerPort: 8080 }],
                readinessProbe: probe(func.deploy.healthEndpoints.readiness),
                livenessProbe: probe(func.deploy.healthEndpoints.liveness),
              },
            ],
          },
        },
      },
    }),
  );
  await must(
    'the function Service',
    admin.request('POST', `/api/v1/namespaces/${namespace}/services`, {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace, labels },
      spec: { selector: labels, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
    }),
  );
  const ksvc = `/apis/serving.knative.dev/v1/namespaces/${namespace}/services`;
  await must(
    'the Knative Service',
    admin.request('POST', ksvc, {
      apiVersion: 'serving.knative.dev/v1',
      kind: 'Service',
      metadata: { name, namespace },
    }),
  );
  const url = `http://${fqdn(namespace, name)}`;
  await must(
    'its address',
    admin.request(
      'PATCH',
      `${ksvc}/${name}/status`,
      { status: { url, address: { url } } },
      'application/merge-patch+json',
    ),
    [200],
  );
  return name;
}
