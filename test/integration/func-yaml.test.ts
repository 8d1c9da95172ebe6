// func.yaml as `kn func deploy` sees it, checked with kn func's own parts (knative.dev/func
// v0.50.1, built by test/funcyaml/build.sh): its JSON schema for func.yaml, and its Go loader
// (fn.NewFunction + the "initialized" check + Validate, as cmd/deploy.go runs them). Plus what the
// Paketo Node buildpacks need from package.json: `npm start` must only need runtime dependencies.
// No cluster needed.
import { execFile, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments, parseDocument } from 'yaml';
import { freePorts } from '../cluster/processes.js';
import { until } from '../support/chain.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FUNC_YAML = join(ROOT, 'func.yaml');
const SRC_DIR = join(ROOT, 'functions/advance-phase/src');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], timeout: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd: ROOT, timeout, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') {
        reject(new Error(`${cmd} ${args.join(' ')} did not run: ${error.message}\n${stderr}`));
        return;
      }
      resolve({ code: error ? (error.code as number) : 0, stdout, stderr });
    });
  });
}

// What test/funcyaml/main.go prints.
interface EnvSummary {
  name: string | null;
  value: string | null;
}
interface Summary {
  root: string;
  specVersion: string;
  created: string;
  name: string;
  runtime: string;
  invoke: string;
  build: { builder: string; buildEnvs: EnvSummary[] };
  run: { envs: EnvSummary[] };
  deploy: {
    serviceAccountName: string;
    options: { scale: { min: number | null; max: number | null } };
    healthEndpoints: { liveness: string; readiness: string };
  };
  strictDecodeErrors: string[];
}

let funcyaml = '';
let validate: ValidateFunction;
const tmpDirs: string[] = [];

/** Runs the Go loader on a directory holding `yaml` as its func.yaml. */
async function loadWithKnFunc(yaml: string): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'funcyaml-'));
  tmpDirs.push(dir);
  writeFileSync(join(dir, 'func.yaml'), yaml);
  return run(funcyaml, [dir], 30_000);
}

beforeAll(async () => {
  const built = await run('bash', [join(ROOT, 'test/funcyaml/build.sh')], 290_000);
  if (built.code !== 0) {
    throw new Error(`test/funcyaml/build.sh failed (exit ${built.code}):\n${built.stderr}${built.stdout}`);
  }
  const lines = built.stdout.trim().split('\n');
  if (lines.length !== 1 || !lines[0]) {
    throw new Error(`test/funcyaml/build.sh should print one path, printed:\n${built.stdout}`);
  }
  funcyaml = lines[0];

  // kn func's schema says draft-04 in `$schema`, but uses nothing whose meaning differs in
  // draft-07 (no boolean exclusiveMinimum/Maximum, no `id`): Ajv 8 checks it as draft-07.
  const text = readFileSync(join(dirname(funcyaml), 'func_yaml-schema.json'), 'utf8');
  if (/"exclusive(Minimum|Maximum)"\s*:\s*(true|false)|"id"\s*:\s*"/.test(text)) {
    throw new Error('func_yaml-schema.json uses draft-04-only keywords: check it with a draft-04 validator');
  }
  const schema = JSON.parse(text, (key, value: unknown) => (key === '$schema' ? undefined : value)) as object;
  // strictRequired off: Volume's oneOf branches require keys that are declared outside them.
  const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false });
  // The one format the schema uses (`created`); Go's yaml.v2 reads it into a time.Time.
  ajv.addFormat('date-time', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/i);
  validate = ajv.compile(schema);
}, 300_000);

afterAll(() => {
  for (const dir of tmpDirs) rmSync(dir, { recursive: true, force: true });
});

const explain = (errors: ErrorObject[] | null | undefined): string =>
  (errors ?? []).map((e) => `  ${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`).join('\n');

function schemaErrors(doc: unknown): ErrorObject[] {
  return validate(doc) ? [] : [...(validate.errors ?? [])];
}

describe("func.yaml against kn func's JSON schema (schema/func_yaml-schema.json)", () => {
  it('validates', () => {
    const errors = schemaErrors(parse(readFileSync(FUNC_YAML, 'utf8')));
    expect(errors, `func.yaml does not match kn func's schema:\n${explain(errors)}`).toEqual([]);
  });

  it('rejects an unknown top-level key (negative control)', () => {
    const doc = { ...(parse(readFileSync(FUNC_YAML, 'utf8')) as Record<string, unknown>), bogus: 1 };
    const errors = schemaErrors(doc);
    expect(errors.some((e) => e.instancePath === '' && e.keyword === 'additionalProperties' && e.params['additionalProperty'] === 'bogus'), explain(errors)).toBe(true);
  });

  it('rejects an unknown builder (negative control)', () => {
    const doc = parse(readFileSync(FUNC_YAML, 'utf8')) as { build: { builder: string } };
    doc.build.builder = 'nonsense';
    const errors = schemaErrors(doc);
    expect(errors.some((e) => e.instancePath === '/build/builder' && e.keyword === 'enum'), explain(errors)).toBe(true);
  });
});

describe("func.yaml through kn func's loader (NewFunction, initialized check, Validate)", () => {
  let summary: Summary;

  beforeAll(async () => {
    // On a copy: NewFunction writes a .gitignore into the folder it loads.
    const loaded = await loadWithKnFunc(readFileSync(FUNC_YAML, 'utf8'));
    if (loaded.code !== 0) {
      throw new Error(`kn func deploy would refuse func.yaml (funcyaml exit ${loaded.code}):\n${loaded.stderr}`);
    }
    summary = JSON.parse(loaded.stdout) as Summary;
  });

  it('reads every key (no unknown keys or mistyped values, which kn func would drop with a warning)', () => {
    expect(summary.strictDecodeErrors).toEqual([]);
  });

  it('understands the function as intended', () => {
    const serviceAccounts = parseAllDocuments(readFileSync(join(ROOT, 'config/knative/function-rbac.yaml'), 'utf8'))
      .map((d) => d.toJS() as { kind?: string; metadata?: { name?: string } } | null)
      .filter((d) => d?.kind === 'ServiceAccount');
    expect(serviceAccounts).toHaveLength(1);
    const serviceAccount = serviceAccounts[0]?.metadata?.name;
    expect(serviceAccount).toBeTruthy();

    expect(summary.name).toBe('advance-phase');
    expect(summary.runtime).toBe('typescript');
    expect(summary.invoke).toBe('cloudevent');
    expect(summary.build.builder).toBe('pack');
    expect(summary.build.buildEnvs).toContainEqual({ name: 'BP_NODE_RUN_SCRIPTS', value: 'build' });
    expect(summary.deploy.serviceAccountName).toBe(serviceAccount);
    expect(summary.deploy.options.scale.min).toBe(0);
    expect(summary.deploy.healthEndpoints).toEqual({ liveness: '/health/liveness', readiness: '/health/readiness' });
  });

  it('reads the same values as the YAML parser the schema check used', () => {
    const doc = parse(readFileSync(FUNC_YAML, 'utf8')) as {
      specVersion: string;
      build?: { buildEnvs?: EnvSummary[] };
      run?: { envs?: EnvSummary[] };
      deploy?: { options?: { scale?: { max?: number } } };
    };
    expect(summary.specVersion).toBe(doc.specVersion);
    expect(summary.build.buildEnvs).toEqual(doc.build?.buildEnvs ?? []);
    expect(summary.run.envs).toEqual(doc.run?.envs ?? []);
    expect(summary.deploy.options.scale.max).toBe(doc.deploy?.options?.scale?.max ?? null);
  });
});

describe('the Go loader can fail (negative controls)', () => {
  // The real func.yaml, with `created` set so that only the planted fault can fail it.
  const variant = (edit: (doc: ReturnType<typeof parseDocument>) => void): string => {
    const doc = parseDocument(readFileSync(FUNC_YAML, 'utf8'));
    doc.set('created', '2025-01-01T00:00:00Z');
    edit(doc);
    return doc.toString();
  };

  it('refuses a func.yaml with no `created` stamp, as kn func deploy does', async () => {
    const result = await loadWithKnFunc(variant((doc) => doc.delete('created')));
    expect(result.code, result.stdout).toBe(1);
    expect(result.stderr).toMatch(/does not contain an initialized function/);
  });

  it('fails Validate() on a negative scale.min', async () => {
    const result = await loadWithKnFunc(variant((doc) => doc.setIn(['deploy', 'options', 'scale', 'min'], -1)));
    expect(result.code, result.stdout).toBe(1);
    expect(result.stderr).toMatch(/validation failed[\s\S]*scale\.min/);
  });

  it('reports an unknown key that kn func itself only warns about', async () => {
    const result = await loadWithKnFunc(variant((doc) => doc.set('bogus', 1)));
    expect(result.code, result.stderr).toBe(0);
    expect((JSON.parse(result.stdout) as Summary).strictDecodeErrors.join('\n')).toMatch(/field bogus not found/);
  });
});

// Bare packages a TypeScript file loads at run time: `from '...'` (import/export) and
// `import('...')`, without `import type` / `export type` statements, `node:` and relative ones.
function runtimeImports(source: string): Set<string> {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const specifiers: string[] = [];
  for (const m of code.matchAll(/\b(?:import|export)\s+(type\s+)?[\w*{}\s,$]*?\bfrom\s*['"]([^'"]+)['"]/g)) {
    if (!m[1] && m[2]) specifiers.push(m[2]);
  }
  for (const m of code.matchAll(/\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)|\bimport\s+['"]([^'"]+)['"]/g)) {
    const s = m[1] ?? m[2];
    if (s) specifiers.push(s);
  }
  const packages = new Set<string>();
  for (const s of specifiers) {
    if (s.startsWith('.') || s.startsWith('/') || s.startsWith('node:') || isBuiltin(s)) continue;
    const parts = s.split('/');
    packages.add(s.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? s));
  }
  return packages;
}

/** Copies the built dist/ where there is no node_modules, runs `node dist/index.js` there, waits until ready. */
async function startPrunedCopy(prepare?: (dir: string) => void) {
  const dir = mkdtempSync(join(tmpdir(), 'pruned-'));
  tmpDirs.push(dir);
  cpSync(join(ROOT, 'dist'), join(dir, 'dist'), { recursive: true });
  prepare?.(dir);
  const [port] = (await freePorts(1)) as [number];
  const env = { PATH: process.env['PATH'] ?? '', HOME: dir, PORT: String(port), LOG_LEVEL: 'silent' };
  const child = spawn(process.execPath, ['dist/index.js'], { cwd: dir, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const url = `http://127.0.0.1:${port}`;
  const stop = () => child.kill();
  await until('node dist/index.js to be ready', async () => (await fetch(`${url}/health/readiness`).catch(() => undefined))?.ok, 10_000).catch((error: Error) => {
    stop();
    throw new Error(`${error.message}; its stderr: ${stderr}`);
  });
  return { url, stderr: () => stderr, stop };
}

describe('package.json for the Paketo Node buildpacks (npm run build, prune devDependencies, npm start)', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    scripts?: Record<string, string>;
    dependencies?: Record<string, string>;
    devDependencies?: Record<string, string>;
  };

  it('`npm run build` emits a self-contained dist/: `npm start` runs it from its code cache with no node_modules', async () => {
    expect(pkg.scripts?.['start']).toBe('node dist/index.js');
    const built = await run('npm', ['run', 'build'], 120_000);
    expect(built.code, built.stderr).toBe(0);
    const copy = await startPrunedCopy();
    try {
      // A charset in the content type, as many senders write it: the bundle's iconv-lite stand-in
      // throws if body reading ever decodes one.
      const res = await fetch(`${copy.url}/`, {
        method: 'POST',
        headers: { 'content-type': 'application/cloudevents+json; charset=utf-8' },
        body: readFileSync(join(ROOT, 'examples/events/finished.json')),
      });
      expect(res.status).toBe(200);
      expect(copy.stderr(), 'boot warns when it has no usable code cache').toBe('');
    } finally {
      copy.stop();
    }
  });

  it('boot says so when the code cache is missing, and still serves', async () => {
    const copy = await startPrunedCopy((dir) => rmSync(join(dir, 'dist/main.cjs.cache')));
    try {
      await until('the warning on stderr', async () => /no code cache at .*main\.cjs\.cache/.test(copy.stderr()), 5_000);
    } finally {
      copy.stop();
    }
  });

  it('scans imports correctly (control)', () => {
    const sample = [
      "import { z } from 'zod';",
      "import type { KubeConfig } from 'type-only';",
      "import express, {\n  type Request,\n} from 'express';",
      "export { x } from '@scope/pkg/sub';",
      "const m = await import('dynamic/deep');",
      "import 'side-effect';",
      "import { readFileSync } from 'node:fs';",
      "import { join } from 'path';",
      "import { a } from './local.js';",
      "// import { c } from 'commented';",
    ].join('\n');
    expect([...runtimeImports(sample)].sort()).toEqual(['@scope/pkg', 'dynamic', 'express', 'side-effect', 'zod']);
  });

  it('has every package the function imports in dependencies, not only devDependencies', () => {
    const files = readdirSync(SRC_DIR).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'));
    expect(files.length).toBeGreaterThan(0);
    const used = new Map<string, string[]>();
    for (const file of files) {
      for (const p of runtimeImports(readFileSync(join(SRC_DIR, file), 'utf8'))) used.set(p, [...(used.get(p) ?? []), file]);
    }
    expect(used.size).toBeGreaterThan(0);
    const missing = [...used].filter(([p]) => !Object.hasOwn(pkg.dependencies ?? {}, p));
    const detail = missing.map(([p, by]) => `${p} (imported by ${by.join(', ')}${pkg.devDependencies?.[p] ? '; only in devDependencies' : ''})`);
    expect(detail, 'npm start would fail after devDependencies are pruned').toEqual([]);
  });
});
