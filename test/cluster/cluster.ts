// A real local Kubernetes control plane (etcd + kube-apiserver, built by build.sh) for tests;
// with `controllers`, kube-controller-manager and kube-scheduler too (the Knative stack's nodes
// need Deployments, ReplicaSets, Endpoints, EndpointSlices and aggregated ClusterRoles).
// Attached clusters die with the Node process that started them; detached ones (cluster:up)
// outlive it and are found again through a state file.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Admin } from '../support/admin.js';
import { logToStderr, messageOf } from '../support/log.js';
import { cacheDir } from '../support/repo.js';
import { alive, canConnect, freePorts, launch, runBuildScript, stopProcess, waitFor } from './processes.js';

const here = fileURLToPath(new URL('.', import.meta.url));
/** Where a detached cluster (cluster:up) records itself, for cluster:down and for reuse. */
export const statePath = join(cacheDir, 'cluster-state.json');

/** Everything about a running cluster except how to stop it; this is what the state file holds. */
export interface ClusterInfo {
  /** https://<address>:<port> */
  server: string;
  /** Admin kubeconfig (system:masters client cert). */
  kubeconfig: string;
  /** Holds certs, etcd data, logs (etcd.log, kube-apiserver.log) and the kubeconfig. */
  dir: string;
  /** Whether stop() removes dir: only when startCluster created it. */
  ownsDir: boolean;
  /** Folder with kube-apiserver, kubectl and etcd. */
  binDir: string;
  etcdServer: string;
  caCert: string;
  adminCert: string;
  adminKey: string;
  /** RSA key the apiserver signs ServiceAccount tokens with. */
  saSigningKey: string;
  /**
   * Audit log when started with auditPolicy: JSON lines at level Metadata, one per request at
   * stage ResponseComplete (long-running watches also get a ResponseStarted line).
   */
  auditLog: string | undefined;
  pids: { etcd: number; apiserver: number; controllerManager?: number; scheduler?: number };
  detached: boolean;
}

export interface Cluster extends ClusterInfo {
  /** SIGTERM the apiserver then etcd (SIGKILL after 5 s), then remove dir if we made it. */
  stop: () => Promise<void>;
}

export interface StartOptions {
  /** Use this folder instead of a fresh temp dir; it is then kept on stop(), logs included. */
  dir?: string;
  /** Skip build.sh and use these binaries. */
  binDir?: string;
  /** Progress lines (build and startup); default: stderr. */
  log?: (line: string) => void;
  /** Write an audit log of every request at level Metadata (see ClusterInfo.auditLog). */
  auditPolicy?: boolean;
  /** Let the processes outlive this Node process and record them in statePath. */
  detached?: boolean;
  /** Where kube-apiserver listens and advertises itself (default 127.0.0.1), e.g. a bridge's address. */
  address?: string;
  /**
   * Its port (default: a free one). 443 where pods must reach it as the `kubernetes` Service
   * does, at `kubernetes.default.svc:443`: Knative's OIDC verifier dials exactly that.
   */
  port?: number;
  /**
   * Also run kube-controller-manager and kube-scheduler, with the ServiceAccount admission
   * plugin on, and let kube-apiserver reach Services (webhooks, CRD conversion) through their
   * endpoints, as it must where no kube-proxy gives them cluster IPs.
   */
  controllers?: boolean;
  /**
   * Runs once the API server is ready and before the controllers start: for CRDs whose objects
   * will own others. kube-controller-manager's garbage collector maps only the kinds it has
   * discovered, and re-discovers slowly enough that owners of a kind installed later are not
   * collected for a while.
   */
  beforeControllers?: (info: ClusterInfo) => Promise<void>;
}

/**
 * The controllers the test bed needs from kube-controller-manager: Deployments become ReplicaSets
 * and Pods (and report Available), Services get Endpoints and EndpointSlices (and the Endpoints
 * Knative Serving writes itself for Services without a selector get EndpointSlices, which is what
 * the cluster DNS and kube-proxy stand-ins read), aggregated
 * ClusterRoles are filled, owned objects and deleted namespaces are cleaned up, every namespace
 * gets its default ServiceAccount, and a node whose kubelet reports Ready loses the not-ready
 * taint new nodes are given (test/stack/kubelet.ts renews the node's Lease, as a kubelet does).
 */
const CONTROLLERS = [
  'node-lifecycle-controller',
  'deployment-controller',
  'replicaset-controller',
  'endpoints-controller',
  'endpointslice-controller',
  'endpointslice-mirroring-controller',
  'clusterrole-aggregation-controller',
  'garbage-collector-controller',
  'namespace-controller',
  'serviceaccount-controller',
];

const execFileP = promisify(execFile);

/** Runs build.sh (a no-op when cached) and resolves to the folder holding the binaries. */
export function buildControlPlane(log: (line: string) => void = logToStderr): Promise<string> {
  return runBuildScript(join(here, 'build.sh'), log);
}

/** Starts etcd and kube-apiserver on free loopback ports and waits until the API is ready. */
export async function startCluster(opts: StartOptions = {}): Promise<Cluster> {
  const log = opts.log ?? logToStderr;
  const detached = opts.detached ?? false;
  const binDir = opts.binDir ?? (await buildControlPlane(log));
  const ownsDir = opts.dir === undefined;
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'advance-phase-cluster-')));
  await mkdir(dir, { recursive: true });

  const address = opts.address ?? '127.0.0.1';
  const [etcdClientPort, etcdPeerPort, freeApiPort] = (await freePorts(3)) as [number, number, number];
  const apiPort = opts.port ?? freeApiPort;
  const etcdServer = `http://127.0.0.1:${etcdClientPort}`;
  const server = `https://${address}:${apiPort}`;
  const certs = await makeCerts(dir, address).catch(async (err: unknown) => {
    if (ownsDir) await rm(dir, { recursive: true, force: true });
    throw err;
  });
  const auditLog = opts.auditPolicy ? join(dir, 'audit.log') : undefined;
  const info: ClusterInfo = {
    server,
    kubeconfig: join(dir, 'kubeconfig'),
    dir,
    ownsDir,
    binDir,
    etcdServer,
    ...certs,
    auditLog,
    pids: { etcd: 0, apiserver: 0 },
    detached,
  };
  if (!detached) watchExit(info);
  // From here on a failure must not leave processes behind.
  try {
    const started = Date.now();
    const flags = flagsOf(info, {
      address,
      apiPort,
      etcdClientPort,
      etcdPeerPort,
      controllers: opts.controllers ?? false,
    });
    info.pids.etcd = await start(info, 'etcd', flags.etcd);
    await waitFor('etcd', proc(info, 'etcd'), 30_000, () => canConnect(etcdClientPort));
    // One event per request at ResponseComplete (watches also log ResponseStarted), not two. An
    // Action's status writes are logged with their bodies: a test judges each JSON Patch itself.
    if (auditLog)
      await writeFile(
        join(dir, 'audit-policy.yaml'),
        [
          'apiVersion: audit.k8s.io/v1',
          'kind: Policy',
          'omitStages: [RequestReceived]',
          'rules:',
          '- level: Request',
          '  resources: [{group: core.opdemo.net, resources: [actions/status]}]',
          '- level: Metadata',
          '',
        ].join('\n'),
      );
    info.pids.apiserver = await start(info, 'kube-apiserver', flags['kube-apiserver']);
    await writeFile(
      info.kubeconfig,
      kubeconfigYaml(server, await readFile(certs.caCert), {
        'client-certificate-data': (await readFile(certs.adminCert)).toString('base64'),
        'client-key-data': (await readFile(certs.adminKey)).toString('base64'),
      }),
    );
    await waitFor(
      'kube-apiserver /readyz',
      proc(info, 'kube-apiserver'),
      60_000,
      async () => (await new Admin(info).request('GET', '/readyz')).status === 200,
    );
    // The default namespace is created by a post-start hook shortly after /readyz.
    await waitFor(
      'namespace default',
      proc(info, 'kube-apiserver'),
      30_000,
      async () => (await new Admin(info).request('GET', '/api/v1/namespaces/default')).status === 200,
    );
    if (opts.controllers) {
      await opts.beforeControllers?.(info);
      info.pids.controllerManager = await start(info, 'kube-controller-manager', flags['kube-controller-manager']);
      info.pids.scheduler = await start(info, 'kube-scheduler', flags['kube-scheduler']);
      await waitFor(
        "kube-controller-manager (the default namespace's ServiceAccount)",
        proc(info, 'kube-controller-manager'),
        60_000,
        async () =>
          (await new Admin(info).request('GET', '/api/v1/namespaces/default/serviceaccounts/default')).status === 200,
      );
    }
    log(`cluster: ready at ${server} in ${((Date.now() - started) / 1000).toFixed(1)} s (dir ${dir})`);
  } catch (err) {
    await stopCluster(info, { keepLogs: true }); // a folder the caller gave is kept anyway
    if (!ownsDir) throw err;
    throw new Error(`${messageOf(err)}\nThe control plane did not start; its folder is kept: ${dir}`, { cause: err });
  }
  if (detached) {
    await mkdir(cacheDir, { recursive: true });
    await writeFile(statePath, JSON.stringify(info, null, 2));
  }
  return { ...info, stop: () => stopCluster(info) };
}

type Binary = 'etcd' | 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler';

/** Every process of the control plane and the flags it runs with: how each is configured, in one place. */
function flagsOf(
  info: ClusterInfo,
  at: { address: string; apiPort: number; etcdClientPort: number; etcdPeerPort: number; controllers: boolean },
): Record<Binary, string[]> {
  const { dir } = info;
  // No serving port for the controllers: nothing here scrapes them, and the API server is how to see them work.
  const controller = [`--kubeconfig=${info.kubeconfig}`, '--leader-elect=false', '--secure-port=0'];
  return {
    etcd: [`--data-dir=${join(dir, 'etcd')}`, `--client-port=${at.etcdClientPort}`, `--peer-port=${at.etcdPeerPort}`],
    'kube-apiserver': [
      `--etcd-servers=${info.etcdServer}`,
      `--secure-port=${at.apiPort}`,
      `--bind-address=${at.address}`,
      `--advertise-address=${at.address}`,
      `--tls-cert-file=${join(dir, 'serving.crt')}`,
      `--tls-private-key-file=${join(dir, 'serving.key')}`,
      `--client-ca-file=${info.caCert}`,
      '--authorization-mode=RBAC',
      `--service-account-key-file=${join(dir, 'sa.pub')}`,
      `--service-account-signing-key-file=${info.saSigningKey}`,
      '--service-account-issuer=https://kubernetes.default.svc',
      '--service-cluster-ip-range=10.0.0.0/24',
      '--allow-privileged=true',
      // Without a controller-manager no default ServiceAccounts exist, and Pods would be refused.
      ...(at.controllers ? ['--enable-aggregator-routing=true'] : ['--disable-admission-plugins=ServiceAccount']),
      // Blocking: an event is in the file before its response is sent, so tests can count at once.
      ...(info.auditLog
        ? [
            `--audit-policy-file=${join(dir, 'audit-policy.yaml')}`,
            `--audit-log-path=${info.auditLog}`,
            '--audit-log-mode=blocking',
          ]
        : []),
    ],
    'kube-controller-manager': [
      ...controller,
      `--controllers=${CONTROLLERS.join(',')}`,
      `--root-ca-file=${info.caCert}`,
      '--use-service-account-credentials=false',
    ],
    'kube-scheduler': controller,
  };
}

/** The detached cluster recorded in statePath, if any (its processes may have died since). */
export async function readDetachedCluster(): Promise<Cluster | undefined> {
  let text: string;
  try {
    text = await readFile(statePath, 'utf8');
  } catch {
    return undefined;
  }
  const info = JSON.parse(text) as ClusterInfo;
  return { ...info, stop: () => stopCluster(info) };
}

/** Whether every process of the cluster is still running. */
export function isRunning(info: ClusterInfo): boolean {
  return processes(info).every(([pid, name]) => alive(pid, join(info.binDir, name)));
}

/** The first of the cluster's processes that is no longer running, with its log, if any. */
export function exitedProcess(info: ClusterInfo): { name: string; logFile: string } | undefined {
  const gone = processes(info).find(([pid, name]) => !alive(pid, join(info.binDir, name)));
  return gone && { name: gone[1], logFile: join(info.dir, `${gone[1]}.log`) };
}

/**
 * Restarts kube-apiserver as a crash would: killed at once, in-flight requests cut off (their
 * writes may or may not have landed), then a new one with the same flags, ready once /readyz
 * answers. The new one runs in its own session (it must outlive the test
 * process that restarted it) and its pid is written to dir/kube-apiserver.pid, where whoever stops
 * the cluster finds it.
 */
export async function restartApiServer(info: ClusterInfo): Promise<void> {
  const exe = join(info.binDir, 'kube-apiserver');
  await stopProcess(apiServerPid(info), exe, 0);
  const server = new URL(info.server);
  const flags = flagsOf(info, {
    address: server.hostname,
    apiPort: Number(server.port || 443), // URL drops https' default port
    etcdClientPort: Number(new URL(info.etcdServer).port),
    etcdPeerPort: 0, // etcd's own flag, not the API server's
    controllers: info.pids.controllerManager !== undefined,
  });
  const logFile = join(info.dir, 'kube-apiserver.log');
  const pid = await launch({ exe, args: flags['kube-apiserver'], logFile, detached: true });
  await writeFile(restartedPidFile(info), String(pid));
  await waitFor(
    'kube-apiserver /readyz after its restart',
    { pid, exe, logFile },
    60_000,
    async () => (await new Admin(info).request('GET', '/readyz')).status === 200,
  );
}

const restartedPidFile = (info: ClusterInfo) => join(info.dir, 'kube-apiserver.pid');

/** The running kube-apiserver: the one restartApiServer started, if it did. */
function apiServerPid(info: ClusterInfo): number {
  return existsSync(restartedPidFile(info))
    ? Number(readFileSync(restartedPidFile(info), 'utf8'))
    : info.pids.apiserver;
}

/** [pid, binary] of each process the cluster started, in stop order. */
function processes(info: ClusterInfo): [number, string][] {
  const { etcd, controllerManager, scheduler } = info.pids;
  const apiserver = apiServerPid(info);
  const all: [number | undefined, string][] = [
    [scheduler, 'kube-scheduler'],
    [controllerManager, 'kube-controller-manager'],
    [apiserver, 'kube-apiserver'],
    [etcd, 'etcd'],
  ];
  return all.filter((p): p is [number, string] => p[0] !== undefined && p[0] > 0);
}

/**
 * Mints a token for ServiceAccount ns/name through the TokenRequest API, creating the
 * ServiceAccount if missing (the namespace must exist).
 */
export async function createServiceAccountToken(
  cluster: ClusterInfo,
  namespace: string,
  name: string,
  expirationSeconds = 3600,
  /** Default: the API server's own (its issuer). */
  audiences?: string[],
): Promise<string> {
  const admin = new Admin(cluster);
  const base = `/api/v1/namespaces/${namespace}/serviceaccounts`;
  const created = await admin.request('POST', base, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name } });
  if (created.status !== 201 && created.status !== 409) {
    throw new Error(`creating ServiceAccount ${namespace}/${name}: ${created.status} ${JSON.stringify(created.body)}`);
  }
  const res = await admin.request<{ status?: { token?: string } }>('POST', `${base}/${name}/token`, {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenRequest',
    spec: { expirationSeconds, ...(audiences ? { audiences } : {}) },
  });
  const token = res.status === 201 ? res.body.status?.token : undefined;
  if (!token) throw new Error(`TokenRequest for ${namespace}/${name}: ${res.status} ${JSON.stringify(res.body)}`);
  return token;
}

/** Writes a kubeconfig that talks to the cluster as the bearer of token. */
export async function writeKubeconfigForToken(cluster: ClusterInfo, token: string, path: string): Promise<void> {
  await writeFile(path, kubeconfigYaml(cluster.server, await readFile(cluster.caCert), { token }));
}

/**
 * Stops a cluster known only by its info (from a state file, or handed over by another process).
 * `keepLogs`: leave its folder for a reader of a failed start.
 */
export async function stopCluster(info: ClusterInfo, opts: { keepLogs?: boolean } = {}): Promise<void> {
  for (const [pid, name] of processes(info)) await stopProcess(pid, join(info.binDir, name));
  attached.delete(info.dir);
  if (info.ownsDir && !opts.keepLogs) await rm(info.dir, { recursive: true, force: true, maxRetries: 3 });
  if (info.detached) await rm(statePath, { force: true });
}

// Attached clusters not stopped yet; killed synchronously if this process exits or is signalled.
const attached = new Map<string, ClusterInfo>(); // by folder: callers hold copies of the info
let hooked = false;

function watchExit(info: ClusterInfo): void {
  attached.set(info.dir, info);
  if (hooked) return;
  hooked = true;
  const killAll = (): void => {
    for (const c of attached.values()) {
      for (const [pid, exe] of processes(c)) {
        if (alive(pid, join(c.binDir, exe))) process.kill(pid, 'SIGKILL'); // no time to wait for SIGTERM
      }
      if (c.ownsDir) rmSync(c.dir, { recursive: true, force: true, maxRetries: 3 });
    }
    attached.clear();
  };
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      killAll();
      // Keep the signal's default effect unless someone else (e.g. a test runner) handles it.
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    });
  }
}

/** binDir/name with output to dir/name.log. */
function start(info: ClusterInfo, name: string, args: string[]): Promise<number> {
  return launch({
    exe: join(info.binDir, name),
    args,
    logFile: join(info.dir, `${name}.log`),
    detached: info.detached,
  });
}

function proc(info: ClusterInfo, name: 'etcd' | 'kube-apiserver' | 'kube-controller-manager') {
  const pids = {
    etcd: info.pids.etcd,
    'kube-apiserver': info.pids.apiserver,
    'kube-controller-manager': info.pids.controllerManager ?? 0,
  };
  return { pid: pids[name], exe: join(info.binDir, name), logFile: join(info.dir, `${name}.log`) };
}

const SERVICE_NAMES = [
  'localhost',
  'kubernetes',
  'kubernetes.default',
  'kubernetes.default.svc',
  'kubernetes.default.svc.cluster.local',
];

async function makeCerts(
  dir: string,
  address: string,
): Promise<Pick<ClusterInfo, 'caCert' | 'adminCert' | 'adminKey' | 'saSigningKey'>> {
  const p = (f: string): string => join(dir, f);
  const openssl = (...args: string[]): Promise<unknown> => execFileP('openssl', args);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '365'];
  await openssl(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    p('ca.key'),
    '-out',
    p('ca.crt'),
    '-subj',
    '/CN=advance-phase-test-ca',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  );
  const signed = (name: string, subj: string, ...ext: string[]): Promise<unknown> =>
    openssl(
      'req',
      '-x509',
      ...ec,
      '-CA',
      p('ca.crt'),
      '-CAkey',
      p('ca.key'),
      '-keyout',
      p(`${name}.key`),
      '-out',
      p(`${name}.crt`),
      '-subj',
      subj,
      '-addext',
      'basicConstraints=CA:FALSE',
      ...ext.flatMap((e) => ['-addext', e]),
    );
  await Promise.all([
    // The names pods use for the `kubernetes` Service too, as a real cluster's serving certificate has them.
    signed(
      'serving',
      '/CN=kube-apiserver',
      `subjectAltName=${[...new Set([address, '127.0.0.1'])].map((a) => `IP:${a}`).join(',')},${SERVICE_NAMES.map((n) => `DNS:${n}`).join(',')}`,
      'extendedKeyUsage=serverAuth',
    ),
    signed('admin', '/O=system:masters/CN=admin', 'extendedKeyUsage=clientAuth'),
    openssl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', p('sa.key')).then(() =>
      openssl('pkey', '-in', p('sa.key'), '-pubout', '-out', p('sa.pub')),
    ),
  ]);
  return { caCert: p('ca.crt'), adminCert: p('admin.crt'), adminKey: p('admin.key'), saSigningKey: p('sa.key') };
}

function kubeconfigYaml(server: string, caPem: Buffer, user: Record<string, string>): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: advance-phase-test',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority-data: ${caPem.toString('base64')}`,
    'users:',
    '- name: user',
    '  user:',
    ...Object.entries(user).map(([k, v]) => `    ${k}: ${v}`),
    'contexts:',
    '- name: advance-phase-test',
    '  context: {cluster: advance-phase-test, user: user}',
    'current-context: advance-phase-test',
    '',
  ].join('\n');
}
