// API calls per identity, counted by the API server itself (its audit log, one line per request).
import { auditEventsSince } from '../../test/support/audit.js';

export interface ApiCalls {
  /** Successful patch, update, create, delete on actions (status included). */
  actionWrites: number;
  /** Writes on actions that failed: 409 or 422 (not the object the write proved, e.g. a newer one) or 404 (a deleted one). */
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

const WRITES = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);

/** Calls by `users` since the mark; with `namespace`, only those in it (and cluster-wide watches). */
export function apiCalls(path: string, since: number, users: string[], namespace?: string): ApiCalls {
  const calls: ApiCalls = {
    actionWrites: 0,
    failedWrites: 0,
    actionReads: 0,
    actionWatches: 0,
    eventWrites: 0,
    other: 0,
  };
  for (const e of auditEventsSince(path, since, users)) {
    // One line per request: ResponseComplete (watches also log ResponseStarted when opened).
    const opened = e.verb === 'watch' ? e.stage === 'ResponseStarted' : e.stage === 'ResponseComplete';
    if (!opened) continue;
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
