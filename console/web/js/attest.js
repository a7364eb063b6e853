// attest.js - POST /v1/attest and its check, as the CLI checks it
// (PROTOCOL 4.5, src/client/attest.c).  This page verifies the `sim`
// platform only, and only when the member ticked the visible "not
// hardware-backed" allowance; SEV-SNP, TDX and Nitro rooms are refused
// with attestation_unsupported (use the cdr CLI for them: docs/CONSOLE.md).

import { concat, lp, fromB64, fromHex, toHex, equal, sha512, randomBytes, toB64 } from './bytes.js';
import { CdrError } from './errors.js';
import { x509, verifyDer, importSpki } from './keys.js';
import * as api from './api.js';

export const SIM_CN = 'CDR simulated attestation platform';
const ROLE_OID = '2.5.4.72';
const MAGIC = Uint8Array.of(0x43, 0x44, 0x52, 0x53, 0x49, 0x4d, 0x00, 0x01);

const err = (code, msg) => new CdrError(code, `attestation failed: ${msg}`);

// report_data = SHA-512(lp("CDR-v1 report-data") || lp(identity SPKI) ||
// lp(room_id) || lp(ca_fingerprint) || lp(nonce)).  The one place that
// says what the evidence binds; a later binding (the contract) goes here.
// PROTOCOL 4.5, version 2: the active contract hash is bound too (32 zero
// bytes while no version is active).
export async function expectedReportData(identitySpki, roomId, caFp, contractSha256, nonce) {
  return sha512(concat(lp('CDR-v2 report-data'), lp(identitySpki), lp(roomId), lp(caFp), lp(contractSha256), lp(nonce)));
}

// The answer's contract_sha256 and contract_version: both or neither is
// malformed, version 0 exactly with the zero hash.
function attestedContract(a) {
  const bad = () => err('attestation_malformed', 'the attestation answer names no consistent contract (contract_sha256, contract_version)');
  if (typeof a.contract_sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(a.contract_sha256) ||
      !Number.isSafeInteger(a.contract_version) || a.contract_version < 0) throw bad();
  const zero = a.contract_sha256 === '0'.repeat(64);
  if ((a.contract_version === 0) !== zero) throw bad();
  return { version: a.contract_version, sha256: a.contract_sha256 };
}

function validAt(cert, now) {
  return cert.notBefore.getTime() <= now && now <= cert.notAfter.getTime();
}

// The sim platform certificate rules of PROTOCOL 4.5.
async function checkPlatformCert(plat, ca, roomIdHex, now) {
  const bad = () => err('attestation_unknown_root', 'the platform certificate is not a sim platform certificate of your room CA');
  if (!equal(new Uint8Array(plat.issuerName.toArrayBuffer()), new Uint8Array(ca.subjectName.toArrayBuffer()))) throw bad();
  if (!(await plat.verify({ publicKey: ca.publicKey, signatureOnly: true }))) throw bad();
  if (!validAt(plat, now) || !validAt(ca, now)) throw bad();
  const bc = plat.getExtension(x509.BasicConstraintsExtension);
  const ku = plat.getExtension(x509.KeyUsagesExtension);
  if (!bc || bc.ca) throw bad();
  if (!ku || !(ku.usages & x509.KeyUsageFlags.digitalSignature) || (ku.usages & x509.KeyUsageFlags.keyCertSign)) throw bad();
  const subj = plat.subjectName;
  if (subj.getField(ROLE_OID).length !== 0) throw bad();
  const cn = subj.getField('CN');
  const ou = subj.getField('OU');
  if (cn.length !== 1 || cn[0] !== SIM_CN || ou.length !== 1 || ou[0] !== roomIdHex) throw bad();
}

// Parse sim evidence: {measurement, reportData, timestamp, signed, sig}.
function parseSimEvidence(ev) {
  const bad = () => err('attestation_malformed', 'the sim evidence does not parse');
  if (ev.length < 117 || !equal(ev.subarray(0, 8), MAGIC)) throw bad();
  const dv = new DataView(ev.buffer, ev.byteOffset, ev.byteLength);
  const n = dv.getUint32(112, false);
  if (n < 1 || n > 256 || ev.length !== 116 + n) throw bad();
  return { measurement: ev.slice(8, 40), reportData: ev.slice(40, 104), timestamp: Number(dv.getBigUint64(104, false)),
           signed: ev.slice(0, 112), sig: ev.slice(116) };
}

// room: {caDer, roomId (16 bytes), caFp (32 bytes), measurement (hex pin
// or null)}; allowSim: the member's allowance.  Returns {platform,
// measurement (hex), identity (CryptoKey), identitySpki, timestamp}.
export async function attest(room, allowSim) {
  const nonce = randomBytes(32);
  const a = await api.json('POST', '/v1/attest', { nonce: toB64(nonce) });
  if (typeof a.platform !== 'string') throw err('attestation_malformed', 'the answer names no platform');
  if (['snp', 'tdx', 'nitro'].includes(a.platform))
    throw new CdrError('attestation_unsupported', `this console verifies sim attestation only; the room runs on ${a.platform}: use the cdr CLI`);
  if (a.platform !== 'sim') throw err('attestation_malformed', 'an unknown platform');
  if (!allowSim)
    throw new CdrError('attestation_sim_not_allowed', 'attestation failed: the room uses sim attestation, which is not hardware-backed; tick "Allow simulated attestation" to accept it');
  let ev, platDer, spki;
  const contract = attestedContract(a);
  try {
    ev = fromB64(a.evidence);
    platDer = fromB64(a.certificates[0]);
    spki = fromB64(a.identity_public_key);
    if (!equal(fromHex(a.room_id), room.roomId) || !equal(fromHex(a.ca_fingerprint), room.caFp))
      throw err('attestation_report_data_mismatch', 'the enclave names another room or CA than yours');
  } catch (e) {
    if (e instanceof CdrError) throw e;
    throw err('attestation_malformed', 'the attestation answer is missing a field or has a malformed one');
  }
  const now = Date.now();
  const ca = new x509.X509Certificate(room.caDer);
  let plat;
  try { plat = new x509.X509Certificate(platDer); } catch (e) { throw err('attestation_unknown_root', 'the platform certificate does not parse'); }
  await checkPlatformCert(plat, ca, toHex(room.roomId), now);
  const sim = parseSimEvidence(ev);
  const platKey = await plat.publicKey.export({ name: 'ECDSA', namedCurve: 'P-256' }, ['verify']);
  if (!(await verifyDer(platKey, sim.sig, sim.signed)))
    throw err('attestation_bad_signature', 'the evidence signature does not verify under the platform key');
  const want = await expectedReportData(spki, room.roomId, room.caFp, fromHex(contract.sha256), nonce);
  if (!equal(want, sim.reportData))
    throw err('attestation_report_data_mismatch', 'report_data does not bind this identity key, your room, your CA, the contract the room names and your nonce');
  const mhex = toHex(sim.measurement);
  if (room.measurement && mhex !== room.measurement)
    throw new CdrError('attestation_measurement_mismatch',
      `attestation failed: the enclave's measurement ${mhex} is not the pinned ${room.measurement}; the room runs another enclave than the one you accepted`);
  let identity;
  try { identity = await importSpki(spki); } catch (e) { throw err('attestation_malformed', 'the identity key is not an EC P-256 key'); }
  return { platform: 'sim', measurement: mhex, identity, identitySpki: spki, timestamp: sim.timestamp, contract };
}
