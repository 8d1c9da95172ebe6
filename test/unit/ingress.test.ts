// The ingress stand-in's routing (test/stack/ingress.ts), on Ingresses shaped as Knative Serving
// writes them for a Route: which listener serves which rule, how splits and headers apply.
import { describe, expect, it } from 'vitest';
import { INGRESS_CLASS, isReady, ownsIngress, readyStatus, route, type KIngress } from '../stack/ingress.js';

const ingress: KIngress = {
  metadata: {
    name: 'fn',
    namespace: 'ns',
    generation: 2,
    annotations: { 'networking.knative.dev/ingress.class': INGRESS_CLASS },
  },
  spec: {
    rules: [
      {
        hosts: ['fn.ns', 'fn.ns.svc', 'fn.ns.svc.cluster.local'],
        visibility: 'ClusterLocal',
        http: {
          paths: [
            {
              headers: { 'Knative-Serving-Tag': { exact: 'old' } },
              splits: [{ serviceNamespace: 'ns', serviceName: 'fn-00001', servicePort: 80, percent: 100 }],
            },
            {
              splits: [
                {
                  serviceNamespace: 'ns',
                  serviceName: 'fn-00001',
                  servicePort: 80,
                  percent: 20,
                  appendHeaders: { 'Knative-Serving-Revision': 'fn-00001', 'Knative-Serving-Namespace': 'ns' },
                },
                {
                  serviceNamespace: 'ns',
                  serviceName: 'fn-00002',
                  servicePort: 80,
                  percent: 80,
                  appendHeaders: { 'Knative-Serving-Revision': 'fn-00002', 'Knative-Serving-Namespace': 'ns' },
                },
              ],
              appendHeaders: { 'K-Original-Host': 'fn.ns' },
            },
          ],
        },
      },
      {
        hosts: ['fn.ns.example.com'],
        visibility: 'ExternalIP',
        http: { paths: [{ splits: [{ serviceNamespace: 'ns', serviceName: 'fn-00002', servicePort: 80 }] }] },
      },
    ],
  },
};
const ask = (host: string, random = 0.5, headers = {}) =>
  route([ingress], 'ClusterLocal', { host, path: '/', headers }, () => random);

describe('route', () => {
  it("sends a ClusterLocal host to a split by percent, with the path's and the split's headers", () => {
    expect(ask('fn.ns.svc.cluster.local', 0.1)).toEqual({
      url: 'http://fn-00001.ns.svc.cluster.local:80',
      host: 'fn.ns.svc.cluster.local',
      headers: {
        'K-Original-Host': 'fn.ns',
        'Knative-Serving-Revision': 'fn-00001',
        'Knative-Serving-Namespace': 'ns',
      },
    });
    expect(ask('FN.ns.svc:80', 0.5)?.url).toBe('http://fn-00002.ns.svc.cluster.local:80');
  });

  it('takes the first path whose headers match', () => {
    expect(ask('fn.ns', 0.9, { 'knative-serving-tag': 'old' })?.url).toBe('http://fn-00001.ns.svc.cluster.local:80');
  });

  it('serves each rule only on the listener of its visibility', () => {
    expect(ask('fn.ns.example.com')).toBeUndefined();
    expect(route([ingress], 'ExternalIP', { host: 'fn.ns.svc.cluster.local', path: '/', headers: {} })).toBeUndefined();
    expect(route([ingress], 'ExternalIP', { host: 'fn.ns.example.com', path: '/', headers: {} })?.url).toBe(
      'http://fn-00002.ns.svc.cluster.local:80',
    );
  });
});

describe('status', () => {
  it('owns only Ingresses of its class, and is Ready at the generation it saw', () => {
    expect(ownsIngress(ingress)).toBe(true);
    expect(ownsIngress({ ...ingress, metadata: { ...ingress.metadata, annotations: {} } })).toBe(false);
    expect(isReady(ingress)).toBe(false);
    const status = readyStatus(ingress, '2026-12-07T00:00:00Z') as NonNullable<KIngress['status']>;
    expect(isReady({ ...ingress, status })).toBe(true);
    expect(isReady({ ...ingress, metadata: { ...ingress.metadata, generation: 3 }, status })).toBe(false);
    expect(readyStatus(ingress, 'now')).toMatchObject({
      privateLoadBalancer: {
        ingress: [{ domainInternal: 'ingress-internal.knative-ingress-stand-in.svc.cluster.local' }],
      },
    });
  });
});
