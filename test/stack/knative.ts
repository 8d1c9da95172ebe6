// Knative Eventing installed from its own release manifests (core, the MT channel-based broker,
// the in-memory channel; assembled by test/knative/build.sh) and run by the test bed's kubelet:
// every Knative process here is a Pod of a Deployment that Knative's YAML or Knative's controllers
// wrote. The image each names maps to the binary built from the same module.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Admin } from '../support/admin.js';
import { until } from '../support/wait.js';
import type { Images } from './kubelet.js';
import { messageOf } from '../support/log.js';

export const SYSTEM_NS = 'knative-eventing';

/** ko://knative.dev/eventing/cmd/<path> -> the binary build.sh made of it. */
export function knativeImages(bin: string): Images {
  const binaries: Record<string, string> = {
    controller: 'controller',
    webhook: 'webhook',
    mtchannel_broker: 'mtchannel_broker',
    'broker/ingress': 'broker_ingress',
    'broker/filter': 'broker_filter',
    'in_memory/channel_controller': 'channel_controller',
    'in_memory/channel_dispatcher': 'channel_dispatcher',
    mtping: 'mtping',
    apiserver_receive_adapter: 'apiserver_receive_adapter',
  };
  return Object.fromEntries(
    Object.entries(binaries).map(([cmd, file]) => [`ko://knative.dev/eventing/cmd/${cmd}`, { exe: join(bin, file) }]),
  );
}

/**
 * The two ConfigMaps of the release that the module's zip lacks (they are links into
 * third_party/). The controller's Deployment reads image names from them for IntegrationSources,
 * IntegrationSinks and EventTransforms, which nothing here creates; without them its pod would
 * never start. Written by the harness, with the keys the Deployment asks for.
 */
const MISSING_CONFIGMAPS: Record<string, string[]> = {
  'eventing-integrations-images': [
    'timer-source',
    'aws-s3-source',
    'aws-sqs-source',
    'aws-ddb-streams-source',
    'log-sink',
    'aws-s3-sink',
    'aws-sqs-sink',
    'aws-sns-sink',
  ],
  'eventing-transformations-images': ['transform-jsonata'],
};

/** The release's Deployments that must be Available before anything is applied through Knative. */
export const RELEASE_DEPLOYMENTS = [
  'eventing-controller',
  'eventing-webhook',
  'mt-broker-controller',
  'mt-broker-ingress',
  'mt-broker-filter',
  'imc-controller',
  'imc-dispatcher',
];

/** The webhooks whose configurations the Knative webhooks fill in (rules, CA bundle) once they run. */
const WEBHOOK_CONFIGS = [
  'mutatingwebhookconfigurations/webhook.eventing.knative.dev',
  'validatingwebhookconfigurations/validation.webhook.eventing.knative.dev',
  'mutatingwebhookconfigurations/inmemorychannel.eventing.knative.dev',
  'validatingwebhookconfigurations/validation.inmemorychannel.eventing.knative.dev',
];

/** The release's CRDs alone, applied before kube-controller-manager starts (see startCluster's beforeControllers). */
export async function installKnativeCrds(admin: Admin, bin: string): Promise<void> {
  const release = join(bin, 'yaml', 'release');
  for (const crds of ['10-core/resources', '30-in-memory-channel/resources']) {
    await admin.kubectl('apply', '--server-side', '--force-conflicts', '-f', join(release, crds));
  }
  await admin.kubectl('wait', '--for=condition=Established', '--timeout=60s', '--all', 'crd');
}

export async function installKnative(admin: Admin, bin: string, log: (line: string) => void): Promise<void> {
  const release = join(bin, 'yaml', 'release');
  // The namespace first, so the harness's ConfigMaps are there before the Deployments that read them.
  await admin.kubectl('apply', '-f', join(release, '10-core', '100-namespace.yaml'));
  for (const [name, keys] of Object.entries(MISSING_CONFIGMAPS)) {
    const data = Object.fromEntries(keys.map((k) => [k, `not-built-here/${k}`]));
    const res = await admin.request('POST', `/api/v1/namespaces/${SYSTEM_NS}/configmaps`, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name },
      data,
    });
    if (res.status !== 201 && res.status !== 409)
      throw new Error(`ConfigMap ${name}: ${res.status} ${JSON.stringify(res.body)}`);
  }
  for (const part of readdirSync(release).sort()) {
    // Server-side apply: some of Knative's CRDs are too large for client-side apply's annotation.
    await admin.kubectl('apply', '--server-side', '--force-conflicts', '-R', '-f', join(release, part));
    if (part.startsWith('10-'))
      await admin.kubectl('wait', '--for=condition=Established', '--timeout=60s', '--all', 'crd');
  }
  log('knative: release applied; waiting for its Deployments');
  await waitAvailable(admin, SYSTEM_NS, RELEASE_DEPLOYMENTS, 180_000);
  await waitForWebhooks(admin, "Knative's webhooks", WEBHOOK_CONFIGS);
}

/**
 * Waits until a Knative webhook has filled in each of its admission webhook configurations: a CA
 * bundle, and (`rules`, unless the release writes them itself) the rules.
 */
export async function waitForWebhooks(
  admin: Admin,
  who: string,
  configs: string[],
  { rules = true }: { rules?: boolean } = {},
): Promise<void> {
  await until(
    `${who} to configure their admission webhooks`,
    async () => {
      for (const config of configs) {
        const res = await admin.request<{ webhooks?: { clientConfig?: { caBundle?: string }; rules?: unknown[] }[] }>(
          'GET',
          `/apis/admissionregistration.k8s.io/v1/${config}`,
        );
        const filled = (w: { clientConfig?: { caBundle?: string }; rules?: unknown[] }) =>
          Boolean(w.clientConfig?.caBundle) && (!rules || (w.rules?.length ?? 0) > 0);
        if (!res.body.webhooks?.every(filled)) return false;
      }
      return true;
    },
    60_000,
    250,
  );
}

/** Waits until each Deployment reports Available=True, naming the ones that do not. */
export async function waitAvailable(
  admin: Admin,
  namespace: string,
  names: string[],
  timeoutMs: number,
): Promise<void> {
  const pending = async () => {
    const res = await admin.request<{
      items: { metadata: { name: string }; status?: { conditions?: { type: string; status: string }[] } }[];
    }>('GET', `/apis/apps/v1/namespaces/${namespace}/deployments`);
    const available = new Set(
      res.body.items
        .filter((d) => d.status?.conditions?.some((c) => c.type === 'Available' && c.status === 'True'))
        .map((d) => d.metadata.name),
    );
    return names.filter((n) => !available.has(n));
  };
  await until(
    `Deployments ${names.join(', ')} in ${namespace} to be Available`,
    async () => (await pending()).length === 0,
    timeoutMs,
    250,
  ).catch(async (error: unknown) => {
    throw new Error(`${messageOf(error)}; not Available: ${(await pending()).join(', ')}`);
  });
}

/** The README's cluster-admin step: one of config/knative/cluster's patches merged into config-features. */
export async function patchFeatures(admin: Admin, patchFile: string): Promise<void> {
  await admin.kubectl(
    'patch',
    'configmap',
    'config-features',
    '-n',
    SYSTEM_NS,
    '--type',
    'merge',
    '--patch-file',
    patchFile,
  );
}

/**
 * `kubectl apply -k dir` until Knative's webhook admits it: it reads config-features through an
 * informer, so it may refuse what a patch just allowed a moment longer. Returns the last refusal,
 * or '' once admitted.
 */
export async function applyOnceAdmitted(admin: Admin, dir: string, timeoutMs: number): Promise<string> {
  let last = '';
  const admitted = async () => (last = await admin.kubectl('apply', '-k', dir).then(() => '', messageOf)) === '';
  await until(`${dir} to be admitted`, admitted, timeoutMs, 200).catch(() => undefined);
  return last;
}
