// The shipped RBAC, applied to a real API server and checked by impersonation: each identity
// can do what it needs and nothing more.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { Admin } from '../support/admin.js';

const cluster = inject('cluster');
const admin = new Admin(cluster);
const run = promisify(execFile);

beforeAll(async () => {
  for (const ns of ['advance-phase', 'rbac-elsewhere']) await admin.namespace(ns);
  await admin.kubectl(
    'apply',
    '-n',
    'advance-phase',
    '-f',
    'config/knative/base/function-rbac.yaml',
    '-f',
    'config/knative/base/source-rbac.yaml',
  );
});

async function can(user: string, ...args: string[]): Promise<boolean> {
  try {
    await run(join(cluster.binDir, 'kubectl'), [
      '--kubeconfig',
      cluster.kubeconfig,
      'auth',
      'can-i',
      `--as=${user}`,
      ...args,
    ]);
    return true;
  } catch (error) {
    const out = (error as { stdout?: string }).stdout ?? '';
    if (out.trim() === 'no') return false;
    throw error;
  }
}

/**
 * The same question as a SubjectAccessReview, for resources this API server does not serve
 * (Knative's): kubectl cannot name one of those with a resource name.
 */
async function reviewed(
  user: string,
  verb: string,
  group: string,
  resource: string,
  name: string,
  namespace: string,
): Promise<boolean> {
  const [, ns] = user.split(':');
  const spec = {
    user,
    groups: ['system:serviceaccounts', `system:serviceaccounts:${ns}`, 'system:authenticated'],
    resourceAttributes: { verb, group, resource, name, namespace },
  };
  const res = await admin.request<{ status: { allowed: boolean } }>(
    'POST',
    '/apis/authorization.k8s.io/v1/subjectaccessreviews',
    { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec },
  );
  return res.body.status.allowed;
}

const FUNCTION = 'system:serviceaccount:advance-phase:advance-phase';
const SOURCE = 'system:serviceaccount:advance-phase:actions-source';
const actions = 'actions.core.opdemo.net';

describe('the function ServiceAccount', () => {
  it.each([
    ['get', actions],
    ['list', actions, '--all-namespaces'],
    ['watch', actions],
    ['patch', actions, '--subresource=status'],
    ['delete', actions],
    ['create', 'events.events.k8s.io'],
  ])('may %s %s %s', async (...args) => {
    expect(await can(FUNCTION, ...args, '-n', 'rbac-elsewhere')).toBe(true);
  });

  it.each([
    ['update', actions],
    ['patch', actions],
    ['create', actions],
    ['update', actions, '--subresource=status'],
    ['get', 'secrets'],
    ['list', 'pods'],
    ['create', 'configmaps'],
    ['create', 'events'],
    ['list', 'events.events.k8s.io'],
    ['patch', 'customresourcedefinitions.apiextensions.k8s.io'],
  ])('may not %s %s %s', async (...args) => {
    expect(await can(FUNCTION, ...args, '-n', 'rbac-elsewhere')).toBe(false);
  });
});

describe('the function ServiceAccount, for OIDC sender authentication', () => {
  const [trigger, ping] = [
    ['eventing.knative.dev', 'triggers'],
    ['sources.knative.dev', 'pingsources'],
  ] as const;

  it.each([
    [...trigger, 'advance-phase'],
    [...ping, 'advance-phase-sweep'],
  ])('may get its sender %s %s/%s', async (group, resource, name) => {
    expect(await reviewed(FUNCTION, 'get', group, resource, name, 'advance-phase')).toBe(true);
  });

  it.each([
    ['get', ...trigger, 'another', 'advance-phase'],
    ['update', ...trigger, 'advance-phase', 'advance-phase'],
    ['get', ...trigger, 'advance-phase', 'rbac-elsewhere'],
    ['get', ...ping, 'another', 'advance-phase'],
    ['list', ...trigger, '', 'advance-phase'],
  ])('may not %s %s %s/%s in %s', async (verb, group, resource, name, ns) => {
    expect(await reviewed(FUNCTION, verb, group, resource, name, ns)).toBe(false);
  });

  it.each([['/.well-known/openid-configuration'], ['/openid/v1/jwks']])(
    'may read the issuer at %s (every ServiceAccount may)',
    async (url) => {
      expect(await can(FUNCTION, 'get', url)).toBe(true);
    },
  );

  it.each([
    ['create', 'tokenreviews.authentication.k8s.io'],
    ['create', 'serviceaccounts/token', '-n', 'advance-phase'],
  ])('may not %s %s %s %s', async (...args) => {
    expect(await can(FUNCTION, ...args)).toBe(false);
  });
});

describe('the ApiServerSource ServiceAccount', () => {
  it.each([['get'], ['list'], ['watch']])('may %s actions', async (verb) => {
    expect(await can(SOURCE, verb, actions, '-n', 'rbac-elsewhere')).toBe(true);
  });

  it.each([
    ['patch', actions, '--subresource=status'],
    ['delete', actions],
    ['update', actions],
    ['get', 'secrets'],
    ['create', 'events.events.k8s.io'],
  ])('may not %s %s %s', async (...args) => {
    expect(await can(SOURCE, ...args, '-n', 'rbac-elsewhere')).toBe(false);
  });
});
