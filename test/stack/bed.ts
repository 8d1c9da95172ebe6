// The test bed Knative runs on, this project's envtest: a real control plane (etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler) listening on a bridge, one node whose
// kubelet, cluster DNS and kube-proxy are the small stand-ins beside this file (run as a process
// of their own, node-main.ts), and Knative Eventing (and with `serving`, Knative Serving and its
// ingress stand-in) installed from its release manifests, its controllers and webhooks as Pods.
// Start order: each part is up before anything needs it; stop in reverse. A failed start stops
// every process and removes the network, keeps the folder of logs, and names the logs to read.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { exitedProcess, startCluster, stopCluster, type Cluster, type ClusterInfo } from '../cluster/cluster.js';
import { alive, launch, runBuildScript, stopProcess, waitFor } from '../cluster/processes.js';
import { Admin } from '../support/admin.js';
import { repoRoot } from '../support/repo.js';
import { installKnative, installKnativeCrds, knativeImages } from './knative.js';
import { installServing, installServingCrds, servingImages } from './knative-serving.js';
import { NODE, type Images } from './kubelet.js';
import { createBridge, GATEWAY, removeAll } from './netns.js';
import type { NodeConfig } from './node-main.js';
import { messageOf } from '../support/log.js';

const run = promisify(execFile);

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
  /** Images beyond Knative's that the kubelet can run (the function's, a test's own). */
  images?: Images;
  auditPolicy?: boolean;
  /** Also run Knative Serving (knative-serving.ts) and its ingress stand-in. */
  serving?: boolean;
  /** Outlive this process (stack:up); stop with stopBed from any process. */
  detached?: boolean;
  log?: (line: string) => void;
}

export async function startBed(opts: BedOptions = {}): Promise<Bed> {
  const log = opts.log ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const detached = opts.detached ?? false;
  await checkHost();
  const knativeBin = await runBuildScript(join(repoRoot, 'test/knative/build.sh'), log);
  const servingBin = opts.serving ? await runBuildScript(join(repoRoot, 'test/serving/build.sh'), log) : undefined;
  await createBridge(); // also removes what a crashed run left
  let info: BedInfo | undefined;
  let cluster: Cluster | undefined;
  try {
    cluster = await startCluster({
      address: GATEWAY,
      port: 443, // where pods reach the `kubernetes` Service (Knative's OIDC verifier dials it)
      controllers: true,
      beforeControllers: async (info) => {
        await installKnativeCrds(new Admin(info), knativeBin);
        if (servingBin) await installServingCrds(new Admin(info), servingBin);
      },
      auditPolicy: opts.auditPolicy ?? false,
      detached,
      log,
    });
    const { stop: _stop, ...clusterInfo } = cluster;
    const admin = new Admin(cluster);
    const dir = join(cluster.dir, 'node');
    await mkdir(dir, { recursive: true });
    const images = { ...knativeImages(knativeBin), ...(servingBin ? servingImages(servingBin) : {}), ...opts.images };
    const config: NodeConfig = { cluster: clusterInfo, images, dir };
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
    const started: BedInfo = {
      cluster: clusterInfo,
      node: { pid, exe, logFile },
      dir: cluster.dir,
      knativeBin,
    };
    info = started;
    await whileBedRuns(started, async () => {
      await waitFor(
        `node ${NODE} registered`,
        started.node,
        30_000,
        async () => (await admin.request('GET', `/api/v1/nodes/${NODE}`)).status === 200,
      );
      const t0 = Date.now();
      await installKnative(admin, knativeBin, log);
      log(
        `bed: Knative Eventing's control plane and data plane running in ${((Date.now() - t0) / 1000).toFixed(1)} s (logs in ${started.dir})`,
      );
      if (servingBin) {
        const t1 = Date.now();
        await installServing(admin, servingBin, log);
        log(`bed: Knative Serving running in ${((Date.now() - t1) / 1000).toFixed(1)} s`);
      }
    });
    return withStop(started);
  } catch (error) {
    if (info) return failedStart(info, error);
    await cluster?.stop(); // the control plane's own failed start has kept its folder already
    await removeAll();
    throw error;
  }
}

/**
 * What the bed needs from this machine (scripts/setup-host.sh --check), in seconds, before
 * anything is built: a missing command, a non-root user or a missing kernel feature fails here
 * with the command that fixes it, under the PATH the bed's own processes get.
 */
async function checkHost(): Promise<void> {
  await run('bash', [join(repoRoot, 'scripts/setup-host.sh'), '--check']).catch((error: unknown) => {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    throw new Error(`this machine cannot run the test bed:\n${stderr || messageOf(error)}`, { cause: error });
  });
}

/**
 * Runs `work` while every process of the bed runs; the first to exit fails it at once, with the
 * end of that process's log (a stand-in's failure is the node's last line).
 */
export async function whileBedRuns<T>(info: BedInfo, work: () => Promise<T>): Promise<T> {
  const done = new AbortController();
  const exited = (async (): Promise<never> => {
    for (;;) {
      await sleep(250, undefined, { signal: done.signal });
      const gone = alive(info.node.pid, info.node.exe)
        ? exitedProcess(info.cluster)
        : { name: 'the node (kubelet, cluster DNS and kube-proxy stand-ins)', logFile: info.node.logFile };
      if (gone) throw new StartFailure(`${gone.name} exited; ${gone.logFile} ends:\n${tailOf(gone.logFile, 20)}`, []);
    }
  })();
  exited.catch(() => undefined); // once `work` wins, the watch's abort is nobody's error
  try {
    return await Promise.race([work(), exited]);
  } finally {
    done.abort();
  }
}

/** A start that failed where these logs hold the evidence (none: the message holds it already). */
export class StartFailure extends Error {
  constructor(
    message: string,
    readonly logs: string[],
  ) {
    super(message);
  }
}

/**
 * A start that failed after the bed's processes began: stops them, keeps the folder (its logs),
 * and fails naming it, the logs to read (a StartFailure's, or every pod's and the node's), and their ends.
 */
export async function failedStart(info: BedInfo, error: unknown): Promise<never> {
  await stopBed(info, { keepLogs: true });
  const logs = error instanceof StartFailure ? error.logs : [...podLogs(info.dir), info.node.logFile];
  throw new Error(
    [
      messageOf(error),
      '',
      `The start failed. Its folder is kept: ${info.dir}`,
      `  node.log: the kubelet, cluster DNS and kube-proxy stand-ins; etcd.log, kube-apiserver.log,`,
      `  kube-controller-manager.log, kube-scheduler.log: the control plane; node/pods/<namespace>_<pod>/<container>.log: each pod`,
      ...logs.filter(existsSync).map((f) => `--- ${f} ends:\n${tailOf(f, 12)}`),
    ].join('\n'),
    { cause: error },
  );
}

export function withStop(info: BedInfo): Bed {
  return { ...info, admin: new Admin(info.cluster), stop: () => stopBed(info) };
}

/** Stops the node (its pods end with it), then the control plane, then removes the network. */
export async function stopBed(info: BedInfo, opts: { keepLogs?: boolean } = {}): Promise<void> {
  await stopProcess(info.node.pid, info.node.exe, 20_000);
  await stopCluster(info.cluster, opts);
  await removeAll();
}

export function isBedRunning(info: BedInfo): boolean {
  return alive(info.node.pid, info.node.exe);
}

/** Every pod's log files under the bed's folder. */
export function podLogs(dir: string): string[] {
  const podsDir = join(dir, 'node', 'pods');
  return existsSync(podsDir)
    ? readdirSync(podsDir).flatMap((d) =>
        readdirSync(join(podsDir, d))
          .filter((f) => f.endsWith('.log'))
          .map((f) => join(podsDir, d, f)),
      )
    : [];
}

function tailOf(file: string, lines: number): string {
  return (existsSync(file) ? readFileSync(file, 'utf8') : '').trimEnd().split('\n').slice(-lines).join('\n');
}
