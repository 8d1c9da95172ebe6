import { defineConfig } from 'vitest/config';

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
    ],
  },
});
