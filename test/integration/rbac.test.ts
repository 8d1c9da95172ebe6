// The shipped RBAC, applied to a real API server and checked by impersonation: each identity
// can do what it needs and nothing more, and the built-in `view`, `edit` and `admin` roles reach
// Actions through the shipped aggregated ClusterRoles, filled in by kube-controller-manager's own
// clusterrole-aggregation controller.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { stringify } from 'yaml';
import { launch, stopProcess, waitFor } from '../cluster/processes.js';
import { Admin } from '../support/admin.js';
import { applyBuilt, RBAC_KINDS } from '../support/kustomize.js';

const cluster = inject('cluster');
const admin = new Admin(cluster);
const run = promisify(execFile);

/** Where the users of the built-in roles hold them (by RoleBindings), and where they do not. */
const USERS_NS = 'rbac-elsewhere';
const OTHER_NS = 'rbac-other';

/**
 * The integration cluster runs no kube-controller-manager, and aggregation is its job: this file
 * runs one with only the clusterrole-aggregation controller, as long as it runs.
 */
const controllerManager = join(cluster.binDir, 'kube-controller-manager');
let controllerPid = 0;
let tmp = '';

beforeAll(async () => {
  for (const ns of ['advance-phase', USERS_NS, OTHER_NS]) await admin.namespace(ns);
  // The RBAC as `kubectl apply -k config/knative` sends it; the Knative kinds are for another
  // test, with Knative's CRDs.
  await applyBuilt(admin, 'config/knative', (o) => RBAC_KINDS.has(o.kind));
  tmp = await mkdtemp(join(tmpdir(), 'rbac-'));
  const logFile = join(tmp, 'kube-controller-manager.log');
  controllerPid = await launch({
    exe: controllerManager,
    args: [
      `--kubeconfig=${cluster.kubeconfig}`,
      '--leader-elect=false',
      '--secure-port=0',
      '--controllers=clusterrole-aggregation-controller',
    ],
    logFile,
    detached: false,
  });
  // `admin` aggregates `edit`, so its rules arrive one pass later.
  await waitFor(
    'view, edit and admin to hold the shipped Action rules',
    { pid: controllerPid, exe: controllerManager, logFile },
    60_000,
    async () => {
      const roles = await Promise.all(
        ['view', 'edit', 'admin'].map((r) =>
          admin.request<{ rules?: { apiGroups?: string[] }[] }>(
            'GET',
            `/apis/rbac.authorization.k8s.io/v1/clusterroles/${r}`,
          ),
        ),
      );
      return roles.every((r) => (r.body.rules ?? []).some((rule) => rule.apiGroups?.includes('core.opdemo.net')));
    },
  );
  for (const role of ['view', 'edit', 'admin'])
    await admin.kubectl(
      'create',
      'rolebinding',
      `${role}-user`,
      `--clusterrole=${role}`,
      `--user=${role}-user`,
      '-n',
      USERS_NS,
    );
}, 120_000);

afterAll(async () => {
  if (controllerPid) await stopProcess(controllerPid, controllerManager);
  if (tmp) await rm(tmp, { recursive: true, force: true });
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

describe('Actions through the built-in roles, aggregated by the real controller', () => {
  const [view, edit, adminUser] = ['view-user', 'edit-user', 'admin-user'];
  const writes = ['create', 'update', 'patch', 'delete', 'deletecollection'];

  it.each([edit, adminUser].flatMap((user) => ['get', 'list', 'watch', ...writes].map((verb) => [user, verb])))(
    '%s may %s Actions in its namespace',
    async (user, verb) => {
      expect(await can(user, verb, actions, '-n', USERS_NS)).toBe(true);
    },
  );

  it.each([['get'], ['list'], ['watch']])('view-user may %s Actions in its namespace', async (verb) => {
    expect(await can(view, verb, actions, '-n', USERS_NS)).toBe(true);
  });

  it.each(writes.map((verb) => [verb]))('view-user may not %s Actions', async (verb) => {
    expect(await can(view, verb, actions, '-n', USERS_NS)).toBe(false);
  });

  // The run's history is the function's alone (function-rbac.yaml).
  it.each([view, edit, adminUser].flatMap((user) => ['patch', 'update'].map((verb) => [user, verb])))(
    '%s may not %s actions/status',
    async (user, verb) => {
      expect(await can(user, verb, actions, '--subresource=status', '-n', USERS_NS)).toBe(false);
    },
  );

  it.each([view, edit, adminUser])('%s may not read Actions where it holds no role', async (user) => {
    expect(await can(user, 'get', actions, '-n', OTHER_NS)).toBe(false);
  });

  it('edit-user walks an Action through what it may do: create, edit the spec, not the status, delete', async () => {
    const as = (...args: string[]) => admin.kubectl(`--as=${edit}`, '-n', USERS_NS, ...args);
    const manifest = join(tmp, 'action.yaml');
    await writeFile(
      manifest,
      stringify({
        apiVersion: 'core.opdemo.net/v1',
        kind: 'Action',
        metadata: { name: 'by-edit' },
        spec: { phases: ['a'] },
      }),
    );
    await as('create', '-f', manifest);
    await as('patch', 'action', 'by-edit', '--type=merge', '-p', '{"spec":{"delay":7}}');
    const status = as(
      'patch',
      'action',
      'by-edit',
      '--subresource=status',
      '--type=merge',
      '-p',
      '{"status":{"phase":"a"}}',
    );
    await expect(status).rejects.toThrow(/forbidden/i);
    await as('delete', 'action', 'by-edit');
  });

  it("view-user lists Actions by the CRD's category: kubectl get advance-phase", async () => {
    expect((await admin.createAction(USERS_NS, 'in-category', { phases: ['a'] })).status).toBe(201);
    const listed = await admin.kubectl(`--as=${view}`, 'get', 'advance-phase', '-n', USERS_NS, '-o', 'name');
    expect(listed.split('\n')).toContain('action.core.opdemo.net/in-category');
  });
});
