// room.js - the member's enrollment (PROTOCOL 4.4, 4.4.1) and the room
// this console belongs to, kept in IndexedDB under "member".  Every
// operation goes through withSession(): attest (with the pins), open a
// session, check the audit head, run, check the head again, close;
// as each `cdr` command does.

import { fromB64, toB64, toHex, sha256, equal, fromHex } from './bytes.js';
import { CdrError } from './errors.js';
import { parseBundle, enrollMac } from './invite.js';
import { generateMemberKey, makeCsr, x509 } from './keys.js';
import { attest } from './attest.js';
import { Session, checkAuditHead } from './session.js';
import { readPinned } from './contract.js';
import * as api from './api.js';
import * as store from './store.js';
import { hostServed } from './mode.js';

export const loadMember = () => store.get('member');

function pemToDer(pem, label) {
  const m = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]+)-----END ${label}-----`).exec(pem || '');
  if (!m) throw new CdrError('malformed', `the enrollment answer has no ${label.toLowerCase()}`);
  return fromB64(m[1].replace(/\s+/g, ''));
}

// The room id: the CA subject's single OU, 32 lower-case hex digits.
function roomIdOf(ca) {
  const ou = ca.subjectName.getField('OU');
  if (ou.length !== 1 || !/^[0-9a-f]{32}$/.test(ou[0])) throw new CdrError('cert_invalid', 'the room CA names no room id (OU)');
  return fromHex(ou[0]);
}

// Tell the relay which room to talk to (a console started without a
// profile); a console bound to another room refuses.
export async function bindRelay(url, caDer) {
  return api.json('POST', '/console/room', { url, ca: toB64(caDer) });
}

// Enroll with an invitation; backupPassphrase (or null) asks for the key
// backup (backup.js), returned as member.backupPem and never stored.
export async function enroll(bundleLine, allowSim, backupPassphrase = null) {
  const b = await parseBundle(bundleLine);
  if (!hostServed()) await bindRelay(b.url, b.caDer); // the host's copy talks to its own origin
  // Attest the room before sending anything of ours: its CA (the
  // invitation's), its platform and measurement (pinned from here on).
  const ca0 = new x509.X509Certificate(b.caDer);
  const att = await attest({ caDer: b.caDer, caFp: b.tok.caFp, roomId: roomIdOf(ca0), measurement: b.measurement }, allowSim);
  if (att.platform !== b.platform)
    throw new CdrError('attestation_measurement_mismatch', `the room attests on ${att.platform}, not on ${b.platform} as the invitation says`);
  const key = await generateMemberKey(backupPassphrase);
  const csr = await makeCsr(key, b.tok.name);
  const mac = await enrollMac(b.tok.secret, b.tok.tokenId, csr.der);
  const a = await api.json('POST', '/v1/enroll', { token_id: b.tok.tokenId, csr: csr.pem, mac: toB64(mac) });
  const caDer = pemToDer(a.ca_certificate, 'CERTIFICATE');
  if (!equal(await sha256(caDer), b.tok.caFp))
    throw new CdrError('cert_untrusted', 'the room answered with another CA than the invitation names: someone between you and the room swapped it');
  const certDer = pemToDer(a.certificate, 'CERTIFICATE');
  const cert = new x509.X509Certificate(certDer);
  const ca = new x509.X509Certificate(caDer);
  if (!equal(new Uint8Array(cert.publicKey.rawData), key.spki))
    throw new CdrError('cert_key_mismatch', 'the certificate the room issued does not certify your key');
  const cn = cert.subjectName.getField('CN');
  if (cn.length !== 1 || cn[0] !== b.tok.name) throw new CdrError('cert_invalid', 'the certificate names another user than the token');
  if (!(await cert.verify({ publicKey: ca.publicKey, signatureOnly: true })))
    throw new CdrError('cert_untrusted', 'the certificate does not verify under the room CA');
  const member = {
    sign: key.sign, dh: key.dh, publicKey: key.publicKey, spki: key.spki, point: key.point,
    certDer, caDer, caFp: b.tok.caFp, roomId: roomIdOf(ca), url: b.url, name: b.tok.name,
    platform: b.platform, measurement: b.measurement, allowSim: !!allowSim,
    role: (cert.subjectName.getField('2.5.4.72')[0]) || '',
  };
  await store.put('member', member);
  return { ...member, backupPem: key.backupPem };
}

// Run fn(session, attestation, contract) inside a verified session of the
// member's room: attested with the pins, the audit head checked, the
// contract held to this console's pin (and the attested measurement to
// the active version's list).
export async function withSession(member, fn) {
  if (!hostServed()) {
    const info = await api.json('GET', '/console/info');
    if (info.target === null) await bindRelay(member.url, member.caDer);
    else if (info.target !== member.url)
      throw new CdrError('bad_request', `this cdr console relays to ${info.target}, but your key is enrolled in ${member.url}`);
  }
  const att = await attest(member, member.allowSim);
  if (att.platform !== member.platform)
    throw new CdrError('attestation_measurement_mismatch', `the room attests on ${att.platform}, not on the pinned ${member.platform}`);
  const s = await Session.open(member, member.certDer, att);
  try {
    await checkAuditHead(s, member.roomId);
    const c = await readPinned(s, member);
    // The contract the enclave's attestation bound must be the active one
    // the session reads (PROTOCOL 4.5): otherwise the host showed one and
    // the enclave serves another.
    const bound = att.contract;
    if ((c.active ? c.active.version : 0) !== bound.version || (c.active && c.active.sha256 !== bound.sha256))
      throw new CdrError('contract_unpinned', `the attested contract (version ${bound.version}) is not the active version the room shows`);
    if (c.active) {
      const doc = JSON.parse(c.active.document);
      if (doc.platform !== att.platform || !doc.measurements.includes(att.measurement))
        throw new CdrError('attestation_measurement_mismatch', `attestation failed: the enclave's measurement ${att.measurement} is not one that contract version ${c.active.version} accepts`);
    }
    const out = await fn(s, att, c);
    await checkAuditHead(s, member.roomId);
    return out;
  } finally {
    await s.close();
  }
}

export async function roomInfo() {
  return api.json('GET', '/v1/room');
}

export const caFingerprint = async (member) => toHex(await sha256(member.caDer));
