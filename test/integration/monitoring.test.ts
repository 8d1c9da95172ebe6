// config/monitoring as Prometheus's own tools and kubectl read it. promtool (built from
// github.com/prometheus/prometheus by test/prometheus/build.sh) checks the shipped
// PrometheusRule's rules and runs the unit tests of test/monitoring/ on them: the rule file it
// reads is that object's spec, written here, so the rules exist in one place only. kubectl
// kustomize renders the PodMonitor and the PrometheusRule, and the PodMonitor's selector and port
// are checked against the Knative Serving source the test bed builds.
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { Metrics } from '../../functions/advance-phase/src/metrics.js';
import { Admin } from '../support/admin.js';
import { repoRoot } from '../support/repo.js';

const admin = new Admin(inject('cluster'));
const run = promisify(execFile);
const RULE = 'config/monitoring/prometheusrule.yaml';
const TESTS = 'test/monitoring';
/** The name the unit tests give the rule file (their rule_files). */
const RULE_FILE = 'advance-phase.rules.yaml';

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  annotations?: Record<string, string>;
}
interface RuleGroup {
  name: string;
  rules: Rule[];
}
interface UnitTests {
  rule_files: string[];
  tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[];
}

const spec = (parse(readFileSync(RULE, 'utf8')) as { spec: { groups: RuleGroup[] } }).spec;
const alerts = spec.groups.flatMap((g) => g.rules).filter((r): r is Rule & { alert: string } => !!r.alert);
const testFiles = readdirSync(TESTS).filter((f) => f.endsWith('.test.yaml'));

let promtool = '';
let dir = '';
beforeAll(async () => {
  // Built by the global setup (minutes cold); here it is found in the cache.
  promtool = join((await run('bash', ['test/prometheus/build.sh'], { timeout: 290_000 })).stdout.trim(), 'promtool');
  dir = mkdtempSync(join(tmpdir(), 'monitoring-'));
  writeFileSync(join(dir, RULE_FILE), stringify(spec));
  for (const file of testFiles) copyFileSync(join(TESTS, file), join(dir, file));
}, 300_000);
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** promtool's output; when it fails, an error that carries all of it. */
async function runPromtool(...args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await run(promtool, args, { cwd: dir });
    return stdout + stderr;
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    throw new Error(`promtool ${args.join(' ')} failed:\n${stdout}${stderr}`, { cause: error });
  }
}

describe('the PrometheusRule, by promtool', () => {
  it('check rules: valid, and clean of every lint', async () => {
    expect(await runPromtool('check', 'rules', '--lint=all', '--lint-fatal', RULE_FILE)).toContain('SUCCESS');
  });

  it.each(testFiles)('test rules %s', async (file) => {
    expect(await runPromtool('test', 'rules', file)).toContain('SUCCESS');
  });

  it('each alert has a unit test where it fires and one where it does not', () => {
    const cases = testFiles.flatMap((file) => {
      const unit = parse(readFileSync(join(TESTS, file), 'utf8')) as UnitTests;
      expect(unit.rule_files).toEqual([RULE_FILE]);
      return unit.tests.flatMap((t) => t.alert_rule_test ?? []);
    });
    for (const { alert } of alerts) {
      const mine = cases.filter((c) => c.alertname === alert);
      expect(
        mine.some((c) => (c.exp_alerts ?? []).length > 0),
        `${alert} fires in a test`,
      ).toBe(true);
      expect(
        mine.some((c) => (c.exp_alerts ?? []).length === 0),
        `${alert} stays silent in a test`,
      ).toBe(true);
    }
  });
});

describe('the PrometheusRule, as written', () => {
  it('reads only series the function exports', async () => {
    const families = await new Metrics({ processMetrics: false }).registry.getMetricsAsJSON();
    const exported = families.flatMap(({ name, type }) =>
      String(type) === 'histogram' ? [`${name}_bucket`, `${name}_count`, `${name}_sum`] : [name],
    );
    // Series names, not the recording rules' level:metric:operation names that contain them.
    const read = new Set(
      spec.groups.flatMap((g) => g.rules.flatMap((r) => r.expr.match(/(?<![\w:])advance_phase_\w+(?![\w:])/g) ?? [])),
    );
    expect(read.size).toBeGreaterThan(5);
    for (const name of read) expect(exported, name).toContain(name);
  });

  it('every alert has a summary, a description and a runbook line whose section exists', () => {
    const anchors = readFileSync('docs/monitoring.md', 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('#'))
      .map((line) =>
        line
          .replace(/^#+\s*/, '')
          .toLowerCase()
          .replace(/[^\w\- ]/g, '')
          .replace(/ /g, '-'),
      );
    for (const { alert, annotations = {} } of alerts) {
      expect(Object.keys(annotations).sort(), alert).toEqual(['description', 'runbook', 'summary']);
      const anchor = /docs\/monitoring\.md#([\w-]+)$/.exec(annotations['runbook'] ?? '')?.[1];
      expect(anchor, `${alert}'s runbook ends with its section in docs/monitoring.md`).toBe(alert.toLowerCase());
      expect(anchors, alert).toContain(anchor);
    }
  });
});

describe('kubectl kustomize config/monitoring', () => {
  const knativeNamespace = (
    parse(readFileSync('config/knative/base/kustomization.yaml', 'utf8')) as { namespace: string }
  ).namespace;
  const serviceName = (parse(readFileSync('func.yaml', 'utf8')) as { name: string }).name;
  let objects: { kind: string; metadata: { name: string; namespace?: string }; spec: Record<string, unknown> }[] = [];
  beforeAll(async () => {
    objects = parseAllDocuments(await admin.kubectl('kustomize', 'config/monitoring')).map(
      (d) => d.toJS() as (typeof objects)[number],
    );
  });

  it('renders the PodMonitor and the PrometheusRule, in the function namespace', () => {
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
      `PodMonitor/${serviceName}`,
      `PrometheusRule/${serviceName}`,
    ]);
    for (const o of objects) expect(o.metadata.namespace, o.kind).toBe(knativeNamespace);
    expect(objects.find((o) => o.kind === 'PrometheusRule')?.spec).toEqual(spec);
  });

  it("the PodMonitor scrapes /metrics on the pods of the function's Knative Service, at the user container's port", async () => {
    const monitor = objects.find((o) => o.kind === 'PodMonitor')?.spec as {
      selector: { matchLabels: Record<string, string> };
      podMetricsEndpoints: { port: string; path: string }[];
    };
    expect(monitor.selector.matchLabels).toEqual({ 'serving.knative.dev/service': serviceName });
    expect(monitor.podMetricsEndpoints.map(({ port, path }) => ({ port, path }))).toEqual([
      { port: 'user-port', path: '/metrics' },
    ]);
    // What Serving names them, in the Serving the test bed runs (test/serving's go.mod).
    const serving = (
      await run('go', ['list', '-m', '-f', '{{.Dir}}', 'knative.dev/serving'], { cwd: join(repoRoot, 'test/serving') })
    ).stdout.trim();
    const source = (file: string) => readFileSync(join(serving, file), 'utf8');
    expect(source('pkg/apis/serving/v1/revision_helpers.go')).toMatch(/\bUserPortName = "user-port"/);
    expect(source('pkg/apis/serving/register.go')).toMatch(/\bServiceLabelKey = GroupName \+ "\/service"/);
    expect(source('pkg/apis/serving/register.go')).toMatch(/\bGroupName = "serving\.knative\.dev"/);
    // The pod's user-port serves the function's own routes: /metrics is one of them.
    expect(readFileSync('functions/advance-phase/src/app.ts', 'utf8')).toContain("app.get('/metrics'");
  });
});
