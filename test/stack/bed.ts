// The test bed Knative runs on, this project's envtest: a real control plane (etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler) listening on a bridge, one node whose
// kubelet, cluster DNS and kube-proxy are the small stand-ins beside this file (run as a process
// of their own, node-main.ts), and Knative
// Eventing installed from its release manifests, its controllers and webhooks running as Pods.
// Start order: each part is up before anything needs it; stop in reverse; a failed start leaves
// nothing behind and names the log that says why.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startCluster, stopCluster, type Cluster, type ClusterInfo } from '../cluster/cluster.js';
import { alive, launch, runBuildScript, stopProcess, waitFor } from '../cluster/processes.js';
import { Admin } from '../support/admin.js';
import { repoRoot } from '../support/repo.js';
import { installKnative, installKnativeCrds, knativeImages } from './knative.js';
import { NODE, type Images } from './kubelet.js';
import { createBridge, GATEWAY, removeAll } from './netns.js';
import type { NodeConfig } from './node-main.js';
import { messageOf } from '../support/log.js';

/** What a bed is, as JSON: enough to stop it or use it from another process. */
export interface BedInfo {
  cluster: ClusterInfo;
  /** The node process (test/stack/node-main.ts): kubelet, DNS and kube-proxy stand-ins. */
  node: { pid: number; exe: string; logFile: string };
  /** The control plane's logs, node.log and, under node/pods/<ns>_<pod>/, each pod's folder. */
  dir: string;
  knativeBin: string;
}

export interface Bed extends BedInfo {
  admin: Admin;
  stop: () => Promise<void>;
}

export interface BedOptions {
  /** Images beyond Knative's that the kubelet can run (the function, under the Serving stand-in). */
  images?: Images;
  auditPolicy?: boolean;
  /** Outlive this process (stack:up); stop with stopBed from any process. */
  detached?: boolean;
  log?: (line: string) => void;
}

export async function startBed(opts: BedOptions = {}): Promise<Bed> {
  const log = opts.log ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const detached = opts.detached ?? false;
  const knativeBin = await runBuildScript(join(repoRoot, 'test/knative/build.sh'), log);
  await createBridge(); // also removes what a crashed run left
  let info: BedInfo | undefined;
  let cluster: Cluster | undefined;
  try {
    cluster = await startCluster({
      address: GATEWAY,
      port: 443, // where pods reach the `kubernetes` Service (Knative's OIDC verifier dials it)
      controllers: true,
      beforeControllers: (info) => installKnativeCrds(new Admin(info), knativeBin),
      auditPolicy: opts.auditPolicy ?? false,
      detached,
      log,
    });
    const { stop: _stop, ...clusterInfo } = cluster;
    const admin = new Admin(cluster);
    const dir = join(cluster.dir, 'node');
    await mkdir(dir, { recursive: true });
    const config: NodeConfig = { cluster: clusterInfo, images: { ...knativeImages(knativeBin), ...opts.images }, dir };
    const configFile = join(dir, 'config.json');
    await writeFile(configFile, JSON.stringify(config, null, 2));
    const logFile = join(cluster.dir, 'node.log');
    const exe = process.execPath;
    const pid = await launch({
      exe,
      args: ['--import', 'tsx', join(repoRoot, 'test/stack/node-main.ts'), configFile],
      logFile,
      detached,
      cwd: repoRoot,
    });
    info = { cluster: clusterInfo, node: { pid, exe, logFile }, dir: cluster.dir, knativeBin };
    await waitFor(
      `node ${NODE} registered`,
      info.node,
      30_000,
      async () => (await admin.request('GET', `/api/v1/nodes/${NODE}`)).status === 200,
    );
    const started = Date.now();
    await installKnative(admin, knativeBin, log).catch((error: unknown) => {
      throw new Error(`${messageOf(error)}\n${logTails(cluster?.dir ?? '')}`);
    });
    log(
      `bed: Knative Eventing's control plane and data plane running in ${((Date.now() - started) / 1000).toFixed(1)} s (logs in ${cluster.dir})`,
    );
    return withStop(info);
  } catch (error) {
    if (info) await stopBed(info);
    else await cluster?.stop();
    await removeAll();
    throw error;
  }
}

export function withStop(info: BedInfo): Bed {
  return { ...info, admin: new Admin(info.cluster), stop: () => stopBed(info) };
}

/** Stops the node (its pods end with it), then the control plane, then removes the network. */
export async function stopBed(info: BedInfo): Promise<void> {
  await stopProcess(info.node.pid, info.node.exe, 20_000);
  await stopCluster(info.cluster);
  await removeAll();
}

export function isBedRunning(info: BedInfo): boolean {
  return alive(info.node.pid, info.node.exe);
}

/** The end of each pod's log and of the node's, for a start that failed. */
export function logTails(dir: string): string {
  const podsDir = join(dir, 'node', 'pods');
  const tail = (file: string) => readFileSync(file, 'utf8').split('\n').slice(-12).join('\n');
  const logs = existsSync(podsDir)
    ? readdirSync(podsDir).flatMap((d) =>
        readdirSync(join(podsDir, d))
          .filter((f) => f.endsWith('.log'))
          .map((f) => join(podsDir, d, f)),
      )
    : [];
  return [...logs, join(dir, 'node.log')]
    .filter(existsSync)
    .map((f) => `--- ${f}\n${tail(f)}`)
    .join('\n');
}
