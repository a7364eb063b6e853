// csv.js - CSV for the upload's schema inference and the result download.
//
// parse() reads RFC 4180 text (the rules of src/common/csv.h: ',' between
// fields, records ended by LF or CRLF, '"' quoting with '""' inside) only
// to infer each column's type the way `cdr upload` does; the enclave
// parses the bytes again itself and is the judge of their validity.

import { CdrError } from './errors.js';

export function parse(text) {
  const recs = [];
  let rec = [], field = '', i = 0, quoted = false, line = 1, start = true;
  const n = text.length;
  const endField = () => { rec.push(field); field = ''; start = true; };
  const endRec = () => { endField(); recs.push(rec); rec = []; };
  while (i < n) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') { field += '"'; i += 2; continue; }
        quoted = false; i++;
        if (i < n && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r')
          throw new CdrError('csv_invalid', `line ${line}: unexpected character after a closing quote`);
        continue;
      }
      if (c === '\n') line++;
      field += c; i++;
    } else if (c === '"' && start && field === '') { quoted = true; start = false; i++; }
    else if (c === ',') { endField(); i++; }
    else if (c === '\n' || (c === '\r' && text[i + 1] === '\n')) { endRec(); i += c === '\r' ? 2 : 1; line++; }
    else { field += c; start = false; i++; }
  }
  if (quoted) throw new CdrError('csv_invalid', `line ${line}: a quoted field is not closed`);
  if (field !== '' || rec.length) endRec();
  return recs;
}

const INT_RE = /^[+-]?(0|[1-9][0-9]*)$/;
const REAL_RE = /^[+-]?(0|[1-9][0-9]*)?(\.[0-9]*)?([eE][+-]?[0-9]+)?$/;
const I64_MAX = 9223372036854775807n, I64_MIN = -9223372036854775808n;

export function isInt64(s) {
  if (!INT_RE.test(s)) return false;
  const v = BigInt(s);
  return v >= I64_MIN && v <= I64_MAX;
}

export function isReal(s) {
  return REAL_RE.test(s) && /[0-9]/.test(s.replace(/[eE].*$/, '')) && Number.isFinite(Number(s));
}

// The schema `cdr upload` infers: [{name, type}] from the header and every
// non-empty value (INTEGER, else REAL, else TEXT; TEXT with no values).
export function inferSchema(recs) {
  if (recs.length === 0) throw new CdrError('csv_invalid', 'line 1: no header row');
  const names = recs[0];
  const types = names.map((_, c) => {
    let any = false, int = true, real = true;
    for (let r = 1; r < recs.length; r++) {
      const v = recs[r][c];
      if (v === undefined || v === '') continue;
      any = true;
      if (int && !isInt64(v)) int = false;
      if (!int && real && !isReal(v)) real = false;
      if (!int && !real) break;
    }
    return !any ? 'TEXT' : int ? 'INTEGER' : real ? 'REAL' : 'TEXT';
  });
  return names.map((name, c) => ({ name, type: types[c] }));
}

// A result value as CSV text: NULL is empty; {hex}, {real} as their text.
export function cellText(v) {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') return v.hex !== undefined ? String(v.hex) : v.real !== undefined ? String(v.real) : JSON.stringify(v);
  return String(v);
}

function quote(s) {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(columns, rows) {
  const lines = [columns.map(quote).join(',')];
  for (const r of rows) lines.push(r.map((v) => quote(cellText(v))).join(','));
  return lines.join('\r\n') + '\r\n';
}
