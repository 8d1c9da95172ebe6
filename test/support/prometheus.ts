// A real Prometheus (built by test/prometheus) on the host, configured the way prometheus-operator
// configures one: its own config generation (test/prometheus-operator, run as a library) turns the
// PodMonitor and PrometheusRule it is given into prometheus.yaml and the rule files. Two changes
// let it run outside the cluster: kubeconfig_file on its Kubernetes discovery (no ServiceAccount
// here) and rule_files pointing at a folder. It discovers pods through the bed's API server and
// scrapes them pod IP to pod IP, as in a cluster.
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { freePorts, launch, runBuildScript, stopProcess, waitFor } from '../cluster/processes.js';
import type { Manifest } from './kustomize.js';
import { repoRoot } from './repo.js';

const run = promisify(execFile);

export interface Alert {
  labels: Record<string, string>;
  state: 'pending' | 'firing';
}

export interface Target {
  labels: Record<string, string>;
  health: string;
  lastScrape: string;
}

/** An alerting rule as the rules API shows it: its last evaluation, and what that found. */
export interface AlertingRule {
  name: string;
  state: 'inactive' | 'pending' | 'firing';
  health: string;
  lastEvaluation: string;
  alerts: Alert[];
}

export interface Prometheus {
  /** The scrape targets and their health. */
  targets(): Promise<Target[]>;
  /** The alerting rule `name`, as last evaluated. */
  alertingRule(name: string): Promise<AlertingRule>;
  stop(): Promise<void>;
}

/** The Prometheus release a v0.3xx module version is (tools.go: v0.316.0 is Prometheus 3.16.0). */
function releaseOf(moduleVersion: string): string {
  const m = /^v0\.3(\d\d)\.(\d+)$/.exec(moduleVersion);
  if (!m) throw new Error(`${moduleVersion} is not a Prometheus 3 module version (v0.3xx.y)`);
  return `v3.${Number(m[1])}.${m[2]}`;
}

export async function startPrometheus(opts: {
  /** Its configuration, rules, data and log go here. */
  dir: string;
  /** Where it finds the API server for its Kubernetes discovery. */
  kubeconfig: string;
  /** The PodMonitors and PrometheusRules to run, as kubectl kustomize gives them. */
  objects: Manifest[];
  /** The Prometheus resource's evaluationInterval. */
  evaluationInterval: string;
  log: (line: string) => void;
}): Promise<Prometheus> {
  const bin = await runBuildScript(join(repoRoot, 'test/prometheus/build.sh'), opts.log);
  const generator = await runBuildScript(join(repoRoot, 'test/prometheus-operator/build.sh'), opts.log);
  const exe = join(bin, 'prometheus');
  const version = /version (v\S+)/.exec((await run(exe, ['--version'])).stdout)?.[1] ?? '';
  await mkdir(opts.dir, { recursive: true });
  const objectsFile = join(opts.dir, 'monitoring.yaml');
  await writeFile(objectsFile, opts.objects.map((o) => stringify(o)).join('---\n'));
  const { stdout: config } = await run(generator, [
    `-version=${releaseOf(version)}`,
    `-evaluation-interval=${opts.evaluationInterval}`,
    `-rules-dir=${join(opts.dir, 'rules')}`,
    `-kubeconfig=${opts.kubeconfig}`,
    objectsFile,
  ]);
  const configFile = join(opts.dir, 'prometheus.yaml');
  await writeFile(configFile, config);

  const [port] = await freePorts(1);
  const url = `http://127.0.0.1:${port}`;
  const logFile = join(opts.dir, 'prometheus.log');
  const pid = await launch({
    exe,
    args: [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(opts.dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    logFile,
    detached: false,
  });
  await waitFor(
    'Prometheus to be ready',
    { pid, exe, logFile },
    30_000,
    async () => (await fetch(`${url}/-/ready`)).ok,
  );
  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${url}/api/v1/${path}`);
    if (!res.ok) throw new Error(`Prometheus /api/v1/${path}: ${res.status} ${await res.text()}`);
    return ((await res.json()) as { data: T }).data;
  };
  return {
    targets: async () => (await api<{ activeTargets: Target[] }>('targets')).activeTargets,
    alertingRule: async (name) => {
      const { groups } = await api<{ groups: { rules: AlertingRule[] }[] }>(`rules?type=alert`);
      const rule = groups.flatMap((g) => g.rules).find((r) => r.name === name);
      if (!rule) throw new Error(`Prometheus has no alerting rule ${name}`);
      return rule;
    },
    stop: () => stopProcess(pid, exe),
  };
}
