// session.js - the end-to-end channel to the enclave (PROTOCOL 4.6, 4.7,
// 5) and the audit-head check every client makes after opening a session
// and before closing it (4.8).  All keys are WebCrypto keys; the session
// keys are not extractable.  Nothing here trusts the relay or the host:
// the open is verified under the attested identity key before the member's
// key opens anything, and every answer is authenticated with the client's
// own session id, seq and request-ciphertext hash.

import { concat, lp, u8, u32be, u64be, utf8, fromUtf8, toB64, fromB64, toHex, fromHex, equal, sha256, randomBytes } from './bytes.js';
import { CdrError } from './errors.js';
import { signDer, verifyDer } from './keys.js';
import * as api from './api.js';
import * as store from './store.js';

const ECDH = { name: 'ECDH', namedCurve: 'P-256' };
const now = () => Math.floor(Date.now() / 1000);
const forged = (why) => new CdrError('response_forged', `the answer is forged or damaged: ${why}`);

async function hkdf(ikm, salt, info, bytes) {
  const k = await crypto.subtle.importKey('raw', ikm, 'HKDF', false, ['deriveBits']);
  return new Uint8Array(await crypto.subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt, info }, k, bytes * 8));
}

async function ecdh(priv, pointRaw) {
  let pub;
  try { pub = await crypto.subtle.importKey('raw', pointRaw, ECDH, false, []); } catch (e) { throw forged('not a P-256 point'); }
  return new Uint8Array(await crypto.subtle.deriveBits({ name: 'ECDH', public: pub }, priv, 256));
}

async function aesKey(raw, usage) {
  return crypto.subtle.importKey('raw', raw, 'AES-GCM', false, [usage]);
}

// PROTOCOL 5, ecdh-p256: open what the enclave sealed to the member's key.
async function openSealed(member, encapsulated, sealed, aad) {
  const z = await ecdh(member.dh, encapsulated);
  const okm = await hkdf(z, concat(encapsulated, member.point), utf8('CDR-v1 seal-to-user ecdh-p256'), 44);
  z.fill(0);
  const k = await aesKey(okm.subarray(0, 32), 'decrypt');
  const iv = okm.slice(32, 44);
  okm.fill(0);
  try {
    return new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv, additionalData: aad }, k, sealed));
  } catch (e) {
    throw forged('the sealed session parameters do not open with your key');
  }
}

const PAD_MIB = 1 << 20;
function padLen(n) {
  if (n <= 256) return 256;
  if (n <= PAD_MIB) { let p = 512; while (p < n) p *= 2; return p; }
  return Math.ceil(n / PAD_MIB) * PAD_MIB;
}

export class Session {
  // member: {sign, dh, point, spki}, certDer; att: attest()'s result.
  static async open(member, certDer, att) {
    const share = await crypto.subtle.generateKey(ECDH, false, ['deriveBits']);
    const cPub = new Uint8Array(await crypto.subtle.exportKey('raw', share.publicKey));
    const nonce = randomBytes(32);
    const ts = now();
    const tReq = concat(lp('CDR-v1 session-open request'), u32be(1), lp(certDer), lp(member.spki), lp(cPub), lp(nonce), u64be(ts));
    const sig = await signDer(member, tReq);
    const a = await api.json('POST', '/v1/session', {
      version: 1, certificate: toB64(certDer), user_public_key: toB64(member.spki), client_key_share: toB64(cPub),
      client_nonce: toB64(nonce), timestamp: ts, signature: toB64(sig) });
    let sid, enc, sealed, rsig;
    try {
      sid = fromB64(a.session_id); enc = fromB64(a.encapsulated_key); sealed = fromB64(a.sealed); rsig = fromB64(a.signature);
    } catch (e) { throw forged('a field of the session answer is not base64'); }
    if (sid.length !== 16 || a.kem !== 'ecdh-p256' || !Number.isSafeInteger(a.expires_at) || a.expires_at < 0)
      throw forged('the session answer is malformed (this console holds EC keys: kem ecdh-p256)');
    const hReq = await sha256(tReq);
    const tResp = concat(lp('CDR-v1 session-open response'), lp(hReq), lp(await sha256(certDer)), lp(nonce), lp(sid),
      u64be(a.expires_at), u8(1), lp(enc), lp(sealed));
    if (!(await verifyDer(att.identity, rsig, tResp))) throw forged('the session answer is not signed by the attested enclave');
    const p = await openSealed(member, enc, sealed, hReq);
    if (p.length !== 89 || !equal(p.subarray(0, 16), sid) || !equal(p.subarray(16, 24), u64be(a.expires_at)))
      throw forged('the sealed session parameters differ from the ones in clear');
    const z = await ecdh(share.privateKey, p.subarray(24, 89));
    const okm = await hkdf(z, hReq, concat(utf8('CDR-v1 session keys'), sid), 64);
    z.fill(0);
    const s = new Session();
    s.member = member; s.att = att; s.sid = sid; s.expires = a.expires_at; s.seq = 0;
    s.kReq = await aesKey(okm.subarray(0, 32), 'encrypt');
    s.kResp = await aesKey(okm.subarray(32, 64), 'decrypt');
    okm.fill(0);
    return s;
  }

  // One operation: header (an object) and payload (bytes, may be empty).
  // Returns the decrypted answer object; a sealed refusal throws a
  // CdrError with sealed = true.
  async request(header, payload = new Uint8Array(0)) {
    if (now() >= this.expires) throw new CdrError('session_expired', 'the session has expired; try again');
    let hj = JSON.stringify(header);
    if (payload.length === 0) hj = hj.padEnd(padLen(utf8(hj).length) - (utf8(hj).length - hj.length), ' ');
    const plain = concat(lp(utf8(hj)), payload);
    const seq = ++this.seq;
    const ts = now();
    const iv = concat(u32be(1), u64be(seq));
    const aad = concat(lp('CDR-v1 request'), lp(this.sid), u64be(seq), u64be(ts));
    const ct = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: aad }, this.kReq, plain));
    const hct = await sha256(ct);
    const sreq = concat(lp('CDR-v1 request signature'), lp(this.sid), u64be(seq), u64be(ts), lp(hct));
    const sig = await signDer(this.member, sreq);
    const { status, json } = await api.raw('POST', '/v1/request', {
      session_id: toB64(this.sid), seq, timestamp: ts, ciphertext: toB64(ct), signature: toB64(sig) });
    if (!json || typeof json !== 'object') throw forged(`HTTP ${status} without a JSON body`);
    const env = (status === 200 && json.status === 'ok') ? 0 : (status === 422 && json.status === 'failed') ? 1 : -1;
    if (env < 0) {
      if (status === 200 || status === 422) throw forged('the HTTP status and the envelope status disagree');
      if (typeof json.error === 'string')
        throw new CdrError(json.error, `${json.message || 'refused'} (HTTP ${status}; not authenticated by the enclave)`, { status });
      throw forged(`HTTP ${status}`);
    }
    let rct;
    try { rct = fromB64(json.ciphertext); } catch (e) { throw forged('the ciphertext is not base64'); }
    const riv = concat(u32be(2), u64be(seq));
    const raad = concat(lp('CDR-v1 response'), lp(this.sid), u64be(seq), u8(env), lp(hct));
    let pt;
    try {
      pt = new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: riv, additionalData: raad }, this.kResp, rct));
    } catch (e) { throw forged('the answer does not authenticate under the session key'); }
    let o;
    try { o = JSON.parse(fromUtf8(pt)); } catch (e) { throw forged('the decrypted answer is not JSON'); }
    if ((env === 0) !== (o.ok === true)) throw forged('the decrypted answer disagrees with the envelope status');
    if (env === 1) throw new CdrError(String(o.error), String(o.message), { status, sealed: true });
    return o;
  }

  async close() {
    try { await this.request({ op: 'close' }); } catch (e) { /* the session ends with its expiry anyway */ }
  }
}

// The audit head check of PROTOCOL 4.8: verify the signed head under the
// attested identity and compare it with the newest head this console has
// seen for the room (rollback, fork); then remember it.
export async function checkAuditHead(s, roomId) {
  const key = `audit-head:${toHex(roomId)}`;
  const seen = await store.get(key);
  const h = await s.request(seen ? { op: 'audit_head', known: seen.size } : { op: 'audit_head' });
  if (!Number.isSafeInteger(h.size) || !Number.isSafeInteger(h.time) || !/^[0-9a-f]{64}$/.test(h.head || ''))
    throw new CdrError('audit_invalid', 'the audit head is malformed');
  await verifyHead(s.att.identity, roomId, h.size, fromHex(h.head), h.time, h.signature);
  if (seen) {
    if (h.size < seen.size)
      throw new CdrError('audit_rollback', `the room's audit log has ${h.size} entries, fewer than the ${seen.size} this console has seen: its state was put back`);
    if (h.known_head !== seen.head)
      throw new CdrError('audit_fork', 'the room\'s audit log does not extend the one this console has seen');
  }
  await store.put(key, { size: h.size, head: h.head, identity: toHex(await sha256(s.att.identitySpki)), platform: s.att.platform });
  return h;
}

export async function verifyHead(identity, roomId, size, head, time, sigB64) {
  const t = concat(lp('CDR-v1 audit head'), lp(roomId), u64be(size), lp(head), u64be(time));
  let sig;
  try { sig = fromB64(sigB64); } catch (e) { throw new CdrError('audit_invalid', 'the audit head signature is not base64'); }
  if (!(await verifyDer(identity, sig, t))) throw new CdrError('audit_invalid', 'the audit head is not signed by the attested enclave');
}
