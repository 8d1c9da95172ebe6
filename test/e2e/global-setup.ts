// Starts the whole local chain (control plane, Knative's control and data planes, the function) once for the
// end-to-end suite. If any part cannot start, the suite fails here with that part's log.
import type { TestProject } from 'vitest/node';
import { startStack, type StackInfo } from '../stack/stack.js';

declare module 'vitest' {
  export interface ProvidedContext {
    stack: StackInfo;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // OIDC on: the configuration this project recommends. The bench's stack runs with it off.
  const stack = await startStack({ oidc: true });
  const { bed, cluster, dir, functionKubeconfig, detached, oidc } = stack;
  project.provide('stack', { bed, cluster, dir, functionKubeconfig, detached, oidc });
  return stack.stop;
}
