// How the test bed starts. One that cannot work says so at once, and says why: a missing host
// command fails the start in seconds, before anything is built, with the command that fixes it; a
// node stand-in whose command fails ends the start as it happens, naming the stand-in and the
// command, and keeps the logs (each case changes only the PATH the bed's processes get).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startBed } from '../stack/bed.js';
import { startStack } from '../stack/stack.js';
import { messageOf } from '../support/log.js';

const realPath = process.env['PATH'] ?? '';
const scratch: string[] = [];
const folder = () => {
  const dir = mkdtempSync(join(tmpdir(), 'advance-phase-path-'));
  scratch.push(dir);
  return dir;
};
afterEach(() => {
  process.env['PATH'] = realPath;
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** What the bed leaves in the machine's network: nothing, after any start that failed. */
const leftovers = () =>
  execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' })
    .split('\n')
    .filter((line) => / ap-/.test(line))
    .concat(
      execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
        .split('\n')
        .filter((n) => n.startsWith('ap-')),
    );

/** This PATH's commands, each linked into one folder, but for those `hidden` matches. */
function pathWithout(hidden: RegExp): string {
  const dir = folder();
  for (const entry of realPath.split(delimiter).filter(existsSync)) {
    for (const name of readdirSync(entry)) {
      if (hidden.test(name) || existsSync(join(dir, name))) continue;
      symlinkSync(join(entry, name), join(dir, name));
    }
  }
  return dir;
}

describe('a start that cannot work', () => {
  it('fails before anything is built or started, naming a missing command and the one that installs it', async () => {
    process.env['PATH'] = pathWithout(/^iptables/);
    const progress: string[] = []; // every build and start step logs here
    const error = await startStack({ log: (line) => progress.push(line) }).then(() => undefined, messageOf);
    expect(error).toContain('this machine cannot run the test bed');
    expect(error).toContain('apt-get update && apt-get install -y --no-install-recommends iptables');
    expect(progress).toEqual([]); // nothing built, nothing started
    expect(leftovers()).toEqual([]);
  });

  it('ends at once when a node stand-in fails, naming it and its command, and keeps the logs', async () => {
    // iptables as installed, but kube-proxy's first rule (PREROUTING; the host check adds to OUTPUT) fails.
    const fake = folder();
    const iptables = execFileSync('bash', ['-c', 'command -v iptables'], { encoding: 'utf8' }).trim();
    writeFileSync(
      join(fake, 'iptables'),
      `#!/bin/sh\ncase "$*" in *PREROUTING*) echo "iptables: simulated failure" >&2; exit 4;; esac\nexec ${iptables} "$@"\n`,
      { mode: 0o755 },
    );
    process.env['PATH'] = `${fake}${delimiter}${realPath}`;
    const error = await startBed({ log: () => undefined }).then(
      (bed) => bed.stop().then(() => 'the bed started'),
      messageOf,
    );
    expect(error).toMatch(/^the node \(kubelet, cluster DNS and kube-proxy stand-ins\) exited/);
    expect(error).toMatch(
      /the kube-proxy stand-in failed: `ip netns exec ap-p\d+ iptables -t nat -A PREROUTING -p tcp --dport \d+ -j REDIRECT --to-ports \d+` exited 4: iptables: simulated failure/,
    );
    const kept = /Its folder is kept: (\S+)/.exec(error)?.[1] ?? '';
    scratch.push(kept);
    expect(readFileSync(join(kept, 'node.log'), 'utf8')).toContain('node: FATAL: the kube-proxy stand-in failed');
    expect(existsSync(join(kept, 'kube-apiserver.log'))).toBe(true);
    expect(leftovers()).toEqual([]);
  }, 300_000);
});
