// The function for GitOps (config/knative/function, its image set by kustomize's images: as a
// user sets theirs) against what kn func's own deployer made of func.yaml on this bed, as `kn func
// deploy` does: the same object, apart from the BUILT variable kn func stamps at deploy time (and
// what Serving's webhook defaults in the live one).
import { describe, expect, inject, it } from 'vitest';
import { FUNCTION_IMAGE } from '../stack/function.js';
import { attachStack } from '../stack/stack.js';
import { kustomizeAs } from '../support/kustomize.js';

const stack = attachStack(inject('stack'));

type Ksvc = {
  metadata: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: { template: { metadata: unknown; spec: { containers: { env?: { name: string }[] }[] } } };
};

describe('the function for GitOps', () => {
  it('kn func deploy made the Knative Service config/knative ships, but for BUILT', async () => {
    const images = [{ name: 'advance-phase', newName: FUNCTION_IMAGE }];
    const shipped = (await kustomizeAs('config/knative/function', { images })).find(
      (o) => o.apiVersion === 'serving.knative.dev/v1' && o.kind === 'Service',
    ) as unknown as Ksvc | undefined;
    if (!shipped) throw new Error('config/knative/function holds no Knative Service');
    const live = (
      await stack.admin.request<Ksvc>(
        'GET',
        `/apis/serving.knative.dev/v1/namespaces/${stack.namespace}/services/advance-phase`,
      )
    ).body;
    const [container] = live.spec.template.spec.containers;
    expect(container?.env?.map((e) => e.name)).toContain('BUILT');
    if (container?.env) container.env = container.env.filter((e) => e.name !== 'BUILT');
    // What Serving's webhook defaults (probe thresholds, timeouts, its own annotations) is only in the live one.
    expect(live.metadata.labels).toMatchObject(shipped.metadata.labels ?? {});
    expect(live.spec.template).toMatchObject(shipped.spec.template);
  });
});
