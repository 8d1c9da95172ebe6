// Local server processes for the test harnesses (control plane, Knative data plane, function):
// spawn with a log file, wait for readiness, stop by pid without ever hitting a reused pid.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo } from 'node:net';
import { sleep, until } from '../support/wait.js';
import { messageOf } from '../support/log.js';

/**
 * Runs one of the build.sh scripts: progress lines (stderr) go to `log` as they come, the folder
 * it prints last on stdout is the result.
 */
export function runBuildScript(script: string, log: (line: string) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const errLines: string[] = [];
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    let partial = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      const lines = (partial + d).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        errLines.push(line);
        log(line);
      }
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (partial) log(partial);
      if (code === 0) resolve(out.trim().split('\n').pop() ?? '');
      else reject(new Error(`${script} exited ${code}:\n${errLines.slice(-20).join('\n')}${partial}`));
    });
  });
}

export interface LaunchSpec {
  exe: string;
  args: string[];
  /** Output (stdout and stderr) is appended here. */
  logFile: string;
  env?: Record<string, string>;
  cwd?: string;
  /** Outlive this Node process (own session) instead of dying with it. */
  detached: boolean;
  /** `env` is the whole environment, instead of additions to this process's. */
  replaceEnv?: boolean;
}

/** Spawns the process and returns its pid. */
export async function launch(spec: LaunchSpec): Promise<number> {
  const out = await open(spec.logFile, 'a');
  try {
    // Attached: setpriv (util-linux) makes the kernel SIGKILL the child when this process dies,
    // even by SIGKILL, where no exit hook runs. Detached: own session, so it outlives us.
    const [cmd, argv] = spec.detached
      ? [spec.exe, spec.args]
      : ['setpriv', ['--pdeathsig', 'SIGKILL', spec.exe, ...spec.args]];
    const child = spawn(cmd, argv, {
      detached: spec.detached,
      stdio: ['ignore', out.fd, out.fd],
      env: spec.replaceEnv ? spec.env : { ...process.env, ...spec.env },
      ...(spec.cwd ? { cwd: spec.cwd } : {}),
    });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    // Not keeping the event loop alive: a script that forgets to stop still exits (and cleans up).
    child.unref();
    if (child.pid === undefined) throw new Error(`spawning ${spec.exe} gave no pid`);
    return child.pid;
  } finally {
    await out.close();
  }
}

/** Polls check until true; fails early, with the log's tail, if the process it depends on dies. */
export async function waitFor(
  what: string,
  proc: { pid: number; exe: string; logFile: string },
  timeoutMs: number,
  check: () => Promise<boolean>,
): Promise<void> {
  try {
    await until(
      what,
      () => check().catch(() => false),
      timeoutMs,
      200,
      () => (alive(proc.pid, proc.exe) ? undefined : `${proc.exe} exited`),
    );
  } catch (error) {
    const tail = (await readFile(proc.logFile, 'utf8').catch(() => '')).split('\n').slice(-30).join('\n');
    throw new Error(`${messageOf(error)}; ${proc.logFile} ends:\n${tail}`, { cause: error });
  }
}

/** True if pid is a live (non-zombie) process running exe; guards against pid reuse. */
export function alive(pid: number, exe: string): boolean {
  if (pid <= 0) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // A thread-group leader is a zombie as soon as it exits, while its other threads may still be
    // exiting and holding its files (a killed kube-apiserver's listening socket, for ~25 ms here):
    // it is gone once it is alone.
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return readdirSync(`/proc/${pid}/task`).length > 1;
    // Empty while the process is in the middle of exec (setpriv becoming the server): alive.
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline === '' || cmdline.split('\0').includes(exe);
  } catch {
    return false;
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
export async function stopProcess(pid: number, exe: string, graceMs = 5000): Promise<void> {
  for (const [signal, waitMs] of [
    ['SIGTERM', graceMs],
    ['SIGKILL', 5000],
  ] as const) {
    if (!alive(pid, exe)) return;
    process.kill(pid, signal);
    const deadline = Date.now() + waitMs;
    while (alive(pid, exe) && Date.now() < deadline) await sleep(50);
  }
  if (alive(pid, exe)) throw new Error(`${exe} (pid ${pid}) survived SIGKILL`);
}

/** Distinct free loopback ports: all held open at once so they differ. */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const s = createServer();
          s.once('error', reject);
          s.listen(0, '127.0.0.1', () => {
            resolve(s);
          });
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => {
      resolve(false);
    });
  });
}
