// What `kn func deploy` does to this repository, replayed step by step on a copy of its tracked
// files: the Paketo Node.js buildpacks in the order and with the environment their source gives
// (paketo-buildpacks node-engine bbb47a79, npm-install 676d359c, node-run-script ae0c7198,
// npm-start b00c0720; read for this test):
//   node-engine   Node from engines.node; NODE_HOME, NODE_ENV=production, NODE_VERBOSE=false,
//                 NODE_OPTIONS=--use-openssl-ca at build and launch, unless already set
//   npm-install   `npm ci --unsafe-perm --cache <layer>` with NODE_ENV=development (devDependencies)
//   node-run-script  `npm run <name>` for each name in BP_NODE_RUN_SCRIPTS
//   npm-install   the launch layer: a copy of node_modules, then `npm prune` with NODE_ENV=production
//   npm-start     `sh start.sh`: the start script in a subshell, SIGTERM/SIGINT forwarded to it
// func.yaml's buildEnvs apply at build, its run envs at launch. The one Node here plays the
// buildpack's: the project's own (this process's), first on PATH, running npm too.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePorts } from '../cluster/processes.js';
import { until } from '../support/wait.js';
import { launchEnvs, readFuncYaml } from '../support/func-yaml.js';
import { kustomize, type Manifest } from '../support/kustomize.js';
import { example, post } from '../support/http.js';
import { repoRoot } from '../support/repo.js';
import { messageOf } from '../support/log.js';

const ROOT = repoRoot;
const LAUNCH_LAYER_LIMIT_MB = 25;

const funcYaml = readFuncYaml();
const envOf = (list: { name: string; value: string }[] = []) => Object.fromEntries(list.map((e) => [e.name, e.value]));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };

const dir = mkdtempSync(join(tmpdir(), 'buildpack-'));
const app = join(dir, 'workspace');
const nodeLayer = join(dir, 'node-layer');
/** node-engine's layer: the Node (and, through PATH, the npm) every step runs on. */
const enginePath = [
  join(nodeLayer, 'bin'),
  ...(process.env['PATH'] ?? '').split(delimiter).filter((p) => !p.includes('node_modules')),
].join(delimiter);
const engineEnv = {
  NODE_HOME: nodeLayer,
  NODE_VERBOSE: 'false',
  NODE_OPTIONS: '--use-openssl-ca',
  NPM_CONFIG_LOGLEVEL: 'error',
  HOME: join(dir, 'home'),
};
const buildEnv: Record<string, string> = {
  ...engineEnv,
  PATH: enginePath,
  NODE_ENV: 'development',
  ...envOf(funcYaml.build.buildEnvs),
};

function step(cmd: string, args: string[], env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd: app, env, timeout: 300_000, maxBuffer: 32 << 20 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${cmd} ${args.join(' ')} failed: ${error.message}\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

function bytesUnder(path: string): number {
  const st = lstatSync(path);
  if (!st.isDirectory()) return st.size;
  return readdirSync(path).reduce((sum, name) => sum + bytesUnder(join(path, name)), 0);
}

/** npm-start's start.sh: the start script in a subshell whose exit status becomes the process's. */
function startScript(): string {
  const s = pkg.scripts;
  const command = [s['prestart'], `${s['start']} $@`, s['poststart']].filter(Boolean).join(' && ');
  return `trap 'kill -TERM $CPID' TERM\ntrap 'kill -INT $CPID' INT\n( ${command} ) &\nCPID="$!"\nwait $CPID\ntrap - TERM INT\nwait $CPID\n`;
}

interface Launched {
  url: string;
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}
const launched: Launched[] = [];

/** Launches the image's web process as the lifecycle would: `sh start.sh` with the launch environment. */
async function launch(extra: Record<string, string> = {}): Promise<Launched> {
  const [port] = (await freePorts(1)) as [number];
  const env = {
    ...engineEnv,
    PATH: [enginePath, join(app, 'node_modules/.bin')].join(delimiter),
    NODE_ENV: 'production',
    NODE_PROJECT_PATH: app,
    PORT: String(port), // Knative sets 8080, where kn func's probes look; any free port here
    ...launchEnvs(wiring, funcYaml), // with config/knative/base's ConfigMap, as a deploy after it has them
    ...extra,
  };
  const child = spawn('sh', [join(app, 'start.sh')], { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      resolve(code);
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  const self: Launched = { url, child, stdout: () => stdout, stderr: () => stderr, exited };
  launched.push(self);
  await until(
    'the launched function to answer its readiness probe',
    async () => (await fetch(`${url}/health/readiness`).catch(() => undefined))?.ok,
    15_000,
  ).catch((error: unknown) => {
    throw new Error(`${messageOf(error)}\nstdout: ${stdout}\nstderr: ${stderr}`);
  });
  return self;
}

/** SIGTERM as the kubelet sends it to the container's process; resolves with its exit code and how long draining took. */
async function terminate(l: Launched): Promise<{ code: number | null; ms: number }> {
  const t0 = performance.now();
  l.child.kill('SIGTERM');
  const code = await l.exited;
  return { code, ms: performance.now() - t0 };
}

let launchLayerBytes = 0;
let wiring: Manifest[] = [];

beforeAll(async () => {
  wiring = await kustomize('config/knative/base');
  // The copy: tracked files only, as a fresh clone has them (no node_modules, dist or .cache).
  const files = (
    await new Promise<string>((resolve, reject) =>
      execFile('git', ['ls-files', '-z'], { cwd: ROOT, maxBuffer: 16 << 20 }, (e, out) => {
        if (e) reject(new Error(`git ls-files: ${e.message}`));
        else resolve(out);
      }),
    )
  )
    .split('\0')
    .filter(Boolean);
  for (const file of files) {
    if (!existsSync(join(ROOT, file))) continue; // deleted in the work tree, not yet committed
    mkdirSync(dirname(join(app, file)), { recursive: true });
    copyFileSync(join(ROOT, file), join(app, file));
  }
  mkdirSync(join(nodeLayer, 'bin'), { recursive: true });
  mkdirSync(engineEnv.HOME);
  symlinkSync(process.execPath, join(nodeLayer, 'bin/node'));

  const cache = (await step('npm', ['config', 'get', 'cache'], buildEnv)).trim();
  await step('npm', ['ci', '--unsafe-perm', '--cache', cache], buildEnv);
  for (const script of (buildEnv['BP_NODE_RUN_SCRIPTS'] ?? 'build').split(',')) {
    await step('npm', ['run', script.trim()], buildEnv);
  }
  await step('npm', ['prune', '--cache', cache], { ...buildEnv, NODE_ENV: 'production' });
  launchLayerBytes = bytesUnder(join(app, 'node_modules'));
  writeFileSync(join(app, 'start.sh'), startScript());
}, 600_000);

afterAll(() => {
  for (const l of launched) if (l.child.exitCode === null && l.child.signalCode === null) l.child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('the Paketo Node.js buildpack sequence for func.yaml', () => {
  it("builds on the buildpack's own Node: npm links no node_modules/.bin/node that would shadow it in `npm run build`", () => {
    // The V8 code cache the build writes is accepted only by the Node that wrote it; at launch
    // that is node-engine's, so the build must run on it too, not on the `node` devDependency.
    expect(buildEnv['NPM_CONFIG_BIN_LINKS'], 'func.yaml buildEnvs').toBe('false');
    expect(existsSync(join(app, 'node_modules/.bin/node'))).toBe(false);
    expect(existsSync(join(app, 'dist/main.cjs.cache'))).toBe(true);
  });

  it(`leaves a launch layer of at most ${LAUNCH_LAYER_LIMIT_MB} MB: node_modules holds only what the function loads`, () => {
    expect(launchLayerBytes / 2 ** 20).toBeLessThanOrEqual(LAUNCH_LAYER_LIMIT_MB);
  });

  it("starts from the pruned tree, answers kn func's probes and real CloudEvents, runs from its code cache, drains on SIGTERM", async () => {
    const fn = await launch();
    for (const path of ['/health/liveness', '/health/readiness'])
      expect((await fetch(`${fn.url}${path}`)).status, path).toBe(200);
    for (const mode of ['binary', 'structured'] as const) {
      const added = await post(`${fn.url}/`, example('add'), mode);
      expect(added.status, added.text).toBe(200);
      expect(added.json?.['decision']).toMatchObject({ kind: 'advance', phase: 'provision' });
      expect((await post(`${fn.url}/`, example('update-not-due'), mode)).status).toBe(503);
      expect((await post(`${fn.url}/`, example('invalid-spec'), mode)).status).toBe(400);
    }
    expect(fn.stdout()).toMatch(/DRY-RUN MODE/);
    const { code, ms } = await terminate(fn);
    expect(code, fn.stderr()).toBe(0);
    expect(ms, "draining took longer than a fifth of Knative's 30 s grace period").toBeLessThan(6_000);
    expect(fn.stdout()).toMatch(/"msg":"stopped"/);
    expect(fn.stderr(), 'nothing on stderr: no code-cache warning, no Node warning').toBe('');
  });

  it('keeps its code cache under the heap limit node-engine sets when BP_NODE_OPTIMIZE_MEMORY is on', async () => {
    // exec.d optimize-memory: NODE_OPTIONS gains --max_old_space_size=75% of the container's memory.
    const fn = await launch({
      MEMORY_AVAILABLE: '512',
      NODE_OPTIONS: `${engineEnv.NODE_OPTIONS} --max_old_space_size=384`,
    });
    expect((await post(`${fn.url}/`, example('finished'), 'binary')).status).toBe(200);
    expect((await terminate(fn)).code).toBe(0);
    expect(fn.stderr()).toBe('');
  });

  it('says so on stderr when the code cache is missing, and still serves', async () => {
    rmSync(join(app, 'dist/main.cjs.cache'));
    const fn = await launch();
    expect((await post(`${fn.url}/`, example('finished'), 'structured')).status).toBe(200);
    expect((await terminate(fn)).code).toBe(0);
    expect(fn.stderr()).toMatch(/no code cache at .*main\.cjs\.cache/);
  });
});
