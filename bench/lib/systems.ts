// The two systems under comparison, on one control plane: the event-driven function behind
// Knative's broker, and a controller-runtime reconciler. Only one is switched on at a time.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createServiceAccountToken, writeKubeconfigForToken } from '../../test/cluster/cluster.js';
import { launch, runBuildScript, stopProcess, waitFor } from '../../test/cluster/processes.js';
import { NS, waitForChain, type Stack } from '../../test/stack/stack.js';
import type { Processes } from './stats.js';

export interface Reported {
  count: number;
  sumMs: number;
  /** process_start_time_seconds: a new value means a new process, whose counters began at 0. */
  startedAt: number;
}

export interface System {
  name: 'function' | 'peer';
  /** The identities its API calls are made as (audit log). */
  users: string[];
  /** Its own processes plus the shared control plane, for CPU and memory. */
  processes(): Processes;
  on(): Promise<void>;
  off(): Promise<void>;
  /** The function's own lateness histogram (GET /metrics): phases counted, their sum in ms, and when its process started. */
  reportedLateness?(): Promise<Reported>;
}

const controlPlane = (stack: Stack): Processes => ({ 'kube-apiserver': stack.cluster.pids.apiserver, etcd: stack.cluster.pids.etcd });

/** The function's chain is on while the ApiServerSource adapter runs: no adapter, no events. */
export function functionSystem(stack: Stack): System {
  let pids: Awaited<ReturnType<Stack['pids']>> | undefined;
  return {
    name: 'function',
    // The function's own calls, and the ApiServerSource adapter's watch.
    users: [`system:serviceaccount:${NS}:advance-phase`, `system:serviceaccount:${NS}:actions-source`],
    processes: () => ({
      function: pids?.function ?? 0,
      adapter: pids?.adapter ?? 0,
      ingress: pids?.ingress ?? 0,
      dispatcher: pids?.dispatcher ?? 0,
      filter: pids?.filter ?? 0,
      ...controlPlane(stack),
    }),
    on: async () => {
      await stack.startPart('adapter');
      await waitForChain(stack.admin);
      pids = await stack.pids(); // the adapter's pod is new each time
    },
    off: () => stack.stopPart('adapter'),
    reportedLateness: async () => {
      const text = await (await fetch(`${await stack.functionUrl()}metrics`)).text();
      const read = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
      return {
        count: read('advance_phase_phase_lateness_seconds_count'),
        sumMs: read('advance_phase_phase_lateness_seconds_sum') * 1000,
        startedAt: read('process_start_time_seconds'),
      };
    },
  };
}

export async function buildPeer(log: (line: string) => void): Promise<string> {
  return runBuildScript(join(process.cwd(), 'bench/peer/build.sh'), log);
}

export async function peerSystem(stack: Stack, exe: string): Promise<System> {
  await stack.admin.kubectl('apply', '-f', 'bench/peer-rbac.yaml');
  const kubeconfig = join(stack.dir, 'peer.kubeconfig');
  await writeKubeconfigForToken(stack.cluster, await createServiceAccountToken(stack.cluster, NS, 'peer', 86_400), kubeconfig);
  const logFile = join(stack.dir, 'peer.log');
  let pid = 0;
  return {
    name: 'peer',
    users: [`system:serviceaccount:${NS}:peer`],
    processes: () => ({ peer: pid, ...controlPlane(stack) }),
    on: async () => {
      // controller-runtime's defaults: no client-side rate limit since v0.21, 4 workers here.
      pid = await launch({ exe, args: ['--kubeconfig', kubeconfig], logFile, detached: false });
      await waitFor('peer started', { pid, exe, logFile }, 30_000, async () => /Starting workers/i.test(await readFile(logFile, 'utf8')));
    },
    off: () => stopProcess(pid, exe),
  };
}
