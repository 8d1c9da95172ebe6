// Knative Serving on the test bed, from the release manifests test/serving/build.sh assembles:
// its controller, webhook, autoscaler and activator as Pods, queue-proxy beside every revision's
// container, and the ingress stand-in (ingress.ts) as its networking layer. The harness sets only
// what an operator sets in Serving's ConfigMaps: the ingress class, the cluster's domain, the
// registry whose tags Serving leaves alone (the bed's images are in none), and autoscaling windows
// short enough for tests (BED_AUTOSCALER, with the defaults beside them).
import { join } from 'node:path';
import type { Admin } from '../support/admin.js';
import { repoRoot } from '../support/repo.js';
import { INGRESS_CLASS, INGRESS_NAMESPACE } from './ingress.js';
import { waitAvailable, waitForWebhooks } from './knative.js';
import type { Images } from './kubelet.js';

export const SERVING_NS = 'knative-serving';
const DEPLOYMENTS = ['controller', 'webhook', 'autoscaler', 'activator'];
const WEBHOOK_CONFIGS = [
  'mutatingwebhookconfigurations/webhook.serving.knative.dev',
  'validatingwebhookconfigurations/validation.webhook.serving.knative.dev',
  'validatingwebhookconfigurations/config.webhook.serving.knative.dev',
];
export const INGRESS_IMAGE = 'test-bed/ingress-stand-in';
/** Where the bed's images "are": a registry Serving is told not to resolve tags in (nothing serves it). */
export const LOCAL_REGISTRY = 'localhost:5000';

/**
 * How fast the autoscaler lets an idle revision go to zero here, and what a cluster has by default:
 * a 60 s stable window and a 30 s grace period (about 90 s idle before scale to zero).
 */
export const BED_AUTOSCALER = { 'stable-window': '6s', 'scale-to-zero-grace-period': '3s' };

/** Each image of the release, and the ingress stand-in's, as the kubelet runs it. */
export function servingImages(bin: string): Images {
  const images: Images = Object.fromEntries(
    ['controller', 'webhook', 'autoscaler', 'activator', 'queue'].map((cmd) => [
      `ko://knative.dev/serving/cmd/${cmd}`,
      { exe: join(bin, cmd) },
    ]),
  );
  // The stand-in runs from source, in the repository (where `--import tsx` resolves).
  images[INGRESS_IMAGE] = {
    exe: process.execPath,
    args: ['--import', 'tsx', 'test/stack/ingress-main.ts'],
    workingDir: repoRoot,
  };
  return images;
}

/** The release's CRDs alone, applied before kube-controller-manager starts (see startCluster's beforeControllers). */
export async function installServingCrds(admin: Admin, bin: string): Promise<void> {
  const core = join(bin, 'yaml', 'release', '10-core');
  await admin.kubectl('apply', '--server-side', '--force-conflicts', '-f', join(core, '300-resources'));
  await admin.kubectl('apply', '--server-side', '--force-conflicts', '-f', join(core, '300-imagecache.yaml'));
  await admin.kubectl('wait', '--for=condition=Established', '--timeout=60s', '--all', 'crd');
}

async function mergeConfig(admin: Admin, name: string, data: Record<string, string>): Promise<void> {
  const res = await admin.request(
    'PATCH',
    `/api/v1/namespaces/${SERVING_NS}/configmaps/${name}`,
    { data },
    'application/merge-patch+json',
  );
  if (res.status !== 200) throw new Error(`ConfigMap ${name}: ${res.status} ${JSON.stringify(res.body)}`);
}

export async function installServing(admin: Admin, bin: string, log: (line: string) => void): Promise<void> {
  const core = join(bin, 'yaml', 'release', '10-core');
  // Namespace and ConfigMaps first, set as an operator would before Serving reads them.
  await admin.kubectl('apply', '-f', join(core, '100-namespace.yaml'));
  await admin.kubectl('apply', '-f', join(core, 'configmaps'));
  await mergeConfig(admin, 'config-network', { 'ingress-class': INGRESS_CLASS });
  await mergeConfig(admin, 'config-domain', { 'example.com': '' });
  await mergeConfig(admin, 'config-autoscaler', BED_AUTOSCALER);
  await mergeConfig(admin, 'config-deployment', {
    'registries-skipping-tag-resolving': `kind.local,ko.local,dev.local,${LOCAL_REGISTRY}`,
  });
  await admin.kubectl('apply', '--server-side', '--force-conflicts', '-R', '-f', core);
  await admin.kubectl('apply', '-f', join(repoRoot, 'test/stack/ingress.yaml'));
  log('knative-serving: release and ingress stand-in applied; waiting for their Deployments');
  await waitAvailable(admin, SERVING_NS, DEPLOYMENTS, 180_000);
  await waitAvailable(admin, INGRESS_NAMESPACE, ['ingress'], 60_000);
  await waitForWebhooks(admin, "Knative Serving's webhook", WEBHOOK_CONFIGS, { rules: false });
}
