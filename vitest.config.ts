import { readFileSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

// Every test runs on the Node that the deployment runs: the major package.json's engines admits
// (npm scripts take it from node_modules/.bin). Anything else, such as the machine's own Node
// under a bare `npx vitest`, is refused rather than tested.
const engines = (JSON.parse(readFileSync('package.json', 'utf8')) as { engines: { node: string } }).engines.node;
if (engines !== `${process.versions.node.split('.')[0]}.x`) {
  throw new Error(
    `tests run on Node ${process.version}, but package.json's engines.node is ${engines}: run them with npm test`,
  );
}

// One runner, four layers. `npm test` runs them all; the integration and e2e layers start real
// processes (kube-apiserver, etcd, Knative's data plane) in their global setups and fail loudly
// when those cannot start: nothing is skipped.
export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      { test: { name: 'http', include: ['test/http/**/*.test.ts'] } },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/integration/global-setup.ts'],
          // One file at a time: the test bed's network (test/stack/netns.ts) is one per machine.
          poolOptions: { forks: { singleFork: true } },
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: ['test/e2e/global-setup.ts'],
          // One shared chain: files run one after another.
          poolOptions: { forks: { singleFork: true } },
          testTimeout: 90_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          // The scenarios that matter on a broker that ignores Retry-After, run on the
          // any-broker overlay. Its own run of vitest: one stack per machine at a time.
          name: 'e2e-any-broker',
          include: ['test/e2e/chain.test.ts', 'test/e2e/recovery.test.ts'],
          globalSetup: ['test/e2e/any-broker-setup.ts'],
          poolOptions: { forks: { singleFork: true } },
          testTimeout: 90_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
