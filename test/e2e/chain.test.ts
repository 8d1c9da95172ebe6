// Actions walked by the real chain: ApiServerSource adapter -> broker ingress -> IMC dispatcher
// -> broker filter -> function, the wait carried by Knative's retries honouring Retry-After
// (project e2e) or by the any-broker overlay's PingSource tick (project e2e-any-broker). Nothing
// here is simulated; the gaps are read from the timestamps the function wrote.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import type { Action } from '../../functions/advance-phase/src/action.js';
import { attachStack } from '../stack/stack.js';
import { finished, functionLog, gaps, phaseOf, starts, type LogEntry } from '../support/chain.js';
import { until } from '../support/wait.js';

const stack = attachStack(inject('stack'));
const admin = stack.admin;
const run = promisify(execFile);
const ticked = stack.waitMode === 'tick';
/**
 * How late a phase may begin: Knative retries to the millisecond; a tick comes within its period
 * plus mtping's jitter (up to 0.5 s). Plus 1 s: a loaded 2-core CI runner is not a benchmark.
 */
const SLACK_MS = 1000 + (ticked ? (stack.tickSeconds ?? 0) * 1000 + 500 : 0);

/** Ticks the function has run (its metrics), whatever their scope. */
const ticksSoFar = async () => {
  const text = await (await fetch(`${await stack.functionUrl()}metrics`)).text();
  return [...text.matchAll(/^advance_phase_tick_duration_seconds_count\{scope="\w+"\} (\d+)$/gm)].reduce(
    (n, m) => n + Number(m[1]),
    0,
  );
};

const create = async (ns: string, name: string, spec: Record<string, unknown>) => {
  const res = await admin.createAction(ns, name, spec);
  expect(res.status).toBe(201);
  return res.body as Action;
};

beforeAll(async () => {
  await stack.namespaces(['e2e-walk', 'e2e-pair', 'e2e-edit', 'e2e-delete', 'e2e-again']);
});

describe('the chain', () => {
  it('walks 4 phases at delay 2, each event delivered once, and kubectl wait sees it finish', async () => {
    await create('e2e-walk', 'four', { phases: ['provision', 'configure', 'verify', 'done'], delay: 2 });
    const done = await finished(admin, 'e2e-walk', 'four');
    expect(done.status.timestamps.map((t) => Object.keys(t)[0])).toEqual(['provision', 'configure', 'verify', 'done']);
    expect(gaps(done).filter((gap) => gap < 2000 || gap >= 2000 + SLACK_MS)).toEqual([]);

    // Happy path, retry-after: each phase begun once; per phase the update event answered 503 and
    // retried, and the delivery that began the phase before back as its backup, which finds it
    // begun (or begins it, if it comes first); the last update (finished). Tick: add (advance),
    // each update answered 200 (wait) and never retried while a tick begins the phase, and the
    // last update (finished). No event answered 2xx twice: a non-empty 2xx body would make the
    // broker filter answer 502 and every event would come back. An answer is logged once its
    // Kubernetes Events are recorded, by which time the next event may already have been
    // answered: wait for all the lines, then count them.
    const answers = () =>
      functionLog(stack.logFiles('function')).filter((e) => e.action === 'e2e-walk/four' && e.decision);
    const kinds = (entries: LogEntry[]) => entries.map((e) => e.decision?.kind);
    const mine = await until('every answer', () => {
      const entries = answers();
      const finishedSeen = entries.some((e) => e.decision?.reason === 'finished');
      // Tick: only the add event's advance is an answer; the ticks begin the rest.
      const complete = ticked ? entries.length >= 5 : kinds(entries).filter((k) => k === 'advance').length === 4;
      return finishedSeen && complete && entries;
    });
    if (ticked) expect(kinds(mine).sort()).toEqual(['advance', 'done', 'wait', 'wait', 'wait']);
    else expect(kinds(mine).filter((k) => k === 'advance')).toHaveLength(4);
    // A 2xx: a done, or an advance that carries no wait; a wait, or an advance that does, is a 503 (tick: all 2xx).
    const twoXX = (e: LogEntry) =>
      ticked || e.decision?.kind === 'done' || (e.decision?.kind === 'advance' && e.decision.carryUntil === undefined);
    const answered2xx = mine.filter(twoXX).map((e) => e.id);
    expect(new Set(answered2xx).size).toBe(answered2xx.length);

    const kubectl = join(stack.cluster.binDir, 'kubectl');
    const { stdout } = await run(kubectl, [
      '--kubeconfig',
      stack.cluster.kubeconfig,
      'wait',
      '--for=condition=Succeeded',
      '--timeout=10s',
      '-n',
      'e2e-walk',
      'action/four',
    ]);
    expect(stdout).toContain('condition met');
  });

  it('runs delays 1 and 5 side by side without one slowing the other', async () => {
    await create('e2e-pair', 'fast', { phases: ['a', 'b', 'c', 'd', 'e', 'f'], delay: 1 });
    await create('e2e-pair', 'slow', { phases: ['a', 'b'], delay: 5 });
    const [fast, slow] = await Promise.all([finished(admin, 'e2e-pair', 'fast'), finished(admin, 'e2e-pair', 'slow')]);
    const within = (gap: number, delay: number) => gap >= delay && gap < delay + SLACK_MS;
    expect(gaps(fast).filter((gap) => !within(gap, 1000))).toEqual([]);
    expect(gaps(slow).filter((gap) => !within(gap, 5000))).toEqual([]);
  });

  it('applies a delay edited mid-run to the wait ahead', async () => {
    await create('e2e-edit', 'edited', { phases: ['a', 'b', 'c'], delay: 30 });
    await until('the first phase', async () => (await phaseOf(admin, 'e2e-edit', 'edited')) === 'a');
    const edited = await admin.patchAction('e2e-edit', 'edited', { spec: { delay: 1 } });
    expect(edited.status).toBe(200);
    const done = await finished(admin, 'e2e-edit', 'edited', 15_000);
    const [first, second, third] = starts(done) as [number, number, number];
    expect(second - first).toBeLessThan(30_000);
    expect(third - second).toBeGreaterThanOrEqual(1000);
    expect(third - second).toBeLessThan(1000 + SLACK_MS);
  });

  it('ends the chain of an Action deleted mid-run', async () => {
    await create('e2e-delete', 'doomed', { phases: ['a', 'b', 'c'], delay: 2 });
    await until('the first phase', async () => (await phaseOf(admin, 'e2e-delete', 'doomed')) === 'a');
    const due = Date.parse(((await admin.getAction('e2e-delete', 'doomed')).body as Action).status.nextPhaseAt ?? '');
    await admin.deleteAction('e2e-delete', 'doomed');
    if (!ticked) {
      // Its pending retry comes back, finds the object gone and ends with a 2xx: no retry storm.
      await until('the retry to find it gone', () =>
        functionLog(stack.logFiles('function')).some(
          (e) => e.action === 'e2e-delete/doomed' && e.decision?.reason === 'gone',
        ),
      );
    } else {
      // Nothing is pending anywhere: a tick past its due time lists its second and finds nothing.
      await until('its due time', () => Date.now() > due + 1000);
      const before = await ticksSoFar();
      await until('a tick after that', async () => (await ticksSoFar()) > before);
      expect(functionLog(stack.logFiles('function')).filter((e) => e.level >= 40 && e.time > due)).toEqual([]);
    }
    expect((await admin.getAction('e2e-delete', 'doomed')).status).toBe(404);
  });

  it('runs again when a finished Action is deleted and re-created', async () => {
    const first = await create('e2e-again', 'twice', { phases: ['a', 'b'], delay: 1 });
    const once = await finished(admin, 'e2e-again', 'twice');
    await admin.deleteAction('e2e-again', 'twice');
    await until('deletion', async () => (await admin.getAction('e2e-again', 'twice')).status === 404);
    const second = await create('e2e-again', 'twice', { phases: ['a', 'b'], delay: 1 });
    expect(second.metadata.uid).not.toBe(first.metadata.uid);
    const again = await finished(admin, 'e2e-again', 'twice');
    expect(again.status.timestamps).toHaveLength(2);
    expect(starts(again)[0]).toBeGreaterThan(starts(once)[1] as number);
  });
});
