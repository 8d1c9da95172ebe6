// Stops everything stack:up started and removes its folder; does nothing if none is recorded.
import { readDetachedStack, stackStatePath } from './stack.js';

const stack = await readDetachedStack();
if (!stack) {
  console.log(`stack:down: no stack recorded (${stackStatePath}); nothing to do`);
} else {
  await stack.stop();
  console.log(
    `stack:down: stopped the test bed (the function, Knative, the control plane, the node and its network); removed ${stack.cluster.dir}`,
  );
}
