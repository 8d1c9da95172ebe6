// npm run demo: the whole chain on this machine. Starts the local stack (building what it needs
// the first time), applies examples/action.yaml with kubectl, prints each phase as it begins and
// the function's pods as Knative Serving scales them (to zero in each 20 s wait, back for the next
// phase), shows what kubectl sees, and stops everything. `-- --overlay <dir>`: that kustomize directory
// instead of config/knative (config/knative/overlays/any-broker: the wait carried by ticks).
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Action } from '../functions/advance-phase/src/action.js';
import { startStack } from '../test/stack/stack.js';
import { gaps } from '../test/support/chain.js';

const run = promisify(execFile);
const started = Date.now();
const say = (line: string) => {
  console.log(line);
};

say(
  "demo: starting the test bed (etcd, kube-apiserver, kube-controller-manager, kube-scheduler), Knative Eventing's and Knative Serving's controllers, webhooks and data planes, and the function",
);
say('demo: the first run builds them from their Go modules: 15 to 30 minutes on 2 cores, then seconds');
const at = process.argv.indexOf('--overlay');
const overlay = at < 0 ? undefined : process.argv[at + 1];
if (at >= 0 && !overlay)
  throw new Error('demo: --overlay needs a directory, e.g. --overlay config/knative/overlays/any-broker');
const stack = await startStack({
  ...(overlay ? { overlay } : {}),
  log: (line) => {
    console.error(`  ${line}`);
  },
});
const kubectl = (...args: string[]) =>
  run(join(stack.cluster.binDir, 'kubectl'), ['--kubeconfig', stack.cluster.kubeconfig, ...args]).then((r) => r.stdout);

try {
  const mode =
    stack.waitMode === 'tick' ? `WAIT_MODE=tick, a tick every ${stack.tickSeconds} s` : 'WAIT_MODE=retry-after';
  say(`demo: ready after ${((Date.now() - started) / 1000).toFixed(0)} s (${stack.wiring}: ${mode})\n`);
  say('$ kubectl apply -f examples/action.yaml');
  process.stdout.write(await kubectl('apply', '-n', 'default', '-f', 'examples/action.yaml'));

  let shown = 0;
  let action: Action;
  let pods = -1;
  const applied = Date.now();
  const deadline = applied + 180_000;
  do {
    await new Promise((r) => setTimeout(r, 100));
    const now = await stack.podCount('function', { ending: false });
    if (now !== pods) {
      const what = now === 0 ? 'none: scaled to zero' : `${now} running`;
      say(`  function pods: ${what} (+${((Date.now() - applied) / 1000).toFixed(1)} s)`);
      pods = now;
    }
    action = (await stack.admin.getAction('default', 'demo-action1')).body as Action;
    const timestamps = action.status.timestamps;
    for (; shown < timestamps.length; shown++) {
      const [phase, at] = Object.entries(timestamps[shown] ?? {})[0] ?? [];
      const gap = shown > 0 ? ` (+${((gaps(action)[shown - 1] as number) / 1000).toFixed(3)} s)` : '';
      say(`  phase ${shown + 1}/${action.spec.phases.length}: ${phase} began at ${at}${gap}`);
    }
  } while (action.status.state !== 'Succeeded' && Date.now() < deadline);
  if (action.status.state !== 'Succeeded')
    throw new Error('the example did not finish within 3 minutes; logs are in ' + stack.dir);

  say('\n$ kubectl wait --for=condition=Succeeded action/demo-action1');
  process.stdout.write(
    await kubectl('wait', '--for=condition=Succeeded', '--timeout=10s', '-n', 'default', 'action/demo-action1'),
  );
  say('\n$ kubectl get actions');
  process.stdout.write(await kubectl('get', 'actions', '-n', 'default'));
  say('\n$ kubectl get events.events.k8s.io --field-selector reason=PhaseStarted');
  process.stdout.write(
    await kubectl(
      'get',
      'events.events.k8s.io',
      '-n',
      'default',
      '--field-selector',
      'reason=PhaseStarted',
      '--sort-by=.metadata.creationTimestamp',
    ),
  );
} finally {
  await stack.stop();
  say('\ndemo: stopped everything; for a stack that stays up: npm run stack:up');
}
