// Starts the whole local chain (control plane, Knative's control and data planes, the function) once for the
// end-to-end suite. If any part cannot start, the suite fails here with that part's log.
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { runBuildScript } from '../cluster/processes.js';
import { logToStderr } from '../support/log.js';
import { repoRoot } from '../support/repo.js';
import { startStack, type StackInfo, type StackOptions } from '../stack/stack.js';

declare module 'vitest' {
  export interface ProvidedContext {
    stack: StackInfo;
  }
}

/** Starts the stack and hands its description to the test files; returns its stop, which keeps the logs if a test failed. */
export async function provideStack(project: TestProject, opts: StackOptions): Promise<() => Promise<void>> {
  const stack = await startStack(opts);
  const { bed, cluster, dir, functionKubeconfig, detached, oidc, wiring, namespace, waitMode, tickSeconds } = stack;
  project.provide('stack', {
    bed,
    cluster,
    dir,
    functionKubeconfig,
    detached,
    oidc,
    wiring,
    namespace,
    waitMode,
    ...(tickSeconds ? { tickSeconds } : {}),
  });
  return async () => {
    // A failed test's evidence is in the logs: keep them (vitest's state API, experimental, pinned).
    const failed = project.vitest.state.getCountOfFailedTests() > 0;
    await stack.stop({ keepLogs: failed });
    if (failed) process.stderr.write(`a test failed: the stack's logs are kept in ${stack.dir}\n`);
  };
}

// OIDC on: the configuration this project recommends. The bench's stack runs with it off. The
// audit log is what the soak is judged on. Installed in a namespace other than advance-phase,
// moved there by a kustomization's namespace: alone (docs/operators.md): the OIDC audiences and
// SENDERS that name the namespace must follow, or no event gets through. e2e-any-broker runs in
// the shipped namespace.
export default async (project: TestProject) => {
  // Prometheus and prometheus-operator's config generation (monitoring.test.ts), built here where
  // no test's timeout runs: minutes on a new machine, cached after.
  for (const module of ['test/prometheus', 'test/prometheus-operator'])
    await runBuildScript(join(repoRoot, module, 'build.sh'), logToStderr);
  return provideStack(project, { oidc: true, auditPolicy: true, namespace: 'platform-events' });
};
