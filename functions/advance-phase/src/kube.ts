// Every Kubernetes call the function makes, and nothing else: the five verbs on Actions and
// Events, and the reads the sender check needs, over the one client (api-client.ts).
import os from 'node:os';
import { KubeConfig } from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION, type Envelope } from './action.js';
import { apiClient, KubeError, type Answer, type ApiClient, type ClientOptions } from './api-client.js';
import type { AuthApi } from './auth.js';
import type { SenderRef } from './senders.js';
import type { PatchOperation } from './status-patch.js';

export type WriteResult = 'ok' | 'conflict' | 'gone';

export interface ActionList {
  items: unknown[];
  continue: string | undefined;
}

export interface ActionEvent {
  regarding: Envelope;
  type: 'Normal' | 'Warning';
  reason: string;
  action: string;
  note: string;
  /** Makes the Event's name deterministic, so a duplicate delivery cannot record it twice. */
  key?: string;
}

/** The function's whole view of the API server. */
export interface Kube {
  /** 'conflict': the object is not what the patch's `test` operations say the decision read. */
  patchStatus(namespace: string, name: string, patch: PatchOperation[]): Promise<WriteResult>;
  get(namespace: string, name: string): Promise<unknown>;
  /** One page of Actions; `namespace` undefined lists every namespace. */
  list(opts: { namespace?: string; fieldSelector: string; limit: number; continue?: string }): Promise<ActionList>;
  /** Deletes exactly this version of the object; 'conflict' if it has changed or been replaced. */
  deleteAction(
    namespace: string,
    name: string,
    version: { uid: string; resourceVersion: string },
  ): Promise<WriteResult>;
  recordEvent(event: ActionEvent): Promise<void>;
}

/** Loads credentials the way kubectl does (kubeconfig) or as a Pod does (service account). */
export function loadKubeConfig(source: 'kubeconfig' | 'in-cluster'): KubeConfig {
  const kc = new KubeConfig();
  if (source === 'in-cluster') kc.loadFromCluster();
  else kc.loadFromDefault();
  return kc;
}

/** Where each kind of sender lives in the API. */
const SENDER_API: Record<SenderRef['kind'], string> = {
  trigger: '/apis/eventing.knative.dev/v1/namespaces/%s/triggers/%s',
  pingsource: '/apis/sources.knative.dev/v1/namespaces/%s/pingsources/%s',
};

export type KubeOptions = ClientOptions;

const CONTROLLER = 'opdemo.net/advance-phase';

export function kubeFor(kc: KubeConfig, opts: KubeOptions = {}): Kube & AuthApi {
  const client = apiClient(kc, opts);
  return { ...actionsApi(client), ...authApi(client) };
}

/** What the sender check reads (auth.ts). */
function authApi({ prefix, getJson }: ApiClient): AuthApi {
  return {
    // The API server's own view of its service-account issuer: the keys it signs tokens with.
    async issuerKeys() {
      const [issuer, jwks] = await Promise.all([
        getJson(`${prefix}/.well-known/openid-configuration`, 'OIDC discovery'),
        getJson(`${prefix}/openid/v1/jwks`, 'service-account signing keys', { accept: 'application/jwk-set+json' }),
      ]);
      return { issuer, jwks };
    },

    sender({ kind, namespace, name }) {
      const [ns, n] = [encodeURIComponent(namespace), encodeURIComponent(name)];
      return getJson(
        `${prefix}${SENDER_API[kind].replace('%s', ns).replace('%s', n)}`,
        `get ${kind} ${namespace}/${name}`,
        { missing: 'null' },
      );
    },
  };
}

/** The verbs on Actions and their Events. */
function actionsApi({ prefix, call, getJson }: ApiClient): Kube {
  const base = `${prefix}/apis/${GROUP}/${VERSION}`;
  const actionPath = (namespace: string, name: string) =>
    `${base}/namespaces/${encodeURIComponent(namespace)}/${PLURAL}/${encodeURIComponent(name)}`;
  const instance = os.hostname();

  return {
    async patchStatus(namespace, name, patch) {
      const res = await call('PATCH', `${actionPath(namespace, name)}/status`, patch, {
        contentType: 'application/json-patch+json',
      });
      return writeResult(res, `patch ${namespace}/${name} status`);
    },

    get: (namespace, name) => getJson(actionPath(namespace, name), `get ${namespace}/${name}`, { missing: 'null' }),

    async list({ namespace, fieldSelector, limit, continue: token }) {
      const scope = namespace ? `${base}/namespaces/${encodeURIComponent(namespace)}/${PLURAL}` : `${base}/${PLURAL}`;
      const query = new URLSearchParams({ fieldSelector, limit: String(limit), ...(token ? { continue: token } : {}) });
      const page = (await getJson(`${scope}?${query.toString()}`, `list ${PLURAL}`, { verb: 'list' })) as {
        items?: unknown[];
        metadata?: { continue?: string };
      };
      return { items: page.items ?? [], continue: page.metadata?.continue || undefined };
    },

    async deleteAction(namespace, name, { uid, resourceVersion }) {
      const res = await call('DELETE', actionPath(namespace, name), {
        apiVersion: 'v1',
        kind: 'DeleteOptions',
        preconditions: { uid, resourceVersion },
      });
      return writeResult(res, `delete ${namespace}/${name}`);
    },

    async recordEvent(event) {
      const { namespace, name } = event.regarding.metadata;
      const res = await call(
        'POST',
        `${prefix}/apis/events.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/events`,
        eventObject(event, instance),
      );
      // 409: this very event exists already (a duplicate delivery); that is the point of the key.
      if (res.status !== 201 && res.status !== 200 && res.status !== 409) {
        throw new KubeError(res.status, res.text, `create event for ${namespace}/${name}`);
      }
    },
  };
}

/** An events.k8s.io/v1 Event about an Action, from this controller and instance. */
function eventObject(
  { regarding, type, reason, action, note, key }: ActionEvent,
  instance: string,
): Record<string, unknown> {
  const { namespace, name, uid, resourceVersion } = regarding.metadata;
  const suffix = key ?? `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  return {
    apiVersion: 'events.k8s.io/v1',
    kind: 'Event',
    metadata: { name: `${name.slice(0, 200)}.${uid.slice(0, 8)}.${suffix}`, namespace },
    eventTime: microTime(new Date()),
    reportingController: CONTROLLER,
    reportingInstance: instance.slice(0, 128),
    action,
    reason,
    type,
    note: note.slice(0, 1024),
    regarding: { apiVersion: regarding.apiVersion, kind: regarding.kind, namespace, name, uid, resourceVersion },
  };
}

function writeResult(res: Answer, what: string): WriteResult {
  if (res.status >= 200 && res.status < 300) return 'ok';
  if (res.status === 409 || patchDidNotApply(res)) return 'conflict';
  if (res.status === 404) return 'gone';
  throw new KubeError(res.status, res.text, what);
}

/**
 * A JSON Patch that failed to apply (a `test` that did not hold, a path that is not there) is a
 * 422 with no causes; a patched object the schema refuses is a 422 that lists its causes, and a
 * bug to report, not a conflict to retry.
 */
function patchDidNotApply(res: Answer): boolean {
  if (res.status !== 422) return false;
  try {
    const body = JSON.parse(res.text) as { details?: { causes?: unknown[] } };
    return !body.details?.causes?.length;
  } catch {
    return false;
  }
}

/** metav1.MicroTime: RFC 3339 with exactly six fractional digits. */
function microTime(at: Date): string {
  return at.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
