// The three systems under comparison, on one control plane: the event-driven function behind
// Knative's broker waiting by Retry-After (config/knative), the same function waiting by ticks
// (config/knative/overlays/any-broker), and a controller-runtime reconciler. Only one is
// switched on at a time.
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { join } from 'node:path';
import { createServiceAccountToken, writeKubeconfigForToken } from '../../test/cluster/cluster.js';
import { launch, runBuildScript, stopProcess, waitFor } from '../../test/cluster/processes.js';
import { tickSecondsOf, usersIn, waitForChain, type Stack } from '../../test/stack/stack.js';
import { repoRoot } from '../../test/support/repo.js';
import type { Processes } from './stats.js';

export interface Reported {
  count: number;
  sumMs: number;
  /** process_start_time_seconds: a new value means a new process, whose counters began at 0. */
  startedAt: number;
}

export type SystemName = 'function' | 'function-tick' | 'peer';

/** The any-broker overlay's tick period, from its PingSource, and the most mtping delays a send on purpose. */
export const TICK_MS =
  tickSecondsOf(
    (
      parse(readFileSync(join(repoRoot, 'config/knative/overlays/any-broker/tick.yaml'), 'utf8')) as {
        spec: { schedule: string };
      }
    ).spec.schedule,
  ) * 1000;
export const JITTER_MS = 500;

/** No sweep fires unless a measurement asks for one (once a year, 1 January 00:00). */
export const NO_SWEEP = '0 0 1 1 *';

export interface System {
  name: SystemName;
  /** How late a phase may begin by design: 0 but for the tick system (its period plus mtping's jitter). */
  designLatenessMs: number;
  /** The identities its API calls are made as (audit log). */
  users: string[];
  /** Its own processes plus the shared control plane, for CPU and memory. */
  processes(): Processes;
  on(): Promise<void>;
  off(): Promise<void>;
  /** The function's own lateness histogram (GET /metrics): phases counted, their sum in ms, and when its process started. */
  reportedLateness?(): Promise<Reported>;
}

const controlPlane = (stack: Stack): Processes => ({
  'kube-apiserver': stack.cluster.pids.apiserver,
  etcd: stack.cluster.pids.etcd,
});

/** The function's chain is on while the ApiServerSource adapter runs: no adapter, no events. */
export function functionSystem(stack: Stack): System {
  return chainSystem(stack, 'function', []);
}

/**
 * The function on the any-broker overlay: on() applies it and restarts the function (which reads
 * WAIT_MODE=tick from the overlay's ConfigMap at start), off() puts config/knative/base back. The
 * ticks come through mtping, so its process counts as one of the system's.
 */
export function tickSystem(stack: Stack): System {
  const chain = chainSystem(stack, 'function-tick', ['mtping']);
  const wire = async (dir: string) => {
    await stack.admin.kubectl('apply', '-k', dir);
    // Applying the base puts back the shipped sweep schedule: no sweeps in the bench.
    await stack.admin.request(
      'PATCH',
      `/apis/sources.knative.dev/v1/namespaces/${stack.namespace}/pingsources/advance-phase-sweep`,
      { spec: { schedule: NO_SWEEP } },
      'application/merge-patch+json',
    );
    await stack.stopPart('function');
    await stack.startPart('function');
  };
  return {
    ...chain,
    designLatenessMs: TICK_MS + JITTER_MS,
    on: async () => {
      await wire('config/knative/overlays/any-broker'); // the ApiServerSource with it
      await chain.on();
    },
    off: async () => {
      await stack.admin.kubectl('delete', 'pingsource', 'advance-phase-tick', '-n', stack.namespace);
      // The wiring alone, as a kn func user applies it (config/knative would put the function's
      // placeholder image back); it re-creates the ApiServerSource: switched off after.
      await wire('config/knative/base');
      await chain.off();
    },
  };
}

function chainSystem(stack: Stack, name: SystemName, extra: 'mtping'[]): System {
  let pids: Awaited<ReturnType<Stack['pids']>> | undefined;
  return {
    name,
    designLatenessMs: 0,
    // The function's own calls, and the ApiServerSource adapter's watch.
    users: Object.values(usersIn(stack.namespace)),
    processes: () => ({
      function: pids?.function ?? 0,
      adapter: pids?.adapter ?? 0,
      ingress: pids?.ingress ?? 0,
      dispatcher: pids?.dispatcher ?? 0,
      filter: pids?.filter ?? 0,
      ...Object.fromEntries(extra.map((part) => [part, pids?.[part] ?? 0])),
      ...controlPlane(stack),
    }),
    on: async () => {
      await stack.startPart('adapter');
      await waitForChain(stack.admin, stack.namespace);
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
  await writeKubeconfigForToken(
    stack.cluster,
    await createServiceAccountToken(stack.cluster, stack.namespace, 'peer', 86_400),
    kubeconfig,
  );
  const logFile = join(stack.dir, 'peer.log');
  let pid = 0;
  return {
    name: 'peer',
    designLatenessMs: 0,
    users: [`system:serviceaccount:${stack.namespace}:peer`],
    processes: () => ({ peer: pid, ...controlPlane(stack) }),
    on: async () => {
      // controller-runtime's defaults: no client-side rate limit since v0.21, 4 workers here.
      pid = await launch({ exe, args: ['--kubeconfig', kubeconfig], logFile, detached: false });
      await waitFor('peer started', { pid, exe, logFile }, 30_000, async () =>
        /Starting workers/i.test(await readFile(logFile, 'utf8')),
      );
    },
    off: () => stopProcess(pid, exe),
  };
}
