// Kubernetes conventions in what this project ships (issue 26): the CRD's category.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { repoRoot } from '../support/repo.js';

const read = (file: string) => readFileSync(join(repoRoot, file), 'utf8');

describe('the CRD', () => {
  it('is in the category advance-phase (`kubectl get advance-phase`), not in `all`', () => {
    const crd = parse(read('crds/action.yaml')) as { spec: { names: { categories?: string[] } } };
    expect(crd.spec.names.categories).toEqual(['advance-phase']);
  });
});
