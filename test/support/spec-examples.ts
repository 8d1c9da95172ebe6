// Specs that the zod schema and the CRD must judge alike: test/unit/crd-drift.test.ts checks
// zod's verdicts here, test/integration/crd.test.ts sends each to the real API server.
import { LIMITS } from '../../functions/advance-phase/src/action.js';

export interface SpecExample {
  name: string;
  spec: unknown;
  valid: boolean;
}

const phases = ['provision', 'configure'];

export const SPEC_EXAMPLES: SpecExample[] = [
  { name: 'the seed', spec: { phases: ['provision', 'configure', 'verify', 'done'], delay: 5 }, valid: true },
  { name: 'one phase, delay defaulted', spec: { phases: ['only'] }, valid: true },
  { name: 'repeated names', spec: { phases: ['a', 'b', 'a'], delay: 0 }, valid: true },
  { name: 'paused with a TTL', spec: { phases, delay: 1, paused: true, ttlSecondsAfterFinished: 0 }, valid: true },
  { name: 'the largest delay', spec: { phases, delay: LIMITS.maxDelay }, valid: true },
  {
    name: 'the most phases',
    spec: { phases: Array.from({ length: LIMITS.maxPhases }, (_, i) => `p${i}`) },
    valid: true,
  },
  { name: 'the longest name', spec: { phases: ['x'.repeat(LIMITS.maxPhaseNameLength)] }, valid: true },
  { name: 'no phases', spec: { delay: 5 }, valid: false },
  { name: 'an empty phase list', spec: { phases: [] }, valid: false },
  { name: 'an empty phase name', spec: { phases: ['a', ''] }, valid: false },
  { name: 'a blank phase name', spec: { phases: ['a', '   '] }, valid: false },
  { name: 'a phase name too long', spec: { phases: ['x'.repeat(LIMITS.maxPhaseNameLength + 1)] }, valid: false },
  {
    name: 'too many phases',
    spec: { phases: Array.from({ length: LIMITS.maxPhases + 1 }, (_, i) => `p${i}`) },
    valid: false,
  },
  { name: 'a non-string phase', spec: { phases: ['a', 3] }, valid: false },
  { name: 'phases not a list', spec: { phases: 'provision' }, valid: false },
  { name: 'a negative delay', spec: { phases, delay: -1 }, valid: false },
  { name: 'a delay over the maximum', spec: { phases, delay: LIMITS.maxDelay + 1 }, valid: false },
  { name: 'a fractional delay', spec: { phases, delay: 1.5 }, valid: false },
  { name: 'a delay as a string', spec: { phases, delay: '5' }, valid: false },
  { name: 'paused not a boolean', spec: { phases, paused: 'yes' }, valid: false },
  { name: 'a negative TTL', spec: { phases, ttlSecondsAfterFinished: -1 }, valid: false },
  { name: 'a TTL over the maximum', spec: { phases, ttlSecondsAfterFinished: LIMITS.maxTtl + 1 }, valid: false },
  { name: 'an unknown field', spec: { phases, speed: 3 }, valid: false },
];
