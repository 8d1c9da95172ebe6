// API calls per identity, counted by the API server itself (its audit log, one line per request).
import { readFileSync, statSync } from 'node:fs';

export interface ApiCalls {
  /** Successful patch, update, create, delete on actions (status included). */
  actionWrites: number;
  /** Writes on actions that failed: 409 (a newer object) or 404 (a stale retry for a deleted one). */
  failedWrites: number;
  /** get and list on actions. */
  actionReads: number;
  /** watches opened on actions. */
  actionWatches: number;
  /** Events recorded (core or events.k8s.io). */
  eventWrites: number;
  /** Anything else. */
  other: number;
}

interface AuditEvent {
  stage: string;
  verb: string;
  user: { username: string };
  objectRef?: { resource?: string; namespace?: string };
  responseStatus?: { code?: number };
}

export const auditMark = (path: string): number => statSync(path).size;

const WRITES = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);

/** Calls by `users` since the mark; with `namespace`, only those in it (and cluster-wide watches). */
export function apiCalls(path: string, since: number, users: string[], namespace?: string): ApiCalls {
  const calls: ApiCalls = { actionWrites: 0, failedWrites: 0, actionReads: 0, actionWatches: 0, eventWrites: 0, other: 0 };
  const text = readFileSync(path).subarray(since).toString('utf8');
  for (const line of text.split('\n')) {
    if (!users.some((u) => line.includes(u))) continue;
    const e = JSON.parse(line) as AuditEvent;
    // One line per request: ResponseComplete (watches also log ResponseStarted when opened).
    const opened = e.verb === 'watch' ? e.stage === 'ResponseStarted' : e.stage === 'ResponseComplete';
    if (!users.includes(e.user.username) || !opened) continue;
    const resource = e.objectRef?.resource;
    if (namespace && e.objectRef?.namespace && e.objectRef.namespace !== namespace) continue;
    const ok = (e.responseStatus?.code ?? 0) < 300;
    if (resource === 'actions' && WRITES.has(e.verb)) calls[ok ? 'actionWrites' : 'failedWrites']++;
    else if (resource === 'actions' && (e.verb === 'get' || e.verb === 'list')) calls.actionReads++;
    else if (resource === 'actions' && e.verb === 'watch') calls.actionWatches++;
    else if (resource === 'events' && e.verb === 'create') calls.eventWrites++;
    else calls.other++;
  }
  return calls;
}
