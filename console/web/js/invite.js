// invite.js - the invitation bundle (PROTOCOL 4.4.1) and the enrollment
// token inside it (4.4): parsed and checked before anything is sent.

import { fromB64url, fromB64, fromUtf8, sha256, toHex, equal, fromHex, lp, concat, utf8 } from './bytes.js';
import { CdrError } from './errors.js';

const bad = (why) => new CdrError('invite_invalid', `invalid invitation: ${why}`);

export function parseToken(tok) {
  const m = /^cdr1\.([0-9a-f]{32})\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/.exec(tok);
  if (!m) throw bad('the token is not cdr1.<id>.<secret>.<name>.<fingerprint>');
  const secret = fromB64url(m[2]);
  const fp = fromB64url(m[4]);
  if (secret.length !== 32 || fp.length !== 32) throw bad('the token\'s secret or fingerprint has the wrong length');
  let name;
  try { name = fromUtf8(fromB64url(m[3])); } catch (e) { throw bad('the token\'s user name is not UTF-8'); }
  return { tokenId: m[1], secret, name, caFp: fp };
}

// A bundle line -> {url, token, caDer, caSha256, platform, measurement, tok}.
export async function parseBundle(line) {
  line = line.trim();
  if (line.length > 16384) throw bad('longer than 16384 characters');
  if (!line.startsWith('cdr-invite-1:')) throw bad('it does not start with cdr-invite-1:');
  let j;
  try { j = JSON.parse(fromUtf8(fromB64url(line.slice(13)))); } catch (e) { throw bad('it does not decode to JSON'); }
  if (!j || typeof j !== 'object' || Array.isArray(j)) throw bad('not a JSON object');
  if (j.v !== 1) throw bad('v is not 1');
  for (const k of ['url', 'token', 'ca', 'ca_sha256', 'platform', 'measurement'])
    if (typeof j[k] !== 'string') throw bad(`${k} is missing or not a string`);
  let u;
  try { u = new URL(j.url); } catch (e) { throw bad('url does not parse'); }
  if (u.username || u.password) throw bad('url has a user name');
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw bad('url is not https://');
  if (!/^[0-9a-f]{64}$/.test(j.ca_sha256)) throw bad('ca_sha256 is not 64 hex digits');
  if (!['sim', 'snp', 'tdx', 'nitro'].includes(j.platform)) throw bad('unknown platform');
  const mlen = j.platform === 'sim' ? 64 : 96;
  if (!new RegExp(`^[0-9a-f]{${mlen}}$`).test(j.measurement)) throw bad('measurement has the wrong form');
  let caDer;
  try { caDer = fromB64(j.ca); } catch (e) { throw bad('ca is not base64'); }
  const fp = await sha256(caDer);
  if (toHex(fp) !== j.ca_sha256) throw bad('the CA does not hash to ca_sha256');
  const tok = parseToken(j.token);
  if (!equal(tok.caFp, fp)) throw bad('the token names another CA than the bundle');
  return { url: j.url.replace(/\/+$/, ''), token: j.token, caDer, caSha256: j.ca_sha256, platform: j.platform,
           measurement: j.measurement, tok };
}

// mac = HMAC-SHA256(secret, lp("CDR-v1 enroll") || lp(token_id) || lp(csr DER)).
export async function enrollMac(secret, tokenId, csrDer) {
  const k = await crypto.subtle.importKey('raw', secret, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const msg = concat(lp('CDR-v1 enroll'), lp(utf8(tokenId)), lp(csrDer));
  return new Uint8Array(await crypto.subtle.sign('HMAC', k, msg));
}

export { fromHex };
