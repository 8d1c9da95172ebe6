// Runs the Spin model (advance.pml): spin -a, gcc pan.c, ./pan, each configuration in a
// folder of its own under .cache/model/. Fails loudly, with the command's output, when spin or
// gcc is missing or a step fails; a violation is a result, with its trail's @-lines.
import { spawn } from 'node:child_process';
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

/** Asynchronous, so that the test worker's event loop (and vitest's heartbeat) runs meanwhile. */
function run(cmd: string, args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', (error: NodeJS.ErrnoException) => {
      reject(
        new Error(
          error.code === 'ENOENT'
            ? `${cmd} is not installed: the model check needs spin and gcc (bash scripts/setup-host.sh --tests installs them)`
            : `${cmd}: ${error.message}`,
        ),
      );
    });
    child.on('close', (code) => {
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(' ')} failed (${String(code)}):\n${out}`));
    });
  });
}

export async function verify({ name, defines, check }: Run): Promise<Verdict> {
  const dir = join(cacheDir, 'model', name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const started = Date.now();
  await run('spin', ['-a', ...defines, MODEL], dir);
  // Exhaustive: never BITSTATE. SAFETY drops the cycle machinery the assertions do not need.
  const cc = check === 'safety' ? ['-DSAFETY', '-DNOCLAIM'] : ['-DNFAIR=3'];
  // gcc -O2 takes ~10 s on pan.c and halves pan's time: worth it for the liveness runs only; a
  // safety run of a few million states is done sooner with -O0 (~3 s to compile).
  const opt = check === 'safety' ? '-O0' : '-O2';
  await run('gcc', [opt, '-w', '-DMEMLIM=4096', '-DCOLLAPSE', ...cc, '-o', 'pan', 'pan.c'], dir);
  const pan = check === 'safety' ? ['-m400000'] : ['-a', '-f', '-m400000', '-N', check.ltl];
  // pan exits 0 with or without errors: its report says which.
  const report = await run('./pan', pan, dir);
  const errors = Number(/errors: (\d+)/.exec(report)?.[1] ?? NaN);
  const states = Number(/(\d+) states, stored/.exec(report)?.[1] ?? NaN);
  if (Number.isNaN(errors) || Number.isNaN(states) || !report.includes('Full statespace search'))
    throw new Error(`pan did not finish an exhaustive search:\n${report}`);
  if (/Search not completed/.test(report) && errors === 0) throw new Error(`pan's search was cut short:\n${report}`);
  const trail = errors > 0 ? await trailLines(dir, defines) : [];
  return { errors, states, seconds: (Date.now() - started) / 1000, report, trail };
}

/** The counterexample, replayed by spin as its printf output: one @-line per model step. */
async function trailLines(dir: string, defines: string[]): Promise<string[]> {
  const out = await run('spin', ['-t', '-k', 'advance.pml.trail', ...defines, MODEL], dir);
  return out
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('@'));
}
