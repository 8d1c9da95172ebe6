// The project's own test hosts: one network namespace per process, each with an address of its
// own on a bridge in the root namespace, so that Kubernetes accepts it in Endpoints and
// EndpointSlices (loopback and link-local addresses are refused) and every process may bind the
// ports Knative fixes. The root namespace holds the bridge's first address (kube-apiserver and the
// tests live there). Nothing here is routed beyond the bridge: no default route in a host, no NAT.
// Each host has its own /etc/netns/<netns>/hosts and resolv.conf (bind-mounted over /etc's by
// `ip netns exec`): its hosts file names itself, its resolv.conf names the cluster DNS stand-in
// on the bridge (test/stack/dns.ts), so no lookup leaves the machine.
import { existsSync } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hostCommand } from './host-command.js';
import { CLUSTER_DOMAIN } from './services.js';
import { messageOf } from '../support/log.js';

/** Everything this module creates is named with this prefix, so a crashed run's leftovers can be found. */
const PREFIX = 'ap-';
export const BRIDGE = `${PREFIX}br0`;
const SUBNET = '10.231.0';
/** The root namespace's address on the bridge. */
export const GATEWAY = `${SUBNET}.1`;
const NETNS_ETC = '/etc/netns';

export interface Host {
  /** The network namespace, `ap-<name>`. */
  netns: string;
  ip: string;
}

const ip = (...args: string[]) => hostCommand('kubelet', 'ip', args);

/**
 * Removes what an earlier run left behind (a crash skips its cleanup; its processes died with it),
 * then creates the bridge. Refuses while processes still run in a host: that is a live test bed
 * (a stack:up, or another test run), which one machine has room for only once.
 */
export async function createBridge(): Promise<void> {
  for (const netns of await ownNamespaces()) {
    const pids = (await ip('netns', 'pids', netns)).stdout.trim();
    if (pids)
      throw new Error(
        `a test bed is running already (processes ${pids.split('\n').join(', ')} in ${netns}): stop it first (npm run stack:down)`,
      );
  }
  await removeAll();
  await ip('link', 'add', BRIDGE, 'type', 'bridge');
  await ip('addr', 'add', `${GATEWAY}/24`, 'dev', BRIDGE);
  await ip('link', 'set', BRIDGE, 'up');
}

/**
 * A host on the bridge at 10.231.0.<index> (2-254), its network namespace named `ap-<name>`, its
 * hosts file giving `hostname` its address (a pod's hostname is its name). `namespace` is the
 * Kubernetes namespace of what runs there: its resolv.conf searches `<namespace>.svc.cluster.local`
 * first, as a pod's does.
 */
export async function createHost(name: string, index: number, namespace: string, hostname = name): Promise<Host> {
  if (!Number.isInteger(index) || index < 2 || index > 254) throw new Error(`host index ${index} is outside 2-254`);
  const netns = `${PREFIX}${name}`;
  if (netns.length > 15) throw new Error(`host name ${name} is too long for a link name`); // IFNAMSIZ - 1
  const address = `${SUBNET}.${index}`;
  const outside = `${PREFIX}v${index}`;
  await ip('netns', 'add', netns);
  await ip('link', 'add', outside, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns);
  await ip('link', 'set', outside, 'master', BRIDGE, 'up');
  await ip('-n', netns, 'addr', 'add', `${address}/24`, 'dev', 'eth0');
  await ip('-n', netns, 'link', 'set', 'eth0', 'up');
  await ip('-n', netns, 'link', 'set', 'lo', 'up');
  const dir = join(NETNS_ETC, netns);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'hosts'), `127.0.0.1 localhost\n${address} ${hostname}\n`);
  const search = [`${namespace}.svc.${CLUSTER_DOMAIN}`, `svc.${CLUSTER_DOMAIN}`, CLUSTER_DOMAIN].join(' ');
  await writeFile(
    join(dir, 'resolv.conf'),
    `# cluster DNS: the node's stand-in on the bridge\nnameserver ${GATEWAY}\nsearch ${search}\noptions ndots:5\n`,
  );
  return { netns, ip: address };
}

/** Ends what runs in the host and deletes it, its link and its files. */
export async function removeHost(host: Pick<Host, 'netns'>): Promise<void> {
  await removeNetns(host.netns);
  await rm(join(NETNS_ETC, host.netns), { recursive: true, force: true, maxRetries: 3 });
}

/**
 * Ends what runs in the host but keeps its address on the bridge, with nothing listening: a
 * connection to it is refused at once, as kube-proxy refuses one to a Service whose pod is gone.
 * Deleted, the address would swallow connections until their dial timed out (the neighbour
 * caches of the other hosts still point at it), since clients here dial pod addresses, not a
 * ClusterIP. removeHost deletes it when its address is given out again.
 */
export async function retireHost(host: Pick<Host, 'netns'>): Promise<void> {
  const pids = (await ip('netns', 'pids', host.netns)).stdout.split('\n').filter(Boolean).map(Number);
  for (const pid of pids) process.kill(pid, 'SIGKILL');
}

async function removeNetns(netns: string): Promise<void> {
  // A namespace lives on while a process is inside it (and so do its links): end those first.
  const pids = (await ip('netns', 'pids', netns)).stdout.split('\n').filter(Boolean).map(Number);
  for (const pid of pids) process.kill(pid, 'SIGKILL');
  // Deleting a namespace deletes its end of each veth pair, and with it the outside end.
  await ip('netns', 'delete', netns);
}

/** The command line that runs `exe` inside the host. */
export function inHost(host: Pick<Host, 'netns'>, exe: string, args: string[]): { exe: string; args: string[] } {
  return { exe: 'ip', args: ['netns', 'exec', host.netns, exe, ...args] };
}

/** Ends what runs in a host, deletes every host, link, hosts file and the bridge this module made, by name prefix. */
export async function removeAll(): Promise<void> {
  for (const netns of await ownNamespaces()) await removeNetns(netns);
  const links = JSON.parse((await ip('-j', 'link', 'show')).stdout) as { ifname: string }[];
  for (const { ifname } of links) {
    // A veth whose namespace just went may vanish on its own meanwhile.
    if (!ifname.startsWith(PREFIX)) continue;
    await ip('link', 'delete', ifname).catch((e: unknown) => {
      if (!/Cannot find device/.test(messageOf(e))) throw e;
    });
  }
  if (existsSync(NETNS_ETC)) {
    for (const entry of await readdir(NETNS_ETC))
      if (entry.startsWith(PREFIX)) await rm(join(NETNS_ETC, entry), { recursive: true, force: true });
  }
}

async function ownNamespaces(): Promise<string[]> {
  const { stdout } = await ip('-j', 'netns', 'list');
  return ((stdout.trim() ? JSON.parse(stdout) : []) as { name: string }[])
    .map((n) => n.name)
    .filter((n) => n.startsWith(PREFIX));
}
