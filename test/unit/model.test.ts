// The protocol model-checked with Spin (test/model/README.md): the decision table is the real
// `decide` and `replyTo` (the committed decide.pml must be what gen-decide.ts renders now), every
// configuration is searched exhaustively, and counterexamples replay through the real
// `reconcile` against the in-memory store. Needs spin and gcc (`npm test` installs both).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderDecideTable, TABLE_FILE } from '../model/gen-decide.js';
import { replay, type ReplayOptions } from '../model/replay.js';
import { verify, type Run, type Verdict } from '../model/spin.js';

const MINUTE = 60_000;
const retryAfter: ReplayOptions = { delay0: 1, waitMode: 'retry-after' };

/** The phase properties only: the Event at the end is the subject of its own runs below. */
const PHASES_ONLY = '-DNO_EVENTS_END';

function report(run: Run, v: Verdict): string {
  return `${run.name} (${run.defines.join(' ')}): ${v.states} states, ${v.seconds} s, ${v.errors} errors\n${v.report}\n${v.trail.join('\n')}`;
}

async function expectClean(run: Run): Promise<Verdict> {
  const v = await verify(run);
  console.log(`${run.name}: ${v.states} states stored, ${v.seconds.toFixed(1)} s`);
  expect(v.errors, report(run, v)).toBe(0);
  return v;
}

describe('the Spin model', () => {
  it('tables the real decide: decide.pml is what gen-decide.ts renders now', () => {
    expect(readFileSync(TABLE_FILE, 'utf8'), 'run: npx tsx test/model/gen-decide.ts').toBe(renderDecideTable());
  });

  describe('safety, exhaustively: no phase begun twice or skipped, none early, an Event only for a begun phase and every phase with its Event at the end', () => {
    const runs: Run[] = [
      // With the add event lost too: a sweep that begins the first phase and dies before its Event
      // (an expected finding until 3747c79's recordProven) is covered by whoever begins the next.
      { name: 'faults', defines: [], check: 'safety' },
      { name: 'delay-shortened', defines: ['-DEDIT_DELAY=0', '-DDUPS=0', '-DLATE=0'], check: 'safety' },
      { name: 'delay-lengthened', defines: ['-DEDIT_DELAY=2', '-DDUPS=0', '-DLATE=0', '-DCRASHES=0'], check: 'safety' },
      { name: 'pause', defines: ['-DPAUSE=1', '-DDUPS=0', '-DLATE=0', '-DCRASHES=0'], check: 'safety' },
      { name: 'recreate-ttl', defines: ['-DRECREATE=1', '-DTTL=1', '-DDUPS=0', '-DLATE=0'], check: 'safety' },
      // Every Event but the one the finding below loses.
      { name: 'tick-mode', defines: ['-DTICK_MODE', '-DDUPS=0', '-DEXCUSE_TICK_LAST'], check: 'safety' },
    ];
    for (const run of runs) it(run.name, () => expectClean(run), 3 * MINUTE);
  });

  describe('liveness, once the faults stop (LTL, weak fairness)', () => {
    it(
      'every Action finishes, with the sweep',
      async () => {
        await expectClean({ name: 'live', defines: [PHASES_ONLY], check: { ltl: 'finishes' } });
      },
      3 * MINUTE,
    );

    it(
      'every Action finishes without the sweep when only an update event is lost',
      async () => {
        const defines = [PHASES_ONLY, '-DSWEEP_EVERY=0', '-DKEEP_ADDS'];
        await expectClean({ name: 'live-no-sweep', defines, check: { ltl: 'finishes' } });
      },
      3 * MINUTE,
    );
  });

  it(
    'catches a seeded bug (the patch without its status test), and the trail breaks the real code too',
    async () => {
      const run: Run = { name: 'seeded-bug', defines: [PHASES_ONLY, '-DSEEDED_BUG'], check: 'safety' };
      const v = await verify(run);
      expect(v.errors, report(run, v)).toBeGreaterThan(0);
      expect(v.report).toContain('assertion violated');
      const { store } = await replay(v.trail, { ...retryAfter, seededBug: true });
      expect(store.violations.join('\n')).toMatch(/entry \d is p\d, expected p\d|gap .* shorter than the delay/);
    },
    3 * MINUTE,
  );

  // FINDING (test/model/README.md), the one Event loss no rule for recording Events can fix: in
  // tick mode a sweep or tick that begins the last phase and dies before its Event, with the
  // finished update event lost. Nothing carries a finished Action then (no backup delivery; the
  // sweep lists unfinished ones only), and a sweep or tick is not retried. The tick-mode run above
  // excuses exactly this case and is clean otherwise.
  it(
    "finds the last phase's Event lost in tick mode when the sweep or tick that began it dies and the finished event is lost; so does the real code",
    async () => {
      const run: Run = { name: 'tick-mode-last-event', defines: ['-DTICK_MODE', '-DDUPS=0'], check: 'safety' };
      const v = await verify(run);
      expect(v.errors, report(run, v)).toBeGreaterThan(0);
      expect(v.trail.some((l) => /^@(sweep|tick)\s+\d/.test(l)) && v.trail.some((l) => l.startsWith('@lose'))).toBe(
        true,
      );
      const { store, missingEvents } = await replay(v.trail, { delay0: 1, waitMode: 'tick' });
      expect(store.violations).toEqual([]);
      expect(missingEvents, v.trail.join('\n')).toEqual(['uid-1/p2']);
    },
    3 * MINUTE,
  );
});
