// backup.js - the member's key backup, offered once, when the key is made:
// the PKCS#8 private key encrypted with a passphrase as a standard
// EncryptedPrivateKeyInfo (RFC 5958) with PBES2 (RFC 8018): PBKDF2 with
// HMAC-SHA256 and AES-256-CBC, PEM "ENCRYPTED PRIVATE KEY", the format
// `openssl pkcs8 -topk8 -v2 aes-256-cbc -v2prf hmacWithSHA256` writes, so
// `cdr ... --key FILE --pass SRC` and OpenSSL read it as it is.
//
// The key derivation and the encryption are WebCrypto's (PBKDF2, AES-CBC
// with its PKCS#7 padding); the DER is built by asn1js (vendor/asn1js.js,
// from the npm lock), never by hand.

import * as asn1js from '../vendor/asn1js.js';
import { utf8 } from './bytes.js';
import { pem } from './keys.js';
import { CdrError } from './errors.js';

const OID_PBES2 = '1.2.840.113549.1.5.13';
const OID_PBKDF2 = '1.2.840.113549.1.5.12';
const OID_HMAC_SHA256 = '1.2.840.113549.2.9';
const OID_AES256_CBC = '2.16.840.1.101.3.4.1.42';
// PBKDF2-HMAC-SHA256 iterations: OWASP's 2023 advice for SHA-256.
export const BACKUP_ITERATIONS = 600000;
export const BACKUP_MIN_PASSPHRASE = 12;

const algId = (oid, params) => new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: oid }), params] });
const octets = (b) => new asn1js.OctetString({ valueHex: b.slice().buffer });

// The PEM of pkcs8 (bytes) encrypted under passphrase.
export async function encryptPkcs8(pkcs8, passphrase, iterations = BACKUP_ITERATIONS) {
  if (typeof passphrase !== 'string' || [...passphrase].length < BACKUP_MIN_PASSPHRASE)
    throw new CdrError('bad_request', `the backup's passphrase must have at least ${BACKUP_MIN_PASSPHRASE} characters`);
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const iv = crypto.getRandomValues(new Uint8Array(16));
  const pass = utf8(passphrase);
  let ct;
  try {
    const base = await crypto.subtle.importKey('raw', pass, 'PBKDF2', false, ['deriveKey']);
    const key = await crypto.subtle.deriveKey({ name: 'PBKDF2', salt, iterations, hash: 'SHA-256' }, base,
      { name: 'AES-CBC', length: 256 }, false, ['encrypt']);
    ct = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-CBC', iv }, key, pkcs8));
  } finally {
    pass.fill(0);
  }
  const pbkdf2 = new asn1js.Sequence({ value: [octets(salt), new asn1js.Integer({ value: iterations }),
    new asn1js.Integer({ value: 32 }), algId(OID_HMAC_SHA256, new asn1js.Null())] });
  const pbes2 = new asn1js.Sequence({ value: [algId(OID_PBKDF2, pbkdf2), algId(OID_AES256_CBC, octets(iv))] });
  const epki = new asn1js.Sequence({ value: [algId(OID_PBES2, pbes2), octets(ct)] });
  return pem('ENCRYPTED PRIVATE KEY', new Uint8Array(epki.toBER(false)));
}
