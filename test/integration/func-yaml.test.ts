// func.yaml as `kn func deploy` sees it, checked with kn func's own parts (knative.dev/func
// v0.50.1, built by test/funcyaml/build.sh): its JSON schema for func.yaml, and its Go loader
// (fn.NewFunction + the "initialized" check + Validate, as cmd/deploy.go runs them). What the
// buildpacks then do with the folder is test/integration/buildpack.test.ts. No cluster needed.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments, parseDocument } from 'yaml';
import { loadConfig } from '../../functions/advance-phase/src/config.js';
import { deployedEnvs, launchEnvs } from '../support/func-yaml.js';
import { kustomize } from '../support/kustomize.js';
import { repoRoot } from '../support/repo.js';
import { IMAGE_NAME, renderService, SERVICE_FILE } from '../funcyaml/gen-service.js';

const ROOT = repoRoot;
const FUNC_YAML = join(ROOT, 'func.yaml');

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
  ignored: Record<string, boolean>;
}

let funcyaml = '';
let validate: ValidateFunction;
const tmpDirs: string[] = [];

// Paths whose place in kn func's build context the summary reports (see `ignored`).
const CONTEXT_PROBES = [
  'node_modules',
  'node_modules/.bin/node',
  'dist',
  'dist/main.cjs',
  '.cache',
  'package.json',
  'package-lock.json',
  'scripts/build.mjs',
  'functions/advance-phase/src/index.ts',
];

/** Runs the Go loader on a directory holding `yaml` as its func.yaml, beside the repository's .funcignore. */
async function loadWithKnFunc(yaml: string): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'funcyaml-'));
  tmpDirs.push(dir);
  writeFileSync(join(dir, 'func.yaml'), yaml);
  writeFileSync(join(dir, '.funcignore'), readFileSync(join(ROOT, '.funcignore')));
  return run(funcyaml, [dir, ...CONTEXT_PROBES], 30_000);
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
    expect(
      errors.some(
        (e) =>
          e.instancePath === '' && e.keyword === 'additionalProperties' && e.params['additionalProperty'] === 'bogus',
      ),
      explain(errors),
    ).toBe(true);
  });

  it('rejects an unknown builder (negative control)', () => {
    const doc = parse(readFileSync(FUNC_YAML, 'utf8')) as { build: { builder: string } };
    doc.build.builder = 'nonsense';
    const errors = schemaErrors(doc);
    expect(
      errors.some((e) => e.instancePath === '/build/builder' && e.keyword === 'enum'),
      explain(errors),
    ).toBe(true);
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

  it("reads WAIT_MODE, SENDERS and SENDER_AUDIENCE from config/knative's ConfigMap, references kn func's deployer turns into configMapKeyRefs", async () => {
    const keys = ['WAIT_MODE', 'SENDERS', 'SENDER_AUDIENCE'];
    for (const key of keys) {
      expect(summary.run.envs).toContainEqual({ name: key, value: `{{ configMap:advance-phase:${key} }}` });
      expect(deployedEnvs()).toContainEqual({
        name: key,
        valueFrom: { configMapKeyRef: { name: 'advance-phase', key } },
      });
    }
    // base/ ships the ConfigMap they read, with the function's own defaults where it is installed by default.
    const defaults = loadConfig({});
    const launched = launchEnvs(await kustomize('config/knative/base'));
    expect(launched).toMatchObject({ WAIT_MODE: 'retry-after' });
    expect(loadConfig(launched)).toMatchObject({
      SENDERS: defaults.SENDERS,
      SENDER_AUDIENCE: defaults.SENDER_AUDIENCE,
    });
  });

  it('understands the function as intended', () => {
    const serviceAccounts = parseAllDocuments(
      readFileSync(join(ROOT, 'config/knative/base/function-rbac.yaml'), 'utf8'),
    )
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

  it('leaves local build products out of the build context (.funcignore as kn func reads it), and nothing the build needs', () => {
    // With node_modules in the context the buildpack would `npm rebuild` it instead of `npm ci`.
    expect(summary.ignored).toEqual({
      node_modules: true,
      'node_modules/.bin/node': true,
      dist: true,
      'dist/main.cjs': true,
      '.cache': true,
      'package.json': false,
      'package-lock.json': false,
      'scripts/build.mjs': false,
      'functions/advance-phase/src/index.ts': false,
    });
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

interface ServiceLabels {
  metadata: { labels: Record<string, string> };
  spec: { template: { metadata: { labels: Record<string, string> } } };
}

describe("the Knative Service kn func's deployer makes of func.yaml (test/funcyaml's funcdeploy --print-service)", () => {
  it("carries Kubernetes' recommended labels, on the Service and on its revisions' pods, at package.json's version", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'funcdeploy-'));
    tmpDirs.push(dir);
    writeFileSync(join(dir, 'func.yaml'), readFileSync(FUNC_YAML));
    // An image on a loopback registry: the deployer's registry lookup stays on this machine.
    const printed = await run(
      join(dirname(funcyaml), 'funcdeploy'),
      ['--print-service', dir, 'advance-phase', 'localhost:5000/advance-phase'],
      60_000,
    );
    expect(printed.code, printed.stderr).toBe(0);
    const service = JSON.parse(printed.stdout) as ServiceLabels;
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const expected = {
      'app.kubernetes.io/name': 'advance-phase',
      'app.kubernetes.io/part-of': 'advance-phase',
      'app.kubernetes.io/component': 'function',
      'app.kubernetes.io/version': version,
    };
    expect(service.metadata.labels).toMatchObject(expected);
    expect(service.spec.template.metadata.labels).toMatchObject(expected);
  });
});

describe('config/knative/function/service.yaml, the function for GitOps', () => {
  it("is what kn func's deployer makes of func.yaml now, without its deploy-time BUILT (run: npx tsx test/funcyaml/gen-service.ts)", async () => {
    const rendered = await renderService(join(dirname(funcyaml), 'funcdeploy'));
    expect(readFileSync(SERVICE_FILE, 'utf8')).toBe(rendered);
  });

  it("is in what kubectl kustomize config/knative builds, with the image a kustomization's images: gives", async () => {
    const services = (await kustomize('config/knative')).filter((o) => o.apiVersion === 'serving.knative.dev/v1');
    expect(services.map((o) => `${o.kind}/${o.metadata.name}/${String(o.metadata.namespace)}`)).toEqual([
      'Service/advance-phase/advance-phase',
    ]);
    const image = (services[0] as unknown as { spec: { template: { spec: { containers: { image: string }[] } } } }).spec
      .template.spec.containers[0]?.image;
    expect(image).toBe(IMAGE_NAME);
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
    const result = await loadWithKnFunc(
      variant((doc) => {
        doc.setIn(['deploy', 'options', 'scale', 'min'], -1);
      }),
    );
    expect(result.code, result.stdout).toBe(1);
    expect(result.stderr).toMatch(/validation failed[\s\S]*scale\.min/);
  });

  it('reports an unknown key that kn func itself only warns about', async () => {
    const result = await loadWithKnFunc(
      variant((doc) => {
        doc.set('bogus', 1);
      }),
    );
    expect(result.code, result.stderr).toBe(0);
    expect((JSON.parse(result.stdout) as Summary).strictDecodeErrors.join('\n')).toMatch(/field bogus not found/);
  });
});
