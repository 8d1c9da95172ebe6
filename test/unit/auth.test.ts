// The sender check with tokens signed here, as kube-apiserver signs service-account tokens
// (RS256, iss, aud, sub, exp). The e2e suite runs it with tokens Knative's senders minted.
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { senderAuth, type AuthApi } from '../../functions/advance-phase/src/auth.js';
import type { SenderRef } from '../../functions/advance-phase/src/senders.js';

const ISSUER = 'https://kubernetes.default.svc';
const AUDIENCE = 'serving.knative.dev/service/advance-phase/advance-phase';
const TRIGGER_SA = 'advance-phase-oidc-eventing.knative.dev-trigger';
const SUBJECT = `system:serviceaccount:advance-phase:${TRIGGER_SA}`;
const SENDERS: SenderRef[] = [{ kind: 'trigger', namespace: 'advance-phase', name: 'advance-phase' }];

let key: CryptoKey;
let jwk: JWK;
beforeAll(async () => {
  ({ privateKey: key, publicKey: jwk } = await keyPair('k1'));
});

async function keyPair(kid: string): Promise<{ privateKey: CryptoKey; publicKey: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  return { privateKey, publicKey: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' } };
}

function token(
  claims: { sub?: string; aud?: string; iss?: string; exp?: number } = {},
  signer = key,
  kid = 'k1',
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: 'RS256', kid })
    .setSubject(claims.sub ?? SUBJECT)
    .setAudience(claims.aud ?? AUDIENCE)
    .setIssuer(claims.iss ?? ISSUER)
    .setIssuedAt(now)
    .setExpirationTime(claims.exp ?? now + 3600)
    .sign(signer);
}

/** The API server's answers: the issuer, its keys, and the Trigger's status. */
function api(opts: { keys?: () => JWK[]; account?: () => string | undefined } = {}): AuthApi & { reads: number } {
  const fake = {
    reads: 0,
    issuerKeys: () => {
      fake.reads++;
      return Promise.resolve({ issuer: { issuer: ISSUER }, jwks: { keys: opts.keys?.() ?? [jwk] } });
    },
    sender: () => {
      fake.reads++;
      const account = opts.account ? opts.account() : TRIGGER_SA;
      return Promise.resolve({ status: account ? { auth: { serviceAccountName: account } } : {} });
    },
  };
  return fake;
}
const check = (auth: ReturnType<typeof senderAuth>, t?: string) =>
  auth.check(t === undefined ? undefined : `Bearer ${t}`);

describe('senderAuth', () => {
  const oidc = (a = api()) => senderAuth({ mode: 'oidc', audience: AUDIENCE, senders: SENDERS, api: a });

  it("accepts a token the issuer signed for this audience, from the Trigger's OIDC ServiceAccount", async () => {
    expect(await check(oidc(), await token())).toEqual({ ok: true, subject: SUBJECT });
  });

  it.each([
    ['no token', () => undefined],
    ['another audience', () => token({ aud: 'eventing.knative.dev/broker/advance-phase/advance-phase' })],
    ['another issuer', () => token({ iss: 'https://elsewhere' })],
    ['expired', () => token({ exp: Math.floor(Date.now() / 1000) - 60 })],
    ['signed by another key', async () => token({}, (await keyPair('k1')).privateKey)],
    ['not a JWT', () => 'not-a-jwt'],
  ])('401 for %s', async (_name, make) => {
    const verdict = await check(oidc(), await make());
    expect(verdict).toMatchObject({ ok: false, status: 401 });
  });

  it('403 for a valid token of any other ServiceAccount', async () => {
    const verdict = await check(oidc(), await token({ sub: 'system:serviceaccount:advance-phase:default' }));
    expect(verdict).toMatchObject({
      ok: false,
      status: 403,
      reason: expect.stringContaining(':default is not a sender'),
    });
  });

  it('reads the keys again for a key it has not seen (rotation)', async () => {
    const rotated = await keyPair('k2');
    let keys = [jwk];
    let ms = 0;
    const auth = senderAuth({
      mode: 'oidc',
      audience: AUDIENCE,
      senders: SENDERS,
      api: api({ keys: () => keys }),
      clock: () => ms,
    });
    expect(await check(auth, await token())).toMatchObject({ ok: true });
    keys = [jwk, rotated.publicKey];
    const fresh = await token({}, rotated.privateKey, 'k2');
    ms = 1_000; // too soon to read the keys again
    expect(await check(auth, fresh)).toMatchObject({ ok: false, status: 401 });
    ms = 6_000;
    expect(await check(auth, fresh)).toMatchObject({ ok: true });
  });

  it('reads the senders again at most every few seconds for an unknown subject', async () => {
    const fake = api();
    const auth = oidc(fake);
    const stranger = await token({ sub: 'system:serviceaccount:advance-phase:default' });
    await check(auth, stranger);
    const reads = fake.reads;
    for (let i = 0; i < 20; i++) await check(auth, stranger);
    expect(fake.reads).toBe(reads);
  });

  it('auto: accepts anyone while no sender has an OIDC identity (OIDC off), and requires tokens once one has', async () => {
    const auto = senderAuth({
      mode: 'auto',
      audience: AUDIENCE,
      senders: SENDERS,
      api: api({ account: () => undefined }),
    });
    expect(await check(auto)).toEqual({ ok: true, subject: null });
    const on = senderAuth({ mode: 'auto', audience: AUDIENCE, senders: SENDERS, api: api() });
    expect(await check(on)).toMatchObject({ ok: false, status: 401 });
  });

  it('auto: a token while OIDC looked off reads the senders again (OIDC just turned on)', async () => {
    let account: string | undefined;
    let ms = 0;
    const auto = senderAuth({
      mode: 'auto',
      audience: AUDIENCE,
      senders: SENDERS,
      api: api({ account: () => account }),
      clock: () => ms,
    });
    expect(await check(auto)).toEqual({ ok: true, subject: null });
    account = TRIGGER_SA;
    ms = 6_000;
    expect(await check(auto, await token())).toEqual({ ok: true, subject: SUBJECT });
    expect(await check(auto)).toMatchObject({ ok: false, status: 401 });
  });

  it('oidc: refuses everything while no sender has an OIDC identity', async () => {
    const auth = oidc(api({ account: () => undefined }));
    expect(await check(auth, await token())).toMatchObject({ ok: false, status: 403 });
    expect(await check(auth)).toMatchObject({ ok: false, status: 401 });
  });

  it('503 while the senders cannot be read, so Knative retries', async () => {
    const broken: AuthApi = {
      issuerKeys: api().issuerKeys,
      sender: () => Promise.reject(new Error('connection refused')),
    };
    expect(await check(oidc(broken as AuthApi & { reads: number }), await token())).toMatchObject({
      ok: false,
      status: 503,
    });
  });
});
