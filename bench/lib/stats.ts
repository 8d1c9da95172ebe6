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
  const at = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN;
  return {
    n: sorted.length,
    min: sorted[0] ?? Number.NaN,
    p50: at(0.5),
    p95: at(0.95),
    p99: at(0.99),
    max: sorted.at(-1) ?? Number.NaN,
  };
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
/** Busy and total CPU seconds of the whole machine so far: every process, the kernel and its networking. */
export function machineCpu(): { busy: number; total: number } {
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = (
    readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? ''
  )
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const busy = user + nice + system + irq + softirq + steal;
  return { busy: busy / TICKS_PER_SECOND, total: (busy + idle + iowait) / TICKS_PER_SECOND };
}

/** Samples how busy the whole machine is, once a second, until stopped: percent of all cores. */
export function busySampler(): () => number[] {
  const shares: number[] = [];
  let last = machineCpu();
  const timer = setInterval(() => {
    const now = machineCpu();
    if (now.total > last.total) shares.push((100 * (now.busy - last.busy)) / (now.total - last.total));
    last = now;
  }, 1000);
  return () => {
    clearInterval(timer);
    return shares;
  };
}

export function usage(
  before: Record<string, ProcSample>,
  after: Record<string, ProcSample>,
): Record<string, ProcSample> {
  return Object.fromEntries(
    Object.entries(after).map(([name, s]) => [
      name,
      { ...s, cpuSeconds: s.cpuSeconds - (before[name]?.cpuSeconds ?? 0) },
    ]),
  );
}

export function sampleAll(procs: Processes): Record<string, ProcSample> {
  return Object.fromEntries(Object.entries(procs).map(([name, pid]) => [name, sample(pid)]));
}

/** Processes both systems share; a system's own cost is everything else. */
export const SHARED = new Set(['kube-apiserver', 'etcd']);

export const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;
