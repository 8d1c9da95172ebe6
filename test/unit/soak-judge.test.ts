// The replica soak's judge of appends, on audit events made from the function's own patches:
// what counts as a phase's one append, what as a second, and what as no write at all.
import { describe, expect, it } from 'vitest';
import type { Action } from '../../functions/advance-phase/src/action.js';
import { statusPatch } from '../../functions/advance-phase/src/status-patch.js';
import { desiredStatus } from '../../functions/advance-phase/src/status.js';
import type { AuditEvent } from '../support/audit.js';
import { action, at, begun } from '../support/actions.js';
import { judgeAppends } from '../support/soak.js';

const PHASES = ['provision', 'configure'];

/** The status patch that begins phase `n` of demo, as the audit log records it answered `code`. */
function patchEvent(n: number, code: number, body = true): AuditEvent {
  const seen: Action = action({ phases: PHASES });
  if (n > 0) seen.status = desiredStatus(seen, begun(PHASES.slice(0, n), 5), at(0));
  const next = desiredStatus(seen, begun(PHASES.slice(0, n + 1), 5), at(n * 5));
  return {
    stage: 'ResponseComplete',
    verb: 'patch',
    requestURI: '/apis/core.opdemo.net/v1/namespaces/default/actions/demo/status',
    user: { username: 'system:serviceaccount:advance-phase:advance-phase' },
    objectRef: { resource: 'actions', subresource: 'status', namespace: 'default', name: 'demo' },
    responseStatus: { code },
    ...(body ? { requestObject: statusPatch(seen, next, true) } : {}),
  };
}

const judge = (calls: AuditEvent[]) => judgeAppends(calls, 'default', ['demo'], PHASES);

describe('judgeAppends', () => {
  it('passes one landed append per phase, refusals aside', () => {
    expect(judge([patchEvent(0, 200), patchEvent(0, 422), patchEvent(1, 200)])).toEqual({
      violations: [],
      appends: 2,
      refused: 1,
    });
  });

  it('finds a phase appended twice and a phase never appended', () => {
    expect(judge([patchEvent(0, 200), patchEvent(0, 200)]).violations).toEqual([
      'demo/provision: 2 appending status patches',
      'demo/configure: 0 appending status patches',
    ]);
  });

  it('lets a 5xx stand for the one append, never for a second', () => {
    expect(judge([patchEvent(0, 504), patchEvent(1, 200)]).violations).toEqual([]);
    expect(judge([patchEvent(0, 200), patchEvent(0, 504), patchEvent(1, 200)]).violations).toEqual([]);
  });

  it('counts a 5xx with no body logged (refused before it was read) as no write', () => {
    const result = judge([patchEvent(0, 503, false), patchEvent(1, 200)]);
    expect(result.violations).toEqual(['demo/provision: 0 appending status patches']);
    expect(result.refused).toBe(1);
  });
});
