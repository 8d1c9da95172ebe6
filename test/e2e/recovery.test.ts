// What the chain survives: a killed function, a restarted dispatcher (its pending retries are
// lost; on the any-broker overlay there are none, the ticks carry on), Actions older than the
// source, and an event that can only be dead-lettered. The sweep is fired by Knative's mtping
// from the shipped PingSource, its schedule shortened here.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createServiceAccountToken } from '../cluster/cluster.js';
import { attachStack } from '../stack/stack.js';
import { finished, functionLog, gaps, phaseOf, scheduleSweep, shippedSweepSchedule, starts } from '../support/chain.js';
import { until } from '../support/wait.js';

const stack = attachStack(inject('stack'));
const admin = stack.admin;

const sweeps = () => functionLog(stack.logFiles('function')).filter((e) => e.sweep);
const ticked = stack.waitMode === 'tick';

const schedule = (cron: string) => scheduleSweep(admin, stack.namespace, cron);

beforeAll(async () => {
  await stack.namespaces(['e2e-kill', 'e2e-dispatcher', 'e2e-before', 'e2e-dead']);
});
afterAll(async () => {
  await schedule(shippedSweepSchedule());
});

/** With OIDC on, a token for the ApiServerSource's own identity and the Broker's audience. */
async function asTheSource(): Promise<Record<string, string>> {
  if (!stack.oidc) return {};
  const source = await admin.request<{ status: { auth: { serviceAccountName: string } } }>(
    'GET',
    `/apis/sources.knative.dev/v1/namespaces/${stack.namespace}/apiserversources/actions`,
  );
  const token = await createServiceAccountToken(
    stack.cluster,
    stack.namespace,
    source.body.status.auth.serviceAccountName,
    600,
    [`eventing.knative.dev/broker/${stack.namespace}/advance-phase`],
  );
  return { authorization: `Bearer ${token}` };
}

describe('recovery', () => {
  it('finishes every phase when the function is killed mid-run and restarted', async () => {
    await admin.createAction('e2e-kill', 'survivor', { phases: ['a', 'b', 'c', 'd'], delay: 2 });
    await until('the second phase', async () => (await phaseOf(admin, 'e2e-kill', 'survivor')) === 'b');
    // Killed with its pending work: Serving's Deployment makes a new pod, and what comes due
    // meanwhile (the filter's retry, or a tick) fails or waits at the activator until it is up.
    await stack.stopPart('function', 'kill');
    const killed = Date.now();
    await stack.startPart('function');
    const done = await finished(admin, 'e2e-kill', 'survivor');
    expect(done.status.timestamps.map((t) => Object.keys(t)[0])).toEqual(['a', 'b', 'c', 'd']);
    expect(gaps(done).every((gap) => gap >= 2000)).toBe(true);
    // The last two phases began after the kill: the restarted function carried the run.
    expect(
      starts(done)
        .slice(2)
        .every((t) => t > killed),
    ).toBe(true);
  });

  it(
    ticked
      ? 'a restarted dispatcher loses nothing: the ticks carry the waits, no sweep needed'
      : 'the sweep finishes runs whose retries died with a restarted dispatcher',
    async () => {
      await admin.createAction('e2e-dispatcher', 'orphan', { phases: ['a', 'b', 'c'], delay: 3 });
      await until('the first phase', async () => (await phaseOf(admin, 'e2e-dispatcher', 'orphan')) === 'a');
      await stack.stopPart('dispatcher'); // a retry waiting in its memory is gone
      await stack.startPart('dispatcher');
      const before = sweeps().length;
      if (!ticked) await schedule('*/2 * * * * *');
      const done = await finished(admin, 'e2e-dispatcher', 'orphan', 30_000);
      expect(done.status.timestamps).toHaveLength(3);
      expect(gaps(done).every((gap) => gap >= 3000)).toBe(true);
      if (ticked) {
        // Within a tick period plus jitter, plus 1 s for a loaded runner: the dispatcher never held the wait.
        expect(gaps(done).filter((gap) => gap >= 3000 + (stack.tickSeconds ?? 0) * 1000 + 1500)).toEqual([]);
        expect(sweeps().slice(before)).toEqual([]);
      } else {
        expect(
          sweeps()
            .slice(before)
            .some((e) => (e.sweep?.decisions['advance'] ?? 0) > 0),
        ).toBe(true);
      }
    },
  );

  it('the sweep finishes Actions created before the source was watching', async () => {
    await stack.stopPart('adapter');
    await admin.createAction('e2e-before', 'early', { phases: ['a', 'b'], delay: 1 });
    await stack.startPart('adapter'); // sends nothing for objects that already exist
    await schedule('*/2 * * * * *');
    const done = await finished(admin, 'e2e-before', 'early', 30_000);
    expect(done.status.timestamps).toHaveLength(2);
  });

  it('records an event that could only be dead-lettered', async () => {
    // Not an Action: the function answers 400, which Knative does not retry, so the dispatcher
    // hands it to the Trigger's dead-letter sink, the function again. With OIDC on, the Broker
    // admits only the ApiServerSource: the event is sent as it (a token for its identity).
    const res = await fetch(await stack.brokerUrl(), {
      method: 'POST',
      headers: {
        ...(await asTheSource()),
        'content-type': 'application/json',
        'ce-specversion': '1.0',
        'ce-type': 'dev.knative.apiserver.resource.update',
        'ce-source': 'e2e',
        'ce-id': 'e2e-dead-letter-1',
      },
      body: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'e2e-dead' } }),
    });
    expect(res.status).toBe(202);
    const recorded = await until('the dead letter', () =>
      functionLog(stack.logFiles('function')).find(
        (e) => e.msg === 'dead-lettered event' && e.id === 'e2e-dead-letter-1',
      ),
    );
    expect(recorded.code).toBe('400');
    const metrics = await (await fetch(`${await stack.functionUrl()}metrics`)).text();
    expect(metrics).toMatch(/advance_phase_dead_letters_total\{code="400"\} [1-9]/);
  });
});
