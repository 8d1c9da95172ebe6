// Kubernetes conventions in what this project ships (issue 26): Kubernetes' recommended
// app.kubernetes.io labels on every object, at package.json's version; the CRD's category; and
// an installation that kustomize's `namespace:` alone moves to another namespace. Read from what
// the real kustomize (the control plane's kubectl) builds, not from the files. That `edit` and
// `view` reach Actions is test/integration/rbac.test.ts's; the labels kn func's deployer puts on
// the Knative Service, test/integration/func-yaml.test.ts's.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../functions/advance-phase/src/config.js';
import { parseSenders } from '../../functions/advance-phase/src/senders.js';
import type { FuncYaml } from '../support/func-yaml.js';
import { kustomize, kustomizeAs, type Manifest } from '../support/kustomize.js';
import { repoRoot } from '../support/repo.js';

const read = (file: string) => readFileSync(join(repoRoot, file), 'utf8');
const { version } = JSON.parse(read('package.json')) as { version: string };
const NS = 'advance-phase';
const ELSEWHERE = 'elsewhere';

/** Every kustomization a user applies. */
const KUSTOMIZATIONS = [
  'config/knative',
  'config/knative/base',
  'config/knative/overlays/any-broker',
  'config/knative/overlays/oidc',
];
/** And those that install no part of the chain, only what watches it. */
const LABELLED = [...KUSTOMIZATIONS, 'config/monitoring'];
/** The parts an object can belong to (docs/operators.md). */
const COMPONENTS = ['namespace', 'function', 'source', 'broker', 'sweep', 'tick', 'user-roles', 'crd', 'monitoring'];

const recommended = {
  'app.kubernetes.io/name': NS,
  'app.kubernetes.io/part-of': NS,
  'app.kubernetes.io/version': version,
};
const id = (o: Manifest) => `${o.kind}/${o.metadata.name}`;

const built = new Map<string, Manifest[]>();
const builtOf = (dir: string) => built.get(dir) ?? [];

beforeAll(async () => {
  for (const dir of LABELLED) built.set(dir, await kustomize(dir));
}, 1_800_000); // the first use builds the control plane's kubectl: minutes on a new machine, cached after

describe('app.kubernetes.io labels, at the version package.json gives', () => {
  it.each(LABELLED)('on every object %s builds', (dir) => {
    expect(builtOf(dir).length).toBeGreaterThan(0);
    for (const object of builtOf(dir)) {
      const labels = object.metadata.labels ?? {};
      expect(labels, id(object)).toMatchObject(recommended);
      expect(COMPONENTS, id(object)).toContain(labels['app.kubernetes.io/component']);
    }
  });

  it('on the CRD, applied alone from crds/action.yaml', () => {
    const crd = parse(read('crds/action.yaml')) as Manifest;
    expect(crd.metadata.labels).toEqual({ ...recommended, 'app.kubernetes.io/component': 'crd' });
  });

  it("in func.yaml's deploy.labels, for the Knative Service kn func's deployer makes", () => {
    const func = parse(read('func.yaml')) as FuncYaml & { deploy: { labels: { key: string; value: string }[] } };
    const labels = Object.fromEntries(func.deploy.labels.map((l) => [l.key, l.value]));
    expect(labels).toMatchObject({ ...recommended, 'app.kubernetes.io/component': 'function' });
  });
});

describe('the CRD', () => {
  it('is in the category advance-phase (`kubectl get advance-phase`), not in `all`', () => {
    const crd = parse(read('crds/action.yaml')) as { spec: { names: { categories?: string[] } } };
    expect(crd.spec.names.categories).toEqual(['advance-phase']);
  });
});

/** A place in the built objects that names a namespace, and the namespace it names. */
interface Slot {
  where: string;
  namespace: string;
}

const AUDIENCE = /^serving\.knative\.dev\/service\/([^/]+)\/advance-phase$/;

/**
 * Every place where the objects name a namespace: metadata, Namespace objects, binding
 * subjects, any other `namespace` field (references), the audiences, and the function's SENDERS
 * and SENDER_AUDIENCE in the ConfigMap. A string that should hold one and does not fails here.
 */
function namespaceSlots(objects: Manifest[]): Slot[] {
  const slots: Slot[] = [];
  const audience = (where: string, value: unknown) => {
    const match = AUDIENCE.exec(String(value));
    expect(match, `${where}: ${String(value)}`).not.toBeNull();
    slots.push({ where, namespace: match?.[1] ?? '' });
  };
  const walk = (where: string, value: unknown): void => {
    if (Array.isArray(value)) {
      value.forEach((item, i) => {
        walk(`${where}[${i}]`, item);
      });
    } else if (value && typeof value === 'object')
      for (const [key, inner] of Object.entries(value)) {
        const at = `${where}.${key}`;
        if (key === 'namespace') slots.push({ where: at, namespace: String(inner) });
        else if (key === 'audience') audience(at, inner);
        else walk(at, inner);
      }
  };
  for (const object of objects) {
    walk(id(object), object);
    if (object.kind === 'Namespace') slots.push({ where: id(object), namespace: object.metadata.name });
    if (object.kind === 'ConfigMap' && object.metadata.name === 'advance-phase') {
      const data = object['data'] as Record<string, string>;
      const senders = parseSenders(data['SENDERS'] ?? '');
      expect(senders, `${id(object)} SENDERS`).toBeInstanceOf(Array);
      if (typeof senders !== 'string')
        for (const s of senders)
          slots.push({ where: `${id(object)} SENDERS ${s.kind}/${s.name}`, namespace: s.namespace });
      audience(`${id(object)} SENDER_AUDIENCE`, data['SENDER_AUDIENCE']);
    }
  }
  return slots;
}

describe("the installation, moved to another namespace by kustomize's namespace: alone", () => {
  it.each(KUSTOMIZATIONS)('%s: every namespace it names is its own, the function defaults by default', (dir) => {
    const slots = namespaceSlots(builtOf(dir));
    expect(slots.filter((s) => s.namespace !== NS)).toEqual([]);
    for (const kind of ['.subjects[', '.audience', ' SENDERS ', ' SENDER_AUDIENCE', '.metadata.namespace'])
      expect(
        slots.some((s) => s.where.includes(kind)),
        kind,
      ).toBe(true);
    // And what they name is what the function uses when nothing is set.
    const settings = builtOf(dir).find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'advance-phase');
    const defaults = loadConfig({});
    expect(loadConfig(settings?.['data'] as Record<string, string>)).toMatchObject({
      SENDERS: defaults.SENDERS,
      SENDER_AUDIENCE: defaults.SENDER_AUDIENCE,
    });
  });

  it.each(KUSTOMIZATIONS)(
    '%s, listed with namespace: elsewhere: every namespace it names is elsewhere, every name stays',
    async (dir) => {
      const moved = await kustomizeAs(dir, { namespace: ELSEWHERE });
      const slots = namespaceSlots(moved);
      expect(slots.filter((s) => s.namespace !== ELSEWHERE)).toEqual([]);
      expect(slots).toHaveLength(namespaceSlots(builtOf(dir)).length);
      // Nothing left half-done: no unresolved $(VAR), no advance-phase between slashes (a path's namespace).
      const text = JSON.stringify(moved);
      expect(text).not.toContain('$(');
      expect(text).not.toMatch(/\/advance-phase\//);
      // Names stay (the function's Service is still advance-phase); only the Namespace is renamed.
      const names = (objects: Manifest[]) => objects.filter((o) => o.kind !== 'Namespace').map(id);
      expect(names(moved)).toEqual(names(builtOf(dir)));
    },
    30_000,
  );

  it.each(KUSTOMIZATIONS)("%s: the senders the function admits are the wiring's own Trigger and PingSources", (dir) => {
    const objects = builtOf(dir);
    const settings = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'advance-phase');
    const senders = parseSenders((settings?.['data'] as Record<string, string>)['SENDERS'] ?? '');
    if (typeof senders === 'string') throw new Error(senders);
    const shipped = (kind: string) => objects.filter((o) => o.kind === kind).map((o) => o.metadata.name);
    expect(shipped('Trigger')).toEqual(senders.filter((s) => s.kind === 'trigger').map((s) => s.name));
    // The tick is admitted everywhere and shipped by overlays/any-broker only; absent, it admits no one.
    for (const name of shipped('PingSource'))
      expect(senders.filter((s) => s.kind === 'pingsource').map((s) => s.name)).toContain(name);
  });
});
