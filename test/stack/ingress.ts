// Stand-in for Knative Serving's networking layer (Kourier's controller and its Envoy gateway,
// which cannot run here): it implements Knative's `networking.internal.knative.dev` Ingress for
// its own class, as a net-* implementation does, and nothing of Serving itself.
//   - Routing: a request is matched by its Host to a rule (ClusterLocal rules on the internal
//     listener only, ExternalIP ones on the external listener only), then to the rule's first
//     path whose prefix and exact header matches fit, then to one of its splits by percent; the
//     path's and the split's `appendHeaders` are added (the activator reads the revision from
//     them) and it is proxied to `<serviceName>.<serviceNamespace>.svc.cluster.local:<port>`.
//   - Status: an Ingress of this class is marked NetworkConfigured, LoadBalancerReady and Ready
//     at its generation once its routes are in the table, with the two listeners' Service names
//     as its public and private load balancers (Serving points the cluster-local name there).
// It runs as the one Pod of a Deployment (ingress-main.ts, test/stack/ingress.yaml), as
// Kourier's gateway does, behind the Services ingress-internal and ingress-external.
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { CLUSTER_DOMAIN, fqdn } from './services.js';

export const INGRESS_CLASS = 'test-bed.ingress.networking.knative.dev';
export const INGRESS_NAMESPACE = 'knative-ingress-stand-in';
export const INTERNAL_SERVICE = 'ingress-internal';
export const EXTERNAL_SERVICE = 'ingress-external';
export type Visibility = 'ClusterLocal' | 'ExternalIP';

interface Split {
  serviceNamespace: string;
  serviceName: string;
  servicePort: number | string;
  percent?: number;
  appendHeaders?: Record<string, string>;
}
interface Path {
  path?: string;
  rewriteHost?: string;
  headers?: Record<string, { exact: string }>;
  splits: Split[];
  appendHeaders?: Record<string, string>;
}
export interface KIngress {
  metadata: {
    name: string;
    namespace: string;
    generation?: number;
    resourceVersion?: string;
    annotations?: Record<string, string>;
  };
  spec: { rules?: { hosts?: string[]; visibility?: Visibility; http?: { paths: Path[] } }[] };
  status?: { observedGeneration?: number; conditions?: { type: string; status: string }[] };
}

export interface Route {
  url: string;
  host: string;
  headers: Record<string, string>;
}

export const ownsIngress = (ing: KIngress): boolean =>
  ing.metadata.annotations?.['networking.knative.dev/ingress.class'] === INGRESS_CLASS;

/** Where a request goes, or undefined when no rule of this listener's visibility matches it. */
export function route(
  ingresses: Iterable<KIngress>,
  visibility: Visibility,
  req: { host: string; path: string; headers: Record<string, string | string[] | undefined> },
  random: () => number = Math.random,
): Route | undefined {
  const host = req.host.replace(/:\d+$/, '').toLowerCase();
  for (const ing of ingresses) {
    for (const rule of ing.spec.rules ?? []) {
      if ((rule.visibility ?? 'ExternalIP') !== visibility) continue;
      if (!(rule.hosts ?? []).some((h) => h.toLowerCase() === host)) continue;
      const path = rule.http?.paths.find(
        (p) =>
          req.path.startsWith(p.path ?? '') &&
          Object.entries(p.headers ?? {}).every(([name, m]) => req.headers[name.toLowerCase()] === m.exact),
      );
      if (!path) return undefined;
      const split = pick(path.splits, random);
      if (!split) return undefined;
      return {
        url: `http://${fqdn(split.serviceNamespace, split.serviceName)}:${split.servicePort}`,
        host: path.rewriteHost ?? req.host,
        headers: { ...path.appendHeaders, ...split.appendHeaders },
      };
    }
  }
  return undefined;
}

function pick(splits: Split[], random: () => number): Split | undefined {
  // A lone split without a percent takes everything, as Knative's defaulting would write it.
  if (splits.length === 1) return splits[0];
  let roll = random() * 100;
  for (const s of splits) {
    roll -= s.percent ?? 0;
    if (roll < 0) return s;
  }
  return undefined;
}

/** Proxies one request along its route; a backend that cannot be reached is a 503, as Envoy answers. */
export function proxy(req: IncomingMessage, res: ServerResponse, to: Route): void {
  const target = new URL(req.url ?? '/', to.url);
  const headers = { ...req.headers, host: to.host, ...to.headers };
  const upstream = httpRequest(target, { method: req.method, headers }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(res);
  });
  upstream.on('error', (e) => {
    if (res.headersSent) res.destroy(e);
    else res.writeHead(503, { 'content-type': 'text/plain' }).end(`upstream connect error: ${e.message}\n`);
  });
  req.on('aborted', () => upstream.destroy());
  req.pipe(upstream);
}

/** The status a net-* implementation writes once an Ingress's routes are served. */
export function readyStatus(ing: KIngress, now: string): Record<string, unknown> {
  const lb = (service: string) => ({
    ingress: [{ domainInternal: `${service}.${INGRESS_NAMESPACE}.svc.${CLUSTER_DOMAIN}` }],
  });
  const condition = (type: string) => ({ type, status: 'True', lastTransitionTime: now });
  return {
    observedGeneration: ing.metadata.generation,
    conditions: ['LoadBalancerReady', 'NetworkConfigured', 'Ready'].map(condition),
    publicLoadBalancer: lb(EXTERNAL_SERVICE),
    privateLoadBalancer: lb(INTERNAL_SERVICE),
  };
}

export const isReady = (ing: KIngress): boolean =>
  ing.status?.observedGeneration === ing.metadata.generation &&
  ing.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
