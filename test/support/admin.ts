// The test's own hands on a real cluster: cluster-admin requests (through the function's own
// API client, api-client.ts, from the cluster's admin kubeconfig), watches, and the built kubectl.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { apiClient, type ApiClient } from '../../functions/advance-phase/src/api-client.js';
import type { ClusterInfo } from '../cluster/cluster.js';
import { repoRoot } from './repo.js';
import { sleep } from './wait.js';

const run = promisify(execFile);
export const ACTIONS = '/apis/core.opdemo.net/v1';

export interface Answer<T = unknown> {
  status: number;
  body: T;
}

export class Admin {
  private readonly client: ApiClient;
  /** Watches hold their connection for minutes: on sockets of their own, never reused for requests. */
  private readonly watchAgent: https.Agent;

  constructor(readonly cluster: ClusterInfo) {
    const kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfig);
    this.client = apiClient(kc);
    this.watchAgent = new https.Agent({
      keepAlive: false,
      ca: readFileSync(cluster.caCert),
      cert: readFileSync(cluster.adminCert),
      key: readFileSync(cluster.adminKey),
    });
  }

  /** Any HTTP status resolves (a JSON body parsed); only a transport error rejects. */
  async request<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    contentType = 'application/json',
  ): Promise<Answer<T>> {
    const { status, text } = await this.client.call(method, path, body, { contentType });
    return { status, body: (text.startsWith('{') ? JSON.parse(text) : text) as T };
  }

  /**
   * Lists `path` (a collection, with any query) and then watches it from that list's
   * resourceVersion, handing every object to `onEvent` ('ADDED' for the listed ones). It re-lists
   * when the watch ends or its resourceVersion expires, until `signal` aborts, and then reports
   * 'DELETED' for what went meanwhile, as an informer's Replace does. `onListed` runs after
   * each list's objects are handed over (the caller's view is complete). `T` is what the
   * caller asks the server for (Pods, Services): the server's JSON, typed as such, as `request` does.
   */
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters
  async watch<T extends { metadata: { resourceVersion?: string; namespace?: string; name?: string } }>(
    path: string,
    onEvent: (type: 'ADDED' | 'MODIFIED' | 'DELETED', object: T) => void | Promise<void>,
    signal: AbortSignal,
    onListed?: () => void,
  ): Promise<void> {
    const sep = path.includes('?') ? '&' : '?';
    const known = new Map<string, T>();
    const keyOf = (o: T) => `${o.metadata.namespace ?? ''}/${o.metadata.name ?? ''}`;
    const seen = (type: 'ADDED' | 'MODIFIED' | 'DELETED', object: T) => {
      if (type === 'DELETED') known.delete(keyOf(object));
      else known.set(keyOf(object), object);
      return onEvent(type, object);
    };
    let failingSince: number | undefined;
    while (!signal.aborted) {
      // As a reflector does, the list is tried again while the API server is away (restarting,
      // not ready yet); only a refusal, or an absence longer than a minute, ends the watch.
      const list = await this.request<{ items: T[]; metadata: { resourceVersion: string } }>('GET', path).catch(
        (error: unknown) => new Error(`GET ${path}: ${error instanceof Error ? error.message : String(error)}`),
      );
      if (list instanceof Error || list.status !== 200) {
        const failure =
          list instanceof Error ? list : new Error(`GET ${path}: ${list.status} ${JSON.stringify(list.body)}`);
        const transient = list instanceof Error || list.status === 429 || list.status >= 500;
        failingSince ??= Date.now();
        if (!transient || Date.now() - failingSince > 60_000) throw failure;
        await sleep(1000);
        continue;
      }
      failingSince = undefined;
      const listed = new Set(list.body.items.map(keyOf));
      for (const [key, gone] of [...known]) if (!listed.has(key)) await seen('DELETED', gone);
      for (const item of list.body.items) await seen('ADDED', item);
      onListed?.();
      const url = new URL(
        `${path}${sep}watch=1&allowWatchBookmarks=false&resourceVersion=${list.body.metadata.resourceVersion}`,
        this.cluster.server,
      );
      await new Promise<void>((resolve) => {
        const req = https.request(url, { agent: this.watchAgent, signal }, (res) => {
          if (res.statusCode !== 200) {
            res.resume();
            res.on('end', () => setTimeout(resolve, 1000)); // list again, in a moment
            return;
          }
          let partial = '';
          let queue = Promise.resolve();
          res.setEncoding('utf8').on('data', (d: string) => {
            const lines = (partial + d).split('\n');
            partial = lines.pop() ?? '';
            for (const line of lines.filter(Boolean)) {
              const event = JSON.parse(line) as { type: string; object: T };
              if (event.type === 'ADDED' || event.type === 'MODIFIED' || event.type === 'DELETED') {
                const { type, object } = event;
                queue = queue.then(() => seen(type, object));
              } else res.destroy(); // ERROR (an expired resourceVersion): list again
            }
          });
          res.on('close', () => void queue.then(resolve, resolve));
        });
        req.on('error', () => {
          resolve();
        });
        req.end();
      });
    }
  }

  /** Runs the kubectl built with the control plane, as cluster-admin unless `as` is given. */
  async kubectl(...args: string[]): Promise<string> {
    const { stdout } = await run(
      join(this.cluster.binDir, 'kubectl'),
      ['--kubeconfig', this.cluster.kubeconfig, ...args],
      { cwd: repoRoot },
    );
    return stdout;
  }

  async installCrd(): Promise<void> {
    await this.kubectl('apply', '-f', 'crds/action.yaml');
    await this.kubectl('wait', '--for=condition=Established', '--timeout=60s', 'crd/actions.core.opdemo.net');
  }

  async namespace(name: string): Promise<void> {
    const res = await this.request('POST', '/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name },
    });
    if (res.status !== 201 && res.status !== 409)
      throw new Error(`namespace ${name}: ${res.status} ${JSON.stringify(res.body)}`);
  }

  /** Creates an Action the way kubectl apply does (strict field validation); returns the object. */
  async createAction(namespace: string, name: string, spec: unknown): Promise<Answer> {
    return this.request('POST', `${ACTIONS}/namespaces/${namespace}/actions?fieldValidation=Strict`, {
      apiVersion: 'core.opdemo.net/v1',
      kind: 'Action',
      metadata: { name, namespace },
      spec,
    });
  }

  async getAction(namespace: string, name: string): Promise<Answer> {
    return this.request('GET', `${ACTIONS}/namespaces/${namespace}/actions/${name}`);
  }

  async deleteAction(namespace: string, name: string): Promise<Answer> {
    return this.request('DELETE', `${ACTIONS}/namespaces/${namespace}/actions/${name}`);
  }

  async patchAction(namespace: string, name: string, patch: unknown, subresource = ''): Promise<Answer> {
    return this.request(
      'PATCH',
      `${ACTIONS}/namespaces/${namespace}/actions/${name}${subresource}`,
      patch,
      'application/merge-patch+json',
    );
  }
}
