// The Services and EndpointSlices of the test bed, as the DNS and kube-proxy stand-ins read them.
export interface ServicePort {
  name?: string;
  port: number;
  targetPort?: number | string;
}
export interface Service {
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: { type?: string; externalName?: string; ports?: ServicePort[] };
}
export interface EndpointSlice {
  metadata: { name: string; namespace: string; resourceVersion?: string; labels?: Record<string, string> };
  addressType: string;
  endpoints?: { addresses: string[]; conditions?: { ready?: boolean } }[];
  ports?: { name?: string; port?: number }[];
}

export const CLUSTER_DOMAIN = 'cluster.local';
export const serviceKey = (namespace: string, name: string) => `${namespace}/${name}`;
export const fqdn = (namespace: string, name: string) => `${name}.${namespace}.svc.${CLUSTER_DOMAIN}`;

/** The ready IPv4 endpoint addresses of each Service, from the slices labelled with its name. */
export function readyAddresses(slices: Iterable<EndpointSlice>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const slice of slices) {
    const service = slice.metadata.labels?.['kubernetes.io/service-name'];
    if (!service || slice.addressType !== 'IPv4') continue;
    const key = serviceKey(slice.metadata.namespace, service);
    const ready = (slice.endpoints ?? []).filter((e) => e.conditions?.ready !== false).flatMap((e) => e.addresses);
    out.set(key, [...(out.get(key) ?? []), ...ready].sort());
  }
  return out;
}
