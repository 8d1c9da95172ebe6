// Settings from the environment: parsed like any other input, with defaults, and refused with a
// reason a person can act on.
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { kubeconfigSource, loadConfig } from '../../functions/advance-phase/src/config.js';

/** The fields of config/knative's manifests these tests read. That the senders and the audience
 * config/knative gives the function are its defaults is test/unit/conventions.test.ts's, on the
 * built wiring (kustomize writes the namespace into them). */
interface Manifest {
  data: Record<string, string>;
}
const manifest = (file: string) => parse(readFileSync(`config/knative/${file}`, 'utf8')) as Manifest;

describe('loadConfig', () => {
  it('fills in every default', () => {
    expect(loadConfig({})).toEqual({
      PORT: 8080,
      LOG_LEVEL: 'info',
      DRY_RUN: false,
      WATCH_NAMESPACE: '',
      MAX_BODY_BYTES: 1024 * 1024,
      SWEEP_PAGE_SIZE: 500,
      SWEEP_CONCURRENCY: 8,
      WAIT_MODE: 'retry-after',
      SENDER_AUTH: 'auto',
      SENDER_AUDIENCE: 'serving.knative.dev/service/advance-phase/advance-phase',
      SENDERS: [
        { kind: 'trigger', namespace: 'advance-phase', name: 'advance-phase' },
        { kind: 'pingsource', namespace: 'advance-phase', name: 'advance-phase-sweep' },
        { kind: 'pingsource', namespace: 'advance-phase', name: 'advance-phase-tick' },
      ],
    });
  });

  it('takes WAIT_MODE from the ConfigMap config/knative ships, which the any-broker overlay sets to tick', () => {
    const yaml = manifest;
    expect(loadConfig({ WAIT_MODE: yaml('base/settings.yaml').data.WAIT_MODE }).WAIT_MODE).toBe('retry-after');
    expect(loadConfig({ WAIT_MODE: yaml('overlays/any-broker/settings-patch.yaml').data.WAIT_MODE }).WAIT_MODE).toBe(
      'tick',
    );
    expect(() => loadConfig({ WAIT_MODE: 'sleep' })).toThrow(/WAIT_MODE: Invalid option/);
  });

  it('reads numbers and flags from their strings', () => {
    const config = loadConfig({
      PORT: '9000',
      DRY_RUN: '1',
      LOG_LEVEL: 'debug',
      SWEEP_PAGE_SIZE: '50',
      WATCH_NAMESPACE: 'ns',
    });
    expect(config).toMatchObject({
      PORT: 9000,
      DRY_RUN: true,
      LOG_LEVEL: 'debug',
      SWEEP_PAGE_SIZE: 50,
      WATCH_NAMESPACE: 'ns',
    });
    expect(loadConfig({ DRY_RUN: 'false' }).DRY_RUN).toBe(false);
  });

  it.each([
    [{ PORT: 'eighty' }, /PORT: .*expected number/],
    [{ PORT: '80.5' }, /PORT: .*expected int/],
    [{ PORT: '70000' }, /PORT: Too big/],
    [{ DRY_RUN: 'yes' }, /DRY_RUN: Invalid option/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL: Invalid option/],
    [{ MAX_BODY_BYTES: '10' }, /MAX_BODY_BYTES: Too small/],
    [{ SWEEP_CONCURRENCY: '999' }, /SWEEP_CONCURRENCY: Too big/],
    [{ SENDER_AUTH: 'maybe' }, /SENDER_AUTH: Invalid option/],
    [{ SENDERS: 'broker/advance-phase' }, /SENDERS: "broker\/advance-phase": expected trigger/],
  ])('refuses %o', (env, reason) => {
    expect(() => loadConfig(env)).toThrow(reason);
  });
});

describe('kubeconfigSource', () => {
  const home = process.env['HOME'];
  const dirs: string[] = [];
  const emptyHome = () => {
    const dir = mkdtempSync(join(tmpdir(), 'home-'));
    dirs.push(dir);
    process.env['HOME'] = dir;
    return dir;
  };
  afterEach(() => {
    process.env['HOME'] = home;
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('is dry-run with no kubeconfig and not in a cluster', () => {
    emptyHome();
    expect(kubeconfigSource({})).toBeNull();
  });

  it('uses $KUBECONFIG, or ~/.kube/config', () => {
    expect(kubeconfigSource({ KUBECONFIG: '/somewhere' })).toBe('kubeconfig');
    const dir = emptyHome();
    mkdirSync(join(dir, '.kube'));
    writeFileSync(join(dir, '.kube', 'config'), '');
    expect(kubeconfigSource({})).toBe('kubeconfig');
  });
});
