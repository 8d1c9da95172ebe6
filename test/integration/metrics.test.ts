// GET /metrics of the built function (dist/, as `npm start` runs it) in real mode against a real
// API server, read by Prometheus's own exposition parser (test/promparse: expfmt, what the
// Prometheus server and promtool use). The lateness histogram must say what status.timestamps say.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Action } from '../../functions/advance-phase/src/action.js';
import { freePorts } from '../cluster/processes.js';
import { Admin } from '../support/admin.js';
import { gaps } from '../support/chain.js';
import { until } from '../support/wait.js';
import { functionKubeconfig } from '../support/function.js';
import { post, type CloudEventJson } from '../support/http.js';
import { pipeThrough } from '../support/pipe.js';
import { messageOf } from '../support/log.js';

const cluster = inject('cluster');
const admin = new Admin(cluster);
const run = promisify(execFile);
const ns = 'metrics-test';

interface Family {
  name: string;
  help: string;
  type: string;
  samples: {
    labels: Record<string, string>;
    value: number;
    count?: number;
    sum?: number;
    buckets?: Record<string, number>;
  }[];
}

let child: ChildProcess;
let url = '';
let promparse = '';
beforeAll(async () => {
  await admin.namespace(ns);
  const kubeconfig = await functionKubeconfig(cluster);
  await run('npm', ['run', 'build'], { timeout: 120_000 });
  promparse = (await run('bash', ['test/promparse/build.sh'], { timeout: 290_000 })).stdout.trim();
  const [port] = (await freePorts(1)) as [number];
  url = `http://127.0.0.1:${port}/`;
  child = spawn(process.execPath, ['dist/index.js'], {
    env: { ...process.env, PORT: String(port), KUBECONFIG: kubeconfig, LOG_LEVEL: 'silent' },
    stdio: 'ignore',
  });
  await until(
    'the function to be ready',
    async () => (await fetch(`${url}health/readiness`).catch(() => undefined))?.ok,
    20_000,
    50,
  );
}, 300_000);
afterAll(() => void child.kill('SIGTERM'));

function event(object: Action, type: 'add' | 'update'): CloudEventJson {
  return {
    specversion: '1.0',
    type: `dev.knative.apiserver.resource.${type}`,
    source: cluster.server,
    id: `m-${object.metadata.resourceVersion}`,
    data: object,
  };
}

async function scrape(): Promise<{ text: string; families: Family[] }> {
  const res = await fetch(`${url}metrics`);
  expect(res.headers.get('content-type')).toContain('text/plain; version=0.0.4');
  const text = await res.text();
  const parsed = await pipeThrough(promparse, [], text).catch((error: unknown) => {
    throw new Error(`not a valid exposition: ${messageOf(error)}`);
  });
  return { text, families: JSON.parse(parsed) as Family[] };
}

describe('/metrics', () => {
  it('is a valid exposition, every series with HELP and TYPE, whose lateness agrees with status.timestamps', async () => {
    let object = (await admin.createAction(ns, 'measured', { phases: ['a', 'b', 'c'], delay: 0 })).body as Action;
    for (const type of ['add', 'update', 'update'] as const) {
      const res = await post(url, event(object, type), 'binary');
      expect(res.headers.get('x-advance-decision')).toBe('advance');
      object = (await admin.getAction(ns, 'measured')).body as Action;
    }
    const { text, families } = await scrape();
    const byName = new Map(families.map((f) => [f.name, f]));
    for (const f of families) expect({ name: f.name, help: f.help.length > 0 }).toEqual({ name: f.name, help: true });
    // A labelled series nothing has observed yet has no samples for a parser to return: its
    // HELP and TYPE lines are there all the same.
    const declared = (kind: string) =>
      new Set([...text.matchAll(new RegExp(`^# ${kind} (\\S+)`, 'gm'))].map((m) => m[1]));
    expect(declared('TYPE')).toEqual(declared('HELP'));

    // The phases after the first, and how late each began: from the timestamps (gap minus delay).
    const fromTimestamps = gaps(object).map((gap) => gap / 1000 - object.spec.delay);
    const lateness = byName.get('advance_phase_phase_lateness_seconds');
    expect(lateness?.type).toBe('HISTOGRAM');
    expect(lateness?.samples[0]?.count).toBe(fromTimestamps.length);
    expect(lateness?.samples[0]?.sum).toBeCloseTo(
      fromTimestamps.reduce((a, b) => a + b, 0),
      6,
    );

    const value = (name: string, labels: Record<string, string>) =>
      byName.get(name)?.samples.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    expect(value('advance_phase_decisions_total', { kind: 'advance' })).toBe(3);
    expect(value('advance_phase_kube_requests_total', { verb: 'patch', code: '200' })).toBe(3);
    expect(byName.get('advance_phase_kube_request_duration_seconds')?.type).toBe('HISTOGRAM');
    for (const name of [
      'advance_phase_dead_letters_total',
      'advance_phase_sweep_duration_seconds',
      'advance_phase_sweep_listed_actions',
    ]) {
      expect(declared('TYPE')).toContain(name);
    }
    // prom-client's default process and Node.js metrics.
    for (const name of [
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_heap_size_used_bytes',
      'nodejs_eventloop_lag_seconds',
    ]) {
      expect(byName.get(name)?.help).toBeTruthy();
    }
  });
});
