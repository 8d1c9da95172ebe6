// The function at zero between two phases, on real Knative Serving: once it has answered the
// first phase's event (503, Retry-After: the delay), it gets no traffic, so Serving's autoscaler
// scales its revision to zero and its pod ends; when the retry comes due the broker filter sends
// it along Serving's route, the activator holds it while the autoscaler brings a pod up, and the
// second phase begins. (Not on the any-broker overlay: its ticks keep the function up.)
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { attachStack } from '../stack/stack.js';
import { finished, gaps, phaseOf } from '../support/chain.js';
import { until } from '../support/wait.js';

const stack = attachStack(inject('stack'));
const admin = stack.admin;
const DELAY_S = 30; // well beyond the bed's scale-down (stable window 6 s + grace 3 s)

beforeAll(async () => {
  await stack.namespaces(['e2e-zero']);
});

describe('scale to zero', () => {
  it('begins the next phase after the function has gone to zero in the wait', async () => {
    await admin.createAction('e2e-zero', 'sleeper', { phases: ['one', 'two'], delay: DELAY_S });
    await until('the first phase', async () => (await phaseOf(admin, 'e2e-zero', 'sleeper')) === 'one');
    await until(
      'the function to scale to zero',
      async () => (await stack.podCount('function')) === 0,
      DELAY_S * 1000,
      500,
    );
    expect(await phaseOf(admin, 'e2e-zero', 'sleeper')).toBe('one'); // still waiting, at zero
    const done = await finished(admin, 'e2e-zero', 'sleeper', DELAY_S * 1000);
    expect(done.status.timestamps.map((t) => Object.keys(t)[0])).toEqual(['one', 'two']);
    const [gap] = gaps(done) as [number];
    expect(gap).toBeGreaterThanOrEqual(DELAY_S * 1000);
    console.log(`e2e: the phase due at zero began ${gap - DELAY_S * 1000} ms late (cold start included)`);
  }, 120_000);
});
