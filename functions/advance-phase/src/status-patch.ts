// The status write as an RFC 6902 JSON Patch that carries its own proof. Its `test` operations
// assert, in the same atomic write, everything the decision read from the object: the uid, the
// generation, the whole spec and the whole status. A forged or stale event therefore cannot
// change anything: the API server refuses the patch (422) and the function reads the object and
// decides again. Unrelated writes (labels, annotations) touch none of it, so they no longer make
// the next advance conflict, as a resourceVersion precondition did.
import { isDeepStrictEqual } from 'node:util';
import { isRecord, type Envelope } from './action.js';

export type PatchOperation = { op: 'test' | 'add'; path: string; value: unknown } | { op: 'remove'; path: string };

/**
 * `seen` is the object the decision read, exactly as it arrived; `fromServer` says whether the
 * function read it itself. null: the event shows too little to prove (no status, no generation:
 * every object the API server serves has both); read the object and decide on that instead.
 */
export function statusPatch(
  seen: Envelope,
  next: Record<string, unknown>,
  fromServer: boolean,
): PatchOperation[] | null {
  const { uid, generation, resourceVersion } = seen.metadata;
  const spec: unknown = seen['spec'];
  const status = seen['status'];
  const proof: PatchOperation[] = [{ op: 'test', path: '/metadata/uid', value: uid }];
  if (generation !== undefined) proof.push({ op: 'test', path: '/metadata/generation', value: generation });
  if (spec !== undefined) proof.push({ op: 'test', path: '/spec', value: spec });
  if (isRecord(status)) proof.push({ op: 'test', path: '/status', value: status });

  if (generation === undefined || spec === undefined || !isRecord(status)) {
    // JSON Patch cannot test that a member is absent. An object the function read itself is
    // the server's own at this resourceVersion, so pinning the version proves the rest; an
    // event's resourceVersion proves nothing about the rest of the event.
    if (!fromServer) return null;
    proof.push({ op: 'test', path: '/metadata/resourceVersion', value: resourceVersion });
  }
  return [...proof, ...changes(isRecord(status) ? status : undefined, next)];
}

/** The operations that turn `before` into `next`: an appended phase is an `add` at the list's end. */
function changes(before: Record<string, unknown> | undefined, next: Record<string, unknown>): PatchOperation[] {
  if (before === undefined) return [{ op: 'add', path: '/status', value: next }];
  const ops: PatchOperation[] = [];
  for (const key of new Set([...Object.keys(before), ...Object.keys(next)])) {
    const path = `/status/${key}`;
    const [was, now] = [before[key], next[key]];
    if (!(key in next)) ops.push({ op: 'remove', path });
    else if (isDeepStrictEqual(was, now)) continue;
    else if (key === 'timestamps' && appendsOne(was, now))
      ops.push({ op: 'add', path: `${path}/-`, value: (now as unknown[]).at(-1) });
    else ops.push({ op: 'add', path, value: now }); // `add` replaces an existing member
  }
  return ops;
}

function appendsOne(was: unknown, now: unknown): boolean {
  return (
    Array.isArray(was) &&
    Array.isArray(now) &&
    now.length === was.length + 1 &&
    isDeepStrictEqual(now.slice(0, -1), was)
  );
}

/**
 * JSON as Go's encoding/json writes it. kube-apiserver compares a `test` value with the stored
 * one byte for byte, after encoding the stored object with Go, which escapes <, >, & and
 * U+2028/U+2029 inside strings; JSON.stringify does not, so a phase named `a<b` would never
 * match. These characters only ever occur inside strings, so escaping them everywhere is exact.
 */
export function goJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
