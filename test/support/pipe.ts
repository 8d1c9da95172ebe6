// Runs a checker with `input` on its stdin and resolves to its stdout; rejects with its stderr
// when it exits non-zero (the ecosystem's own tools: kstatus, Prometheus's parser, Argo CD's health-script runner).
import { spawn } from 'node:child_process';

export function pipeThrough(exe: string, args: string[], input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(exe, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0) resolve(out);
      else reject(new Error(`${exe} exited ${String(code)}: ${err}`));
    });
    child.stdin.end(input);
  });
}
