// `kn func invoke` against the function run the way `npm run local` runs it (dist/index.js, dry-run,
// no cluster), with kn func's own invoke code (knative.dev/func v0.50.1's Client.Invoke, built as
// test/funcyaml's funcinvoke). The commands are read out of README.md and docs/local.md, so the
// documented ones are the tested ones. funcinvoke prints what kn func prints; its --record file
// holds the HTTP exchange, since kn func shows no answer that is not a CloudEvent.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UNSUPPORTED_TYPE_HINT } from '../../functions/advance-phase/src/handler.js';
import { DRY_RUN_ANSWER_TYPE } from '../../functions/advance-phase/src/reply.js';
import { freePorts } from '../cluster/processes.js';
import { repoRoot } from '../support/repo.js';
import { until } from '../support/wait.js';

const run = promisify(execFile);

/** The `kn func invoke` commands of a Markdown file's sh blocks, continuation lines joined, as argv. */
function invokeCommands(markdown: string): string[][] {
  const blocks = [...markdown.matchAll(/^```sh\n([\s\S]*?)^```/gmu)].map((m) => m[1] ?? '');
  return blocks
    .flatMap((block) => block.replace(/\\\n/gu, ' ').split('\n'))
    .map((line) => line.trim())
    .filter((line) => line.startsWith('kn func invoke '))
    .map((line) => line.split(/\s+/u).slice(3));
}

/** `--name value` pairs of an argv (every flag these commands use takes a value). */
function flags(argv: string[]): Map<string, string> {
  const pairs = new Map<string, string>();
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i] ?? '';
    if (!name.startsWith('--') || argv[i + 1] === undefined) throw new Error(`not a --flag value pair at ${name}`);
    pairs.set(name, argv[i + 1] ?? '');
  }
  return pairs;
}

/** The same argv aimed at `url` instead of the documented http://localhost:8080. */
function retarget(argv: string[], url: string): string[] {
  const i = argv.indexOf('--target');
  if (i < 0 || argv[i + 1] !== 'http://localhost:8080')
    throw new Error(`no --target http://localhost:8080 in ${argv.join(' ')}`);
  return argv.map((arg, j) => (j === i + 1 ? url : arg));
}

interface Exchange {
  method: string;
  url: string;
  header: Record<string, string[]>;
  body: string;
  response: { status: number; header: Record<string, string[]>; body: string } | null;
  error?: string;
}

interface Invoked {
  code: number;
  stdout: string;
  stderr: string;
  exchanges: Exchange[];
}

const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
const local = readFileSync(join(repoRoot, 'docs/local.md'), 'utf8');

let funcinvoke = '';
let child: ChildProcess;
let url = '';
let log = '';
let scratch = '';
let runs = 0;

/** funcinvoke from the repository's root, as the docs say to run kn func invoke. */
async function invoke(argv: string[]): Promise<Invoked> {
  const record = join(scratch, `exchange-${++runs}.json`);
  const result = await run(funcinvoke, [...argv, '--record', record], { cwd: repoRoot, timeout: 30_000 }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: unknown) => {
      const failed = error as { code?: unknown; stdout?: string; stderr?: string };
      if (typeof failed.code !== 'number') throw error;
      return { code: failed.code, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
    },
  );
  return { ...result, exchanges: JSON.parse(readFileSync(record, 'utf8')) as Exchange[] };
}

/** The function's JSON log lines, as `npm run local` shows them. */
function logLines(): Record<string, unknown>[] {
  return log
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'invoke-'));
  // global-setup built test/funcyaml already; this is the cached path.
  const built = await run('bash', [join(repoRoot, 'test/funcyaml/build.sh')], { timeout: 290_000 });
  funcinvoke = join(dirname(built.stdout.trim()), 'funcinvoke');
  await run('npm', ['run', 'build'], { cwd: repoRoot, timeout: 120_000 });
  const [port] = (await freePorts(1)) as [number];
  url = `http://127.0.0.1:${port}`;
  // `npm start`'s process with what `npm run local` has on a machine without a kubeconfig: no
  // KUBECONFIG and a HOME without ~/.kube, so dry-run is the function's own choice, as there.
  const unset = new Set(['KUBECONFIG', 'KUBERNETES_SERVICE_HOST', 'DRY_RUN']);
  const env: NodeJS.ProcessEnv = {
    ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !unset.has(name))),
    PORT: String(port),
    HOME: scratch,
    LOG_LEVEL: 'info',
  };
  child = spawn(process.execPath, ['dist/index.js'], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (chunk: Buffer) => (log += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString('utf8')));
  await until(
    'the function to be ready',
    async () => (await fetch(`${url}/health/readiness`).catch(() => undefined))?.ok,
    20_000,
    50,
    () => (child.exitCode === null ? undefined : `exited ${child.exitCode}:\n${log}`),
  );
  expect(log).toContain('DRY-RUN MODE (no kubeconfig and not in a cluster)');
}, 300_000);

afterAll(() => {
  child.kill('SIGTERM');
  rmSync(scratch, { recursive: true, force: true });
});

describe("kn func invoke (kn func v0.50.1's own invoke code) against the function run as `npm run local` runs it", () => {
  const [readmeCommand, ...more] = invokeCommands(readme);

  it('the README shows one kn func invoke command, the first of docs/local.md', () => {
    expect(readmeCommand).toBeDefined();
    expect(more).toEqual([]);
    expect(invokeCommands(local)[0]).toEqual(readmeCommand);
  });

  it("the README's command sends an Action's update event in binary mode; dry-run: advance to provision, printed", async () => {
    const argv = readmeCommand ?? [];
    const documented = flags(argv);
    expect(documented.get('--type')).toBe('dev.knative.apiserver.resource.update');
    const sent = await invoke(retarget(argv, url));

    // kn func shows only a CloudEvent reply: a dry run's answer is one (binary mode), so it is printed.
    expect(sent).toMatchObject({ code: 0, stderr: '' });
    expect(sent.stdout).toContain(`type: ${DRY_RUN_ANSWER_TYPE}`);
    const printed = JSON.parse(sent.stdout.slice(sent.stdout.indexOf('{'))) as unknown;
    expect(printed).toMatchObject({ dryRun: true, decision: { kind: 'advance', phase: 'provision', position: 0 } });
    expect(sent.exchanges).toHaveLength(1);
    const [x] = sent.exchanges as [Exchange];
    expect(x.header).toMatchObject({
      'Ce-Type': ['dev.knative.apiserver.resource.update'],
      'Ce-Source': [documented.get('--source')],
      'Ce-Specversion': ['1.0'],
      'Content-Type': ['application/json'],
    });
    expect(JSON.parse(x.body)).toEqual(
      JSON.parse(readFileSync(join(repoRoot, documented.get('--file') ?? ''), 'utf8')),
    );
    expect(x.response?.status).toBe(200);
    expect(JSON.parse(x.response?.body ?? '')).toMatchObject({
      dryRun: true,
      decision: { kind: 'advance', phase: 'provision', position: 0 },
      patch: expect.arrayContaining([expect.objectContaining({ op: 'add', path: '/status/timestamps/-' })]),
    });
    // And the function's log line carries the decision too.
    const id = x.header['Ce-Id']?.[0];
    await until('the decision in the log', () =>
      logLines().find((l) => l['id'] === id && (l['decision'] as { kind?: string } | undefined)?.kind === 'advance'),
    );
  });

  it("docs/local.md's http-format command posts an example event whole and prints the dry-run answer", async () => {
    const argv = invokeCommands(local)[1] ?? [];
    expect(flags(argv).get('--format')).toBe('http');
    const file = flags(argv).get('--file') ?? '';
    expect(file).toMatch(/^examples\/events\//u);
    const sent = await invoke(retarget(argv, url));
    expect(sent.code).toBe(0);
    expect(sent.stdout).toContain('Warning: invoking as "http", but function declares type "cloudevent" in func.yaml.');
    const printed = JSON.parse(sent.stdout.slice(sent.stdout.indexOf('{'))) as unknown;
    expect(printed).toMatchObject({ dryRun: true, decision: { kind: 'advance', phase: 'configure' } });
    expect(sent.exchanges[0]?.body).toBe(readFileSync(join(repoRoot, file), 'utf8'));
  });

  it("kn func invoke's default event (boson.fn) gets the 400 with the types taken and a hint at the examples and the README's command", async () => {
    const sent = await invoke(['--target', url]);
    // Not shown by kn func (no CloudEvent in the answer), and not an error to it either.
    expect(sent).toMatchObject({ code: 0, stdout: '', stderr: '' });
    const [x] = sent.exchanges as [Exchange];
    expect(x.header['Ce-Type']).toEqual(['boson.fn']);
    expect(x.body).toBe('{"message":"Hello World"}');
    expect(x.response?.status).toBe(400);
    const body = JSON.parse(x.response?.body ?? '') as { reason: string; supported: string[]; hint: string };
    expect(body).toMatchObject({ reason: 'unsupported event type "boson.fn"', hint: UNSUPPORTED_TYPE_HINT });
    expect(body.supported).toContain(flags(readmeCommand ?? []).get('--type'));

    // The hint names the example folder and the README's command: every flag it gives is the
    // README's (its --target is a placeholder, the README's is the local one).
    expect(body.hint).toContain('examples/events/');
    const hinted = flags(body.hint.slice(body.hint.indexOf('kn func invoke ')).split(/\s+/u).slice(3, -1));
    expect(hinted.get('--target')).toBe('<url>');
    hinted.delete('--target');
    const readmeFlags = flags(readmeCommand ?? []);
    for (const [name, value] of hinted) expect(readmeFlags.get(name), name).toBe(value);
    expect([...hinted.keys()].sort()).toEqual([...readmeFlags.keys()].filter((n) => n !== '--target').sort());

    // Where a kn func user reads it: the function's log.
    const id = x.header['Ce-Id']?.[0];
    await until('the refusal in the log', () =>
      logLines().find((l) => l['id'] === id && l['msg'] === 'rejected event' && l['hint'] === UNSUPPORTED_TYPE_HINT),
    );
  });
});
