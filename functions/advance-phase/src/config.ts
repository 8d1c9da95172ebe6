// Settings from the environment, parsed like every other input, and the choice between real
// mode (a kubeconfig or a service account) and dry-run.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { describe } from './action.js';

const flag = z.enum(['true', 'false', '1', '0', '']).transform((v) => v === 'true' || v === '1');

export const Config = z.object({
  PORT: z.coerce.number().int().min(1).max(65535).default(8080),
  LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  DRY_RUN: flag.default(false),
  /** Sweep one namespace only; empty sweeps every namespace (needs a ClusterRole). */
  WATCH_NAMESPACE: z.string().default(''),
  MAX_BODY_BYTES: z.coerce.number().int().min(1024).default(1024 * 1024),
  SWEEP_PAGE_SIZE: z.coerce.number().int().min(1).max(5000).default(500),
  SWEEP_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(8),
});
export type Config = z.infer<typeof Config>;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = Config.safeParse(env);
  if (!parsed.success) throw new Error(`invalid configuration: ${describe(parsed.error)}`);
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
