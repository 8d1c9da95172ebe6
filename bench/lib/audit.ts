// API calls per identity, counted by the API server itself (its audit log, one line per request).
import { readFileSync, statSync } from 'node:fs';

export interface ApiCalls {
  /** patch, update, create, delete on actions (status included). */
  actionWrites: number;
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
  objectRef?: { resource?: string };
}

export const auditMark = (path: string): number => statSync(path).size;

const WRITES = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);

export function apiCalls(path: string, since: number, users: string[]): ApiCalls {
  const calls: ApiCalls = { actionWrites: 0, actionReads: 0, actionWatches: 0, eventWrites: 0, other: 0 };
  const text = readFileSync(path).subarray(since).toString('utf8');
  for (const line of text.split('\n')) {
    if (!users.some((u) => line.includes(u))) continue;
    const e = JSON.parse(line) as AuditEvent;
    // One line per request: ResponseComplete (watches also log ResponseStarted when opened).
    const opened = e.verb === 'watch' ? e.stage === 'ResponseStarted' : e.stage === 'ResponseComplete';
    if (!users.includes(e.user.username) || !opened) continue;
    const resource = e.objectRef?.resource;
    if (resource === 'actions' && WRITES.has(e.verb)) calls.actionWrites++;
    else if (resource === 'actions' && (e.verb === 'get' || e.verb === 'list')) calls.actionReads++;
    else if (resource === 'actions' && e.verb === 'watch') calls.actionWatches++;
    else if (resource === 'events' && e.verb === 'create') calls.eventWrites++;
    else calls.other++;
  }
  return calls;
}
