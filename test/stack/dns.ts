// What cluster DNS does for the test bed: every test host's hosts file names each Service
// (`<svc>.<ns>.svc.cluster.local`, `<svc>.<ns>.svc`, `<svc>.<ns>`) with the address of one ready
// endpoint (there are no cluster IPs: test/stack/kube-proxy.ts makes the Service's ports work
// there), and an ExternalName Service with its target's address when the target is one of them.
// Files are rewritten in place: `ip netns exec` bind-mounts each over /etc/hosts, and a rename
// would leave the mount on the old file. Go re-reads a changed hosts file within 5 s.
import { writeFile } from 'node:fs/promises';
import { StandInFailure } from './host-command.js';
import type { Host } from './netns.js';
import { fqdn, readyAddresses, serviceKey, type EndpointSlice, type Service } from './services.js';

/** name -> address for every Service that has one. */
export function serviceNames(services: Iterable<Service>, slices: Iterable<EndpointSlice>): Map<string, string> {
  const ready = readyAddresses(slices);
  const names = new Map<string, string>();
  const external: Service[] = [];
  for (const svc of services) {
    if (svc.spec.type === 'ExternalName') external.push(svc);
    const address = ready.get(serviceKey(svc.metadata.namespace, svc.metadata.name))?.[0];
    if (address) names.set(fqdn(svc.metadata.namespace, svc.metadata.name), address);
  }
  for (const svc of external) {
    const target = names.get((svc.spec.externalName ?? '').replace(/\.$/, ''));
    if (target) names.set(fqdn(svc.metadata.namespace, svc.metadata.name), target);
  }
  return names;
}

export function hostsFile(own: { name: string; ip: string }, names: Map<string, string>): string {
  const lines = ['127.0.0.1 localhost', `${own.ip} ${own.name}`];
  for (const [name, address] of [...names].sort(([a], [b]) => a.localeCompare(b))) {
    const short = name.replace(/\.cluster\.local$/, '');
    lines.push(`${address} ${name} ${short} ${short.replace(/\.svc$/, '')}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Writes every host's hosts file: its own name and every Service's. */
export async function writeHostsFiles(
  hosts: Iterable<{ name: string; host: Host }>,
  names: Map<string, string>,
): Promise<void> {
  // A host may be going meanwhile; its file goes with it.
  const write = ({ name, host }: { name: string; host: Host }) =>
    writeFile(host.hostsFile, hostsFile({ name, ip: host.ip }, names)).catch((e: unknown) => {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
        throw new StandInFailure('cluster DNS', `writing ${host.hostsFile}`, (e as Error).message);
    });
  await Promise.all([...hosts].map(write));
}
