// The test hosts the Knative stack runs its processes in (test/stack/netns.ts): each reachable
// on its own address from the root namespace and from the others, resolving Service names through
// the cluster DNS stand-in on the bridge (test/stack/dns.ts), refusing connections once retired,
// and all of it gone after removeAll.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DNS_PORT, startDns, type DnsServer, type Records } from '../stack/dns.js';
import {
  BRIDGE,
  createBridge,
  createHost,
  GATEWAY,
  inHost,
  removeAll,
  removeHost,
  retireHost,
  type Host,
} from '../stack/netns.js';
import { until } from '../support/wait.js';

const run = promisify(execFile);
const SERVER = "require('node:http').createServer((q, s) => s.end(process.env.WHO)).listen(80, '0.0.0.0')";

let a: Host;
let b: Host;
const servers: ChildProcess[] = [];
let dns: DnsServer;
let records: Records = new Map();

function serve(host: Host, who: string): void {
  const cmd = inHost(host, process.execPath, ['-e', SERVER]);
  servers.push(spawn(cmd.exe, cmd.args, { env: { ...process.env, WHO: who }, stdio: 'ignore' }));
}

async function fetchIn(host: Host, url: string): Promise<string> {
  const cmd = inHost(host, process.execPath, [
    '-e',
    `fetch(${JSON.stringify(url)}).then(r => r.text()).then(t => process.stdout.write(t))`,
  ]);
  return (await run(cmd.exe, cmd.args)).stdout;
}

beforeAll(async () => {
  await createBridge();
  dns = await startDns(
    GATEWAY,
    DNS_PORT,
    () => records,
    (e) => {
      throw e;
    },
  );
  a = await createHost('t-a', 2, 'ns-a');
  b = await createHost('t-b', 3, 'ns-b');
  serve(a, 'a');
  serve(b, 'b');
  await until(
    'both servers',
    async () =>
      (await fetch(`http://${a.ip}/`).catch(() => undefined))?.ok &&
      (await fetch(`http://${b.ip}/`).catch(() => undefined))?.ok,
    10_000,
  );
});

afterAll(async () => {
  for (const s of servers) s.kill('SIGKILL');
  await dns.close();
  await removeAll();
});

describe('test hosts on a bridge', () => {
  it('reaches each host at its own address from the root namespace, and from the other host', async () => {
    expect(await (await fetch(`http://${a.ip}/`)).text()).toBe('a');
    expect(await fetchIn(a, `http://${b.ip}/`)).toBe('b');
  });

  it('resolves names through cluster DNS, as they are at each lookup, short names through its search list', async () => {
    records = new Map([['svc.ns-b.svc.cluster.local', { addresses: [b.ip] }]]);
    expect(await fetchIn(a, 'http://svc.ns-b.svc.cluster.local/')).toBe('b');
    expect(await fetchIn(a, 'http://svc.ns-b/')).toBe('b');
    expect(await fetchIn(b, 'http://svc/')).toBe('b'); // its own namespace's Service
    records = new Map([['svc.ns-b.svc.cluster.local', { addresses: [a.ip] }]]);
    expect(await fetchIn(a, 'http://svc.ns-b.svc.cluster.local/')).toBe('a');
    records = new Map();
    await expect(fetchIn(a, 'http://svc.ns-b.svc.cluster.local/')).rejects.toThrow(/ENOTFOUND/);
  });

  it('names each host in its own hosts file', async () => {
    expect(await fetchIn(a, 'http://t-a/')).toBe('a');
  });

  it("keeps what listens in a host off the root namespace's loopback", async () => {
    await expect(fetch('http://127.0.0.1:80/', { signal: AbortSignal.timeout(2000) })).rejects.toThrow();
  });

  it('refuses a connection to a retired host at once, as kube-proxy does for a Service whose pod is gone', async () => {
    const gone = await createHost('t-d', 5, 'ns-d');
    serve(gone, 'd');
    await until(
      'the server in t-d',
      async () => (await fetch(`http://${gone.ip}/`).catch(() => undefined))?.ok,
      10_000,
    );
    expect(await fetchIn(a, `http://${gone.ip}/`)).toBe('d'); // t-a now knows t-d's link address
    await retireHost(gone);
    const started = Date.now();
    await expect(fetchIn(a, `http://${gone.ip}/`)).rejects.toThrow(/ECONNREFUSED/);
    expect(Date.now() - started).toBeLessThan(5000); // not a dial timeout
    await removeHost(gone);
  });

  it('removes every host, link and hosts file, and the bridge', async () => {
    const extra = await createHost('t-c', 4, 'ns-c');
    await removeAll();
    const { stdout: netns } = await run('ip', ['netns', 'list']);
    expect(netns).not.toMatch(/ap-/);
    const { stdout: links } = await run('ip', ['-br', 'link']);
    expect(links).not.toMatch(new RegExp(`${BRIDGE}|ap-v`));
    expect(existsSync(`/etc/netns/${extra.netns}`)).toBe(false);
    // What ran inside ended with it (with the bridge gone, nothing may be sent to those addresses).
    await until(
      'the servers inside to end',
      () => servers.every((s) => s.exitCode !== null || s.signalCode !== null),
      5_000,
    );
  });
});
