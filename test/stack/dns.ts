// What cluster DNS does for the test bed: a DNS server on the bridge's address, port 53, that
// every test host's resolv.conf names (test/stack/netns.ts). It answers A queries for
// `<svc>.<ns>.svc.cluster.local` with the Service's ready endpoint addresses (there are no
// cluster IPs: test/stack/kube-proxy.ts makes the Service's ports work there), and an
// ExternalName Service with a CNAME to its target, plus the target's addresses when the target is
// one of them, as CoreDNS does. Every answer has TTL 0 and no client here caches DNS (Go's
// resolver and glibc keep nothing), so a pod that comes back at a new address is found by the
// next lookup. UDP only: no answer here comes near 512 bytes.
import { createSocket } from 'node:dgram';
import { isIPv4 } from 'node:net';
import { StandInFailure } from './host-command.js';
import { fqdn, readyAddresses, serviceKey, type EndpointSlice, type Service } from './services.js';

export const DNS_PORT = 53;

/** name (lower case, no trailing dot) -> what it answers. */
export type Records = Map<string, { addresses: string[] } | { cname: string }>;

/** The names cluster DNS answers for: every Service with a ready endpoint, every ExternalName Service. */
export function serviceRecords(services: Iterable<Service>, slices: Iterable<EndpointSlice>): Records {
  const ready = readyAddresses(slices);
  const records: Records = new Map();
  for (const svc of services) {
    const name = fqdn(svc.metadata.namespace, svc.metadata.name);
    if (svc.spec.type === 'ExternalName') {
      const target = (svc.spec.externalName ?? '').replace(/\.$/, '').toLowerCase();
      if (target) records.set(name, { cname: target });
      continue;
    }
    const addresses = ready.get(serviceKey(svc.metadata.namespace, svc.metadata.name)) ?? [];
    if (addresses.length > 0) records.set(name, { addresses });
  }
  return records;
}

const TYPE_A = 1;
const TYPE_CNAME = 5;
const CLASS_IN = 1;
const RCODE_FORMERR = 1;
const RCODE_NXDOMAIN = 3;

interface Question {
  id: number;
  flags: number;
  /** The name's bytes as asked (labels, final zero), echoed in the answer's question section. */
  wire: Buffer;
  name: string;
  type: number;
  cls: number;
}

function parseQuestion(query: Buffer): Question | undefined {
  if (query.length < 12 || query.readUInt16BE(4) !== 1) return undefined;
  const labels: string[] = [];
  let at = 12;
  for (;;) {
    const length = query[at];
    if (length === undefined || length > 63) return undefined; // a pointer (0xc0) never starts a question
    at += 1;
    if (length === 0) break;
    if (at + length > query.length) return undefined;
    labels.push(query.toString('latin1', at, at + length));
    at += length;
  }
  if (at + 4 > query.length) return undefined;
  return {
    id: query.readUInt16BE(0),
    flags: query.readUInt16BE(2),
    wire: query.subarray(12, at),
    name: labels.join('.').toLowerCase(),
    type: query.readUInt16BE(at),
    cls: query.readUInt16BE(at + 2),
  };
}

function encodeName(name: string): Buffer {
  const parts = name.split('.').map((label) => {
    const bytes = Buffer.from(label, 'latin1');
    return Buffer.concat([Buffer.from([bytes.length]), bytes]);
  });
  return Buffer.concat([...parts, Buffer.from([0])]);
}

function record(owner: string, type: number, data: Buffer): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(type, 0);
  fixed.writeUInt16BE(CLASS_IN, 2);
  fixed.writeUInt32BE(0, 4); // TTL 0: nothing may keep an answer
  fixed.writeUInt16BE(data.length, 8);
  return Buffer.concat([encodeName(owner), fixed, data]);
}

/** The answer records for `name`: a CNAME chain through `records`, then addresses (for A queries). */
function answers(records: Records, name: string, type: number): Buffer[] | undefined {
  const out: Buffer[] = [];
  let current = name;
  for (let hops = 0; hops < 8; hops++) {
    const found = records.get(current);
    if (!found) return hops === 0 ? undefined : out; // a target outside the cluster: the client asks for it
    if ('cname' in found) {
      out.push(record(current, TYPE_CNAME, encodeName(found.cname)));
      current = found.cname;
      continue;
    }
    if (type === TYPE_A)
      for (const address of found.addresses.filter((a) => isIPv4(a)))
        out.push(record(current, TYPE_A, Buffer.from(address.split('.').map(Number))));
    return out;
  }
  return out;
}

/** The response to one query, or undefined for bytes that are not a query at all. */
export function respond(query: Buffer, records: Records): Buffer | undefined {
  if (query.length < 12 || (query.readUInt16BE(2) & 0x8000) !== 0) return undefined; // a response, not a query
  const question = parseQuestion(query);
  const header = Buffer.alloc(12);
  header.writeUInt16BE(query.readUInt16BE(0), 0);
  // QR, the query's opcode and RD, AA (this server owns the names), RA (clients refuse a lame answer).
  const flags = 0x8000 | (query.readUInt16BE(2) & 0x7900) | 0x0400 | 0x0080;
  if (!question || question.cls !== CLASS_IN) {
    header.writeUInt16BE(flags | RCODE_FORMERR, 2);
    return header;
  }
  const found = answers(records, question.name, question.type);
  header.writeUInt16BE(flags | (found ? 0 : RCODE_NXDOMAIN), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(found?.length ?? 0, 6);
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(question.type, 0);
  tail.writeUInt16BE(question.cls, 2);
  return Buffer.concat([header, question.wire, tail, ...(found ?? [])]);
}

export interface DnsServer {
  port: number;
  close(): Promise<void>;
}

/** Serves `records()` (read on every query) on UDP `address:port`. */
export async function startDns(
  address: string,
  port: number,
  records: () => Records,
  fatal: (error: unknown) => void,
): Promise<DnsServer> {
  const socket = createSocket('udp4');
  const failure = (e: Error) => new StandInFailure('cluster DNS', `serving UDP ${address}:${port}:`, e.message);
  await new Promise<void>((resolve, reject) => {
    socket.once('error', (e) => {
      reject(failure(e));
    });
    socket.bind(port, address, () => {
      socket.removeAllListeners('error');
      socket.on('error', (e) => {
        fatal(failure(e));
      });
      resolve();
    });
  });
  socket.on('message', (query, from) => {
    const response = respond(query, records());
    if (response) socket.send(response, from.port, from.address);
  });
  return {
    port: socket.address().port,
    close: () =>
      new Promise((resolve) =>
        socket.close(() => {
          resolve();
        }),
      ),
  };
}
