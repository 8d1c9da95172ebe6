// Knative's OIDC sender authentication, the receiving end. With `authentication-oidc` on, the
// broker filter (for the Trigger) and the PingSource adapter send a service-account token minted
// for the destination's audience, as the sender's own OIDC ServiceAccount. The function accepts a
// request only with such a token: signed by the cluster's service-account issuer, for its
// audience, unexpired, and whose subject is the ServiceAccount a configured sender's
// `status.auth.serviceAccountName` names. Keys and senders are read from the API server and cached.
import * as z from 'zod/mini';
import type { SenderRef } from './senders.js';

/** The API calls verification needs (kube.ts). */
export interface AuthApi {
  /** The service-account issuer and its public keys (OIDC discovery on the API server). */
  issuerKeys: () => Promise<{ issuer: unknown; jwks: unknown }>;
  /** A sender's object, or null when it does not exist. */
  sender: (ref: SenderRef) => Promise<unknown>;
}

export type AuthMode = 'oidc' | 'auto';

export type Verdict = { ok: true; subject: string | null } | { ok: false; status: 401 | 403 | 503; reason: string };

/** What the senders' status says: the subjects that may send, and whether OIDC is on at all. */
export interface Senders {
  subjects: string[];
  /** Senders whose status names no OIDC ServiceAccount (OIDC off, or not reconciled yet). */
  unauthenticated: string[];
}

const SenderStatus = z.object({
  status: z.optional(z.object({ auth: z.optional(z.object({ serviceAccountName: z.optional(z.string()) })) })),
});
const Discovery = z.object({ issuer: z.string().check(z.minLength(1)) });
const Jwks = z.object({ keys: z.array(z.looseObject({ kty: z.string() })) });

/** How long keys and senders are trusted before they are read again. */
const FRESH_MS = 60_000;
/** An unknown key id or subject reads again, but not more often than this. */
const RETRY_MS = 5_000;
/** Clock skew allowed between the API server that signed and this process. */
const LEEWAY_S = 5;
/** Kubernetes signs service-account tokens with RSA or ECDSA keys. */
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512'];

export interface SenderAuth {
  check(authorization: string | undefined): Promise<Verdict>;
  /** Reads keys and senders now: what the entry point logs at start. */
  prime(): Promise<Senders>;
}

export function senderAuth(opts: {
  mode: AuthMode;
  audience: string;
  senders: SenderRef[];
  api: AuthApi;
  /** Milliseconds, for the caches (tests move it). */
  clock?: () => number;
}): SenderAuth {
  const { mode, audience, api } = opts;
  const clock = opts.clock ?? Date.now;
  // The verifier (jose) is loaded with the first keys: a cluster without OIDC never needs it,
  // and a cold start does not wait for it.
  const keys = cached(clock, () => loadKeys(api));
  const senders = cached(clock, () => readSenders(api, opts.senders));
  const verify = (token: string) => verifyToken(token, audience, keys);

  return {
    prime: async () => {
      const known = await senders.get(false);
      // The keys only where tokens will come: OIDC on (a sender has an identity), or required.
      if (mode === 'oidc' || known.subjects.length > 0) await keys.get(false);
      return known;
    },
    async check(authorization) {
      const token = /^Bearer (\S+)$/i.exec(authorization ?? '')?.[1];
      let known: Senders;
      try {
        known = await senders.get(false);
        // A token while the senders showed no OIDC identity: OIDC may have just been turned on.
        if (mode === 'auto' && known.subjects.length === 0 && token) known = await senders.get(true);
      } catch (error) {
        return { ok: false, status: 503, reason: `cannot read the senders: ${(error as Error).message}` };
      }
      // auto: a cluster without OIDC sends no tokens; the writes' own proofs still hold.
      if (mode === 'auto' && known.subjects.length === 0) return { ok: true, subject: null };
      if (!token)
        return { ok: false, status: 401, reason: 'no bearer token: only Knative senders with OIDC may post here' };
      let verified: { subject: string } | string;
      try {
        verified = await verify(token);
      } catch (error) {
        return { ok: false, status: 503, reason: `cannot read the issuer's keys: ${(error as Error).message}` };
      }
      if (typeof verified === 'string') return { ok: false, status: 401, reason: verified };
      const allowed = async (again: boolean) => (await senders.get(again)).subjects.includes(verified.subject);
      // A sender re-created (a new OIDC ServiceAccount) reads the senders once more.
      if ((await allowed(false)) || (await allowed(true))) return { ok: true, subject: verified.subject };
      return { ok: false, status: 403, reason: `${verified.subject} is not a sender of this function` };
    },
  };
}

type Keys = Awaited<ReturnType<typeof loadKeys>>;

async function loadKeys(api: AuthApi) {
  const [{ issuer, jwks }, { createLocalJWKSet, jwtVerify }] = await Promise.all([api.issuerKeys(), import('jose')]);
  return { issuer: Discovery.parse(issuer).issuer, keySet: createLocalJWKSet(Jwks.parse(jwks)), jwtVerify };
}

/** The token's subject if the issuer signed it for `audience` and it is unexpired; else why not. */
async function verifyToken(
  token: string,
  audience: string,
  keys: { get(again: boolean): Promise<Keys> },
): Promise<{ subject: string } | string> {
  for (const again of [false, true]) {
    const { issuer, keySet, jwtVerify } = await keys.get(again);
    try {
      const { payload } = await jwtVerify(token, keySet, {
        issuer,
        audience,
        algorithms: ALGORITHMS,
        clockTolerance: LEEWAY_S,
      });
      if (typeof payload.sub !== 'string') return 'the token has no subject';
      return { subject: payload.sub };
    } catch (error) {
      // Keys rotate: a token signed by a key we have not seen yet reads the keys once more.
      if ((error as { code?: string }).code === 'ERR_JWKS_NO_MATCHING_KEY' && !again) continue;
      return `invalid token: ${(error as Error).message}`;
    }
  }
  return 'invalid token: no key matches';
}

async function readSenders(api: AuthApi, refs: SenderRef[]): Promise<Senders> {
  const result: Senders = { subjects: [], unauthenticated: [] };
  const objects = await Promise.all(refs.map((ref) => api.sender(ref)));
  for (const [i, ref] of refs.entries()) {
    const object = objects[i];
    const parsed = SenderStatus.safeParse(object);
    const account = parsed.success ? parsed.data.status?.auth?.serviceAccountName : undefined;
    if (account) result.subjects.push(`system:serviceaccount:${ref.namespace}:${account}`);
    else
      result.unauthenticated.push(`${ref.kind}/${ref.namespace}/${ref.name}${object === null ? ' (not found)' : ''}`);
  }
  return result;
}

/**
 * A value read at most every FRESH_MS; `again` reads it anew if the last read is older than
 * RETRY_MS. Concurrent callers share one read; a failed read is not kept.
 */
function cached<T>(clock: () => number, read: () => Promise<T>): { get(again: boolean): Promise<T> } {
  let value: Promise<T> | undefined;
  let at = 0;
  return {
    get(again) {
      const age = clock() - at;
      if (!value || age > FRESH_MS || (again && age > RETRY_MS)) {
        at = clock();
        const pending = read();
        value = pending;
        pending.catch(() => {
          if (value === pending) value = undefined;
        });
      }
      return value;
    },
  };
}
