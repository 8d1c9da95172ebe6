// What kube-proxy does for the test bed. A Service name resolves straight to a pod's address
// (test/stack/dns.ts), so where a Service's port differs from its target port (broker ingress and
// filter: 80 -> 8080, the dispatcher likewise), the pod's own host redirects the one to the other:
// an iptables REDIRECT rule in that pod's network namespace, for traffic from other hosts and
// from itself. A rule goes with its host when the pod ends.
import { existsSync } from 'node:fs';
import { hostCommand } from './host-command.js';
import type { Host } from './netns.js';
import { readyAddresses, serviceKey, type EndpointSlice, type Service } from './services.js';

export interface Redirect {
  ip: string;
  port: number;
  targetPort: number;
}

/** Every (pod address, Service port -> target port) pair the Services ask for, target port resolved by the slices. */
export function redirects(services: Iterable<Service>, slices: EndpointSlice[]): Redirect[] {
  const ready = readyAddresses(slices);
  const out: Redirect[] = [];
  for (const svc of services) {
    const key = serviceKey(svc.metadata.namespace, svc.metadata.name);
    const mine = slices.filter(
      (s) =>
        s.metadata.namespace === svc.metadata.namespace &&
        s.metadata.labels?.['kubernetes.io/service-name'] === svc.metadata.name,
    );
    for (const p of svc.spec.ports ?? []) {
      const target = mine.flatMap((s) => s.ports ?? []).find((q) => (q.name ?? '') === (p.name ?? ''))?.port;
      if (target === undefined || target === p.port) continue;
      for (const ip of ready.get(key) ?? []) out.push({ ip, port: p.port, targetPort: target });
    }
  }
  return out;
}

/** Adds the rules not yet in place; `applied` remembers each host's redirected ports (a new pod gets a new Host). */
export async function applyRedirects(
  wanted: Redirect[],
  hostsByIp: Map<string, Host>,
  applied: WeakMap<Host, Set<number>>,
): Promise<void> {
  for (const r of wanted) {
    const host = hostsByIp.get(r.ip);
    if (!host) continue;
    const ports = applied.get(host) ?? new Set<number>();
    applied.set(host, ports);
    if (ports.has(r.port)) continue;
    const rule = ['-p', 'tcp', '--dport', String(r.port), '-j', 'REDIRECT', '--to-ports', String(r.targetPort)];
    const iptables = (...args: string[]) =>
      hostCommand('kube-proxy', 'ip', ['netns', 'exec', host.netns, 'iptables', '-t', 'nat', ...args]);
    try {
      await iptables('-A', 'PREROUTING', ...rule);
      await iptables('-A', 'OUTPUT', '-d', r.ip, ...rule);
    } catch (error) {
      // The pod ended while its rules were being written: its rules went with its namespace.
      if (!existsSync(`/run/netns/${host.netns}`)) continue;
      throw error;
    }
    ports.add(r.port);
  }
}
