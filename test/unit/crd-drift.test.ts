// The CRD mirrors the zod schema. Here without a server: zod's verdicts on the shared examples,
// and the CRD's declared bounds against zod's. The integration suite sends the same examples to
// a real kube-apiserver with the CRD installed.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { Action, GROUP, KIND, LIMITS, PLURAL, Spec, State, VERSION } from '../../functions/advance-phase/src/action.js';
import { UNFINISHED } from '../../functions/advance-phase/src/sweep.js';
import { action } from '../support/actions.js';
import { SPEC_EXAMPLES } from '../support/spec-examples.js';

interface Schema {
  type?: string;
  required?: string[];
  properties?: Record<string, Schema>;
  items?: Schema;
  [key: string]: unknown;
}
interface Crd {
  spec: {
    group: string;
    names: Record<string, unknown>;
    versions: { name: string; subresources: unknown; selectableFields: unknown; schema: { openAPIV3Schema: Schema } }[];
  };
}
const crd = parse(readFileSync(new URL('../../crds/action.yaml', import.meta.url), 'utf8')) as Crd;
const version = crd.spec.versions[0] as Crd['spec']['versions'][number];
const root: Schema = version.schema.openAPIV3Schema;
const spec = root.properties?.['spec'] as Schema;
const prop = (name: string) => spec.properties?.[name] as Schema;

describe('crds/action.yaml matches the zod schema', () => {
  it('names the resource the function talks to', () => {
    expect(crd.spec.group).toBe(GROUP);
    expect(crd.spec.names).toMatchObject({ kind: KIND, plural: PLURAL });
    expect(version.name).toBe(VERSION);
    expect(version.subresources).toEqual({ status: {} });
  });

  it('declares the same fields and bounds', () => {
    expect(Object.keys(spec.properties ?? {}).sort()).toEqual(Object.keys(Spec.shape).sort());
    expect(spec.required).toEqual(['phases']);
    expect(prop('phases')).toMatchObject({ minItems: 1, maxItems: LIMITS.maxPhases });
    expect(prop('phases').items).toMatchObject({
      type: 'string',
      minLength: 1,
      maxLength: LIMITS.maxPhaseNameLength,
      pattern: '\\S',
    });
    expect(prop('delay')).toMatchObject({
      type: 'integer',
      minimum: 0,
      maximum: LIMITS.maxDelay,
      default: LIMITS.defaultDelay,
    });
    expect(prop('paused')).toMatchObject({ type: 'boolean' });
    expect(prop('ttlSecondsAfterFinished')).toMatchObject({ type: 'integer', minimum: 0, maximum: LIMITS.maxTtl });
  });

  it('defaults an absent status as zod does, so every object shows the history a write extends', () => {
    const status = root.properties?.['status'] as Schema;
    const defaults = Object.entries(status.properties ?? {})
      .filter(([, p]) => 'default' in p)
      .map(([name, p]) => [name, p['default']]);
    expect({ ...(status['default'] as object), ...Object.fromEntries(defaults) }).toEqual(
      Action.parse({ ...action(), status: undefined }).status,
    );
  });

  it('describes the kind and every spec and status field, for kubectl explain', () => {
    const undescribed: string[] = [];
    const walk = (schema: Schema, path: string) => {
      if (!schema['description']) undescribed.push(path);
      for (const [name, child] of Object.entries(schema.properties ?? {})) walk(child, `${path}.${name}`);
      if (schema.items?.properties)
        for (const [name, child] of Object.entries(schema.items.properties)) walk(child, `${path}[].${name}`);
    };
    if (!root['description']) undescribed.push('(kind)');
    walk(spec, 'spec');
    walk(root.properties?.['status'] as Schema, 'status');
    expect(undescribed).toEqual([]);
  });

  it('lets the sweep select on status.state, whose values zod knows, and a tick on status.dueSlot', () => {
    expect(version.selectableFields).toEqual([{ jsonPath: '.status.state' }, { jsonPath: '.status.dueSlot' }]);
    expect((root.properties?.['status'] as Schema).properties?.['dueSlot']).toMatchObject({
      type: 'string',
      format: 'date-time',
    });
    const state = (root.properties?.['status'] as Schema).properties?.['state'] as Schema;
    expect(state['enum']).toEqual(State.options);
    const excluded = [...UNFINISHED.matchAll(/status\.state!=(\w+)/g)].map((m) => m[1]);
    expect(excluded).toEqual(['Succeeded', 'Failed']);
    for (const value of excluded) expect(State.options).toContain(value);
  });

  it.each(SPEC_EXAMPLES)('zod judges "$name" as expected', ({ spec: example, valid }) => {
    expect(Spec.safeParse(example).success).toBe(valid);
  });
});
