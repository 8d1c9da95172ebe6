// Every Kubernetes call the function makes, and nothing else. client-node supplies the
// kubeconfig (server, certificates, tokens); requests are plain JSON over one keep-alive agent,
// because the typed clients build a new agent per call and re-serialize custom objects by model.
import https from 'node:https';
import http from 'node:http';
import os from 'node:os';
import tls from 'node:tls';
import { KubeConfig } from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION, type Envelope } from './action.js';
import type { AuthApi } from './auth.js';
import type { SenderRef } from './senders.js';
import { goJson, type PatchOperation } from './status-patch.js';

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
  get(namespace: string, name: string): Promise<unknown | null>;
  /** One page of Actions; `namespace` undefined lists every namespace. */
  list(opts: { namespace?: string; fieldSelector: string; limit: number; continue?: string }): Promise<ActionList>;
  /** Deletes exactly this version of the object; 'conflict' if it has changed or been replaced. */
  deleteAction(namespace: string, name: string, version: { uid: string; resourceVersion: string }): Promise<WriteResult>;
  recordEvent(event: ActionEvent): Promise<void>;
}

/** An answer the function cannot act on: the caller should fail with 5xx so the event is retried. */
export class KubeError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
    what: string,
  ) {
    super(`${what}: HTTP ${status} ${body.slice(0, 300)}`);
  }
}

/** Loads credentials the way kubectl does (kubeconfig) or as a Pod does (service account). */
export function loadKubeConfig(source: 'kubeconfig' | 'in-cluster'): KubeConfig {
  const kc = new KubeConfig();
  if (source === 'in-cluster') kc.loadFromCluster();
  else kc.loadFromDefault();
  return kc;
}

const AUTH_TTL_MS = 60_000; // in-cluster tokens rotate hourly; re-read the file well before
const MAX_SOCKETS = 16;

/** Where each kind of sender lives in the API. */
const SENDER_API: Record<SenderRef['kind'], string> = {
  trigger: '/apis/eventing.knative.dev/v1/namespaces/%s/triggers/%s',
  pingsource: '/apis/sources.knative.dev/v1/namespaces/%s/pingsources/%s',
};

export interface KubeOptions {
  /** Called once per request, answered or not (code 0): what /metrics counts. */
  observe?: (verb: Verb, code: number, seconds: number) => void;
}

/** The Kubernetes verb of each request, as the API server's audit log names it. */
export type Verb = 'get' | 'list' | 'patch' | 'delete' | 'create';
const VERBS: Record<string, Verb> = { GET: 'get', PATCH: 'patch', DELETE: 'delete', POST: 'create' };
const CONTROLLER = 'opdemo.net/advance-phase';

export function kubeFor(kc: KubeConfig, opts: KubeOptions = {}): Kube & AuthApi {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  const server = new URL(cluster.server);
  const prefix = server.pathname.replace(/\/$/, ''); // a server URL may carry a path (proxies)
  const base = `${prefix}/apis/${GROUP}/${VERSION}`;
  const instance = os.hostname();

  let agent: http.Agent | undefined;
  let auth: { headers: http.OutgoingHttpHeaders; at: number } | undefined;
  async function connection(): Promise<{ agent: http.Agent; headers: http.OutgoingHttpHeaders }> {
    if (!agent || !auth || Date.now() - auth.at > AUTH_TTL_MS) {
      const opts: https.RequestOptions = {};
      await kc.applyToHTTPSOptions(opts);
      // One TLS context for every connection (building one per socket showed in CPU profiles),
      // and a bounded pool, so a burst queues on warm connections instead of opening new ones.
      const pool = { keepAlive: true, maxSockets: MAX_SOCKETS };
      agent ??=
        server.protocol === 'https:'
          ? new https.Agent({
              ...pool,
              secureContext: tls.createSecureContext({ ca: opts.ca, cert: opts.cert, key: opts.key }),
              rejectUnauthorized: !cluster?.skipTLSVerify,
            })
          : new http.Agent(pool);
      auth = { headers: { ...(opts.headers as http.OutgoingHttpHeaders | undefined) }, at: Date.now() };
    }
    return { agent, headers: auth.headers };
  }

  interface CallOptions {
    contentType?: string;
    accept?: string;
    /** A GET of a collection is a list. */
    verb?: Verb;
  }
  async function call(method: string, path: string, body?: unknown, { contentType = 'application/json', accept = 'application/json', verb }: CallOptions = {}) {
    const started = performance.now();
    let code = 0;
    try {
      const res = await send(method, path, body, contentType, accept);
      code = res.status;
      return res;
    } finally {
      opts.observe?.(verb ?? VERBS[method] ?? 'get', code, (performance.now() - started) / 1000);
    }
  }

  async function send(method: string, path: string, body: unknown, contentType: string, accept: string) {
    const { agent: via, headers } = await connection();
    const payload = body === undefined ? undefined : goJson(body);
    const lib = server.protocol === 'https:' ? https : http;
    return new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = lib.request(
        {
          protocol: server.protocol,
          hostname: server.hostname,
          port: server.port,
          path,
          method,
          agent: via,
          headers: {
            ...headers,
            accept,
            ...(payload === undefined ? {} : { 'content-type': contentType, 'content-length': Buffer.byteLength(payload) }),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  const actionPath = (namespace: string, name: string) =>
    `${base}/namespaces/${encodeURIComponent(namespace)}/${PLURAL}/${encodeURIComponent(name)}`;

  function writeResult(res: { status: number; text: string }, what: string): WriteResult {
    if (res.status >= 200 && res.status < 300) return 'ok';
    if (res.status === 409 || patchDidNotApply(res)) return 'conflict';
    if (res.status === 404) return 'gone';
    throw new KubeError(res.status, res.text, what);
  }

  /** GET of a full path; `missing: 'null'` turns a 404 into null. */
  async function getJson(path: string, what: string, opts: CallOptions & { missing?: 'null' } = {}): Promise<unknown> {
    const { missing, ...options } = opts;
    const res = await call('GET', path, undefined, options);
    if (res.status === 404 && missing === 'null') return null;
    if (res.status !== 200) throw new KubeError(res.status, res.text, what);
    return JSON.parse(res.text) as unknown;
  }

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
      return getJson(`${prefix}${SENDER_API[kind].replace('%s', ns).replace('%s', n)}`, `get ${kind} ${namespace}/${name}`, { missing: 'null' });
    },

    async patchStatus(namespace, name, patch) {
      const res = await call('PATCH', `${actionPath(namespace, name)}/status`, patch, { contentType: 'application/json-patch+json' });
      return writeResult(res, `patch ${namespace}/${name} status`);
    },

    get: (namespace, name) => getJson(actionPath(namespace, name), `get ${namespace}/${name}`, { missing: 'null' }),

    async list({ namespace, fieldSelector, limit, continue: token }) {
      const scope = namespace ? `${base}/namespaces/${encodeURIComponent(namespace)}/${PLURAL}` : `${base}/${PLURAL}`;
      const query = new URLSearchParams({ fieldSelector, limit: String(limit), ...(token ? { continue: token } : {}) });
      const page = (await getJson(`${scope}?${query}`, `list ${PLURAL}`, { verb: 'list' })) as { items?: unknown[]; metadata?: { continue?: string } };
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

    async recordEvent({ regarding, type, reason, action, note, key }) {
      const { namespace, name, uid, resourceVersion } = regarding.metadata;
      const suffix = key ?? `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
      const event = {
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
      const res = await call('POST', `${prefix}/apis/events.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/events`, event);
      // 409: this very event exists already (a duplicate delivery); that is the point of the key.
      if (res.status !== 201 && res.status !== 200 && res.status !== 409) {
        throw new KubeError(res.status, res.text, `create event for ${namespace}/${name}`);
      }
    },
  };
}

/**
 * A JSON Patch that failed to apply (a `test` that did not hold, a path that is not there) is a
 * 422 with no causes; a patched object the schema refuses is a 422 that lists its causes, and a
 * bug to report, not a conflict to retry.
 */
function patchDidNotApply(res: { status: number; text: string }): boolean {
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
