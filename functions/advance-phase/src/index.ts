// Entry point: read settings, pick real mode or dry-run, listen on $PORT, drain on SIGTERM.
import { createApp } from './app.js';
import type { AuthApi, SenderAuth } from './auth.js';
import { kubeconfigSource, loadConfig } from './config.js';
import type { Kube } from './kube.js';
import { createLogger } from './log.js';
import { Metrics } from './metrics.js';

const config = loadConfig();
const log = createLogger(config.LOG_LEVEL);

const metrics = new Metrics();

async function connect(): Promise<(Kube & AuthApi) | null> {
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
  return kubeFor(kc, {
    observe: (verb, code, seconds) => {
      metrics.kubeRequests.inc({ verb, code: String(code) });
      metrics.kubeLatency.observe({ verb }, seconds);
    },
  });
}

const UNAUTHENTICATED =
  'anyone who can reach this function can post it events: they cannot make it write what a genuine event would not ' +
  '(every write proves what it read), but can make it read and answer; turn on Knative OIDC (README: Security)';

/** The sender check, or null; says loudly at start what is and is not checked. */
async function authenticator(api: AuthApi | null): Promise<SenderAuth | null> {
  if (config.SENDER_AUTH === 'none' || api === null) {
    if (api !== null) log.warn(`SENDER_AUTH=none: ${UNAUTHENTICATED}`);
    return null;
  }
  // Loaded only when senders are checked: the token verifier is not needed otherwise.
  const { senderAuth } = await import('./auth.js');
  const auth = senderAuth({ mode: config.SENDER_AUTH, audience: config.SENDER_AUDIENCE, senders: config.SENDERS, api });
  // Read now, so that the first event does not wait and the log says what holds; not awaited,
  // so that the function listens meanwhile.
  auth.prime().then(
    ({ subjects, unauthenticated }) => {
      if (subjects.length)
        log.info({ subjects, audience: config.SENDER_AUDIENCE, unauthenticated }, 'OIDC sender authentication on');
      else if (config.SENDER_AUTH === 'oidc')
        log.error(
          { unauthenticated },
          'SENDER_AUTH=oidc but no sender has an OIDC identity: every event is refused (is authentication-oidc on?)',
        );
      else log.warn({ unauthenticated }, `Knative OIDC is off for every sender: ${UNAUTHENTICATED}`);
    },
    (error: unknown) => {
      log.error({ err: error }, 'cannot read the senders or the issuer yet: events get 503 until it can');
    },
  );
  return auth;
}

// A function, not top-level await: the bundle is CommonJS so that boot.ts can run it from V8's code cache.
async function main(): Promise<void> {
  const kube = await connect();
  const auth = await authenticator(kube);
  let shuttingDown = false;
  const app = createApp({
    kube,
    auth,
    log,
    metrics,
    maxBodyBytes: config.MAX_BODY_BYTES,
    sweep: {
      ...(config.WATCH_NAMESPACE ? { namespace: config.WATCH_NAMESPACE } : {}),
      pageSize: config.SWEEP_PAGE_SIZE,
      concurrency: config.SWEEP_CONCURRENCY,
    },
    waitMode: config.WAIT_MODE,
    isShuttingDown: () => shuttingDown,
  });

  const server = app.listen(config.PORT, () => {
    log.info(
      {
        port: config.PORT,
        dryRun: kube === null,
        namespace: config.WATCH_NAMESPACE || '*',
        waitMode: config.WAIT_MODE,
      },
      'listening',
    );
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
  process.on('SIGTERM', () => {
    shutdown('SIGTERM');
  });
  process.on('SIGINT', () => {
    shutdown('SIGINT');
  });
}

main().catch((error: unknown) => {
  log.fatal({ err: error }, 'failed to start');
  process.exit(1);
});
