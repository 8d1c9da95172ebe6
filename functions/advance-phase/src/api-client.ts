// The one HTTP client to the API server. client-node supplies the kubeconfig (server,
// certificates, tokens); requests are plain JSON over one keep-alive agent, because the typed
// clients build a new agent per call and re-serialize custom objects by model. Bodies are
// encoded as Go encodes them (status-patch.ts goJson), and each request is reported for /metrics.
import https from 'node:https';
import http from 'node:http';
import tls from 'node:tls';
import type { KubeConfig } from '@kubernetes/client-node';
import { goJson } from './status-patch.js';

const AUTH_TTL_MS = 60_000; // in-cluster tokens rotate hourly; re-read the file well before
const MAX_SOCKETS = 16;

/** The Kubernetes verb of each request, as the API server's audit log names it. */
export type Verb = 'get' | 'list' | 'patch' | 'delete' | 'create';
const VERBS: Record<string, Verb> = { GET: 'get', PATCH: 'patch', DELETE: 'delete', POST: 'create' };

export interface ClientOptions {
  /** Called once per request, answered or not (code 0): what /metrics counts. */
  observe?: (verb: Verb, code: number, seconds: number) => void;
}

export interface CallOptions {
  contentType?: string;
  accept?: string;
  /** A GET of a collection is a list. */
  verb?: Verb;
}

export interface Answer {
  status: number;
  text: string;
}

export interface ApiClient {
  /** The server URL's path, which prefixes every API path (a proxy may serve the API under one). */
  prefix: string;
  call: (method: string, path: string, body?: unknown, opts?: CallOptions) => Promise<Answer>;
  /** A GET that must answer 200; `missing: 'null'` turns a 404 into null. */
  getJson: (path: string, what: string, opts?: CallOptions & { missing?: 'null' }) => Promise<unknown>;
}

/**
 * An answer the function cannot act on: the caller should fail with 5xx so the event is retried.
 * Even a 403 is the function's own trouble, not the sender's (an API server that has just
 * restarted refuses for a moment, before its RBAC cache fills), so the status is the API
 * server's, named so that express's error handling never takes it for the answer to give.
 */
export class KubeError extends Error {
  constructor(
    readonly apiStatus: number,
    readonly body: string,
    what: string,
  ) {
    super(`${what}: HTTP ${apiStatus} ${body.slice(0, 300)}`);
  }
}

export function apiClient(kc: KubeConfig, opts: ClientOptions = {}): ApiClient {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  const server = new URL(cluster.server);
  const connect = connection(kc, server, cluster.skipTLSVerify);

  async function call(
    method: string,
    path: string,
    body?: unknown,
    { contentType = 'application/json', accept = 'application/json', verb }: CallOptions = {},
  ): Promise<Answer> {
    const started = performance.now();
    let code = 0;
    try {
      const res = await send(server, await connect(), {
        method,
        path,
        contentType,
        accept,
        payload: body === undefined ? undefined : goJson(body),
      });
      code = res.status;
      return res;
    } finally {
      opts.observe?.(verb ?? VERBS[method] ?? 'get', code, (performance.now() - started) / 1000);
    }
  }

  return {
    prefix: server.pathname.replace(/\/$/, ''),
    call,
    async getJson(path, what, { missing, ...options } = {}) {
      const res = await call('GET', path, undefined, options);
      if (res.status === 404 && missing === 'null') return null;
      if (res.status !== 200) throw new KubeError(res.status, res.text, what);
      return JSON.parse(res.text) as unknown;
    },
  };
}

interface Connection {
  agent: http.Agent;
  headers: http.OutgoingHttpHeaders;
}

/** The agent and the credentials' headers, re-read from the kubeconfig every AUTH_TTL_MS. */
function connection(kc: KubeConfig, server: URL, skipTLSVerify: boolean): () => Promise<Connection> {
  let agent: http.Agent | undefined;
  let auth: { headers: http.OutgoingHttpHeaders; at: number } | undefined;
  return async () => {
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
              rejectUnauthorized: !skipTLSVerify,
            })
          : new http.Agent(pool);
      auth = { headers: { ...(opts.headers as http.OutgoingHttpHeaders | undefined) }, at: Date.now() };
    }
    return { agent, headers: auth.headers };
  };
}

function send(
  server: URL,
  { agent, headers }: Connection,
  r: { method: string; path: string; contentType: string; accept: string; payload: string | undefined },
): Promise<Answer> {
  const lib = server.protocol === 'https:' ? https : http;
  const body =
    r.payload === undefined ? {} : { 'content-type': r.contentType, 'content-length': Buffer.byteLength(r.payload) };
  return new Promise((resolve, reject) => {
    const req = lib.request(
      {
        protocol: server.protocol,
        hostname: server.hostname,
        port: server.port,
        path: r.path,
        method: r.method,
        agent,
        headers: { ...headers, accept: r.accept, ...body },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(r.payload);
  });
}
