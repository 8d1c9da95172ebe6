// The clock for brokers that ignore Retry-After (WAIT_MODE=tick, config/knative/overlays/any-broker):
// a PingSource ticks every few seconds and each tick begins every step that has come due since the
// previous one. It lists only the seconds in between, by `status.dueSlot` (a selectable field), so
// a tick costs what is due, not what is running. What a tick cannot know it missed (the first tick
// of a process, or ticks lost for longer than MAX_GAP_MS) it sweeps: every unfinished Action.
import type { Kube } from './kube.js';
import { slotOf } from './status.js';
import { emptyResult, reconcileListed, UNFINISHED, type SweepOptions, type SweepResult } from './sweep.js';

/** Past this gap since the last tick, listing second by second costs more than one sweep. */
export const MAX_GAP_MS = 60_000;

export interface TickResult extends SweepResult {
  /** `slots`: the seconds since the last tick were listed; `full`: every unfinished Action was. */
  scope: 'slots' | 'full';
  slots: number;
}

/** Every whole second from the one `fromMs` falls in to the one `toMs` falls in, as dueSlot values. */
export function slotsBetween(fromMs: number, toMs: number): string[] {
  const first = Math.floor(Math.min(fromMs, toMs) / 1000);
  const last = Math.floor(toMs / 1000);
  return Array.from({ length: last - first + 1 }, (_, i) => slotOf((first + i) * 1000));
}

/**
 * One ticker per process: it remembers when its last tick began listing. A due time in that
 * second but after that moment was not due then, so the next tick lists that second again.
 * Replicas each remember their own ticks; between them every second is listed at least once.
 */
export function createTicker(kube: Kube, opts: SweepOptions & { now: () => Date }): { tick(): Promise<TickResult> } {
  let last: number | undefined;
  return {
    async tick() {
      const started = opts.now().getTime();
      const full = last === undefined || started - last > MAX_GAP_MS;
      const slots = last === undefined || full ? [] : slotsBetween(last, started);
      const result = emptyResult();
      if (full) await reconcileListed(kube, UNFINISHED, opts, result);
      for (const slot of slots) await reconcileListed(kube, `status.dueSlot=${slot}`, opts, result);
      // Reached only when every list answered: a failed list leaves the gap to the next tick.
      // An Action that failed alone keeps its past slot, and the sweep takes it.
      last = started;
      return { ...result, scope: full ? 'full' : 'slots', slots: slots.length };
    },
  };
}
