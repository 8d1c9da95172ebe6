// Writes test/model/decide.pml, the model's decision table, from the real `decide` and the real
// `replyTo`: every abstract input the model can reach, each tried on several concrete Actions
// that the abstraction maps to it (ages within the same whole second, ages past the clamp, other
// earlier starts and generations). All concretizations must agree, or the abstraction is unsound
// and this fails. `npx tsx test/model/gen-decide.ts` rewrites the file; test/unit/model.test.ts
// fails when the committed file differs from what this renders now.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAction, type Action } from '../../functions/advance-phase/src/action.js';
import { decide, type Decision } from '../../functions/advance-phase/src/decide.js';
import { replyTo } from '../../functions/advance-phase/src/reply.js';
import { startOf } from '../../functions/advance-phase/src/status.js';
import { action, T0 } from '../support/actions.js';

/** The model's bounds (advance.pml reads them from here). */
export const PHASES = 3;
/** spec.delay takes 0..DMAX seconds. */
export const DMAX = 2;
/** spec.ttlSecondsAfterFinished in a run: none (NOTTL in the model) or TTL seconds. */
export const TTL = 1;
/**
 * Ages (seconds since the last start) are clamped at C: every threshold decide and reconcile
 * compare an age with is at most max delay + max(max delay, 1) = 4.
 */
export const C = 4;
/** Lateness is clamped at L: reconcile compares it with max(delay, 1) <= 2. */
export const L = 2;

export const KIND = { advance: 1, refresh: 2, wait: 3, delete: 4, done: 5 } as const;

interface Input {
  sp: number; // snapshot.position
  len: number; // timestamps in the object decided on
  age: number; // seconds since its last start (since its creation when none), clamped at C
  delay: number;
  paused: boolean;
  ttl: number | undefined;
  stale: boolean; // observedGeneration != generation
}

const NOW = new Date(T0.getTime() + 1_000_000);

/** Concrete Actions the abstraction maps to `input`. */
function concretizations(input: Input): Action[] {
  const ages = input.age < C ? [input.age, input.age + 0.5, input.age + 0.999] : [C, C + 0.5, C + 7, 1000];
  const out: Action[] = [];
  for (const age of ages)
    for (const spacing of [0, 3])
      for (const generation of [2, 7]) {
        const last = NOW.getTime() - age * 1000;
        const created = new Date(input.len === 0 ? last : last - 1e6).toISOString();
        const timestamps = Array.from({ length: input.len }, (_, i) => ({
          [`p${i}`]: new Date(last - (input.len - 1 - i) * spacing * 1000).toISOString(),
        }));
        const spec: Partial<Action['spec']> = {
          phases: Array.from({ length: PHASES }, (_, i) => `p${i}`),
          delay: input.delay,
          ...(input.paused ? { paused: true } : {}),
          ...(input.ttl === undefined ? {} : { ttlSecondsAfterFinished: input.ttl }),
        };
        const status = { timestamps, observedGeneration: input.stale ? generation - 1 : generation };
        out.push(action(spec, status, { generation, creationTimestamp: created }));
      }
  return out;
}

/**
 * A decision as the model sees it: kind * 256 + answer * 16 + lateness. The answer is replyTo's
 * in retry-after mode: 0 for a 200, else the 503's Retry-After in seconds. The lateness is
 * reconcile's `hadItsTurn` (not exported, so mirrored here): seconds past the due time, or past
 * the creation for the first phase, in whole seconds up to L.
 */
function abstract(d: Decision, a: Action): number {
  const reply = replyTo(d, { now: NOW, dryRun: false, waitMode: 'retry-after' }).reply;
  const answer = reply.status === 503 ? Number(reply.headers?.['retry-after']) : 0;
  if (reply.status !== 200 && reply.status !== 503) throw new Error(`the model has no ${reply.status} answers`);
  if (answer > C) throw new Error(`a Retry-After of ${answer} s is outside the model's clock`);
  if (replyTo(d, { now: NOW, dryRun: false, waitMode: 'tick' }).reply.status !== 200)
    throw new Error(`in tick mode ${d.kind} must answer 200 (the model's TICK_MODE assumes it)`);
  switch (d.kind) {
    case 'advance': {
      if (d.position !== a.status.timestamps.length) throw new Error(`advance at ${d.position}, not at the end`);
      const begins = startOf(d.status.timestamps.at(-1) ?? {});
      const late = d.lateSeconds ?? (begins - Date.parse(a.metadata.creationTimestamp ?? '')) / 1000;
      return KIND.advance * 256 + answer * 16 + Math.min(L, Math.floor(late));
    }
    case 'wait':
    case 'refresh':
    case 'delete':
    case 'done':
      return KIND[d.kind] * 256 + answer * 16;
    case 'reject':
      throw new Error('the model has no invalid specs');
  }
}

function decideAbstract(input: Input): number {
  const values = new Set(
    concretizations(input).map((a) => {
      const parsed = parseAction(a);
      if (parsed.kind !== 'valid') throw new Error(`not valid: ${JSON.stringify(a)}`);
      return abstract(decide({ uid: a.metadata.uid, position: input.sp }, parsed, NOW), a);
    }),
  );
  if (values.size !== 1) throw new Error(`decide is not a function of the abstraction at ${JSON.stringify(input)}`);
  return [...values][0] as number;
}

function onlyDone(d: Decision, what: string): string {
  if (d.kind !== 'done') throw new Error(`${what} decides ${d.kind}, the model expects done`);
  return `/* ${what}: done (${d.reason}) */`;
}

export function renderDecideTable(): string {
  const lines = [
    '/* GENERATED by test/model/gen-decide.ts from functions/advance-phase/src/{decide,reply}.ts: do not edit. */',
    '#ifndef DECIDE_ROWS',
    `#define N ${PHASES}`,
    `#define C ${C}`,
    `#define L ${L}`,
    ...Object.entries(KIND).map(([k, v]) => `#define ${k.toUpperCase()} ${v}`),
    `#define DMAX ${DMAX}`,
    '#define NOTTL 255',
    '#ifndef TTL',
    '#define TTL NOTTL',
    '#endif',
  ];
  const sample = action({ phases: ['p0'] });
  const parsed = parseAction(sample);
  if (parsed.kind !== 'valid') throw new Error('sample invalid');
  lines.push(onlyDone(decide({ uid: 'uid-1', position: 0 }, null, NOW), 'the object is gone'));
  lines.push(onlyDone(decide({ uid: 'another', position: 0 }, parsed, NOW), 'another incarnation'));
  lines.push(
    '/* DT(sp, len, age, delay, paused, stale): the decision as kind * 256 + answer * 16 + lateness. */',
    '#define DT(P, M, A, D, Z, S) dt[(((((P) * (N + 1) + (M)) * (C + 1) + (A)) * (DMAX + 1) + (D)) * 2 + (Z)) * 2 + (S)]',
    `hidden short dt[${(PHASES + 1) ** 2 * (C + 1) * (DMAX + 1) * 4}];`,
  );
  // The table's rows: included a second time, inside the model's process, with DECIDE_ROWS set.
  lines.push('#else', 'd_step {');
  for (const ttl of [undefined, TTL]) {
    lines.push(`#if TTL ${ttl === undefined ? '== NOTTL' : `== ${ttl}`}`);
    for (let sp = 0; sp <= PHASES; sp++)
      for (let len = 0; len <= PHASES; len++)
        for (let age = 0; age <= C; age++)
          for (let delay = 0; delay <= DMAX; delay++) {
            const row: string[] = [];
            for (const paused of [false, true])
              for (const stale of [false, true]) {
                const input = { sp, len, age, delay, paused, ttl, stale };
                row.push(`DT(${sp}, ${len}, ${age}, ${delay}, ${+paused}, ${+stale}) = ${decideAbstract(input)}`);
              }
            lines.push(`  ${row.join('; ')};`);
          }
    lines.push('#endif');
  }
  lines.push('}', '#endif');
  return `${lines.join('\n')}\n`;
}

export const TABLE_FILE = fileURLToPath(new URL('decide.pml', import.meta.url));

if (process.argv[1] === fileURLToPath(import.meta.url)) writeFileSync(TABLE_FILE, renderDecideTable());
