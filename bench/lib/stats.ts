// Small numeric helpers for the bench: percentiles and per-process CPU and memory from /proc.
import { readFileSync } from 'node:fs';

export interface Summary {
  n: number;
  min: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentiles. */
export function summarize(values: number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN;
  return { n: sorted.length, min: sorted[0] ?? Number.NaN, p50: at(0.5), p95: at(0.95), p99: at(0.99), max: sorted.at(-1) ?? Number.NaN };
}

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

export interface ProcSample {
  cpuSeconds: number;
  rssMb: number;
  peakRssMb: number;
}

export function sample(pid: number): ProcSample {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the command name.
    const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? Number.NaN);
    return { cpuSeconds, rssMb: kb('VmRSS') / 1024, peakRssMb: kb('VmHWM') / 1024 };
  } catch {
    return { cpuSeconds: Number.NaN, rssMb: Number.NaN, peakRssMb: Number.NaN };
  }
}

export type Processes = Record<string, number>;

/** CPU seconds each process used between two samples, and its RSS at the second. */
export function usage(before: Record<string, ProcSample>, after: Record<string, ProcSample>): Record<string, ProcSample> {
  return Object.fromEntries(
    Object.entries(after).map(([name, s]) => [name, { ...s, cpuSeconds: s.cpuSeconds - (before[name]?.cpuSeconds ?? 0) }]),
  );
}

export function sampleAll(procs: Processes): Record<string, ProcSample> {
  return Object.fromEntries(Object.entries(procs).map(([name, pid]) => [name, sample(pid)]));
}

/** Processes both systems share; a system's own cost is everything else. */
export const SHARED = new Set(['kube-apiserver', 'etcd']);

export const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;
