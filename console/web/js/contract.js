// contract.js - the room contract in the page (PROTOCOL 8): read the
// active and pending versions through the secure channel, check that each
// document hashes to its sha256 and is of this room, its CA and its
// version, and sign the pending version (8.4, 8.5) with the member's key.
// The chain's signatures are not verified here, nor is a version pinned
// (the CLI does both; docs/CONSOLE.md says what the page lacks).

import { concat, lp, u64be, utf8, fromHex, toHex, toB64, sha256 } from './bytes.js';
import { CdrError } from './errors.js';
import { signDer } from './keys.js';

// A version V or P of the `contract` answer, checked: returns its parsed document.
export async function checkedDocument(v, member) {
  const bad = (why) => new CdrError('contract_invalid', `contract version ${v && v.version}: ${why}`);
  if (!v || typeof v.document !== 'string' || !/^[0-9a-f]{64}$/.test(v.sha256 || '')) throw bad('malformed');
  if (toHex(await sha256(utf8(v.document))) !== v.sha256) throw bad('the document does not hash to its sha256');
  let doc;
  try { doc = JSON.parse(v.document); } catch (e) { throw bad('the document is not JSON'); }
  if (doc.type !== 'cdr-contract-1' || doc.version !== v.version) throw bad('not a cdr-contract-1 document of this version');
  if (doc.room_id !== toHex(member.roomId)) throw bad('the document is of another room');
  if (doc.ca_sha256 !== toHex(member.caFp)) throw bad('the document names another room CA');
  if (!Array.isArray(doc.members)) throw bad('no members');
  return doc;
}

export async function keySha256(member) {
  return toHex(await sha256(member.spki));
}

// Sign the pending version P (after the member read it): the payload of
// contract_sign is the canonical detached object of 8.5.
export async function signPending(s, member, p) {
  const m = concat(lp('CDR-v1 contract sign'), member.roomId, u64be(p.version), fromHex(p.sha256));
  const sig = await signDer(member, m);
  // keys in byte order, compact, no escapes needed (hex, base64, integer): canonical (8.2)
  const obj = JSON.stringify({ contract_sha256: p.sha256, member_key_sha256: await keySha256(member),
    signature: toB64(sig), version: p.version });
  return s.request({ op: 'contract_sign' }, utf8(obj));
}
