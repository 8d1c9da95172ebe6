// Keeps the DNS and kube-proxy stand-ins in line with the cluster: watches Services and
// EndpointSlices (written by kube-controller-manager from the pods the kubelet reports) and, on
// every change there or in the kubelet's pods, recomputes the names DNS answers and adds
// redirects. What they cannot do (a failed command, a watch that ends for good) goes to `fatal`.
// As cluster DNS answers before any pod starts, the node starts its pods once `synced`: a process
// that resolves a name once at start (Knative's OIDC verifier resolves kubernetes.default.svc
// once, and stays without a provider if that fails) finds it.
import type { Admin } from '../support/admin.js';
import { serviceRecords, type Records } from './dns.js';
import { applyRedirects, redirects } from './kube-proxy.js';
import type { Host } from './netns.js';
import type { EndpointSlice, Service } from './services.js';

export interface Network {
  /** Resolves once Services and EndpointSlices have been listed: the names are all known. */
  synced: Promise<void>;
  /** What cluster DNS answers now. */
  records(): Records;
  /** Recompute now (the kubelet calls this when a pod's address comes or goes). */
  sync(): void;
  /** Stops watching and waits for the rewrite under way. */
  stop(): Promise<void>;
}

export function startNetwork(admin: Admin, hosts: () => Iterable<Host>, fatal: (error: unknown) => void): Network {
  const services = new Map<string, Service>();
  const slices = new Map<string, EndpointSlice>();
  const applied = new WeakMap<Host, Set<number>>();
  const abort = new AbortController();
  let pending: Promise<void> = Promise.resolve();
  let records: Records = new Map();

  const sync = (): void => {
    records = serviceRecords(services.values(), slices.values());
    pending = pending
      .then(() =>
        applyRedirects(
          redirects(services.values(), [...slices.values()]),
          new Map([...hosts()].map((host) => [host.ip, host])),
          applied,
        ),
      )
      .catch(fatal);
  };
  const track =
    <T extends { metadata: { name: string; namespace: string } }>(into: Map<string, T>) =>
    (type: 'ADDED' | 'MODIFIED' | 'DELETED', object: T): void => {
      const key = `${object.metadata.namespace}/${object.metadata.name}`;
      if (type === 'DELETED') into.delete(key);
      else into.set(key, object);
      sync();
    };
  const failed = (what: string) => (e: Error) => {
    if (!abort.signal.aborted)
      fatal(new Error(`the cluster DNS and kube-proxy stand-ins stopped watching ${what}: ${e.message}`));
  };
  const listed = <T extends Service | EndpointSlice>(path: string, into: Map<string, T>, what: string) =>
    new Promise<void>((resolve) => {
      void admin.watch(path, track(into), abort.signal, resolve).catch(failed(what));
    });
  const synced = Promise.all([
    listed('/api/v1/services', services, 'Services'),
    listed('/apis/discovery.k8s.io/v1/endpointslices', slices, 'EndpointSlices'),
  ]).then(() => undefined);
  return {
    synced,
    records: () => records,
    sync,
    stop: async () => {
      abort.abort();
      await pending;
    },
  };
}
