// The commands the node stand-ins run on this machine (ip, iptables): one runner, so that a failed
// command always names the stand-in that ran it, the whole command line and what it printed.
// The node process (node-main.ts) ends on such a failure, and the bed's start fails at once with
// it (bed.ts), instead of a chain that silently carries nothing.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The stand-ins; the kubelet's includes its network plugin (netns.ts). */
export type StandIn = 'kubelet' | 'cluster DNS' | 'kube-proxy';

/** A stand-in could not do its job (a host command or file write failed): the bed cannot work as a cluster would. */
export class StandInFailure extends Error {
  constructor(standIn: StandIn, what: string, detail: string) {
    super(`the ${standIn} stand-in failed: ${what} ${detail}`);
    this.name = 'StandInFailure';
  }
}

/** Runs the command; a failure (missing binary, non-zero exit) is a StandInFailure. */
export async function hostCommand(standIn: StandIn, cmd: string, args: string[]): Promise<{ stdout: string }> {
  try {
    return await run(cmd, args);
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stderr?: string };
    const detail =
      e.code === 'ENOENT'
        ? `could not start: ${cmd} is not on PATH (bash scripts/setup-host.sh installs it)`
        : `exited ${String(e.code)}: ${(e.stderr ?? '').trim() || e.message}`;
    throw new StandInFailure(standIn, `\`${[cmd, ...args].join(' ')}\``, detail);
  }
}
