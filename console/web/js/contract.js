// contract.js - the room contract in the page (PROTOCOL 8): read the
// active and pending versions through the secure channel, check that each
// document hashes to its sha256 and is of this room, its CA and its
// version, and sign the pending version (8.4, 8.5) with the member's key.
// The member's pin (8.9): readPinned() below.

import { concat, lp, u64be, utf8, fromHex, toHex, toB64, fromB64, sha256 } from './bytes.js';
import { CdrError } from './errors.js';
import { signDer, verifyDer, importSpki } from './keys.js';
import * as store from './store.js';
import { refuseOnHost } from './mode.js';

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
  refuseOnHost('Signing a contract version');
  const m = concat(lp('CDR-v1 contract sign'), member.roomId, u64be(p.version), fromHex(p.sha256));
  const sig = await signDer(member, m);
  // keys in byte order, compact, no escapes needed (hex, base64, integer): canonical (8.2)
  const obj = JSON.stringify({ contract_sha256: p.sha256, member_key_sha256: await keySha256(member),
    signature: toB64(sig), version: p.version });
  return s.request({ op: 'contract_sign' }, utf8(obj));
}

// ---- what a version changes, and the keys the member confirmed ----

// What `next` changes against the active `prev` (both checked documents),
// as `cdr contract` prints it: members added (+), with other roles or
// name (~), removed (-); the CA, platform and measurements when they differ.
export function changes(prev, next) {
  const out = [];
  const before = new Map(prev.members.map((m) => [m.key_sha256, m]));
  const after = new Set(next.members.map((m) => m.key_sha256));
  const sameRoles = (a, b) => a.roles.length === b.roles.length && a.roles.every((r) => b.roles.includes(r));
  for (const m of next.members) {
    const p = before.get(m.key_sha256);
    if (!p) out.push({ mark: '+', text: `${m.name} (${m.roles.join(', ')}), key ${m.key_sha256}` });
    else if (!sameRoles(p, m) || p.name !== m.name)
      out.push({ mark: '~', text: `${m.name} (${m.roles.join(', ')}; was ${p.name}, ${p.roles.join(', ')}), key ${m.key_sha256}` });
  }
  for (const m of prev.members)
    if (!after.has(m.key_sha256)) out.push({ mark: '-', text: `${m.name} (${m.roles.join(', ')}), key ${m.key_sha256}` });
  if (prev.ca_sha256 !== next.ca_sha256) out.push({ mark: '~', text: `the room CA: ${next.ca_sha256}` });
  if (prev.platform !== next.platform) out.push({ mark: '~', text: `the platform: ${prev.platform} to ${next.platform}` });
  const ms = (d) => [...d.measurements].sort().join(' ');
  if (ms(prev) !== ms(next)) out.push({ mark: '~', text: `the accepted measurements: ${next.measurements.join(', ')}` });
  return out;
}

const confirmedKey = (member) => `confirmed:${toHex(member.roomId)}`;

// The key fingerprints this console's member confirmed out of band
// (`cdr contract confirm`): a Map fingerprint -> name.
export async function confirmedKeys(member) {
  return new Map(Object.entries((await store.get(confirmedKey(member))) || {}));
}

// Record that the member checked NAME's key fingerprint out of band.  The
// host's copy refuses (a confirmation there would be the operator's word).
// Refused with contract_mismatch, and not recorded, when a version shown
// (`docs`) names NAME with another key: that is what the check is for.
export async function confirmKey(member, name, fp, docs) {
  refuseOnHost('Confirming a member\'s key');
  fp = fp.trim().toLowerCase();
  name = name.trim();
  if (!name) throw new CdrError('bad_request', 'give the member\'s name');
  if (!/^[0-9a-f]{64}$/.test(fp)) throw new CdrError('bad_request', 'a key fingerprint is 64 hex digits (SHA-256 of the key)');
  for (const d of docs)
    for (const m of d.members)
      if (m.name === name && m.key_sha256 !== fp)
        throw new CdrError('contract_mismatch', `contract version ${d.version} names ${name} with key ${m.key_sha256}, not the fingerprint you checked (${fp}): do not sign it before you know why`);
  const all = (await store.get(confirmedKey(member))) || {};
  all[fp] = name;
  await store.put(confirmedKey(member), all);
}

// ---- the client pin of PROTOCOL 8.9 ----

const has = (m, role) => m.roles.includes(role);

// The keys cdr-gov-1 (8.6) requires to sign `next`, from the active `prev` (or null).
export function requiredSigners(prev, next) {
  const need = new Set();
  if (!prev) { for (const m of next.members) need.add(m.key_sha256); return need; }
  const before = new Map(prev.members.map((m) => [m.key_sha256, m]));
  for (const m of prev.members) if (has(m, 'provider')) need.add(m.key_sha256);
  for (const m of next.members) {
    const p = before.get(m.key_sha256);
    if (!p || m.roles.some((r) => !p.roles.includes(r))) need.add(m.key_sha256);
  }
  if (!prev.members.some((m) => has(m, 'provider'))) for (const m of prev.members) need.add(m.key_sha256);
  return need;
}

// The keys whose signatures on version v (its `signatures`) verify (8.4, 8.5).
async function verifiedSigners(v, roomId) {
  const ok = new Set();
  for (const sg of v.signatures || []) {
    try {
      const spki = fromB64(sg.spki);
      const obj = JSON.parse(sg.object);
      const fp = toHex(await sha256(spki));
      if (obj.member_key_sha256 !== fp || obj.contract_sha256 !== v.sha256 || obj.version !== v.version) continue;
      const m = concat(lp('CDR-v1 contract sign'), roomId, u64be(v.version), fromHex(v.sha256));
      const sig = fromB64(obj.signature);
      let good = false;
      try {
        good = await verifyDer(await importSpki(spki), sig, m);
      } catch (e) { // an RSA member key: RSASSA-PSS, SHA-256, salt 32
        const k = await crypto.subtle.importKey('spki', spki, { name: 'RSA-PSS', hash: 'SHA-256' }, false, ['verify']);
        good = await crypto.subtle.verify({ name: 'RSA-PSS', saltLength: 32 }, k, sig, m);
      }
      if (good) ok.add(fp);
    } catch (e) { /* a malformed signature counts for nothing */ }
  }
  return ok;
}

async function checkSigned(prevDoc, v, doc, roomId) {
  const need = requiredSigners(prevDoc, doc);
  const got = await verifiedSigners(v, roomId);
  const missing = [...need].filter((k) => !got.has(k));
  if (need.size === 0 || missing.length)
    throw unpinned(`version ${v.version} lacks verified signatures of ${missing.join(', ') || 'anyone'}`);
}

const unpinned = (why) => new CdrError('contract_unpinned', `the room's contract does not follow the one this console accepted: ${why}`);

// Read the contract and hold the room to this console's pin: the chain
// from the pinned version must start with it, link each version to the one
// before and carry cdr-gov-1's signatures; then the pin moves to the
// active version.  Without a pin the active version is pinned (trust on
// first use; version 1's signatures are checked).  Returns the answer.
export async function readPinned(s, member) {
  const key = `contract-pin:${toHex(member.roomId)}`;
  const pin = await store.get(key);
  const c = await s.request(pin ? { op: 'contract', from: pin.version } : { op: 'contract' });
  if (!c.active) {
    if (pin) throw unpinned(`no active contract version, but this console pinned version ${pin.version}`);
    return c;
  }
  const activeDoc = await checkedDocument(c.active, member);
  if (pin) {
    const chain = c.chain;
    if (!Array.isArray(chain) || chain.length === 0 || chain[0].version !== pin.version || chain[0].sha256 !== pin.sha256)
      throw unpinned(`the chain does not start with the pinned version ${pin.version} (${pin.sha256})`);
    let prev = await checkedDocument(chain[0], member);
    for (let i = 1; i < chain.length; i++) {
      const doc = await checkedDocument(chain[i], member);
      if (doc.previous_sha256 !== chain[i - 1].sha256 || doc.version !== chain[i - 1].version + 1 || doc.governance !== prev.governance)
        throw unpinned(`version ${doc.version} does not follow version ${chain[i - 1].version}`);
      await checkSigned(prev, chain[i], doc, member.roomId);
      prev = doc;
    }
    if (chain[chain.length - 1].sha256 !== c.active.sha256) throw unpinned('the chain does not end at the active version');
  } else if (c.active.version === 1) {
    await checkSigned(null, c.active, activeDoc, member.roomId);
  }
  await store.put(key, { version: c.active.version, sha256: c.active.sha256 });
  return c;
}
