// Entry point: read settings, pick real mode or dry-run, listen on $PORT, drain on SIGTERM.
import { createApp } from './app.js';
import { kubeconfigSource, loadConfig } from './config.js';
import type { Kube } from './kube.js';
import { createLogger } from './log.js';
import { Counters } from './metrics.js';

const config = loadConfig();
const log = createLogger(config.LOG_LEVEL);

async function connect(): Promise<Kube | null> {
  const source = config.DRY_RUN ? null : kubeconfigSource();
  if (source === null) {
    const why = config.DRY_RUN ? 'DRY_RUN is set' : 'no kubeconfig and not in a cluster';
    log.warn(`DRY-RUN MODE (${why}): nothing will be written; answers show the decision and the patch it would apply`);
    return null;
  }
  // Imported only in real mode: @kubernetes/client-node is the slowest module to load.
  const { kubeFor, loadKubeConfig } = await import('./kube.js');
  const kc = loadKubeConfig(source);
  log.info({ server: kc.getCurrentCluster()?.server, user: kc.getCurrentUser()?.name, source }, 'real mode');
  return kubeFor(kc);
}

// A function, not top-level await: the bundle is CommonJS so that boot.ts can run it from V8's code cache.
async function main(): Promise<void> {
  const kube = await connect();
  let shuttingDown = false;
  const app = createApp({
    kube,
    log,
    counters: new Counters(),
    maxBodyBytes: config.MAX_BODY_BYTES,
    sweep: {
      ...(config.WATCH_NAMESPACE ? { namespace: config.WATCH_NAMESPACE } : {}),
      pageSize: config.SWEEP_PAGE_SIZE,
      concurrency: config.SWEEP_CONCURRENCY,
    },
    isShuttingDown: () => shuttingDown,
  });

  const server = app.listen(config.PORT, () => {
    log.info({ port: config.PORT, dryRun: kube === null, namespace: config.WATCH_NAMESPACE || '*' }, 'listening');
  });
  server.keepAliveTimeout = 65_000; // longer than the Knative queue-proxy's idle timeout

  function shutdown(signal: string): void {
    if (shuttingDown) return;
    shuttingDown = true;
    log.info({ signal }, 'draining');
    // In-flight events finish; the sender retries anything we never answered.
    server.close(() => {
      log.info('stopped');
      process.exit(0);
    });
    server.closeIdleConnections();
    setTimeout(() => process.exit(1), 20_000).unref();
  }
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  log.fatal({ err: error }, 'failed to start');
  process.exit(1);
});
