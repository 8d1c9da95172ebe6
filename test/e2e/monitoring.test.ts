// The shipped monitoring, end to end: a real Prometheus, configured by prometheus-operator's own
// code from config/monitoring moved to the installation's namespace (test/support/prometheus.ts),
// scrapes the function's pods on the bed and evaluates the shipped rules. With the in-memory
// channel's dispatcher stopped no event reaches the function and only the sweep begins phases:
// AdvancePhaseChainStopped must fire. With the dispatcher back, events begin phases again and the
// alert must resolve.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { SYSTEM_NS } from '../stack/knative.js';
import { attachStack, waitForChain } from '../stack/stack.js';
import { finished, phaseOf, scheduleSweep, shippedSweepSchedule } from '../support/chain.js';
import { kustomizeAs } from '../support/kustomize.js';
import { logToStderr } from '../support/log.js';
import { startPrometheus, type Prometheus } from '../support/prometheus.js';
import { until } from '../support/wait.js';

const stack = attachStack(inject('stack'));
const admin = stack.admin;
const ns = 'e2e-monitoring';
const ALERT = 'AdvancePhaseChainStopped';

/** The IMC dispatcher's Deployment scaled, and its pods waited for: it is the chain's one link every event crosses. */
async function scaleDispatcher(replicas: 0 | 1): Promise<void> {
  await admin.kubectl('scale', 'deployment/imc-dispatcher', '-n', SYSTEM_NS, `--replicas=${replicas}`);
  if (replicas === 0)
    await until('the dispatcher to be gone', async () => (await stack.podCount('dispatcher')) === 0, 60_000, 200);
  else await stack.startPart('dispatcher');
}

let prometheus: Prometheus | undefined;
/** The alert's state for the installation's namespace at the rule's last evaluation, and when that was. */
async function alertState(): Promise<{ state: string; at: number }> {
  const rule = await (prometheus as Prometheus).alertingRule(ALERT);
  if (rule.health !== 'ok') throw new Error(`${ALERT} did not evaluate: ${JSON.stringify(rule)}`);
  const alert = rule.alerts.find((a) => a.labels['namespace'] === stack.namespace);
  return { state: alert?.state ?? 'inactive', at: Date.parse(rule.lastEvaluation) };
}
const isFiring = async () => (await alertState()).state === 'firing';

beforeAll(async () => {
  await stack.namespaces([ns]);
  await scheduleSweep(admin, stack.namespace, '*/5 * * * * *');
  // Fresh counters: what earlier files' events began must not count as this chain's.
  await stack.restartPart('function');
  prometheus = await startPrometheus({
    dir: join(stack.dir, 'prometheus'),
    kubeconfig: stack.cluster.kubeconfig,
    objects: await kustomizeAs('config/monitoring', { namespace: stack.namespace }),
    // The Prometheus resource's choice (the operator's default is 30s): the alert needs no more.
    evaluationInterval: '2s',
    log: logToStderr,
  });
}, 300_000);

afterAll(async () => {
  await scaleDispatcher(1); // in case the test stopped half-way
  await scheduleSweep(admin, stack.namespace, shippedSweepSchedule());
  await prometheus?.stop();
});

describe('the shipped alerts on a real Prometheus', () => {
  it('AdvancePhaseChainStopped fires when only the sweep begins phases, and resolves when events do again', async () => {
    const p = prometheus as Prometheus;
    const begun = Date.now();
    const scraped = async () =>
      (await p.targets()).find((t) => t.labels['namespace'] === stack.namespace && t.health === 'up');
    const first = await until("Prometheus's first scrape of the function's pod", scraped, 60_000, 500);
    // Evaluated on what that scrape found: quiet while events carry the chain.
    const quiet = await until(
      `${ALERT} evaluated after the first scrape`,
      async () => ((await alertState()).at > Date.parse(first.lastScrape) ? alertState() : undefined),
      30_000,
      500,
    );
    expect(quiet.state).toBe('inactive');
    const evaluated = Date.now();

    await scaleDispatcher(0);
    const stopped = Date.now();
    await admin.createAction(ns, 'swept', { phases: ['one', 'two', 'three'], delay: 1 });
    await until(
      'the sweep to begin the first phase',
      async () => (await phaseOf(admin, ns, 'swept')) === 'one',
      30_000,
    );
    await until(`${ALERT} to fire`, isFiring, 90_000, 1000);
    const fired = Date.now();
    await finished(admin, ns, 'swept', 60_000);

    // The sweep back to its shipped 5 minutes, so that what begins the canary is an event.
    await scheduleSweep(admin, stack.namespace, shippedSweepSchedule());
    await scaleDispatcher(1);
    await waitForChain(admin, ns);
    await until(`${ALERT} to resolve`, async () => !(await isFiring()), 90_000, 1000);
    console.log(
      `monitoring: first scrape evaluated after ${((evaluated - begun) / 1000).toFixed(1)} s; ${ALERT} fired ${((fired - stopped) / 1000).toFixed(1)} s after the dispatcher stopped, resolved ${((Date.now() - fired) / 1000).toFixed(1)} s after it fired`,
    );
  }, 300_000);
});
