// bytes.js - byte strings for the protocol (docs/PROTOCOL.md section 1):
// lp(), u32be, u64be, concatenation, base64 (standard and url), hex, UTF-8.
// Everything here works on Uint8Array.

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

export const utf8 = (s) => enc.encode(s);
export const fromUtf8 = (b) => dec.decode(b);

export function concat(...parts) {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

export function u32be(n) {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0, false);
  return b;
}

// n is a Number up to 2^53 - 1 (every integer of the protocol is).
export function u64be(n) {
  if (!Number.isSafeInteger(n) || n < 0) throw new Error('u64be: not a safe integer');
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n), false);
  return b;
}

export const u8 = (n) => Uint8Array.of(n & 0xff);

// lp(x) = u32be(len(x)) || x; a string is taken as its UTF-8 bytes.
export function lp(x) {
  const b = typeof x === 'string' ? utf8(x) : x;
  return concat(u32be(b.length), b);
}

export function toB64(b) {
  let s = '';
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode.apply(null, b.subarray(i, i + 0x8000));
  return btoa(s);
}

// Standard base64 with padding only (PROTOCOL 1); anything else throws.
export function fromB64(s) {
  if (typeof s !== 'string' || !/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(s))
    throw new Error('not standard base64');
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

// base64url without padding (the token and the invitation bundle).
export function fromB64url(s) {
  if (typeof s !== 'string' || !/^[A-Za-z0-9_-]*$/.test(s) || s.length % 4 === 1) throw new Error('not base64url');
  let t = s.replace(/-/g, '+').replace(/_/g, '/');
  while (t.length % 4) t += '=';
  return fromB64(t);
}

export function toHex(b) {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

export function fromHex(s) {
  if (typeof s !== 'string' || !/^([0-9a-f]{2})*$/.test(s)) throw new Error('not lower-case hex');
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(2 * i, 2), 16);
  return out;
}

// Constant-time comparison of two byte strings of public length.
export function equal(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

export async function sha256(b) {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', b));
}

export async function sha512(b) {
  return new Uint8Array(await crypto.subtle.digest('SHA-512', b));
}

export function randomBytes(n) {
  return crypto.getRandomValues(new Uint8Array(n));
}
