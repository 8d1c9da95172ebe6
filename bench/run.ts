// npm run bench [-- --full | --smoke]
// The function behind Knative's broker (waiting by Retry-After, and by ticks on the any-broker
// overlay) and a controller-runtime reconciler, side by side on one local control plane with the
// same Actions. Writes bench/results/<profile>-<time>.json and
// regenerates bench/RESULTS.md with its plots from the newest results.
//   quick (default, < 10 min on 2 cores), full (the sizes the targets name), smoke (correctness
//   only, the smallest sizes: what CI runs; its figures are not written).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { startStack } from '../test/stack/stack.js';
import { renderReport } from './lib/report.js';
import {
  apiServerCeiling,
  coldStart,
  createNamespaces,
  drift,
  idle,
  measure,
  scenario,
  sweepCost,
  usageOver,
} from './lib/scenarios.js';
import { buildPeer, functionSystem, NO_SWEEP, peerSystem, tickSystem, type System } from './lib/systems.js';
import { tickCost } from './lib/tick-cost.js';
import type { Run } from './lib/workload.js';

const profile = process.argv.includes('--full') ? 'full' : process.argv.includes('--smoke') ? 'smoke' : 'quick';
const size = {
  smoke: {
    lateN: 3,
    driftPhases: 4,
    scale: [5],
    idleN: 5,
    idleSeconds: 3,
    sweep: [20, 3],
    tickCost: [10],
    ticks: 2,
    coldRuns: 2,
    coldEvents: 100,
  },
  quick: {
    lateN: 20,
    driftPhases: 15,
    scale: [10, 100],
    idleN: 100,
    idleSeconds: 30,
    sweep: [1000, 10],
    tickCost: [10, 1000],
    ticks: 5,
    coldRuns: 5,
    coldEvents: 2000,
  },
  full: {
    lateN: 100,
    driftPhases: 60,
    scale: [10, 100, 500, 1000],
    idleN: 1000,
    idleSeconds: 30,
    sweep: [10_000, 100],
    tickCost: [10, 1000, 10_000],
    ticks: 10,
    coldRuns: 20,
    coldEvents: 10_000,
  },
}[profile];

const t0 = Date.now();
const progress = (line: string) => {
  console.log(`[${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${line}`);
};
progress(`bench: ${profile} profile`);

const peerExe = await buildPeer((line) => {
  progress(line);
});
const stack = await startStack({
  auditPolicy: true,
  sweepSchedule: NO_SWEEP,
  log: (line) => {
    progress(line);
  },
});
try {
  // Only one system acts at a time.
  const fn = functionSystem(stack);
  const ticked = tickSystem(stack);
  const peer = await peerSystem(stack, peerExe);
  await fn.off();
  await createNamespaces(stack);

  const results: Record<string, unknown> = {};
  for (const system of [fn, ticked, peer] as System[]) {
    await system.on();
    progress(`${system.name}: on; its floor, ${size.idleSeconds} s with no Actions`);
    const floor = await usageOver(system, size.idleSeconds);
    progress(`${system.name}: the shared scenario (4 phases at delay 2, a live delay edit)`);
    await scenario(stack, system);
    const lateness = [];
    for (const delay of [1, 3]) {
      for (const shape of ['steady', 'burst'] as const) {
        const run: Run = { n: size.lateN, phases: 4, delay, shape };
        progress(`${system.name}: lateness, ${run.n} Actions x ${run.phases} phases, delay ${delay} s, ${shape}`);
        lateness.push(await measure(stack, system, run));
      }
    }
    progress(`${system.name}: drift over ${size.driftPhases} phases at delay 1 s`);
    const driftResult = await drift(stack, system, size.driftPhases);
    const scale = [];
    for (const n of size.scale) {
      for (const shape of ['steady', 'burst'] as const) {
        progress(`${system.name}: scale, ${n} Actions x 5 phases, delay 2 s, ${shape}`);
        scale.push(await measure(stack, system, { n, phases: 5, delay: 2, shape }));
      }
    }
    progress(`${system.name}: idle, ${size.idleN} Actions waiting on a 60 s delay, ${size.idleSeconds} s`);
    const idleResult = await idle(stack, system, size.idleN, size.idleSeconds);
    await system.off();
    results[system.name] = { lateness, drift: driftResult, scale, idle: { ...idleResult, floor } };
  }

  progress(`kube-apiserver ceiling: ${size.scale.at(-1)} status patches straight at it`);
  const ceiling = await apiServerCeiling(stack, size.scale.at(-1) as number);
  progress(`sweep: ${size.sweep[0]} finished + ${size.sweep[1]} overdue Actions`);
  const sweep = await sweepCost(stack, fn, size.sweep[0] as number, size.sweep[1] as number);
  progress(`tick cost: ${size.tickCost.join(', ')} running Actions, ${size.ticks} ticks each`);
  const ticks = await tickCost(stack, size.tickCost, size.ticks);
  progress(`cold start: ${size.coldRuns} runs, then ${size.coldEvents} events`);
  const cold = await coldStart(stack, size.coldRuns, size.coldEvents);

  const report = {
    profile,
    when: new Date().toISOString(),
    machine: {
      cpus: os.cpus().length,
      model: os.cpus()[0]?.model,
      memoryGb: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
      kernel: os.release(),
    },
    versions: { kubernetes: 'v1.34.2', knativeEventing: 'v0.47.0', controllerRuntime: 'see bench/peer/go.mod' },
    systems: results,
    ceiling,
    sweep,
    tickCost: ticks,
    coldStart: cold,
    seconds: Math.round((Date.now() - t0) / 1000),
  };
  // The smoke's figures are not recorded, but its report is rendered, in a folder thrown away after.
  const benchDir = profile === 'smoke' ? mkdtempSync(join(os.tmpdir(), 'bench-smoke-')) : join(process.cwd(), 'bench');
  const dir = join(benchDir, 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${profile}-${report.when.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(report, null, 2) + '\n');
  renderReport(dir, benchDir);
  if (profile === 'smoke') {
    rmSync(benchDir, { recursive: true, force: true });
    progress('smoke: the three systems ran every scenario correctly, and the report renders (figures not recorded)');
  } else {
    progress(`wrote ${file} and bench/RESULTS.md`);
  }
} finally {
  await stack.stop();
}
