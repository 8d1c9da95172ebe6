// Runs the Spin model (advance.pml): spin -a, gcc -O2 pan.c, ./pan, each configuration in a
// folder of its own under .cache/model/. Fails loudly, with the command's output, when spin or
// gcc is missing or a step fails; a violation is a result, with its trail's @-lines.
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheDir } from '../support/repo.js';

export const MODEL = fileURLToPath(new URL('advance.pml', import.meta.url));

export interface Run {
  /** A folder name under .cache/model/. */
  name: string;
  /** The model's -D options (its configuration and budgets). */
  defines: string[];
  /** safety: assertions, exhaustive; liveness: the named LTL formula with weak fairness. */
  check: 'safety' | { ltl: string };
}

export interface Verdict {
  errors: number;
  states: number;
  seconds: number;
  /** pan's own report, for a failure message. */
  report: string;
  /** The counterexample's @-lines (what test/model/replay.ts replays), when there is one. */
  trail: string[];
}

function run(cmd: string, args: string[], cwd: string): string {
  const res = spawnSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (res.error) {
    const missing = (res.error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new Error(
      missing
        ? `${cmd} is not installed: the model check needs spin and gcc (bash scripts/setup-host.sh --tests installs them)`
        : `${cmd}: ${res.error.message}`,
    );
  }
  const out = `${res.stdout}${res.stderr}`;
  if (res.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${res.status}):\n${out}`);
  return out;
}

export function verify({ name, defines, check }: Run): Verdict {
  const dir = join(cacheDir, 'model', name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const started = Date.now();
  run('spin', ['-a', ...defines, MODEL], dir);
  // Exhaustive: never BITSTATE. SAFETY drops the cycle machinery the assertions do not need.
  const cc = check === 'safety' ? ['-DSAFETY', '-DNOCLAIM'] : ['-DNFAIR=3'];
  run('gcc', ['-O2', '-w', '-DMEMLIM=4096', '-DCOLLAPSE', ...cc, '-o', 'pan', 'pan.c'], dir);
  const pan = check === 'safety' ? ['-m400000'] : ['-a', '-f', '-m400000', '-N', check.ltl];
  // pan exits 0 with or without errors: its report says which.
  const report = run('./pan', pan, dir);
  const errors = Number(/errors: (\d+)/.exec(report)?.[1] ?? NaN);
  const states = Number(/(\d+) states, stored/.exec(report)?.[1] ?? NaN);
  if (Number.isNaN(errors) || Number.isNaN(states) || !report.includes('Full statespace search'))
    throw new Error(`pan did not finish an exhaustive search:\n${report}`);
  if (/Search not completed/.test(report) && errors === 0) throw new Error(`pan's search was cut short:\n${report}`);
  const trail = errors > 0 ? trailLines(dir, defines) : [];
  return { errors, states, seconds: (Date.now() - started) / 1000, report, trail };
}

/** The counterexample, replayed by spin as its printf output: one @-line per model step. */
function trailLines(dir: string, defines: string[]): string[] {
  const out = run('spin', ['-t', '-k', 'advance.pml.trail', ...defines, MODEL], dir);
  return out
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('@'));
}
