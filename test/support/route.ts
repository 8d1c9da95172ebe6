// A request through Serving's route, as a client in the cluster (internal) or outside it
// (external) sends it: to the ingress stand-in's listener that cluster DNS names, with the Knative
// Service's host as its Host header.
import { Resolver } from 'node:dns/promises';
import { request } from 'node:http';
import { EXTERNAL_SERVICE, INGRESS_NAMESPACE, INTERNAL_SERVICE } from '../stack/ingress.js';
import { GATEWAY } from '../stack/netns.js';

const LISTENERS = {
  internal: { service: INTERNAL_SERVICE, port: 80 },
  external: { service: EXTERNAL_SERVICE, port: 8081 },
};

/** A resolver that asks the test bed's cluster DNS, as a pod's resolv.conf does. */
export function clusterDns(): Resolver {
  const resolver = new Resolver({ timeout: 1000, tries: 2 });
  resolver.setServers([GATEWAY]);
  return resolver;
}

export async function throughIngress(
  listener: keyof typeof LISTENERS,
  host: string,
  path = '/',
): Promise<{ status: number; body: string }> {
  const { service, port } = LISTENERS[listener];
  const [address] = await clusterDns().resolve4(`${service}.${INGRESS_NAMESPACE}.svc.cluster.local`);
  return new Promise((resolve, reject) => {
    const req = request({ host: address, port, path, headers: { host }, timeout: 60_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    req.on('error', reject).end();
  });
}
