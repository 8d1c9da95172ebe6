// The replica soak's disorder and its judge: replicas killed and frozen on a schedule, and what
// the API server's own record (its audit log of status patches, the Actions) says against the
// rules. Separate from the test so that the same judge reads the seeded run.
import type { Action } from '../../functions/advance-phase/src/action.js';
import type { PatchOperation } from '../../functions/advance-phase/src/status-patch.js';
import type { Stack } from '../stack/stack.js';
import type { AuditEvent } from './audit.js';
import { gaps, starts } from './chain.js';
import { sleep } from './wait.js';

/** A signal to a process that may have gone meanwhile (killed while frozen). */
function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // ESRCH: gone already
  }
}

/** How long chaos keeps a replica frozen. */
export const FREEZE_SECONDS = 5;

/** Every 10 s one Ready replica killed and another frozen (SIGSTOP) for FREEZE_SECONDS, until stopped. */
export function chaos(stack: Stack): { stop: () => Promise<string[]> } {
  const log: string[] = [];
  const state = { running: true };
  const running = () => state.running;
  const frozen = new Set<number>();
  const loop = (async () => {
    await sleep(1000);
    while (running()) {
      // While the API server restarts there is no list of pods: that round passes.
      const pods = await stack.readyPods('function').catch(() => []);
      const [victim, sleeper] = pods.sort(() => Math.random() - 0.5);
      if (victim) {
        await stack.killPod('function', victim.name).catch(() => undefined);
        log.push(`killed ${victim.name}`);
      }
      if (sleeper && sleeper.pid > 0) {
        signal(sleeper.pid, 'SIGSTOP');
        frozen.add(sleeper.pid);
        log.push(`froze ${sleeper.name}`);
        setTimeout(() => {
          signal(sleeper.pid, 'SIGCONT');
          frozen.delete(sleeper.pid);
        }, FREEZE_SECONDS * 1000);
      }
      for (let i = 0; i < 10 && running(); i++) await sleep(1000);
    }
  })();
  return {
    stop: async () => {
      state.running = false;
      await loop;
      for (const pid of frozen) signal(pid, 'SIGCONT');
      return log;
    },
  };
}

/**
 * The audit log's status patches of `namespace` against the rule: each phase of each Action
 * appended by exactly one patch. Counted by the phase a patch appends, not by what it tested, so
 * that a patch without its tests counts too. A patch answered 5xx may have landed all the same (a
 * 504 from an API server still starting): it may stand for the phase's one append, never be a second.
 * `unlogged` excuses a phase with no record at all: a patch the API server committed and was
 * killed before it logged (it logs a request as it completes). That the phase is there once is
 * judgeRuns's to check.
 */
export function judgeAppends(
  calls: AuditEvent[],
  namespace: string,
  names: string[],
  phases: string[],
  unlogged: (key: string) => boolean = () => false,
): { violations: string[]; appends: number; refused: number } {
  const landed = new Map<string, number>();
  const unsure = new Map<string, number>();
  let refused = 0;
  for (const e of calls) {
    if (e.objectRef?.namespace !== namespace || e.objectRef.subresource !== 'status' || e.verb !== 'patch') continue;
    const code = e.responseStatus?.code ?? 0;
    // No body logged: refused before it was read (a 503 while the API server installs its paths).
    if ((code !== 200 && code < 500) || !Array.isArray(e.requestObject)) {
      refused++;
      continue;
    }
    const phase = appendedPhase(e.requestObject as PatchOperation[]);
    if (phase === undefined) continue;
    const into = code === 200 ? landed : unsure;
    const key = `${e.objectRef.name ?? '?'}/${phase}`;
    into.set(key, (into.get(key) ?? 0) + 1);
  }
  const violations: string[] = [];
  for (const name of names)
    for (const phase of phases) {
      const key = `${name}/${phase}`;
      const n = landed.get(key) ?? 0;
      if (n > 1 || (n + (unsure.get(key) ?? 0) === 0 && !unlogged(key)))
        violations.push(`${key}: ${n} appending status patches`);
    }
  return { violations, appends: [...landed.values()].reduce((a, b) => a + b, 0), refused };
}

/** The phase a status patch appends to status.timestamps, if it appends one. */
export function appendedPhase(ops: PatchOperation[]): string | undefined {
  const tested = ops.find((op) => op.op === 'test' && op.path === '/status');
  let before = ((tested && 'value' in tested ? tested.value : {}) as { timestamps?: unknown[] }).timestamps ?? [];
  let after = before;
  for (const op of ops) {
    if (op.op !== 'add') continue;
    if (op.path === '/status') [before, after] = [[], (op.value as { timestamps?: unknown[] }).timestamps ?? []];
    else if (op.path === '/status/timestamps') after = op.value as unknown[];
    else if (op.path === '/status/timestamps/-') after = [...before, op.value];
  }
  if (after.length !== before.length + 1) return undefined;
  return Object.keys(after.at(-1) as object)[0];
}

/**
 * Each finished Action against the rules of time: its phases in order, none begun earlier than its
 * delay after the one before, and the last begun within phases x delay plus `allowanceSeconds(name)`
 * of its creation. `slack` is each run's time left to that bound, in seconds, ascending.
 */
export function judgeRuns(
  actions: Action[],
  created: Map<string, number>,
  phases: string[],
  allowanceSeconds: (name: string) => number,
): { violations: string[]; slack: number[] } {
  const violations: string[] = [];
  const slack: number[] = [];
  for (const action of actions) {
    const name = action.metadata.name;
    const delay = action.spec.delay;
    const begun = action.status.timestamps.map((t) => Object.keys(t)[0]);
    if (begun.join() !== phases.join()) violations.push(`${name}: phases ${begun.join()}`);
    for (const gap of gaps(action))
      if (gap < delay * 1000) violations.push(`${name}: a phase ${gap} ms after the one before`);
    const took = (starts(action).at(-1) ?? Infinity) - (created.get(name) ?? 0);
    const left = phases.length * delay + allowanceSeconds(name) - took / 1000;
    slack.push(left);
    if (left < 0) violations.push(`${name}: finished ${(-left).toFixed(1)} s past its bound`);
  }
  return { violations, slack: slack.sort((a, b) => a - b) };
}
