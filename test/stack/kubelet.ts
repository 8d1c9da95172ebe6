// What a kubelet (with its container runtime and network plugin) does for the one node of the test
// bed, and nothing more. It registers the Node; for each Pod the scheduler binds to it, it gives
// the Pod a test host of its own (test/stack/netns.ts), runs each of the Pod's containers as a
// local process there, all sharing the host's network as a pod's containers share localhost (the
// image names a binary built here, see `images`), probes each container's readiness and reports
// the Pod's status, Ready when every container is; it restarts a container that exits, and when
// the Pod is deleted runs each container's preStop hook and then ends it. Everything else
// (Deployments, ReplicaSets, Endpoints, EndpointSlices) is kube-controller-manager's, from what
// this reports.
//
// Two differences from a real kubelet, both because no container runtime runs here: a container
// gets its ServiceAccount's credentials as a kubeconfig in $KUBECONFIG (a token bound to the Pod,
// from the TokenRequest API) instead of files under /var/run/secrets, and volumes are not mounted.
import { mkdir, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { writeKubeconfigForToken, type ClusterInfo } from '../cluster/cluster.js';
import { alive, launch, stopProcess } from '../cluster/processes.js';
import type { Admin } from '../support/admin.js';
import { StandInFailure } from './host-command.js';
import { createHost, GATEWAY, inHost, removeHost, retireHost, type Host } from './netns.js';
import { messageOf } from '../support/log.js';

export const NODE = 'local';

/**
 * What each image runs here: a binary built from its Go module, or the function under `node`;
 * `workingDir` as an image's WORKDIR (by default the pod's folder).
 */
export type Images = Record<string, { exe: string; args?: string[]; workingDir?: string }>;

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    fieldRef?: { fieldPath: string };
    configMapKeyRef?: { name: string; key: string; optional?: boolean };
    secretKeyRef?: { name: string; key: string; optional?: boolean };
  };
}
interface Probe {
  httpGet?: { path?: string; port: number | string; scheme?: string; httpHeaders?: { name: string; value: string }[] };
  tcpSocket?: { port: number | string };
}
interface Container {
  name: string;
  image: string;
  args?: string[];
  env?: EnvVar[];
  ports?: { name?: string; containerPort: number }[];
  readinessProbe?: Probe;
  lifecycle?: { preStop?: { httpGet?: NonNullable<Probe['httpGet']> } };
}
export interface Pod {
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    resourceVersion?: string;
    deletionTimestamp?: string;
    deletionGracePeriodSeconds?: number;
    labels?: Record<string, string>;
  };
  spec: {
    nodeName?: string;
    serviceAccountName?: string;
    containers: Container[];
    terminationGracePeriodSeconds?: number;
  };
}

interface RunningContainer {
  spec: Container;
  image: Images[string];
  pid: number;
  restarts: number;
  ready: boolean;
  startedAt: string;
  logFile: string;
}
interface Running {
  pod: Pod;
  host: Host;
  containers: RunningContainer[];
  /** The pod's ServiceAccount credentials, made for its first container. */
  kubeconfig?: string;
  stopping: boolean;
  timer?: NodeJS.Timeout;
  /** The last status write failed (the API server away): the readiness loop sends it again. */
  unreported?: boolean;
}

export interface Kubelet {
  /** The hosts of the pods running here. */
  hosts(): Host[];
  stop(): Promise<void>;
}

export interface KubeletOptions {
  admin: Admin;
  cluster: ClusterInfo;
  images: Images;
  /** Pod logs, kubeconfigs and the like. */
  dir: string;
  log: (line: string) => void;
  /** Called whenever a pod's address appears or goes, so DNS and kube-proxy stand-ins can follow. */
  onChange?: () => void;
  /** What this stand-in cannot do (a failed host command, its watch ended): the node cannot work. */
  fatal: (error: unknown) => void;
}

export async function startKubelet(opts: KubeletOptions): Promise<Kubelet> {
  const { admin, log } = opts;
  /** A failed host command ends the node; anything else is the pod's own trouble, logged. */
  const failed = (what: string) => (error: unknown) => {
    if (error instanceof StandInFailure) opts.fatal(error);
    else log(`kubelet: ${what}: ${messageOf(error)}`);
  };
  await registerNode(admin);
  const heartbeat = setInterval(
    () =>
      void renewLease(admin).catch((e: unknown) => {
        log(`kubelet: node lease: ${messageOf(e)}`);
      }),
    10_000,
  );
  heartbeat.unref();
  await renewLease(admin);
  const running = new Map<string, Running>();
  const freeIndexes = Array.from({ length: 240 }, (_, i) => 10 + i);
  /** Ended pods' hosts, kept so that their addresses refuse connections (netns.ts retireHost). */
  const retiredHosts = new Map<number, Host>();
  const abort = new AbortController();
  const key = (pod: Pod) => `${pod.metadata.namespace}/${pod.metadata.name}`;

  /** Reports the pod's status; a failure is logged and left for the readiness loop to send again. */
  async function patchStatus(r: Running): Promise<void> {
    const now = new Date().toISOString();
    const cond = (type: string, status: boolean) => ({
      type,
      status: status ? 'True' : 'False',
      lastTransitionTime: now,
    });
    const ready = r.containers.every((c) => c.ready);
    const status = {
      phase: 'Running',
      hostIP: GATEWAY,
      hostIPs: [{ ip: GATEWAY }],
      podIP: r.host.ip,
      podIPs: [{ ip: r.host.ip }],
      startTime: r.containers[0]?.startedAt,
      conditions: [
        cond('PodScheduled', true),
        cond('Initialized', true),
        cond('ContainersReady', ready),
        cond('Ready', ready),
      ],
      containerStatuses: r.containers.map((c) => ({
        name: c.spec.name,
        image: c.spec.image,
        imageID: '',
        ready: c.ready,
        started: true,
        restartCount: c.restarts,
        state: { running: { startedAt: c.startedAt } },
      })),
    };
    const res = await admin
      .request(
        'PATCH',
        `/api/v1/namespaces/${r.pod.metadata.namespace}/pods/${r.pod.metadata.name}/status`,
        { status },
        'application/strategic-merge-patch+json',
      )
      .catch((error: unknown) => ({ status: 0, body: messageOf(error) }));
    r.unreported = res.status !== 200 && res.status !== 404;
    if (r.unreported) log(`kubelet: status of ${key(r.pod)}: ${res.status} ${JSON.stringify(res.body)}`);
  }

  /** The pod's environment as a kubelet resolves it, plus the credentials this harness hands over. */
  async function environment(
    pod: Pod,
    host: Host,
    c: Container,
    podDir: string,
    kubeconfig: string,
  ): Promise<Record<string, string>> {
    const env: Record<string, string> = {
      HOME: podDir,
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      HOSTNAME: pod.metadata.name,
    };
    const field = (path: string): string => {
      const label = /^metadata\.labels\['(.+)'\]$/.exec(path);
      if (label) return pod.metadata.labels?.[label[1] as string] ?? '';
      const fields: Record<string, string> = {
        'metadata.name': pod.metadata.name,
        'metadata.namespace': pod.metadata.namespace,
        'metadata.uid': pod.metadata.uid,
        'spec.nodeName': NODE,
        'spec.serviceAccountName': pod.spec.serviceAccountName ?? 'default',
        'status.podIP': host.ip,
        'status.hostIP': GATEWAY,
      };
      const value = fields[path];
      if (value === undefined) throw new Error(`fieldRef ${path} is not supported here`);
      return value;
    };
    const fromObject = async (
      kind: 'configmaps' | 'secrets',
      ref: { name: string; key: string; optional?: boolean },
    ): Promise<string | undefined> => {
      const res = await admin.request<{ data?: Record<string, string> }>(
        'GET',
        `/api/v1/namespaces/${pod.metadata.namespace}/${kind}/${ref.name}`,
      );
      const raw = res.status === 200 ? res.body.data?.[ref.key] : undefined;
      if (raw === undefined && !ref.optional)
        throw new Error(`${kind} ${ref.name} has no key ${ref.key} (status ${res.status})`);
      return raw === undefined ? undefined : kind === 'secrets' ? Buffer.from(raw, 'base64').toString('utf8') : raw;
    };
    for (const e of c.env ?? []) {
      const from = e.valueFrom;
      const value = from?.fieldRef
        ? field(from.fieldRef.fieldPath)
        : from?.configMapKeyRef
          ? await fromObject('configmaps', from.configMapKeyRef)
          : from?.secretKeyRef
            ? await fromObject('secrets', from.secretKeyRef)
            : (e.value ?? '');
      if (value !== undefined) env[e.name] = value;
    }
    env['KUBECONFIG'] = kubeconfig;
    const port = new URL(opts.cluster.server).port;
    Object.assign(env, {
      KUBERNETES_SERVICE_HOST: GATEWAY,
      KUBERNETES_SERVICE_PORT: port,
      KUBERNETES_SERVICE_PORT_HTTPS: port,
    });
    return env;
  }

  /**
   * What the ServiceAccount admission plugin's projected volume would give, once per pod (its
   * containers and their restarts share it): a token bound to the pod, as a kubeconfig.
   */
  async function podKubeconfig(pod: Pod, podDir: string): Promise<string> {
    const sa = pod.spec.serviceAccountName ?? 'default';
    const token = await admin.request<{ status?: { token?: string } }>(
      'POST',
      `/api/v1/namespaces/${pod.metadata.namespace}/serviceaccounts/${sa}/token`,
      {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: {
          expirationSeconds: 86_400,
          boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata.name, uid: pod.metadata.uid },
        },
      },
    );
    if (!token.body.status?.token)
      throw new Error(
        `no token for ServiceAccount ${pod.metadata.namespace}/${sa}: ${token.status} ${JSON.stringify(token.body)}`,
      );
    const kubeconfig = join(podDir, 'kubeconfig');
    await writeKubeconfigForToken(opts.cluster, token.body.status.token, kubeconfig);
    return kubeconfig;
  }

  /** The HTTP GET of a probe or hook, at the pod's address; true for a 2xx or 3xx answer. */
  async function httpGet(
    r: Running,
    c: Container,
    get: NonNullable<Probe['httpGet']>,
    timeoutMs: number,
  ): Promise<boolean> {
    const port = portOf(c, get.port);
    const scheme = (get.scheme ?? 'HTTP').toLowerCase();
    // A kubelet does not verify a probe's certificate; this probe only asks whether TLS answers.
    if (scheme === 'https') return answers(r.host.ip, port, true);
    const headers = Object.fromEntries((get.httpHeaders ?? []).map((h) => [h.name, h.value]));
    // As the kubelet's prober builds it: a path without its leading slash still means that one.
    const path = (get.path ?? '/').replace(/^(?!\/)/, '/');
    const res = await fetch(`${scheme}://${r.host.ip}:${port}${path}`, {
      headers: { 'user-agent': 'kube-probe/1.34', ...headers },
      signal: AbortSignal.timeout(timeoutMs),
    }).catch(() => undefined);
    return res !== undefined && res.status >= 200 && res.status < 400;
  }

  async function probe(r: Running, c: Container): Promise<boolean> {
    const p = c.readinessProbe;
    if (p?.httpGet) return httpGet(r, c, p.httpGet, 1000);
    if (p?.tcpSocket) return answers(r.host.ip, portOf(c, p.tcpSocket.port), false);
    return true;
  }

  function watchReadiness(r: Running): void {
    const tick = async () => {
      if (r.stopping) return;
      let changed = false;
      for (const c of r.containers) {
        const ready = alive(c.pid, c.image.exe) && (await probe(r, c.spec));
        if (ready !== c.ready) changed = true;
        c.ready = ready;
      }
      if (changed || r.unreported) {
        await patchStatus(r);
        opts.onChange?.();
      }
      const allReady = r.containers.every((c) => c.ready);
      r.timer = setTimeout(() => void tick(), allReady ? 2000 : 250);
      r.timer.unref();
    };
    void tick();
  }

  async function runContainer(r: Running, c: RunningContainer): Promise<void> {
    const podDir = dirname(c.logFile);
    r.kubeconfig ??= await podKubeconfig(r.pod, podDir);
    const env = await environment(r.pod, r.host, c.spec, podDir, r.kubeconfig);
    const cmd = inHost(r.host, c.image.exe, [...(c.image.args ?? []), ...(c.spec.args ?? [])]);
    c.pid = await launch({
      exe: cmd.exe,
      args: cmd.args,
      env,
      logFile: c.logFile,
      detached: false,
      cwd: c.image.workingDir ?? podDir,
      replaceEnv: true,
    });
    c.startedAt = new Date().toISOString();
    // As a container runtime's state: which process is the container, for tools that sample it.
    await writeFile(join(podDir, `${c.spec.name}.pid`), `${c.pid} ${c.image.exe}\n`);
    // Restarted like restartPolicy Always when it exits on its own.
    const check = setInterval(() => {
      if (r.stopping) {
        clearInterval(check);
        return;
      }
      if (alive(c.pid, c.image.exe)) return;
      clearInterval(check);
      c.restarts++;
      c.ready = false;
      log(`kubelet: ${key(r.pod)} container ${c.spec.name} exited; restarting (${c.restarts})`);
      void runContainer(r, c)
        .then(() => patchStatus(r))
        .catch(failed(`restarting ${key(r.pod)} container ${c.spec.name}`));
    }, 250);
    check.unref();
  }

  /** Containers that cannot start, as the kubelet reports them: Pending, each waiting with its reason. */
  async function reportWaiting(pod: Pod, waiting: Map<string, { reason: string; message: string }>): Promise<void> {
    const containerStatuses = pod.spec.containers.map((c) => ({
      name: c.name,
      image: c.image,
      imageID: '',
      ready: false,
      restartCount: 0,
      state: { waiting: waiting.get(c.name) ?? { reason: 'ContainerCreating' } },
    }));
    const path = `/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}/status`;
    await admin.request(
      'PATCH',
      path,
      { status: { phase: 'Pending', containerStatuses } },
      'application/strategic-merge-patch+json',
    );
  }

  async function start(pod: Pod): Promise<void> {
    const missing = pod.spec.containers.filter((c) => !opts.images[c.image]);
    if (missing.length) {
      log(`kubelet: ${key(pod)}: no local binary for image ${missing.map((c) => c.image).join(', ')}`);
      const reason = (c: Container) => ({ reason: 'ErrImagePull', message: `no local binary for ${c.image}` });
      await reportWaiting(pod, new Map(missing.map((c) => [c.name, reason(c)])));
      return;
    }
    const index = freeIndexes.shift();
    if (index === undefined) throw new Error('no free test host address');
    const podDir = join(opts.dir, 'pods', `${pod.metadata.namespace}_${pod.metadata.name}`);
    await mkdir(podDir, { recursive: true });
    const retired = retiredHosts.get(index); // the host of a pod that had this address before
    if (retired) await removeHost(retired);
    retiredHosts.delete(index);
    const host = await createHost(`p${index}`, index, pod.metadata.namespace, pod.metadata.name);
    const r: Running = {
      pod,
      host,
      containers: pod.spec.containers.map((spec) => ({
        spec,
        image: opts.images[spec.image] as Images[string],
        pid: 0,
        restarts: 0,
        ready: false,
        startedAt: '',
        logFile: join(podDir, `${spec.name}.log`),
      })),
      stopping: false,
    };
    running.set(key(pod), r);
    let current: RunningContainer | undefined;
    try {
      // In order, as a kubelet starts them, each without waiting for the one before to be ready.
      for (current of r.containers) await runContainer(r, current);
    } catch (error) {
      // As CreateContainerConfigError: say why, give the address back, try again in a second.
      const message = messageOf(error);
      log(`kubelet: ${key(pod)}: ${message}`);
      await end(key(pod), 0);
      const reason = { reason: 'CreateContainerConfigError', message };
      await reportWaiting(pod, new Map(current ? [[current.spec.name, reason]] : []));
      setTimeout(
        () =>
          void admin
            .request<Pod>('GET', `/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}`)
            .then((res) => {
              // Through the pod's queue, so that it never runs beside a watch event's start.
              if (res.status === 200 && !abort.signal.aborted && !running.has(key(pod))) enqueue('MODIFIED', res.body);
            })
            .catch(failed(`retrying ${key(pod)}`)),
        1000,
      ).unref();
      return;
    }
    await patchStatus(r);
    const what = r.containers.map((c) => `${c.spec.name} ${c.spec.image} (pid ${c.pid})`).join(', ');
    log(`kubelet: ${key(pod)} running ${what} at ${host.ip}`);
    opts.onChange?.();
    watchReadiness(r);
  }

  async function end(k: string, gracePeriodSeconds: number): Promise<void> {
    const r = running.get(k);
    if (!r) return;
    r.stopping = true;
    clearTimeout(r.timer);
    running.delete(k); // off the DNS and kube-proxy stand-ins' list before its host goes
    opts.onChange?.();
    // Each container at once: its preStop hook, then SIGTERM, all within the one grace period
    // (capped: a test bed does not wait 30 s for a pod).
    const deadline = Date.now() + Math.min(gracePeriodSeconds, 10) * 1000;
    await Promise.all(
      r.containers.map(async (c) => {
        const hook = c.spec.lifecycle?.preStop?.httpGet;
        // A deletion without grace (a kill) leaves no time for the hook.
        if (hook && c.pid && alive(c.pid, c.image.exe) && deadline > Date.now())
          await httpGet(r, c.spec, hook, deadline - Date.now());
        if (c.pid) await stopProcess(c.pid, c.image.exe, Math.max(0, deadline - Date.now()));
      }),
    );
    await retireHost(r.host);
    const index = Number(r.host.ip.split('.').pop());
    retiredHosts.set(index, r.host);
    freeIndexes.push(index);
  }

  async function onPod(type: 'ADDED' | 'MODIFIED' | 'DELETED', pod: Pod): Promise<void> {
    const k = key(pod);
    try {
      if (type === 'DELETED') {
        await end(k, 0);
        return;
      }
      if (pod.metadata.deletionTimestamp) {
        await end(k, pod.metadata.deletionGracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 30);
        // The kubelet confirms the deletion once the containers are gone.
        const path = `/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}`;
        const res = await admin.request('DELETE', path, {
          apiVersion: 'v1',
          kind: 'DeleteOptions',
          gracePeriodSeconds: 0,
          preconditions: { uid: pod.metadata.uid },
        });
        if (res.status !== 200 && res.status !== 404 && res.status !== 409)
          throw new Error(`confirming the deletion: ${res.status} ${JSON.stringify(res.body)}`);
        if (res.status === 200) log(`kubelet: ${k} ended`);
        return;
      }
      const r = running.get(k);
      if (r) r.pod = pod;
      else await start(pod);
    } catch (error) {
      failed(`${type} ${k}`)(error);
    }
  }

  // Each pod's events in order, different pods independently: one pod draining must not hold up the rest.
  const queues = new Map<string, Promise<void>>();
  const enqueue = (type: 'ADDED' | 'MODIFIED' | 'DELETED', pod: Pod): void => {
    const k = key(pod);
    const next = (queues.get(k) ?? Promise.resolve()).then(() => onPod(type, pod));
    queues.set(k, next);
    void next.then(() => {
      if (queues.get(k) === next) queues.delete(k);
    });
  };
  void admin
    .watch<Pod>(`/api/v1/pods?fieldSelector=spec.nodeName%3D${NODE}`, enqueue, abort.signal)
    .catch((e: unknown) => {
      if (!abort.signal.aborted)
        opts.fatal(new Error(`the kubelet stand-in stopped watching its pods: ${messageOf(e)}`));
    });

  return {
    hosts: () => [...running.values()].map((r) => r.host),
    stop: async () => {
      abort.abort();
      clearInterval(heartbeat);
      await Promise.all([...running.keys()].map((k) => end(k, 10)));
    },
  };
}

/** The Node object a kubelet registers: Ready, with room for every pod of the test bed. */
async function registerNode(admin: Admin): Promise<void> {
  const node = {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: NODE,
      labels: { 'kubernetes.io/hostname': NODE, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64' },
    },
  };
  const created = await admin.request('POST', '/api/v1/nodes', node);
  if (created.status !== 201 && created.status !== 409)
    throw new Error(`registering node ${NODE}: ${created.status} ${JSON.stringify(created.body)}`);
  const capacity = { cpu: '64', memory: '256Gi', pods: '250' };
  const now = new Date().toISOString();
  const res = await admin.request(
    'PATCH',
    `/api/v1/nodes/${NODE}/status`,
    {
      status: {
        capacity,
        allocatable: capacity,
        addresses: [
          { type: 'InternalIP', address: GATEWAY },
          { type: 'Hostname', address: NODE },
        ],
        conditions: [
          {
            type: 'Ready',
            status: 'True',
            reason: 'KubeletReady',
            message: 'test bed node',
            lastHeartbeatTime: now,
            lastTransitionTime: now,
          },
        ],
      },
    },
    'application/strategic-merge-patch+json',
  );
  if (res.status !== 200) throw new Error(`node ${NODE} status: ${res.status} ${JSON.stringify(res.body)}`);
}

/** A probe's or hook's port: a number, or the name of one of the container's ports. */
function portOf(c: Container, port: number | string): number {
  const found = typeof port === 'number' ? port : (c.ports ?? []).find((q) => q.name === port)?.containerPort;
  if (found === undefined) throw new Error(`container ${c.name} has no port named ${port}`);
  return found;
}

/** Whether a connection (TCP, or TLS without checking the certificate) opens within a second. */
function answers(host: string, port: number, tls: boolean): Promise<boolean> {
  return new Promise((resolve) => {
    const opts = { host, port, timeout: 1000 };
    const done = (ok: boolean) => () => {
      sock.destroy();
      resolve(ok);
    };
    const sock = tls ? tlsConnect({ ...opts, rejectUnauthorized: false }, done(true)) : connect(opts, done(true));
    sock.once('error', done(false)).once('timeout', done(false));
  });
}

/** The node's heartbeat: its Lease in kube-node-lease, renewed as a kubelet does every 10 s. */
async function renewLease(admin: Admin): Promise<void> {
  const path = `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${NODE}`;
  const spec = {
    holderIdentity: NODE,
    leaseDurationSeconds: 40,
    renewTime: new Date().toISOString().replace('Z', '000Z'),
  };
  const res = await admin.request('PATCH', path, { spec }, 'application/merge-patch+json');
  if (res.status === 404) {
    const created = await admin.request('POST', path.slice(0, path.lastIndexOf('/')), {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: NODE },
      spec,
    });
    if (created.status !== 201 && created.status !== 409)
      throw new Error(`${created.status} ${JSON.stringify(created.body)}`);
  } else if (res.status !== 200) throw new Error(`${res.status} ${JSON.stringify(res.body)}`);
}
