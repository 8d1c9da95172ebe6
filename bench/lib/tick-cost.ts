// What a tick (WAIT_MODE=tick) costs the API server as the number of running Actions grows:
// the function run as its own process in tick mode against the stack's kube-apiserver, n
// Actions running with nothing due for an hour, and ticks posted the way the any-broker
// overlay's PingSource sends them, one every 2 s. Beside each: the full sweep a tick would be if
// it listed every running Action (the first tick of a process is one).
import { spawn } from 'node:child_process';
import { example, post } from '../../test/support/http.js';
import { KubeConfig } from '@kubernetes/client-node';
import type { Action } from '../../functions/advance-phase/src/action.js';
import { kubeFor } from '../../functions/advance-phase/src/kube.js';
import { desiredStatus } from '../../functions/advance-phase/src/status.js';
import { statusPatch } from '../../functions/advance-phase/src/status-patch.js';
import { forEachLimited } from '../../functions/advance-phase/src/sweep.js';
import { freePorts } from '../../test/cluster/processes.js';
import { sleep } from '../../test/support/wait.js';
import { usersIn, type Stack } from '../../test/stack/stack.js';
import { auditEventsSince, auditMark } from '../../test/support/audit.js';
import { until } from '../../test/support/wait.js';
import { freshNamespace } from './scenarios.js';
import { round, sample } from './stats.js';
import { TICK_MS } from './systems.js';
import { createActions, deleteActions, listActions } from './workload.js';

const PERIOD_MS = TICK_MS;
const DELAY = 3600;

export interface TickFigures {
  /** Mean over the ticks measured. */
  ms: number;
  lists: number;
  listed: number;
  writes: number;
  /** kube-apiserver's and etcd's CPU per tick, less what they use idle over the same time. */
  apiserverCpuMs: number;
  etcdCpuMs: number;
}

export interface TickCost {
  running: number;
  /** A process's first tick: every running Action listed (what each tick would cost without dueSlot). */
  full: TickFigures;
  /** Ticks with nothing due: the seconds since the last tick listed, nothing returned. */
  idle: TickFigures;
  /** One tick with `due` Actions come due among the running ones. */
  due: TickFigures & { due: number };
}

export async function tickCost(stack: Stack, sizes: number[], ticks: number): Promise<TickCost[]> {
  const out: TickCost[] = [];
  for (const n of sizes) out.push(await costAt(stack, n, ticks));
  return out;
}

async function costAt(stack: Stack, n: number, ticks: number): Promise<TickCost> {
  const ns = freshNamespace(`tick-cost-${n}`);
  await createActions(stack.admin, ns, { n, phases: 2, delay: DELAY, shape: 'burst' });
  const kc = new KubeConfig();
  kc.loadFromFile(stack.functionKubeconfig);
  const kube = kubeFor(kc);
  // Running, as the function would have written them: the first phase begun, the next due in an hour.
  const begin = async (a: Action, startedAt: Date) => {
    const patch = statusPatch(a, desiredStatus(a, [{ p1: startedAt.toISOString() }], startedAt), true);
    if (patch === null || (await kube.patchStatus(ns, a.metadata.name, patch)) !== 'ok')
      throw new Error(`tick cost: beginning ${a.metadata.name} failed`);
  };
  const now = new Date();
  await forEachLimited(await listActions(stack.admin, ns), 32, (a) => begin(a, now));

  const [port] = (await freePorts(1)) as [number];
  const url = `http://127.0.0.1:${port}/`;
  const env = {
    ...process.env,
    PORT: String(port),
    KUBECONFIG: stack.functionKubeconfig,
    WAIT_MODE: 'tick',
    WATCH_NAMESPACE: ns,
    SENDER_AUTH: 'none',
    LOG_LEVEL: 'warn',
  };
  const child = spawn(process.execPath, ['dist/index.js'], { env, stdio: 'ignore' });
  try {
    await until(
      'the tick-mode function to be ready',
      async () => (await fetch(`${url}health/readiness`).catch(() => undefined))?.ok,
      30_000,
      50,
    );
    let id = 0;
    const tick = async () => {
      const res = await post(url, { ...example('tick'), id: `tick-${++id}` }, 'binary');
      if (res.status !== 200) throw new Error(`tick answered ${res.status}`);
      return { scope: res.headers.get('x-advance-scope'), listed: Number(res.headers.get('x-advance-swept')) };
    };
    const { apiserver, etcd } = stack.cluster.pids;
    const cpu = () => ({ apiserver: sample(apiserver).cpuSeconds, etcd: sample(etcd).cpuSeconds });
    // What the API server and etcd use per ms with no ticks: subtracted from the ticks' figures.
    const floorStart = cpu();
    await sleep(10 * PERIOD_MS);
    const floorEnd = cpu();
    const floorPerMs = {
      apiserver: (floorEnd.apiserver - floorStart.apiserver) / (10 * PERIOD_MS),
      etcd: (floorEnd.etcd - floorStart.etcd) / (10 * PERIOD_MS),
    };

    // Every tick PERIOD_MS after the one before, as the PingSource sends them: each lists the seconds since.
    let lastTick = 0;
    /** `count` ticks; `prepare` runs first, outside the figures but within the period before the first. */
    const measured = async (count: number, scope: string, prepare?: () => Promise<void>): Promise<TickFigures> => {
      await prepare?.();
      const mark = auditMark(stack.cluster.auditLog as string);
      const windowStart = performance.now();
      const cpuBefore = cpu();
      let ms = 0;
      let listed = 0;
      for (let i = 0; i < count; i++) {
        await sleep(Math.max(0, lastTick + PERIOD_MS - Date.now()));
        lastTick = Date.now();
        const started = performance.now();
        const answer = await tick();
        ms += performance.now() - started;
        if (answer.scope !== scope) throw new Error(`tick cost: a ${answer.scope} tick where ${scope} was expected`);
        listed += answer.listed;
      }
      const cpuAfter = cpu();
      const window = performance.now() - windowStart;
      const calls = auditEventsSince(stack.cluster.auditLog as string, mark, [
        usersIn(stack.namespace).function,
      ]).filter((e) => e.stage === 'ResponseComplete' && e.objectRef?.resource === 'actions');
      const per = (x: number) => round(x / count, 2);
      const used = (before: number, after: number, floor: number) =>
        round(Math.max(0, ((after - before - floor * window) * 1000) / count));
      return {
        ms: per(ms),
        lists: per(calls.filter((e) => e.verb === 'list').length),
        listed: per(listed),
        writes: per(calls.filter((e) => e.verb === 'patch').length),
        apiserverCpuMs: used(cpuBefore.apiserver, cpuAfter.apiserver, floorPerMs.apiserver),
        etcdCpuMs: used(cpuBefore.etcd, cpuAfter.etcd, floorPerMs.etcd),
      };
    };
    const full = await measured(1, 'full');
    const idle = await measured(ticks, 'slots');
    // Some come due half a second after the last idle tick, as if their first phase had begun an
    // hour ago; the next tick lists their second and begins them.
    const due = Math.min(10, n);
    const dueFigures = await measured(1, 'slots', async () => {
      const soon = new Date(Date.now() - DELAY * 1000 + 500);
      await forEachLimited(
        Array.from({ length: due }, (_, i) => `a${i}`),
        8,
        async (name) => begin((await stack.admin.getAction(ns, name)).body as Action, soon),
      );
    });
    if (dueFigures.writes < due) throw new Error(`tick cost: ${dueFigures.writes} of ${due} due Actions begun`);
    return { running: n, full, idle, due: { ...dueFigures, due } };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await deleteActions(stack.admin, ns);
  }
}
