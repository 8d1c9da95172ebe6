// The function deployed as `kn func deploy --build=false --push=false --image <image>` deploys
// it: knative/func v0.50.1's own deployer (test/funcyaml/funcdeploy) reads func.yaml and creates
// the Knative Service, and waits until Serving says it is Ready. The kubelet runs the built bundle
// for FUNCTION_IMAGE (`node dist/index.js`), as a buildpack image would run it.
//
// The deployer runs in a test host of its own: it checks the image's registry (a HEAD request)
// before it deploys, and there `localhost:5000` is the host's own loopback, where nothing listens,
// so the check fails at once (a warning) and nothing leaves the machine. Serving does not try to
// resolve that registry's tags either (config-deployment, knative-serving.ts).
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { ClusterInfo } from '../cluster/cluster.js';
import { runBuildScript } from '../cluster/processes.js';
import { repoRoot } from '../support/repo.js';
import { LOCAL_REGISTRY } from './knative-serving.js';
import { createHost, inHost, removeHost } from './netns.js';

const run = promisify(execFile);
export const FUNCTION_IMAGE = `${LOCAL_REGISTRY}/advance-phase`;
/** The deployer's host on the bridge: below the kubelet's pod addresses (10 and up). */
const DEPLOYER_HOST_INDEX = 9;

export async function deployFunction(
  cluster: ClusterInfo,
  namespace: string,
  log: (line: string) => void,
): Promise<{ url: string }> {
  const funcdeploy = join(dirname(await runBuildScript(join(repoRoot, 'test/funcyaml/build.sh'), log)), 'funcdeploy');
  const host = await createHost('deployer', DEPLOYER_HOST_INDEX, namespace);
  try {
    const cmd = inHost(host, funcdeploy, [repoRoot, namespace, FUNCTION_IMAGE]);
    const { stdout } = await run(cmd.exe, cmd.args, {
      env: { ...process.env, KUBECONFIG: cluster.kubeconfig },
      maxBuffer: 16 * 1024 * 1024,
    }).catch((error: unknown) => {
      const e = error as { stderr?: string; message: string };
      throw new Error(
        `kn func's deployer failed: ${(e.stderr ?? '').trim().split('\n').slice(-15).join('\n') || e.message}`,
        {
          cause: error,
        },
      );
    });
    return JSON.parse(stdout) as { url: string };
  } finally {
    await removeHost(host);
  }
}
