// keys.js - the member's key (EC P-256) made and kept in the browser.
//
// WebCrypto binds a key to one algorithm, and the protocol uses the
// member's key U twice: ECDSA to sign (session open, requests, contract
// signatures) and ECDH to open what the enclave seals to U (PROTOCOL 5).
// So the pair is generated extractable once, its PKCS#8 is imported twice
// as NON-extractable keys (ECDSA sign, ECDH deriveBits), and the
// extractable handle and the PKCS#8 bytes are dropped (the bytes are
// zeroed).  Only the two non-extractable private keys and the public key
// are kept, in IndexedDB: no script, this page's included, can read them
// back (exportKey throws).  A backup, if the member asks for one, is made
// from the same PKCS#8 bytes before they are zeroed, encrypted under the
// member's passphrase (backup.js): the only copy of the key that ever
// leaves WebCrypto, and only encrypted.
//
// The CSR is built by @peculiar/x509 (vendor/x509.js), which also does the
// DER <-> raw conversion of ECDSA signatures; no ASN.1 is written here.

import { CdrError } from './errors.js';
import { toB64 } from './bytes.js';
import { encryptPkcs8 } from './backup.js';

const x509 = globalThis.x509;
x509.cryptoProvider.set(crypto);
const EC = { name: 'ECDSA', namedCurve: 'P-256' };
const SIG = { name: 'ECDSA', hash: 'SHA-256' };
const fmt = new x509.AsnEcSignatureFormatter();

// backupPassphrase: null (no backup), or the passphrase of the encrypted
// PKCS#8 returned as backupPem.
export async function generateMemberKey(backupPassphrase = null) {
  const pair = await crypto.subtle.generateKey(EC, true, ['sign', 'verify']);
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey('pkcs8', pair.privateKey));
  try {
    const backupPem = backupPassphrase === null ? null : await encryptPkcs8(pkcs8, backupPassphrase);
    const sign = await crypto.subtle.importKey('pkcs8', pkcs8, EC, false, ['sign']);
    const dh = await crypto.subtle.importKey('pkcs8', pkcs8, { name: 'ECDH', namedCurve: 'P-256' }, false, ['deriveBits']);
    const spki = new Uint8Array(await crypto.subtle.exportKey('spki', pair.publicKey));
    const point = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
    return { sign, dh, publicKey: pair.publicKey, spki, point, backupPem };
  } finally {
    pkcs8.fill(0);
  }
}

// PKCS#10 CSR for key with subject CN=<name>, as DER and PEM.
export async function makeCsr(key, name) {
  const n = new x509.Name([{ '2.5.4.3': [{ utf8String: name }] }]);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: n, keys: { privateKey: key.sign, publicKey: key.publicKey }, signingAlgorithm: SIG });
  const der = new Uint8Array(csr.rawData);
  return { der, pem: pem('CERTIFICATE REQUEST', der) };
}

// ECDSA-SHA256 signature of msg with the member's key, DER-encoded.
export async function signDer(key, msg) {
  const rawSig = await crypto.subtle.sign(SIG, key.sign, msg);
  const der = fmt.toAsnSignature({ ...SIG, namedCurve: 'P-256' }, rawSig);
  if (!der) throw new CdrError('internal', 'cannot encode an ECDSA signature');
  return new Uint8Array(der);
}

// Verify a DER ECDSA-SHA256 signature under a P-256 public CryptoKey.
export async function verifyDer(pub, derSig, msg) {
  let rawSig = null;
  try { rawSig = fmt.toWebSignature({ ...SIG, namedCurve: 'P-256' }, derSig); } catch (e) { rawSig = null; }
  if (!rawSig) return false;
  return crypto.subtle.verify(SIG, pub, rawSig, msg);
}

export async function importSpki(spki) {
  return crypto.subtle.importKey('spki', spki, EC, true, ['verify']);
}

export { x509 };

export function pem(label, der) {
  const b = toB64(der).replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b}\n-----END ${label}-----\n`;
}
