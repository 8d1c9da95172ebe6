// Starts the whole local chain detached (stop it with stack:down). The last stdout line is
// KUBECONFIG=<path>; kubectl is printed on stderr. `-- --oidc`: with Knative's OIDC sender
// authentication on and config/knative/overlays/oidc applied. `-- --overlay <dir>`: that
// kustomize directory instead of config/knative (config/knative/overlays/any-broker).
import { isStackRunning, readDetachedStack, stackStatePath, startStack } from './stack.js';

const existing = await readDetachedStack();
let kubeconfig: string;
if (existing && isStackRunning(existing)) {
  console.error(`stack:up: already running (state ${stackStatePath})`);
  kubeconfig = existing.cluster.kubeconfig;
} else {
  if (existing) {
    console.error('stack:up: clearing a stack that is no longer running');
    await existing.stop();
  }
  const at = process.argv.indexOf('--overlay');
  const overlay = at < 0 ? undefined : process.argv[at + 1];
  if (at >= 0 && !overlay)
    throw new Error('stack:up: --overlay needs a directory, e.g. --overlay config/knative/overlays/any-broker');
  const stack = await startStack({
    detached: true,
    oidc: process.argv.includes('--oidc'),
    ...(overlay ? { overlay } : {}),
  });
  console.error(
    `stack:up: ${stack.wiring} applied; WAIT_MODE=${stack.waitMode}${stack.tickSeconds ? `, a tick every ${stack.tickSeconds} s` : ''}`,
  );
  console.error(`stack:up: logs in ${stack.dir}; function log: ${stack.logFiles('function').at(-1)}`);
  kubeconfig = stack.cluster.kubeconfig;
}
const bin = (await readDetachedStack())?.cluster.binDir;
console.error(`stack:up: kubectl for it: export PATH=${bin}:$PATH`);
console.log(`KUBECONFIG=${kubeconfig}`);
