// The cluster DNS stand-in (test/stack/dns.ts) asked by a real resolver (Node's c-ares) over UDP:
// what it answers for Services and ExternalName Services, with TTL 0, and what it refuses.
import { Resolver } from 'node:dns/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { respond, serviceRecords, startDns, type DnsServer, type Records } from '../stack/dns.js';
import type { EndpointSlice, Service } from '../stack/services.js';

const service = (namespace: string, name: string, spec: Service['spec'] = {}): Service => ({
  metadata: { namespace, name },
  spec,
});
const slice = (namespace: string, service: string, endpoints: [string, boolean][]): EndpointSlice => ({
  metadata: { namespace, name: `${service}-x`, labels: { 'kubernetes.io/service-name': service } },
  addressType: 'IPv4',
  endpoints: endpoints.map(([address, ready]) => ({ addresses: [address], conditions: { ready } })),
});

let records: Records = new Map();
let server: DnsServer;
const resolver = new Resolver({ timeout: 1000, tries: 1 });

beforeAll(async () => {
  server = await startDns(
    '127.0.0.1',
    0,
    () => records,
    (e) => {
      throw e;
    },
  );
  resolver.setServers([`127.0.0.1:${server.port}`]);
});
afterAll(() => server.close());

describe('serviceRecords', () => {
  it('names each Service with its ready endpoints, and each ExternalName Service with its target', () => {
    const got = serviceRecords(
      [
        service('ns', 'web'),
        service('ns', 'down'),
        service('ns', 'alias', { type: 'ExternalName', externalName: 'Web.ns.svc.cluster.local.' }),
      ],
      [
        slice('ns', 'web', [
          ['10.0.0.3', true],
          ['10.0.0.2', true],
          ['10.0.0.4', false],
        ]),
        slice('ns', 'down', [['10.0.0.5', false]]),
      ],
    );
    expect(Object.fromEntries(got)).toEqual({
      'web.ns.svc.cluster.local': { addresses: ['10.0.0.2', '10.0.0.3'] },
      'alias.ns.svc.cluster.local': { cname: 'web.ns.svc.cluster.local' },
    });
  });
});

describe('the DNS server', () => {
  it('answers A queries with every address, TTL 0, whatever the case of the name', async () => {
    records = new Map([['web.ns.svc.cluster.local', { addresses: ['10.0.0.2', '10.0.0.3'] }]]);
    expect(await resolver.resolve4('Web.NS.svc.cluster.local', { ttl: true })).toEqual([
      { address: '10.0.0.2', ttl: 0 },
      { address: '10.0.0.3', ttl: 0 },
    ]);
  });

  it('answers from the records as they are at each query', async () => {
    records = new Map([['web.ns.svc.cluster.local', { addresses: ['10.0.0.2'] }]]);
    expect(await resolver.resolve4('web.ns.svc.cluster.local')).toEqual(['10.0.0.2']);
    records = new Map([['web.ns.svc.cluster.local', { addresses: ['10.0.0.9'] }]]);
    expect(await resolver.resolve4('web.ns.svc.cluster.local')).toEqual(['10.0.0.9']);
  });

  it('follows an ExternalName to its target inside the cluster, and names a target outside', async () => {
    records = new Map<string, { addresses: string[] } | { cname: string }>([
      ['alias.ns.svc.cluster.local', { cname: 'web.ns.svc.cluster.local' }],
      ['web.ns.svc.cluster.local', { addresses: ['10.0.0.2'] }],
      ['away.ns.svc.cluster.local', { cname: 'example.org' }],
    ]);
    expect(await resolver.resolve4('alias.ns.svc.cluster.local')).toEqual(['10.0.0.2']);
    expect(await resolver.resolveCname('alias.ns.svc.cluster.local')).toEqual(['web.ns.svc.cluster.local']);
    expect(await resolver.resolveCname('away.ns.svc.cluster.local')).toEqual(['example.org']);
  });

  it('says a name it does not know does not exist, and that a known name has no IPv6 address', async () => {
    records = new Map([['web.ns.svc.cluster.local', { addresses: ['10.0.0.2'] }]]);
    await expect(resolver.resolve4('other.ns.svc.cluster.local')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    await expect(resolver.resolve6('web.ns.svc.cluster.local')).rejects.toMatchObject({ code: 'ENODATA' });
  });

  it('answers bytes that are no question with a format error, and a response with nothing', () => {
    const header = (flags: number, questions: number) =>
      Buffer.from([0x12, 0x34, flags >> 8, flags & 0xff, 0, questions, 0, 0, 0, 0, 0, 0]);
    const formErr = respond(header(0x0100, 0), records);
    expect(formErr?.readUInt16BE(0)).toBe(0x1234);
    expect((formErr?.readUInt16BE(2) ?? 0) & 0x800f).toBe(0x8001);
    const truncated = Buffer.concat([header(0x0100, 1), Buffer.from([3, 0x77, 0x65])]);
    expect((respond(truncated, records)?.readUInt16BE(2) ?? 0) & 0x000f).toBe(1);
    expect(respond(header(0x8000, 1), records)).toBeUndefined();
    expect(respond(Buffer.from([1, 2, 3]), records)).toBeUndefined();
  });
});
