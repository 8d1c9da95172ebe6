// Reading a run of the real chain: the function's JSON log, phase starts and gaps, when one finishes.
import { readFileSync } from 'node:fs';
import type { Action } from '../../functions/advance-phase/src/action.js';
import type { Admin } from './admin.js';
import { until } from './wait.js';

export interface LogEntry {
  /** pino's: 30 info, 40 warn, 50 error. */
  level: number;
  time: number;
  msg: string;
  action?: string;
  id?: string;
  event?: string;
  code?: string;
  decision?: { kind: string; reason?: string; phase?: string; carryUntil?: string };
  sweep?: { listed: number; decisions: Record<string, number>; ms: number };
  tick?: { scope: 'slots' | 'full'; listed: number; decisions: Record<string, number> };
}

/** The function's JSON log lines, from each of the given files in turn (a restarted pod writes a new one). */
export function functionLog(paths: string[]): LogEntry[] {
  return paths
    .flatMap((path) => readFileSync(path, 'utf8').split('\n'))
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogEntry);
}

/** Phase start times in ms, in order. */
export function starts(action: Action): number[] {
  return action.status.timestamps.map((t) => Date.parse(Object.values(t)[0] ?? ''));
}

export function gaps(action: Action): number[] {
  const s = starts(action);
  return s.slice(1).map((t, i) => t - (s[i] as number));
}

/** The phase an Action shows now, if any. */
export async function phaseOf(admin: Admin, ns: string, name: string): Promise<string | undefined> {
  return ((await admin.getAction(ns, name)).body as Action).status.phase;
}

export async function finished(admin: Admin, ns: string, name: string, timeoutMs = 30_000): Promise<Action> {
  return until(
    `${ns}/${name} to finish`,
    async () => {
      const res = await admin.getAction(ns, name);
      const action = res.body as Action;
      return res.status === 200 && action.status.state === 'Succeeded' ? action : undefined;
    },
    timeoutMs,
  );
}

/** The sweep's PingSource, whose schedule tests shorten so that a run need not wait 5 minutes. */
export async function scheduleSweep(admin: Admin, namespace: string, cron: string): Promise<void> {
  const path = `/apis/sources.knative.dev/v1/namespaces/${namespace}/pingsources/advance-phase-sweep`;
  const res = await admin.request('PATCH', path, { spec: { schedule: cron } }, 'application/merge-patch+json');
  if (res.status !== 200) throw new Error(`scheduling the sweep ${cron}: ${res.status} ${JSON.stringify(res.body)}`);
}

/** The sweep's schedule as shipped (config/knative/base/pingsource.yaml). */
export function shippedSweepSchedule(): string {
  const shipped = readFileSync(new URL('../../config/knative/base/pingsource.yaml', import.meta.url), 'utf8');
  const schedule = /schedule: "([^"]+)"/.exec(shipped)?.[1];
  if (schedule === undefined) throw new Error('config/knative/base/pingsource.yaml has no schedule');
  return schedule;
}

/**
 * Changes the Action CRD's spec (a schema description), as `kubectl apply` of a changed CRD does on
 * an upgrade: the API server replaces the resource's storage and ends every watch of it.
 */
export async function touchActionCrd(admin: Admin): Promise<void> {
  const path = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/actions.core.opdemo.net';
  type Crd = { spec: { versions: { schema: { openAPIV3Schema: { description?: string } } }[] } };
  const crd = (await admin.request<Crd>('GET', path)).body;
  const schema = crd.spec.versions[0]?.schema.openAPIV3Schema;
  if (!schema) throw new Error('the Action CRD has no schema');
  schema.description = `${schema.description ?? 'Action'} (touched ${Date.now()})`;
  const res = await admin.request('PUT', path, crd);
  if (res.status !== 200) throw new Error(`updating the Action CRD: ${res.status} ${JSON.stringify(res.body)}`);
}
