// Settings from the environment, parsed like every other input, and the choice between real
// mode (a kubeconfig or a service account) and dry-run.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as z from 'zod/mini';
import { formatIssues } from './action.js';
import { parseSenders } from './senders.js';

const flag = z.pipe(
  z.enum(['true', 'false', '1', '0', '']),
  z.transform((v) => v === 'true' || v === '1'),
);
/** A whole number from an environment string, within bounds, with a default when unset. */
const count = (min: number, max: number, fallback: number) =>
  z._default(z.coerce.number().check(z.int(), z.minimum(min), z.maximum(max)), fallback);

export const Config = z.object({
  PORT: count(1, 65535, 8080),
  LOG_LEVEL: z._default(z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']), 'info'),
  DRY_RUN: z._default(flag, false),
  /** Sweep one namespace only; empty sweeps every namespace (needs a ClusterRole). */
  WATCH_NAMESPACE: z._default(z.string(), ''),
  MAX_BODY_BYTES: count(1024, Number.MAX_SAFE_INTEGER, 1024 * 1024),
  SWEEP_PAGE_SIZE: count(1, 5000, 500),
  SWEEP_CONCURRENCY: count(1, 256, 8),
  /**
   * How a not-yet-due event is answered. `retry-after`: 503 with Retry-After, the wait carried by
   * Knative's delivery (honoured by the in-memory channel only). `tick`: 200, the wait carried by
   * a PingSource tick (config/knative/overlays/any-broker), for brokers that ignore Retry-After.
   */
  WAIT_MODE: z._default(z.enum(['retry-after', 'tick']), 'retry-after'),
  /**
   * Knative OIDC sender authentication: `oidc` requires a token from a sender, `none` checks
   * nothing, `auto` requires one when the senders' status shows OIDC is on in the cluster.
   */
  SENDER_AUTH: z._default(z.enum(['auto', 'oidc', 'none']), 'auto'),
  /** The audience tokens must be for: config/knative's `audience` on the Trigger and PingSource. */
  SENDER_AUDIENCE: z._default(
    z.string().check(z.minLength(1)),
    'serving.knative.dev/service/advance-phase/advance-phase',
  ),
  /** The Knative objects that may send, `kind/namespace/name` (config/knative's Trigger and PingSources; the tick is the any-broker overlay's). */
  SENDERS: z.prefault(
    z.pipe(
      z.string(),
      z.transform((text, ctx) => {
        const refs = parseSenders(text);
        if (typeof refs === 'string') ctx.issues.push({ code: 'custom', message: refs, input: text });
        return typeof refs === 'string' ? [] : refs;
      }),
    ),
    'trigger/advance-phase/advance-phase,pingsource/advance-phase/advance-phase-sweep,pingsource/advance-phase/advance-phase-tick',
  ),
});
export type Config = z.infer<typeof Config>;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = Config.safeParse(env);
  if (!parsed.success) throw new Error(`invalid configuration: ${formatIssues(parsed.error)}`);
  return parsed.data;
}

const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/**
 * Where the Kubernetes credentials come from, or null for dry-run. client-node's own
 * loadFromDefault() falls back to http://localhost:8080 when it finds nothing, which would
 * send writes to whatever listens there; so "nothing" is decided here.
 */
export function kubeconfigSource(env: NodeJS.ProcessEnv = process.env): 'kubeconfig' | 'in-cluster' | null {
  if (env.KUBECONFIG) return 'kubeconfig';
  if (fs.existsSync(path.join(os.homedir(), '.kube', 'config'))) return 'kubeconfig';
  if (env.KUBERNETES_SERVICE_HOST && fs.existsSync(SERVICE_ACCOUNT_TOKEN)) return 'in-cluster';
  return null;
}
