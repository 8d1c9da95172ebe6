// The whole chain as local processes, in the topology that ships:
//   ApiServerSource adapter -> broker ingress -> IMC dispatcher -> broker filter -> function
//   mtping (PingSource) -> function
// on the real control plane from test/cluster. No Knative controller or webhook runs, so this
// harness writes the statuses they would write; everything it wires (the Trigger's delivery,
// the source's settings, the PingSource) is read back from config/knative as applied.
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  createServiceAccountToken,
  startCluster,
  writeKubeconfigForToken,
  type Cluster,
  type ClusterInfo,
} from '../cluster/cluster.js';
import { alive, canConnect, freePorts, launch, runBuildScript, stopProcess, waitFor } from '../cluster/processes.js';
import { Admin } from '../support/admin.js';
import { until } from '../support/chain.js';

const run = promisify(execFile);
const repo = fileURLToPath(new URL('../../', import.meta.url));
const cacheDir = process.env.ADVANCE_PHASE_CACHE ?? join(repo, '.cache');
export const stackStatePath = join(cacheDir, 'stack-state.json');

/** Where config/knative puts everything (its kustomization's namespace). */
export const NS = 'advance-phase';
const CHANNEL = 'advance-phase-kne-trigger'; // the name Knative's broker controller gives it
const SYSTEM_NS = 'knative-eventing';
/** Fixed by the dispatcher: its ingress, its HTTPS port and its profiling port. */
const DISPATCHER_PORTS = [8080, 8443, 8008];

export type Part = 'dispatcher' | 'ingress' | 'filter' | 'function' | 'mtping' | 'adapter';
/** Start order: each hop is up before anything sends to it. */
const PARTS: Part[] = ['dispatcher', 'ingress', 'filter', 'function', 'mtping', 'adapter'];

interface ProcSpec {
  exe: string;
  args: string[];
  env: Record<string, string>;
  logFile: string;
  /** How to tell it is serving: a TCP port to accept, or an HTTP URL to answer 2xx. */
  ready: { port: number } | { url: string; headers?: Record<string, string> } | null;
}

export interface StackInfo {
  cluster: ClusterInfo;
  functionUrl: string;
  brokerUrl: string;
  channelUrl: string;
  /** Function logs (JSON lines) and every other part's log live here. */
  dir: string;
  specs: Record<Part, ProcSpec>;
  pids: Record<Part, number>;
  detached: boolean;
}

export interface Stack extends StackInfo {
  admin: Admin;
  /** SIGTERM one part (SIGKILL with `kill`) and wait until it is gone. */
  stopPart(part: Part, how?: 'term' | 'kill'): Promise<void>;
  startPart(part: Part): Promise<void>;
  stop(): Promise<void>;
}

export interface StackOptions {
  detached?: boolean;
  /** Override the shipped PingSource schedule (every 5 min) so tests need not wait that long. */
  sweepSchedule?: string;
  /** Keep an audit log of every API request (see ClusterInfo.auditLog): the bench counts calls. */
  auditPolicy?: boolean;
  log?: (line: string) => void;
}

const defaultLog = (line: string): void => void process.stderr.write(`${line}\n`);

export function buildKnative(log: (line: string) => void = defaultLog): Promise<string> {
  return runBuildScript(join(repo, 'test/knative/build.sh'), log);
}

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const log = opts.log ?? defaultLog;
  const detached = opts.detached ?? false;
  await assertPortsFree();
  const knativeBin = await buildKnative(log);
  log('stack: building the function (npm run build)');
  await run('npm', ['run', 'build'], { cwd: repo });

  const cluster = await startCluster({ detached, log, auditPolicy: opts.auditPolicy ?? false });
  const admin = new Admin(cluster);
  const dir = join(cluster.dir, 'stack');
  await mkdir(dir, { recursive: true });
  const pids = Object.fromEntries(PARTS.map((p) => [p, 0])) as Record<Part, number>;
  let info: StackInfo | undefined;
  try {
    log('stack: installing Knative CRDs and ConfigMaps, the Action CRD and config/knative');
    await installKnative(admin, knativeBin);
    await admin.installCrd();
    await admin.kubectl('apply', '-k', 'config/knative');
    if (opts.sweepSchedule) {
      await admin.request('PATCH', `/apis/sources.knative.dev/v1/namespaces/${NS}/pingsources/advance-phase-sweep`, { spec: { schedule: opts.sweepSchedule } }, 'application/merge-patch+json');
    }

    const [fnPort, ingressPort, ingressTls, filterPort, filterTls] = (await freePorts(5)) as [number, number, number, number, number];
    const functionUrl = `http://127.0.0.1:${fnPort}/`;
    const brokerUrl = `http://127.0.0.1:${ingressPort}/${NS}/advance-phase`;
    const channelUrl = `http://127.0.0.1:8080/${NS}/${CHANNEL}`;
    const sourceConfig = await wireStatuses(admin, { functionUrl, brokerUrl, channelUrl, filterUrl: `http://127.0.0.1:${filterPort}` });

    const kubeconfigFor = async (sa: string) => {
      const path = join(dir, `${sa}.kubeconfig`);
      await writeKubeconfigForToken(cluster, await createServiceAccountToken(cluster, NS, sa, 86_400), path);
      return path;
    };
    const common = { SYSTEM_NAMESPACE: SYSTEM_NS, KUBECONFIG: cluster.kubeconfig, POD_NAME: 'local', CONTAINER_NAME: 'local' };
    const bin = (name: string) => join(knativeBin, name);
    const logFile = (part: Part) => join(dir, `${part}.log`);
    const specs: Record<Part, ProcSpec> = {
      dispatcher: {
        exe: bin('channel_dispatcher'),
        args: ['--disable-ha'],
        env: { ...common, MAX_IDLE_CONNS: '1000', MAX_IDLE_CONNS_PER_HOST: '100' },
        logFile: logFile('dispatcher'),
        ready: { url: 'http://127.0.0.1:8080/', headers: { 'user-agent': 'kube-probe/1' } },
      },
      ingress: {
        exe: bin('broker_ingress'),
        args: [],
        env: { ...common, INGRESS_PORT: String(ingressPort), INGRESS_PORT_HTTPS: String(ingressTls) },
        logFile: logFile('ingress'),
        ready: { port: ingressPort },
      },
      filter: {
        exe: bin('broker_filter'),
        args: [],
        env: { ...common, NAMESPACE: SYSTEM_NS, FILTER_PORT: String(filterPort), FILTER_PORT_HTTPS: String(filterTls) },
        logFile: logFile('filter'),
        ready: { port: filterPort },
      },
      // Real mode, as its own ServiceAccount: the RBAC under test is the RBAC that ships.
      function: {
        exe: process.execPath,
        args: [join(repo, 'dist/index.js')],
        env: { PORT: String(fnPort), KUBECONFIG: await kubeconfigFor('advance-phase'), LOG_LEVEL: 'info', WATCH_NAMESPACE: '' },
        logFile: logFile('function'),
        ready: { url: `http://127.0.0.1:${fnPort}/health/readiness` },
      },
      mtping: {
        exe: bin('mtping'),
        args: ['--disable-ha'],
        env: { ...common, NAMESPACE: SYSTEM_NS, K_NO_SHUTDOWN_AFTER: '59', K_LOGGING_CONFIG: '{}', K_OBSERVABILITY_CONFIG: '{}' },
        logFile: logFile('mtping'),
        ready: null,
      },
      // The source's least-privilege ServiceAccount from config/knative.
      adapter: {
        exe: bin('apiserver_receive_adapter'),
        args: [],
        env: {
          ...common,
          KUBECONFIG: await kubeconfigFor('actions-source'),
          K_SINK: brokerUrl,
          NAME: 'actions',
          NAMESPACE: NS,
          K_SOURCE_CONFIG: JSON.stringify(sourceConfig),
          K_LOGGING_CONFIG: '{}',
          K_OBSERVABILITY_CONFIG: '{}',
        },
        logFile: logFile('adapter'),
        ready: null,
      },
    };
    const { stop: _stop, ...clusterInfo } = cluster;
    info = { cluster: clusterInfo, functionUrl, brokerUrl, channelUrl, dir, specs, pids, detached };
    for (const part of PARTS) await startPart(info, part, log);
    await waitForChain(admin);
    log(`stack: ready; function at ${functionUrl}, broker at ${brokerUrl}, logs in ${dir}`);
  } catch (error) {
    if (info) await stopParts(info);
    await cluster.stop();
    throw error;
  }
  if (detached) await writeFile(stackStatePath, JSON.stringify(info, null, 2));
  return withControls(info, cluster);
}

function withControls(info: StackInfo, cluster: Pick<Cluster, 'stop'>): Stack {
  return {
    ...info,
    admin: new Admin(info.cluster),
    stopPart: async (part, how = 'term') => {
      const { exe } = info.specs[part];
      if (how === 'kill' && alive(info.pids[part], exe)) process.kill(info.pids[part], 'SIGKILL');
      await stopProcess(info.pids[part], exe);
    },
    startPart: (part) => startPart(info, part, () => undefined),
    stop: async () => {
      await stopParts(info);
      await cluster.stop();
      if (info.detached) await rm(stackStatePath, { force: true });
    },
  };
}

/** Controls for a stack started elsewhere (a test worker gets the info from its global setup). */
export function attachStack(info: StackInfo): Stack {
  return withControls(info, { stop: async () => undefined });
}

/** The stack recorded by a detached start (stack:up), if any. */
export async function readDetachedStack(): Promise<Stack | undefined> {
  const text = await readFile(stackStatePath, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  const info = JSON.parse(text) as StackInfo;
  const { readDetachedCluster } = await import('../cluster/cluster.js');
  const cluster = await readDetachedCluster();
  return withControls(info, cluster ?? { stop: async () => undefined });
}

export function isStackRunning(info: StackInfo): boolean {
  return PARTS.every((p) => alive(info.pids[p], info.specs[p].exe));
}

async function startPart(info: StackInfo, part: Part, log: (line: string) => void): Promise<void> {
  const spec = info.specs[part];
  const pid = await launch({ exe: spec.exe, args: spec.args, env: spec.env, logFile: spec.logFile, detached: info.detached, cwd: repo });
  info.pids[part] = pid;
  const ready = spec.ready;
  if (ready) {
    const check = 'port' in ready ? () => canConnect(ready.port) : () => httpOk(ready.url, ready.headers);
    await waitFor(`${part} ready`, { pid, exe: spec.exe, logFile: spec.logFile }, 60_000, check);
  }
  log(`stack: ${part} running (pid ${pid})`);
}

async function stopParts(info: StackInfo): Promise<void> {
  for (const part of [...PARTS].reverse()) await stopProcess(info.pids[part], info.specs[part].exe);
}

async function httpOk(url: string, headers: Record<string, string> = {}): Promise<boolean> {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(2000) });
  return res.ok;
}

async function assertPortsFree(): Promise<void> {
  for (const port of DISPATCHER_PORTS) {
    if (await canConnect(port)) {
      throw new Error(`port ${port} is in use: Knative's IMC dispatcher needs 8080, 8443 and 8008 (is a stack or \`npm run local\` still running?)`);
    }
  }
}

async function installKnative(admin: Admin, knativeBin: string): Promise<void> {
  const yaml = (sub: string) => readdirSync(join(knativeBin, 'yaml', sub)).flatMap((f) => ['-f', join(knativeBin, 'yaml', sub, f)]);
  await admin.kubectl('apply', ...yaml('crds'));
  await admin.kubectl('wait', '--for=condition=Established', '--timeout=60s', '--all', 'crd');
  await admin.namespace(SYSTEM_NS);
  await admin.kubectl('apply', '-n', SYSTEM_NS, ...yaml('configmaps'));
  // The shipped cluster-admin change, applied as the README tells an operator to.
  await admin.kubectl('patch', 'configmap', 'config-features', '-n', SYSTEM_NS, '--type', 'merge', '--patch-file', 'config/knative/cluster/config-features-patch.yaml');
}

type Obj = { metadata: { uid: string; generation?: number; annotations?: Record<string, string> }; spec: Record<string, unknown> };
const ready = () => [{ type: 'Ready', status: 'True', lastTransitionTime: new Date().toISOString() }];

/**
 * Writes what Knative's controllers would: the Trigger's resolved subscriber, the Broker's
 * channel, the channel with the filter subscribed under the Trigger's own delivery spec, and
 * the sources' sinks. Returns the receive adapter's config, derived from the ApiServerSource.
 */
async function wireStatuses(admin: Admin, at: { functionUrl: string; brokerUrl: string; channelUrl: string; filterUrl: string }): Promise<unknown> {
  const eventing = `/apis/eventing.knative.dev/v1/namespaces/${NS}`;
  const sources = `/apis/sources.knative.dev/v1/namespaces/${NS}`;
  const get = async (path: string) => {
    const res = await admin.request<Obj>('GET', path);
    if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  };
  const status = async (path: string, body: unknown) => {
    const res = await admin.request('PATCH', `${path}/status`, body, 'application/merge-patch+json');
    if (res.status !== 200) throw new Error(`PATCH ${path}/status: ${res.status} ${JSON.stringify(res.body)}`);
  };

  const broker = await get(`${eventing}/brokers/advance-phase`);
  const trigger = await get(`${eventing}/triggers/advance-phase`);
  const delivery = { ...(trigger.spec['delivery'] as Record<string, unknown>) };
  // The controller resolves the dead-letter ref (the function's Knative Service) to a URI.
  if (delivery['deadLetterSink']) delivery['deadLetterSink'] = { uri: at.functionUrl };

  const channel = {
    apiVersion: 'messaging.knative.dev/v1',
    kind: 'InMemoryChannel',
    metadata: {
      name: CHANNEL,
      namespace: NS,
      // Copied from the Broker, as the MT broker controller does.
      annotations: { 'messaging.knative.dev/async-handler': broker.metadata.annotations?.['messaging.knative.dev/async-handler'] ?? 'false' },
    },
    spec: {
      subscribers: [
        {
          uid: trigger.metadata.uid,
          generation: trigger.metadata.generation ?? 1,
          subscriberUri: `${at.filterUrl}/triggers/${NS}/advance-phase/${trigger.metadata.uid}`,
          replyUri: at.brokerUrl,
          delivery,
        },
      ],
    },
  };
  const created = await admin.request<Obj>('POST', `/apis/messaging.knative.dev/v1/namespaces/${NS}/inmemorychannels`, channel);
  if (created.status !== 201) throw new Error(`creating the channel: ${created.status} ${JSON.stringify(created.body)}`);
  await status(`/apis/messaging.knative.dev/v1/namespaces/${NS}/inmemorychannels/${CHANNEL}`, {
    status: { observedGeneration: created.body.metadata.generation ?? 1, conditions: ready(), address: { url: at.channelUrl } },
  });
  await status(`${eventing}/brokers/advance-phase`, {
    status: { observedGeneration: broker.metadata.generation ?? 1, conditions: ready(), address: { url: at.brokerUrl }, annotations: { 'knative.dev/channelAddress': at.channelUrl } },
  });
  await status(`${eventing}/triggers/advance-phase`, {
    status: { observedGeneration: trigger.metadata.generation ?? 1, conditions: ready(), subscriberUri: at.functionUrl },
  });
  const ping = await get(`${sources}/pingsources/advance-phase-sweep`);
  await status(`${sources}/pingsources/advance-phase-sweep`, {
    status: { observedGeneration: ping.metadata.generation ?? 1, conditions: ready(), sinkUri: at.functionUrl },
  });

  const source = await get(`${sources}/apiserversources/actions`);
  await status(`${sources}/apiserversources/actions`, {
    status: { observedGeneration: source.metadata.generation ?? 1, conditions: ready(), sinkUri: at.brokerUrl },
  });
  return adapterConfig(admin, source.spec);
}

/** What the ApiServerSource controller passes its adapter as K_SOURCE_CONFIG. */
async function adapterConfig(admin: Admin, spec: Record<string, unknown>): Promise<unknown> {
  const resources = spec['resources'] as { apiVersion: string; kind: string }[];
  const selector = spec['namespaceSelector'] as { matchLabels?: object; matchExpressions?: unknown[] } | undefined;
  const all = selector !== undefined && !Object.keys(selector.matchLabels ?? {}).length && !(selector.matchExpressions ?? []).length;
  if (selector !== undefined && !all) throw new Error('this harness wires an all-namespaces or own-namespace ApiServerSource only');
  const gvrs = await Promise.all(
    resources.map(async ({ apiVersion, kind }) => {
      const discovery = await admin.request<{ resources: { name: string; kind: string }[] }>('GET', `/apis/${apiVersion}`);
      const resource = discovery.body.resources.find((r) => r.kind === kind && !r.name.includes('/'));
      if (!resource) throw new Error(`no resource of kind ${kind} in ${apiVersion}`);
      const [group, version] = apiVersion.split('/') as [string, string];
      return { gvr: { Group: group, Version: version, Resource: resource.name } };
    }),
  );
  return { namespaces: all ? [] : [NS], allNamespaces: all, resources: gvrs, mode: spec['mode'] };
}

/**
 * The chain is live once an Action created now is advanced by the function: the adapter has no
 * readiness endpoint here (its probe port is the dispatcher's 8080) and sends nothing for objects
 * created before its watch opens, so canaries are created until one gets through.
 */
export async function waitForChain(admin: Admin, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; Date.now() < deadline; i++) {
    const name = `canary-${Date.now()}-${i}`;
    await admin.createAction(NS, name, { phases: ['live'] });
    const isLive = async () => ((await admin.getAction(NS, name)).body as { status?: { phase?: string } }).status?.phase === 'live';
    const live = await until(`canary ${name} to go live`, isLive, 2000, 50).catch(() => false);
    await admin.deleteAction(NS, name);
    if (live) return;
  }
  throw new Error(`no event reached the function within ${timeoutMs / 1000} s: see the adapter, ingress, dispatcher and filter logs`);
}
