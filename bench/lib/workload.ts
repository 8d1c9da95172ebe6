// Actions created the way a benchmark shape asks (steady stream or burst), waited for, and
// turned into per-transition lateness from the timestamps the system under test recorded.
import type { Action } from '../../functions/advance-phase/src/action.js';
import { ACTIONS, type Admin } from '../../test/support/admin.js';
import { sleep } from '../../test/support/wait.js';
import { starts } from '../../test/support/chain.js';
import { until } from '../../test/support/wait.js';

export type Shape = 'steady' | 'burst';

export interface Run {
  n: number;
  phases: number;
  delay: number;
  shape: Shape;
}

/**
 * Creates n Actions of `phases` phases: `steady` spreads the creations evenly over one delay,
 * so transitions arrive as a stream; `burst` creates them all at once, so every transition of a
 * round is due in the same instant.
 */
export async function createActions(admin: Admin, ns: string, run: Run): Promise<void> {
  await admin.namespace(ns);
  const spec = { phases: Array.from({ length: run.phases }, (_, i) => `p${i + 1}`), delay: run.delay };
  const spacing = run.shape === 'steady' ? (run.delay * 1000) / run.n : 0;
  const start = Date.now();
  await Promise.all(
    Array.from({ length: run.n }, async (_, i) => {
      const wait = start + i * spacing - Date.now();
      if (wait > 0) await sleep(wait);
      const res = await admin.createAction(ns, `a${i}`, spec);
      if (res.status !== 201) throw new Error(`creating ${ns}/a${i}: ${res.status} ${JSON.stringify(res.body)}`);
    }),
  );
}

/** Polls (one cheap field-selected list per second) until nothing in ns is unfinished; returns every Action. */
export async function awaitFinished(admin: Admin, ns: string, timeoutMs: number): Promise<Action[]> {
  const unfinished = `${ACTIONS}/namespaces/${ns}/actions?fieldSelector=${encodeURIComponent('status.state!=Succeeded')}&limit=1`;
  await until(
    `every Action in ${ns} to finish`,
    async () => {
      const res = await admin.request<{ items: unknown[] }>('GET', unfinished);
      return res.status === 200 && res.body.items.length === 0;
    },
    timeoutMs,
    1000,
  );
  return listActions(admin, ns);
}

export async function listActions(admin: Admin, ns: string): Promise<Action[]> {
  const res = await admin.request<{ items: Action[] }>('GET', `${ACTIONS}/namespaces/${ns}/actions`);
  return res.body.items;
}

export async function deleteActions(admin: Admin, ns: string): Promise<void> {
  await admin.request('DELETE', `${ACTIONS}/namespaces/${ns}/actions`);
}

/** start_k - (start_{k-1} + delay) for every transition, in ms. */
export function lateness(actions: Action[], delay: number): number[] {
  return actions.flatMap((a) => {
    const s = starts(a);
    return s.slice(1).map((t, i) => t - ((s[i] as number) + delay * 1000));
  });
}

/** Correctness, checked before any figure counts: every phase once, in order, never early. */
export function problems(actions: Action[], run: Run): string[] {
  const out: string[] = [];
  if (actions.length !== run.n) out.push(`${actions.length} Actions, expected ${run.n}`);
  for (const a of actions) {
    const names = a.status.timestamps.map((t) => Object.keys(t)[0]);
    const want = Array.from({ length: run.phases }, (_, i) => `p${i + 1}`);
    if (names.join() !== want.join()) out.push(`${a.metadata.name}: phases ${names.join()} (expected ${want.join()})`);
    if (lateness([a], run.delay).some((l) => l < 0)) out.push(`${a.metadata.name}: a phase began early`);
  }
  return out;
}

/**
 * Burst drain rate per round: the transitions of round k (all due at about the same instant)
 * divided by the time from the first due to the last start. Transitions per second.
 */
export function drainRates(actions: Action[], run: Run): number[] {
  const rates: number[] = [];
  for (let k = 1; k < run.phases; k++) {
    const due = actions.map((a) => (starts(a)[k - 1] as number) + run.delay * 1000);
    const began = actions.map((a) => starts(a)[k] as number);
    const span = (Math.max(...began) - Math.min(...due)) / 1000;
    rates.push(actions.length / Math.max(span, 0.001));
  }
  return rates;
}
