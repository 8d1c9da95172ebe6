// npm run build: what `npm start` and the buildpack run, in dist/:
//   main.cjs        the function, one minified bundle. Bundling drops the parts of
//                   @kubernetes/client-node the function never uses (its generated API clients).
//   index.js        the entry (src/boot.ts): runs main.cjs from V8's code cache.
//   main.cjs.cache  that cache, written by a warm-up run of the built function.
// Cold start is mostly compiling JavaScript, so every step here is about loading less of it.
import { build } from 'esbuild';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const common = { bundle: true, platform: 'node', target: 'node24', minify: true, logLevel: 'warning' };
const cache = 'dist/main.cjs.cache';

rmSync('dist', { recursive: true, force: true });
await build({
  ...common,
  entryPoints: ['functions/advance-phase/src/index.ts'],
  outfile: 'dist/main.cjs',
  format: 'cjs',
  sourcemap: true,
  // Required when their packages load, never called on the function's paths: see each stub.
  alias: { 'iconv-lite': './scripts/stubs/iconv-lite.cjs', 'whatwg-url': './scripts/stubs/whatwg-url.cjs' },
});
await build({
  ...common,
  entryPoints: ['functions/advance-phase/src/boot.ts'],
  outfile: 'dist/index.js',
  format: 'esm',
});
await warmUp();

/**
 * Runs the built function in real mode against an API server that is not there, answers one event
 * of each kind (done, wait, and an advance whose patch fails), and lets it write the code cache as
 * it exits. Same `node` and no flags, exactly as `npm start`, or V8 would reject the cache.
 */
async function warmUp() {
  const dir = mkdtempSync(join(tmpdir(), 'advance-phase-build-'));
  let failed = () => {};
  try {
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, unreachableKubeconfig());
    const port = await freePort();
    const child = spawn(process.execPath, ['dist/index.js'], {
      // SENDER_AUTH=none: with no API server to read the senders from, `auto` would answer 503.
      env: {
        ...process.env,
        PORT: String(port),
        KUBECONFIG: kubeconfig,
        LOG_LEVEL: 'silent',
        DRY_RUN: '',
        SENDER_AUTH: 'none',
        ADVANCE_PHASE_WRITE_CODE_CACHE: cache,
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    // A failed warm-up must not leave the function running: it holds the caller's stdio open.
    failed = () => child.kill('SIGKILL');
    const url = `http://127.0.0.1:${port}`;
    await waitReady(`${url}/health/readiness`, exited);
    for (const [name, expected] of [
      ['delete', 200],
      ['update-not-due', 503],
      ['update-due', 500],
      ['not-an-action', 400],
    ]) {
      const body = readFileSync(`examples/events/${name}.json`, 'utf8');
      const res = await fetch(`${url}/`, {
        method: 'POST',
        headers: { 'content-type': 'application/cloudevents+json' },
        body,
      });
      await res.arrayBuffer();
      if (res.status !== expected)
        throw new Error(`warm-up: ${name}.json answered ${res.status}, expected ${expected}`);
    }
    child.kill('SIGTERM');
    const code = await exited;
    if (code !== 0 || !existsSync(cache))
      throw new Error(`warm-up exited ${code} and wrote ${existsSync(cache) ? '' : 'no '}${cache}`);
  } catch (error) {
    failed();
    throw error;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function unreachableKubeconfig() {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'none', cluster: { server: 'https://127.0.0.1:1', 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'none', user: { token: 'none' } }],
    contexts: [{ name: 'none', context: { cluster: 'none', user: 'none' } }],
    'current-context': 'none',
  });
}

async function waitReady(url, exited) {
  let gone = false;
  exited.then(() => (gone = true));
  for (let i = 0; i < 200 && !gone; i++) {
    const res = await fetch(url).catch(() => undefined);
    if (res?.ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`warm-up: the built function never became ready at ${url}`);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}
