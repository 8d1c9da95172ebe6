// Each measurement of bench/run.ts, written once and run against either system.
import { spawn } from 'node:child_process';
import { example, post } from '../../test/support/http.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { parseAction, type Action } from '../../functions/advance-phase/src/action.js';
import { desiredStatus } from '../../functions/advance-phase/src/status.js';
import { statusPatch } from '../../functions/advance-phase/src/status-patch.js';
import { kubeFor } from '../../functions/advance-phase/src/kube.js';
import { forEachLimited, UNFINISHED } from '../../functions/advance-phase/src/sweep.js';
import { freePorts } from '../../test/cluster/processes.js';
import { sleep } from '../../test/support/wait.js';
import type { Stack } from '../../test/stack/stack.js';
import { ACTIONS } from '../../test/support/admin.js';
import { auditMark } from '../../test/support/audit.js';
import { apiCalls, type ApiCalls } from './audit.js';
import {
  busySampler,
  machineCpu,
  round,
  sample,
  sampleAll,
  SHARED,
  summarize,
  usage,
  type ProcSample,
  type Summary,
} from './stats.js';
import type { Reported, System } from './systems.js';
import { gaps, starts } from '../../test/support/chain.js';
import { until } from '../../test/support/wait.js';
import {
  awaitFinished,
  createActions,
  deleteActions,
  drainRates,
  lateness,
  listActions,
  problems,
  type Run,
} from './workload.js';

/**
 * Every measurement gets a namespace of its own, made before any system is switched on: each new
 * namespace rolls the ApiServerSource adapter (see Stack.namespaces), which mid-measurement would
 * lose events and change the processes being sampled.
 */
const NAMESPACES = 64;
let namespaces = 0;
export const freshNamespace = (what: string) => {
  if (namespaces >= NAMESPACES)
    throw new Error(`the bench needs more than ${NAMESPACES} namespaces (${what}): raise NAMESPACES`);
  return `bench-${++namespaces}`;
};

export async function createNamespaces(stack: Stack): Promise<void> {
  for (let i = 1; i <= NAMESPACES; i++) await stack.admin.namespace(`bench-${i}`);
}

export interface Measured {
  run: Run;
  lateness: Summary;
  /** Burst only: median transitions per second while a round drains. */
  drainRate?: number;
  /** Phase starts per second over the whole run. */
  throughput: number;
  transitions: number;
  api: ApiCalls;
  /** ms of CPU per transition, per process. */
  cpuMsPerTransition: Record<string, number>;
  /** ms of CPU per transition on the whole machine: the processes above, the kernel, this driver. */
  machineCpuMsPerTransition: number;
  /** How busy the whole machine was, % of all cores: median of 1 s samples over the run. */
  machineBusyPct: number;
  peakRssMb: Record<string, number>;
  /** Every lateness value, for the distribution plot. */
  samples: number[];
  /** The function only: its lateness histogram over the run against the timestamps' lateness. */
  reported?: {
    fromTimestamps: { count: number; sumMs: number };
    fromMetrics: { count: number; sumMs: number } | 'restarted';
  };
}

/** Creates the Actions, waits for the system to finish them, checks correctness, measures. */
export async function measure(stack: Stack, system: System, run: Run): Promise<Measured> {
  const ns = freshNamespace(`${system.name}-${run.shape}-${run.n}`);
  const audit = stack.cluster.auditLog as string;
  const mark = auditMark(audit);
  const before = sampleAll(system.processes());
  const machineBefore = machineCpu().busy;
  const stopSampling = busySampler();
  const reportedBefore = await system.reportedLateness?.();
  await createActions(stack.admin, ns, run);
  const actions = await awaitFinished(stack.admin, ns, (run.phases * run.delay + 60) * 1000 + run.n * 50);
  const used = usage(before, sampleAll(system.processes()));
  const machine = machineCpu().busy - machineBefore;
  const busy = stopSampling();
  const wrong = problems(actions, run);
  if (wrong.length)
    throw new Error(`${system.name} got ${ns} wrong, its figures do not count:\n${wrong.slice(0, 10).join('\n')}`);
  const transitions = run.n * run.phases;
  const all = actions.flatMap(starts);
  const late = lateness(actions, run.delay);
  const reported = reportedBefore && (await agreement(system, reportedBefore, late, ns));
  await deleteActions(stack.admin, ns);
  return {
    run,
    lateness: summarize(late),
    ...(run.shape === 'burst' ? { drainRate: round(summarize(drainRates(actions, run)).p50) } : {}),
    throughput: round(transitions / ((Math.max(...all) - Math.min(...all)) / 1000 || 1)),
    transitions,
    // Only this run's namespace: a stale retry for an earlier run's deleted Action is not its cost.
    api: apiCalls(audit, mark, system.users, ns),
    cpuMsPerTransition: perTransition(used, transitions),
    machineCpuMsPerTransition: round((machine * 1000) / transitions, 2),
    machineBusyPct: busy.length ? round(summarize(busy).p50) : 0,
    peakRssMb: Object.fromEntries(Object.entries(used).map(([k, v]) => [k, round(v.peakRssMb)])),
    samples: late,
    ...(reported ? { reported } : {}),
  };
}

/**
 * The function's lateness histogram over the run must say what the timestamps say: the same
 * phases, the same sum (both are `began - due` from the same clock reading, to the millisecond).
 * A function that restarted during the run started its counters again: nothing to compare.
 */
async function agreement(system: System, before: Reported, late: number[], ns: string): Promise<Measured['reported']> {
  // A phase is counted once its Kubernetes Event is recorded, which on a saturated API server can
  // come seconds after the write the timestamps show (seen: 3847 of 4000 at the first scrape).
  const read = async () => (await system.reportedLateness?.()) as Reported;
  const caughtUp = (r: Reported) => r.startedAt !== before.startedAt || r.count - before.count >= late.length;
  const after = await until(
    'the lateness histogram to count every phase',
    async () => {
      const r = await read();
      return caughtUp(r) && r;
    },
    30_000,
    250,
  ).catch(read);
  const fromTimestamps = {
    count: late.length,
    sumMs: round(
      late.reduce((a, b) => a + b, 0),
      1,
    ),
  };
  if (after.startedAt !== before.startedAt) return { fromTimestamps, fromMetrics: 'restarted' };
  const fromMetrics = { count: after.count - before.count, sumMs: round(after.sumMs - before.sumMs, 1) };
  if (fromMetrics.count !== fromTimestamps.count || Math.abs(fromMetrics.sumMs - fromTimestamps.sumMs) > 1) {
    throw new Error(
      `${ns}: /metrics reports ${JSON.stringify(fromMetrics)} of lateness, status.timestamps ${JSON.stringify(fromTimestamps)}`,
    );
  }
  return { fromTimestamps, fromMetrics };
}

function perTransition(used: Record<string, ProcSample>, transitions: number): Record<string, number> {
  return Object.fromEntries(Object.entries(used).map(([k, v]) => [k, round((v.cpuSeconds * 1000) / transitions, 2)]));
}

/**
 * The shared correctness scenario a system must pass before its figures count: 4 phases at
 * delay 2, and a delay edited mid-run (10 s to 1 s after the first phase) applying to the wait ahead.
 */
export async function scenario(stack: Stack, system: System): Promise<void> {
  const ns = freshNamespace(`${system.name}-scenario`);
  const admin = stack.admin;
  await createActions(admin, ns, { n: 1, phases: 4, delay: 2, shape: 'burst' });
  await admin.createAction(ns, 'edited', { phases: ['p1', 'p2', 'p3'], delay: 10 });
  await until(
    `${system.name} to begin the scenario's first phase`,
    async () => Boolean(((await admin.getAction(ns, 'edited')).body as Action).status.timestamps.length),
    10_000,
    50,
  );
  await admin.patchAction(ns, 'edited', { spec: { delay: 1 } });
  const actions = await awaitFinished(admin, ns, 30_000);
  const gapsOf = (name: string) => gaps(actions.find((a) => a.metadata.name === name) as Action);
  // Within what the system promises, plus 1 s for a loaded machine.
  const slack = system.designLatenessMs + 1000;
  const wrong = [
    ...gapsOf('a0')
      .filter((g) => g < 2000 || g >= 2000 + slack)
      .map((g) => `a gap of ${g} ms at delay 2 s`),
    ...gapsOf('edited')
      .filter((g) => g < 1000 || g >= 1000 + slack)
      .map((g) => `a gap of ${g} ms after the delay was edited to 1 s`),
  ];
  await deleteActions(admin, ns);
  if (wrong.length)
    throw new Error(`${system.name} failed the shared scenario, its figures do not count: ${wrong.join('; ')}`);
}

/** One Action of many phases at delay 1: how far the whole run falls behind (phases - 1) x delay. */
export async function drift(
  stack: Stack,
  system: System,
  phases: number,
): Promise<{ phases: number; driftMs: number; meanLatenessMs: number }> {
  const ns = freshNamespace(`${system.name}-drift`);
  const run: Run = { n: 1, phases, delay: 1, shape: 'burst' };
  await createActions(stack.admin, ns, run);
  const [action] = await awaitFinished(stack.admin, ns, (phases + 60) * 1000);
  const s = starts(action as Action);
  await deleteActions(stack.admin, ns);
  const driftMs = (s.at(-1) as number) - (s[0] as number) - (phases - 1) * 1000;
  return { phases, driftMs, meanLatenessMs: round(driftMs / (phases - 1)) };
}

export interface Usage {
  cpuSeconds: Record<string, number>;
  rssMb: Record<string, number>;
}

/** What each of the system's processes costs over `seconds`, once its own processes are quiet. */
export async function usageOver(system: System, seconds: number, mustEndBy = Number.POSITIVE_INFINITY): Promise<Usage> {
  await quiet(system);
  if (Date.now() + seconds * 1000 > mustEndBy)
    throw new Error(`${system.name}: not quiet early enough for a ${seconds} s window`);
  const before = sampleAll(system.processes());
  await sleep(seconds * 1000);
  const used = usage(before, sampleAll(system.processes()));
  return {
    cpuSeconds: Object.fromEntries(Object.entries(used).map(([k, v]) => [k, round(v.cpuSeconds, 2)])),
    rssMb: Object.fromEntries(Object.entries(used).map(([k, v]) => [k, round(v.rssMb)])),
  };
}

/**
 * Waits until the system's own processes use under 3% of a core over a second: after a burst the
 * chain is still answering the tail of its events for seconds.
 */
async function quiet(system: System): Promise<void> {
  const own = () => Object.entries(sampleAll(system.processes())).filter(([k]) => !SHARED.has(k));
  const deadline = Date.now() + 60_000;
  let last = own();
  let used: [string, number][] = [];
  while (Date.now() < deadline) {
    await sleep(1000);
    const now = own();
    used = now.map(([k, v]) => [k, v.cpuSeconds - (last.find(([j]) => j === k)?.[1].cpuSeconds ?? 0)]);
    if (used.reduce((a, [, v]) => a + v, 0) < 0.03) return;
    last = now;
  }
  throw new Error(
    `${system.name}: still busy after 60 s (its last second: ${used.map(([k, v]) => `${k} ${round(v, 2)} s`).join(', ')})`,
  );
}

/** n Actions waiting on a 60 s delay: what each process costs over `seconds` of waiting. */
export async function idle(stack: Stack, system: System, n: number, seconds: number) {
  const ns = freshNamespace(`${system.name}-idle`);
  await createActions(stack.admin, ns, { n, phases: 2, delay: 60, shape: 'burst' });
  const actions = await until(
    `${system.name} to begin every idle Action`,
    async () => {
      const listed = await listActions(stack.admin, ns);
      return listed.every((a) => a.status.timestamps.length) && listed;
    },
    60_000,
    500,
  );
  // The window must close before the first second phase comes due.
  const firstDue = Math.min(...actions.map((a) => (starts(a)[0] as number) + 60_000));
  const waiting = await usageOver(system, seconds, firstDue - 1000);
  await deleteActions(stack.admin, ns);
  return { n, seconds, ...waiting };
}

/**
 * The ceiling the kube-apiserver allows: the same status patches the function sends, straight
 * from this process with 16 in flight, as the function's ServiceAccount.
 */
export async function apiServerCeiling(stack: Stack, n: number): Promise<{ n: number; patchesPerSecond: number }> {
  const ns = freshNamespace('ceiling');
  await createActions(stack.admin, ns, { n, phases: 2, delay: 1, shape: 'burst' });
  const actions = await listActions(stack.admin, ns);
  const kc = new KubeConfig();
  kc.loadFromFile(stack.functionKubeconfig);
  const kube = kubeFor(kc);
  const now = new Date();
  const patches = actions.map((a) => {
    const status = desiredStatus(a, [{ p1: now.toISOString() }], now);
    const patch = statusPatch(a, status, true);
    if (patch === null) throw new Error(`${a.metadata.name}: a listed Action always has a status`);
    return { name: a.metadata.name, patch };
  });
  const started = Date.now();
  await forEachLimited(patches, 16, async (p) => {
    if ((await kube.patchStatus(ns, p.name, p.patch)) !== 'ok') throw new Error(`ceiling patch of ${p.name} failed`);
  });
  const seconds = (Date.now() - started) / 1000;
  await deleteActions(stack.admin, ns);
  return { n, patchesPerSecond: round(n / seconds) };
}

/**
 * One sweep over `finished` finished and `running` overdue Actions (the function system off, so
 * only the sweep acts), against plain lists of the same objects.
 */
export async function sweepCost(stack: Stack, system: System, finished: number, running: number) {
  const ns = freshNamespace('sweep');
  const small = freshNamespace('sweep-small');
  const admin = stack.admin;
  const done = new Date(Date.now() - 60_000).toISOString();
  const finishedStatus = { status: { phase: 'p1', timestamps: [{ p1: done }], state: 'Succeeded', progress: '1/1' } };
  await createActions(admin, ns, { n: finished, phases: 1, delay: 1, shape: 'burst' });
  await forEachLimited(await listActions(admin, ns), 32, (a) =>
    admin.patchAction(ns, a.metadata.name, finishedStatus, '/status'),
  );
  // Running ones begin under the new names r<i> with no status: the sweep begins their first phase.
  for (const target of [ns, small]) {
    await admin.namespace(target);
    await forEachLimited(
      Array.from({ length: running }, (_, i) => i),
      16,
      (i) => admin.createAction(target, `r${i}`, { phases: ['p1', 'p2'], delay: 1 }),
    );
  }

  const timeList = async (path: string) => {
    const started = Date.now();
    let pages = 0;
    let items = 0;
    let token = '';
    do {
      const res = await admin.request<{ items: unknown[]; metadata: { continue?: string } }>(
        'GET',
        `${path}${path.includes('?') ? '&' : '?'}limit=500${token ? `&continue=${encodeURIComponent(token)}` : ''}`,
      );
      pages++;
      items += res.body.items.length;
      token = res.body.metadata.continue ?? '';
    } while (token);
    return { ms: Date.now() - started, pages, items };
  };
  const selector = `fieldSelector=${encodeURIComponent(UNFINISHED)}`;
  const plainList = await timeList(`${ACTIONS}/namespaces/${ns}/actions`);
  const selectedList = await timeList(`${ACTIONS}/namespaces/${ns}/actions?${selector}`);
  const smallList = await timeList(`${ACTIONS}/namespaces/${small}/actions`);

  const audit = stack.cluster.auditLog as string;
  const mark = auditMark(audit);
  const started = Date.now();
  const res = await post(await stack.functionUrl(), { ...example('ping'), id: `sweep-${Date.now()}` }, 'binary');
  const sweepMs = Date.now() - started;
  if (res.status !== 200) throw new Error(`sweep answered ${res.status}`);
  const calls = apiCalls(audit, mark, system.users);
  const begun = (await listActions(admin, ns)).filter(
    (a) => a.metadata.name.startsWith('r') && a.status.timestamps.length === 1,
  ).length;
  if (begun !== running) throw new Error(`the sweep began ${begun} of ${running} overdue Actions`);
  await deleteActions(admin, ns);
  await deleteActions(admin, small);
  return {
    finished,
    running,
    sweepMs,
    swept: Number(res.headers.get('x-advance-swept')),
    calls,
    plainList,
    selectedList,
    smallList,
  };
}

// The floor for any Node HTTP server on this machine: spawn to the first 200 of one that does nothing else.
const BARE_SERVER =
  "require('node:http').createServer((q, s) => q.resume().on('end', () => s.end())).listen(process.env.PORT)";

/**
 * The function's cold start: process spawn to the first 2xx on a real CloudEvent, in real mode
 * (kubeconfig loaded), then its memory as `events` more events arrive. A bare Node server's
 * time, measured the same way, is the floor no function can go under.
 */
export async function coldStart(stack: Stack, runs: number, events: number) {
  const finishedEvent = JSON.parse(readFileSync('examples/events/finished.json', 'utf8')) as Record<string, unknown>;
  const notDue = JSON.parse(readFileSync('examples/events/update-not-due.json', 'utf8')) as Record<string, unknown>;
  if (parseAction(finishedEvent['data']).kind !== 'valid')
    throw new Error('examples/events/finished.json is not a valid Action');
  const post = (url: string, event: Record<string, unknown>) =>
    fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/cloudevents+json' },
      body: JSON.stringify(event),
    });
  const env = { ...process.env, KUBECONFIG: stack.functionKubeconfig, LOG_LEVEL: 'warn' };

  /** Spawns `args`, posts until the first 2xx; hands the warm process to `then` before stopping it. */
  async function firstAnswer(args: string[], then?: (url: string, pid: number) => Promise<void>): Promise<number> {
    const [port] = (await freePorts(1)) as [number];
    const url = `http://127.0.0.1:${port}/`;
    const started = performance.now();
    const child = spawn(process.execPath, args, { env: { ...env, PORT: String(port) }, stdio: 'ignore' });
    await until(
      `${args.at(-1)} to answer 2xx`,
      async () => (await post(url, finishedEvent).catch(() => undefined))?.ok,
      30_000,
      2,
    );
    const ms = performance.now() - started;
    await then?.(url, child.pid as number);
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    return ms;
  }

  const floor: number[] = [];
  for (let i = 0; i < runs; i++) floor.push(await firstAnswer(['-e', BARE_SERVER]));
  const times: number[] = [];
  let rssAfterStart = 0;
  const rssCurve: [number, number][] = []; // [events so far, MB]: a leak climbs, a warming heap levels off
  const measureMemory = async (url: string, pid: number) => {
    rssAfterStart = round(sample(pid).rssMb);
    const step = Math.ceil(events / 5);
    for (let sent = 0; sent < events; sent += step) {
      const kinds = Array.from({ length: Math.min(step, events - sent) }, (_, n) => (n % 2 ? finishedEvent : notDue));
      await forEachLimited(kinds, 8, async (event) => (await post(url, event)).arrayBuffer());
      rssCurve.push([sent + kinds.length, round(sample(pid).rssMb)]);
    }
  };
  for (let i = 0; i < runs; i++) {
    times.push(await firstAnswer([join(process.cwd(), 'dist/index.js')], i === runs - 1 ? measureMemory : undefined));
  }
  const s = summarize(times);
  const breakdown = {
    bareNode: await coldMarks(runs, ['-e', BARE_SERVER], env),
    dryRun: await coldMarks(runs, ['dist/index.js'], { ...env, KUBECONFIG: '', HOME: '/nonexistent' }),
    realMode: await coldMarks(runs, ['dist/index.js'], env),
  };
  return {
    runs,
    minMs: round(s.min),
    medianMs: round(s.p50),
    maxMs: round(s.max),
    bareNodeMedianMs: round(summarize(floor).p50),
    rssAfterStartMb: rssAfterStart,
    events,
    rssCurve,
    breakdown,
  };
}

/** What bench/lib/cold-marks.cjs reports of one start; medians over the runs. */
export interface ColdMarks {
  nodeReady: number;
  codeCacheMs?: number;
  evaluateMs?: number;
  listening: number;
  request: number;
  finish: number;
}

/** Where a cold start's time goes: `runs` starts of `args` with cold-marks.cjs preloaded, answering one event each. */
async function coldMarks(runs: number, args: string[], env: NodeJS.ProcessEnv): Promise<ColdMarks> {
  const body = readFileSync('examples/events/finished.json', 'utf8');
  const all: Record<string, number | boolean>[] = [];
  for (let i = 0; i < runs; i++) {
    const [port] = (await freePorts(1)) as [number];
    const child = spawn(process.execPath, ['-r', join(import.meta.dirname, 'cold-marks.cjs'), ...args], {
      env: { ...env, PORT: String(port) },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const url = `http://127.0.0.1:${port}/`;
    const headers = { 'content-type': 'application/cloudevents+json' };
    await until(
      `${args.at(-1)} to answer 2xx`,
      async () => (await fetch(url, { method: 'POST', headers, body }).catch(() => undefined))?.ok,
      30_000,
      2,
    );
    // The line is written once the answer is sent, which can be just after the client has it.
    const line = await until(
      `${args.at(-1)}'s cold-marks line`,
      () => stderr.split('\n').find((l) => l.startsWith('cold-marks ')),
      5_000,
      5,
    );
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    const marks = JSON.parse(line.slice('cold-marks '.length)) as Record<string, number | boolean>;
    if (marks['codeCacheRejected'] === true) throw new Error(`${args.join(' ')}: V8 rejected the code cache`);
    all.push(marks);
  }
  const median = (key: string) => {
    const values = all.map((m) => m[key]).filter((v): v is number => typeof v === 'number');
    return values.length ? round(summarize(values).p50) : undefined;
  };
  const required = (key: string) => median(key) ?? Number.NaN;
  const optional = (key: 'codeCacheMs' | 'evaluateMs') => (median(key) === undefined ? {} : { [key]: median(key) });
  return {
    nodeReady: required('nodeReady'),
    ...optional('codeCacheMs'),
    ...optional('evaluateMs'),
    listening: required('listening'),
    request: required('request'),
    finish: required('finish'),
  };
}
