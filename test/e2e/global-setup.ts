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
  const stack = await startStack();
  const { bed, cluster, dir, functionKubeconfig, detached } = stack;
  project.provide('stack', { bed, cluster, dir, functionKubeconfig, detached });
  return stack.stop;
}
