// The API server's audit log (test/cluster writes one JSON line per request): where it ends now,
// and who asked for what since then.
import { readFileSync, statSync } from 'node:fs';

export interface AuditEvent {
  stage: string;
  verb: string;
  requestURI: string;
  user: { username: string };
  objectRef?: { resource?: string; subresource?: string; namespace?: string; name?: string };
  responseStatus?: { code?: number };
  /** Only where the policy logs bodies (an Action's status writes). */
  requestObject?: unknown;
  stageTimestamp?: string;
}

/** The log's end now, as a byte offset to read from later. */
export const auditMark = (path: string): number => statSync(path).size;

/** The events logged after `mark` by any of `users` (only their lines are parsed: the log is large). */
export function auditEventsSince(path: string, mark: number, users: string[]): AuditEvent[] {
  return readFileSync(path)
    .subarray(mark)
    .toString('utf8')
    .split('\n')
    .filter((line) => users.some((u) => line.includes(u)))
    .map((line) => JSON.parse(line) as AuditEvent)
    .filter((e) => users.includes(e.user.username));
}
