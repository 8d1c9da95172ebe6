// The whole chain in the topology that ships, on the test bed (test/stack/bed.ts) with Knative
// Serving running:
//   ApiServerSource adapter -> broker ingress -> IMC dispatcher -> broker filter -> function
//   mtping (PingSource) -> function
// where "-> function" is Serving's path: the ingress stand-in, then the activator while the
// function is at zero, then queue-proxy and the function. config/knative is applied with kubectl
// through Knative's webhooks, the function is deployed by kn func's own deployer (function.ts),
// and Knative's controllers wire the rest: the adapter's Deployment, the channel and its
// subscription, the revision, every object Ready. The harness writes only the README's
// cluster-admin step (config-features).
//
// Every part is a Pod, found through the API by its labels; stopping and starting a part goes
// through the API too (scale, delete, re-create), so any process holding a StackInfo can do it.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createServiceAccountToken, writeKubeconfigForToken, type ClusterInfo } from '../cluster/cluster.js';
import { Admin } from '../support/admin.js';
import { logToStderr, messageOf } from '../support/log.js';
import { withOwnKustomization } from '../support/kustomize.js';
import { cacheDir, repoRoot } from '../support/repo.js';
import { throughIngress } from '../support/route.js';
import { until } from '../support/wait.js';
import { failedStart, isBedRunning, startBed, StartFailure, stopBed, whileBedRuns, type BedInfo } from './bed.js';
import { applyOnceAdmitted, patchFeatures, SYSTEM_NS } from './knative.js';
import { deployFunction, FUNCTION_IMAGE } from './function.js';
import { SEEDED_IMAGE, seededEntry } from './seeded-function.js';

const run = promisify(execFile);
export const stackStatePath = join(cacheDir, 'stack-state.json');

/** Where config/knative puts everything (its kustomization's namespace), unless moved. */
export const SHIPPED_NS = 'advance-phase';
/** The API server's names for the function's ServiceAccount (func.yaml) and the source adapter's (config/knative/base). */
export const usersIn = (ns: string) => ({
  function: `system:serviceaccount:${ns}:advance-phase`,
  source: `system:serviceaccount:${ns}:actions-source`,
});
const sourcePath = (ns: string) => `/apis/sources.knative.dev/v1/namespaces/${ns}/apiserversources/actions`;

export type Part = 'dispatcher' | 'ingress' | 'filter' | 'function' | 'mtping' | 'adapter';
/**
 * Each part's Pods: namespace, label selector, how their names begin, and the part's own container
 * when the pod has others (a revision's pod also runs queue-proxy).
 */
const partsIn = (
  ns: string,
): Record<Part, { namespace: string; selector: string; podPrefix: string; container?: string }> => ({
  dispatcher: {
    namespace: SYSTEM_NS,
    selector: 'messaging.knative.dev/role=dispatcher',
    podPrefix: 'imc-dispatcher-',
  },
  ingress: {
    namespace: SYSTEM_NS,
    selector: 'eventing.knative.dev/brokerRole=ingress',
    podPrefix: 'mt-broker-ingress-',
  },
  filter: {
    namespace: SYSTEM_NS,
    selector: 'eventing.knative.dev/brokerRole=filter',
    podPrefix: 'mt-broker-filter-',
  },
  mtping: {
    namespace: SYSTEM_NS,
    selector: 'sources.knative.dev/role=adapter',
    podPrefix: 'pingsource-mt-adapter-',
  },
  // Its revision's Deployment is Serving's, scaled by Serving's autoscaler.
  function: {
    namespace: ns,
    selector: 'serving.knative.dev/service=advance-phase',
    podPrefix: 'advance-phase-',
    container: 'user-container',
  },
  // Its Deployment is the ApiServerSource controller's, named after the source's uid.
  adapter: {
    namespace: ns,
    selector: 'eventing.knative.dev/sourceName=actions',
    podPrefix: 'apiserversource-actions-',
  },
});

export interface StackInfo {
  bed: BedInfo;
  cluster: ClusterInfo;
  /** The control plane's and every pod's logs live under here. */
  dir: string;
  /** A kubeconfig as the function's ServiceAccount (the bench runs the function itself with it). */
  functionKubeconfig: string;
  detached: boolean;
  /** Knative's OIDC sender authentication is on. */
  oidc: boolean;
  /** The kustomize directory applied: config/knative/base, overlays/oidc, or the overlay asked for. */
  wiring: string;
  /** Where the wiring and the function were installed: advance-phase, or where `namespace` moved them. */
  namespace: string;
  /** How the applied wiring waits (its advance-phase ConfigMap), and for `tick` the tick's period. */
  waitMode: 'retry-after' | 'tick';
  tickSeconds?: number;
}

export interface Stack extends StackInfo {
  admin: Admin;
  /** The function's own address (its pod's), for requests that do not go through Knative. */
  functionUrl(): Promise<string>;
  /** The Broker's ingress, reached at its pod's address. */
  brokerUrl(): Promise<string>;
  /** Every log a part's pods have written, oldest pod first (a restarted part has a new pod). */
  logFiles(part: Part): string[];
  /**
   * How many pods the part has (the function's: 0 at zero); with `ending: false`, only those not
   * on their way out.
   */
  podCount(part: Part, opts?: { ending?: boolean }): Promise<number>;
  /** The process of each part's running pod, for sampling CPU and memory. */
  pids(): Promise<Record<Part, number>>;
  /** The part's Ready pods and their container's process (to freeze one with SIGSTOP). */
  readyPods(part: Part): Promise<{ name: string; pid: number }[]>;
  /** Deletes one pod at once, no draining (its Deployment makes another). */
  killPod(part: Part, name: string): Promise<void>;
  /**
   * Creates the namespaces and waits until the ApiServerSource adapter watches them. With
   * `namespaceSelector: {}` Knative lists every namespace in the adapter's config, so each new
   * namespace rolls the adapter's Deployment, and Actions changed during the roll send no event.
   */
  namespaces(names: string[]): Promise<void>;
  /**
   * Takes a part down: deletes its pods (`kill`: at once, no draining). Its Deployment makes new
   * ones (the function's, as Serving's autoscaler asks); the adapter's comes back only with startPart.
   */
  stopPart(part: Part, how?: 'term' | 'kill'): Promise<void>;
  /** Waits for a Ready pod of the part (the function woken through Serving's route if at zero). */
  startPart(part: Part): Promise<void>;
  /** Kills the part's pods and waits for the Ready pod its Deployment makes instead (the adapter's too). */
  restartPart(part: Part): Promise<void>;
  /** `keepLogs`: leave the folder for a reader (after a failed test). */
  stop: (opts?: { keepLogs?: boolean }) => Promise<void>;
}

export interface StackOptions {
  detached?: boolean;
  /** Override the shipped PingSource schedule (every 5 min) so tests need not wait that long. */
  sweepSchedule?: string;
  /** Keep an audit log of every API request (see ClusterInfo.auditLog): the bench counts calls. */
  auditPolicy?: boolean;
  /** Turn on Knative's OIDC sender authentication (the README's cluster-admin step) and apply config/knative/overlays/oidc. */
  oidc?: boolean;
  /** A kustomize directory to apply instead (config/knative/overlays/any-broker). */
  overlay?: string;
  /**
   * Install into this namespace instead, as docs/operators.md tells a user to: a kustomization of
   * one's own with `namespace:` and the wiring as its resource, then kn func deploy there.
   */
  namespace?: string;
  log?: (line: string) => void;
}

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const log = opts.log ?? logToStderr;
  const detached = opts.detached ?? false;
  const bed = await startBed({
    serving: true,
    images: {
      [FUNCTION_IMAGE]: { exe: process.execPath, args: [join(repoRoot, 'dist/index.js')] },
      [SEEDED_IMAGE]: { exe: process.execPath, args: [seededEntry] },
    },
    auditPolicy: opts.auditPolicy ?? false,
    detached,
    log,
  });
  const { admin, stop: _stop, ...bedInfo } = bed;
  const oidc = opts.oidc ?? false;
  // The README's kn func path: the wiring alone (config/knative holds the function too, for GitOps),
  // then kn func's deployer.
  const wiring = opts.overlay ?? (oidc ? 'config/knative/overlays/oidc' : 'config/knative/base');
  const ns = opts.namespace ?? SHIPPED_NS;
  try {
    return await whileBedRuns(bedInfo, async () => {
      // After the bed's start, which checks the host before anything is built; the kubelet runs
      // the bundle only once the function is deployed.
      log('stack: building the function (npm run build)');
      await run('npm', ['run', 'build'], { cwd: repoRoot });
      const where = ns === SHIPPED_NS ? '' : ` moved to namespace ${ns} by a kustomization's namespace:`;
      log(`stack: the README's cluster-admin steps, the Action CRD, ${wiring}${where}, the function`);
      for (const patch of ['config-features-patch.yaml', ...(oidc ? ['oidc-patch.yaml'] : [])]) {
        await patchFeatures(admin, `config/knative/cluster/${patch}`);
      }
      await admin.installCrd();
      const refused =
        ns === SHIPPED_NS
          ? await applyOnceAdmitted(admin, wiring, 20_000)
          : await withOwnKustomization(wiring, { namespace: ns }, (dir) => applyOnceAdmitted(admin, dir, 20_000));
      if (refused) throw new Error(`${wiring} was not admitted: ${refused}`);
      if (opts.sweepSchedule) {
        await admin.request(
          'PATCH',
          `/apis/sources.knative.dev/v1/namespaces/${ns}/pingsources/advance-phase-sweep`,
          { spec: { schedule: opts.sweepSchedule } },
          'application/merge-patch+json',
        );
      }
      log("stack: deploying the function with kn func's deployer");
      await deployFunction(bed.cluster, ns, log);
      log('stack: waiting for Knative to make the Broker, Trigger, ApiServerSource and PingSource Ready');
      const kinds = `brokers,triggers,apiserversources,pingsources${oidc ? ',eventpolicies' : ''}`;
      await admin
        .kubectl('wait', '--for=condition=Ready', '--timeout=120s', '-n', ns, kinds, '--all')
        .catch(async (error: unknown) => {
          const objects = await admin.kubectl(
            'get',
            'brokers,triggers,apiserversources,pingsources,subscriptions,inmemorychannels,pods',
            '-A',
          );
          throw new Error(`${messageOf(error)}\n${objects}`);
        });
      const functionKubeconfig = join(bed.dir, 'function.kubeconfig');
      await writeKubeconfigForToken(
        bed.cluster,
        await createServiceAccountToken(bed.cluster, ns, 'advance-phase', 86_400),
        functionKubeconfig,
      );
      const info: StackInfo = {
        bed: bedInfo,
        cluster: bed.cluster,
        dir: bed.dir,
        functionKubeconfig,
        detached,
        oidc,
        wiring,
        namespace: ns,
        ...(await waitModeOf(admin, ns)),
      };
      const stack = withControls(info);
      // The parts an event crosses, in order, and the node: what to read when none gets through.
      await waitForChain(admin, ns).catch((error: unknown) => {
        // The parts an event crosses, in order, and the node: what to read when none gets through.
        const parts = ['adapter', 'ingress', 'dispatcher', 'filter', 'function'] as const;
        throw new StartFailure(messageOf(error), [...parts.flatMap((p) => stack.logFiles(p)), bed.node.logFile]);
      });
      log(
        `stack: ready; function at ${await stack.functionUrl()}, broker at ${await stack.brokerUrl()}, logs in ${bed.dir}`,
      );
      if (detached) await writeFile(stackStatePath, JSON.stringify(info, null, 2));
      return stack;
    });
  } catch (error) {
    return failedStart(bedInfo, error);
  }
}

interface AdapterDeployment {
  metadata: { generation?: number };
  spec: { template: { spec: { containers: { env?: { name: string; value?: string }[] }[] } } };
  status: { observedGeneration?: number; replicas?: number; updatedReplicas?: number; availableReplicas?: number };
}

interface PodView {
  metadata: { name: string; creationTimestamp: string; deletionTimestamp?: string };
  spec: { containers: { name: string }[] };
  status: { podIP?: string; conditions?: { type: string; status: string }[] };
}

function withControls(info: StackInfo): Stack {
  const admin = new Admin(info.cluster);
  const ns = info.namespace;
  const PARTS = partsIn(ns);
  const SOURCE = sourcePath(ns);
  const podsDir = join(info.bed.dir, 'node', 'pods');
  const podsOf = async (part: Part): Promise<PodView[]> => {
    const { namespace, selector } = PARTS[part];
    const res = await admin.request<{ items: PodView[] }>(
      'GET',
      `/api/v1/namespaces/${namespace}/pods?labelSelector=${encodeURIComponent(selector)}`,
    );
    return res.body.items.sort((a, b) => a.metadata.creationTimestamp.localeCompare(b.metadata.creationTimestamp));
  };
  /** The kubelet stand-in's record of a pod's container process (0: none yet). */
  const pidOf = (part: Part, pod: PodView): number => {
    const container = PARTS[part].container ?? pod.spec.containers[0]?.name;
    const file = join(podsDir, `${PARTS[part].namespace}_${pod.metadata.name}`, `${container}.pid`);
    return existsSync(file) ? Number(readFileSync(file, 'utf8').split(' ')[0]) : 0;
  };
  const livePods = async (part: Part) => (await podsOf(part)).filter((p) => !p.metadata.deletionTimestamp);
  const isReady = (pod: PodView) => pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
  const readyNow = async (part: Part) => (await livePods(part)).find(isReady);
  const readyPod = (part: Part) => until(`a Ready ${part} pod`, () => readyNow(part), 60_000, 100);
  const ipOf = async (part: Part) => (await readyPod(part)).status.podIP as string;
  const podDirs = (part: Part) =>
    existsSync(podsDir)
      ? readdirSync(podsDir).filter((d) => d.startsWith(`${PARTS[part].namespace}_${PARTS[part].podPrefix}`))
      : [];
  /** A request through Serving's route, as any sender's: it brings the function back from zero. */
  const wakeFunction = () => throughIngress('internal', `advance-phase.${ns}.svc.cluster.local`, '/health/readiness');
  /** Deletes the part's pods and waits until those are gone (a ReplicaSet may already be making new ones). */
  const deletePods = async (part: Part, how: 'term' | 'kill') => {
    const doomed = (await podsOf(part)).map((p) => p.metadata.name);
    const grace = how === 'kill' ? '?gracePeriodSeconds=0' : '';
    for (const name of doomed)
      await admin.request('DELETE', `/api/v1/namespaces/${PARTS[part].namespace}/pods/${name}${grace}`);
    await until(
      `the ${part} pods ${doomed.join(', ')} to be gone`,
      async () => !(await podsOf(part)).some((p) => doomed.includes(p.metadata.name)),
      60_000,
      100,
    );
  };
  let savedSource: unknown;

  return {
    ...info,
    admin,
    functionUrl: async () => {
      if (!(await readyNow('function'))) await wakeFunction();
      return `http://${await ipOf('function')}:8080/`;
    },
    brokerUrl: async () => `http://${await ipOf('ingress')}:8080/${ns}/advance-phase`,
    logFiles: (part) =>
      podDirs(part)
        .map((d) => join(podsDir, d))
        .flatMap((d) =>
          readdirSync(d)
            .filter((f) => (PARTS[part].container ? f === `${PARTS[part].container}.log` : f.endsWith('.log')))
            .map((f) => join(d, f)),
        )
        .sort((a, b) => statTime(a) - statTime(b)),
    podCount: async (part, opts) => (await (opts?.ending === false ? livePods(part) : podsOf(part))).length,
    pids: async () => {
      const entries = await Promise.all(
        (Object.keys(PARTS) as Part[]).map(async (part) => {
          const pod = (await podsOf(part)).find((p) => !p.metadata.deletionTimestamp);
          return [part, pod ? pidOf(part, pod) : 0] as const;
        }),
      );
      return Object.fromEntries(entries) as Record<Part, number>;
    },
    readyPods: async (part) =>
      (await livePods(part)).filter(isReady).map((pod) => ({ name: pod.metadata.name, pid: pidOf(part, pod) })),
    killPod: async (part, name) => {
      const res = await admin.request(
        'DELETE',
        `/api/v1/namespaces/${PARTS[part].namespace}/pods/${name}?gracePeriodSeconds=0`,
      );
      if (res.status !== 200 && res.status !== 404) throw new Error(`deleting pod ${name}: ${res.status}`);
    },
    namespaces: async (names) => {
      for (const name of names) await admin.namespace(name);
      await until(
        `the ApiServerSource adapter to watch ${names.join(', ')}`,
        async () => {
          const res = await admin.request<{ items: AdapterDeployment[] }>(
            'GET',
            `/apis/apps/v1/namespaces/${ns}/deployments?labelSelector=${encodeURIComponent(PARTS.adapter.selector)}`,
          );
          const [d, ...others] = res.body.items;
          if (!d || others.length) return false;
          const env = d.spec.template.spec.containers[0]?.env?.find((e) => e.name === 'K_SOURCE_CONFIG')?.value ?? '{}';
          const watched = (JSON.parse(env) as { namespaces?: string[] }).namespaces ?? [];
          const rolled =
            (d.status.observedGeneration ?? 0) >= (d.metadata.generation ?? 0) &&
            d.status.updatedReplicas === 1 &&
            d.status.availableReplicas === 1 &&
            (d.status.replicas ?? 0) === 1;
          return names.every((n) => watched.includes(n)) && rolled && (await podsOf('adapter')).length === 1;
        },
        90_000,
        250,
      );
      await waitForChain(admin, ns);
    },
    stopPart: async (part, how = 'term') => {
      if (part === 'adapter') {
        // The adapter is the source's: it goes (and comes back) with the ApiServerSource.
        const source = (await admin.request<{ metadata: Record<string, unknown>; spec: unknown }>('GET', SOURCE)).body;
        savedSource = {
          apiVersion: 'sources.knative.dev/v1',
          kind: 'ApiServerSource',
          metadata: { name: 'actions', namespace: ns },
          spec: source.spec,
        };
        await admin.request('DELETE', SOURCE);
        return deletePods(part, how);
      }
      await deletePods(part, how);
    },
    startPart: async (part) => {
      if (part === 'adapter') {
        const res = await admin.request('POST', SOURCE.slice(0, SOURCE.lastIndexOf('/')), savedSource);
        // 409: applying config/knative again has re-created it already.
        if (res.status !== 201 && res.status !== 409)
          throw new Error(`re-creating the ApiServerSource: ${res.status} ${JSON.stringify(res.body)}`);
        await admin.kubectl('wait', '--for=condition=Ready', '--timeout=60s', '-n', ns, 'apiserversource/actions');
      } else if (part === 'function' && !(await readyNow(part))) {
        await wakeFunction(); // at zero, nothing else would bring it back
      }
      await readyPod(part);
    },
    restartPart: async (part) => {
      await deletePods(part, 'kill');
      await readyPod(part);
    },
    stop: async (opts) => {
      await stopBed(info.bed, opts);
      if (info.detached) await rm(stackStatePath, { force: true });
    },
  };
}

/** What the function was started with (the wiring's ConfigMap) and, in tick mode, the tick's period. */
async function waitModeOf(admin: Admin, ns: string): Promise<Pick<StackInfo, 'waitMode' | 'tickSeconds'>> {
  const settings = await admin.request<{ data?: { WAIT_MODE?: string } }>(
    'GET',
    `/api/v1/namespaces/${ns}/configmaps/advance-phase`,
  );
  const mode = settings.body.data?.WAIT_MODE;
  if (mode === 'retry-after') return { waitMode: mode };
  if (mode !== 'tick') throw new Error(`the wiring's ConfigMap advance-phase has WAIT_MODE ${JSON.stringify(mode)}`);
  const tick = await admin.request<{ spec?: { schedule?: string } }>(
    'GET',
    `/apis/sources.knative.dev/v1/namespaces/${ns}/pingsources/advance-phase-tick`,
  );
  return { waitMode: mode, tickSeconds: tickSecondsOf(tick.body.spec?.schedule ?? '') };
}

/** A tick's period from its PingSource schedule: the two seconds-field forms, every second or every N seconds. */
export function tickSecondsOf(schedule: string): number {
  const every = /^\*(?:\/(\d+))? \* \* \* \* \*$/.exec(schedule);
  if (!every)
    throw new Error(`the tick's schedule ${JSON.stringify(schedule)} is not "* * * * * *" or "*/N * * * * *"`);
  return Number(every[1] ?? 1);
}

/** When a log file was created: a later pod's log comes after an earlier one's. */
function statTime(path: string): number {
  const st = statSync(path);
  return st.birthtimeMs || st.ctimeMs;
}

/** Controls for a stack started elsewhere (a test worker gets the info from its global setup). */
export function attachStack(info: StackInfo): Stack {
  return withControls(info);
}

/** The stack recorded by a detached start (stack:up), if any. */
export async function readDetachedStack(): Promise<Stack | undefined> {
  const text = await readFile(stackStatePath, 'utf8').catch(() => undefined);
  return text === undefined ? undefined : withControls(JSON.parse(text) as StackInfo);
}

export function isStackRunning(info: StackInfo): boolean {
  return isBedRunning(info.bed);
}

/**
 * The chain is live once an Action created now (in `ns`, any namespace the source watches) is
 * advanced by the function: the adapter sends nothing for objects created before its watch
 * opens, so canaries are created until one gets through.
 */
export async function waitForChain(admin: Admin, ns: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; Date.now() < deadline; i++) {
    const name = `canary-${Date.now()}-${i}`;
    await admin.createAction(ns, name, { phases: ['live'] });
    const isLive = async () =>
      ((await admin.getAction(ns, name)).body as { status?: { phase?: string } }).status?.phase === 'live';
    const live = await until(`canary ${name} to go live`, isLive, 3000, 50).catch(() => false);
    await admin.deleteAction(ns, name);
    if (live) return;
  }
  throw new Error(
    `no event reached the function within ${timeoutMs / 1000} s: see the adapter, ingress, dispatcher and filter logs`,
  );
}
