// Runs a checker with `input` on its stdin and resolves to its stdout; rejects with its stderr
// when it exits non-zero (the ecosystem's own tools: kstatus, Prometheus's parser, Lua).
import { spawn } from 'node:child_process';

export function pipeThrough(exe: string, args: string[], input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(exe, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (err += d));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${exe} exited ${code}: ${err}`))));
    child.stdin.end(input);
  });
}
