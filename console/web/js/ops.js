// ops.js - the operations of PROTOCOL 4.7 and 4.8 the console offers:
// tables, query, a streamed upload, the room contract, and reading and
// verifying the audit log.

import { concat, lp, u64be, fromB64, fromHex, toHex, sha256, fromUtf8, equal } from './bytes.js';
import { CdrError } from './errors.js';
import { parse, inferSchema } from './csv.js';
import { verifyHead } from './session.js';

export const CHUNK = 1 << 20; // 1 MiB, as `cdr upload` (CDR_UPLOAD_CHUNK_DEFAULT)

export const tables = async (s) => (await s.request({ op: 'tables' })).tables;
// A query's result; a paged one (PROTOCOL 4.7 "Paged results") is read
// page by page, each answer checked to be the page asked for, and put
// together (the console shows results in the page: it holds them whole).
export async function query(s, sql) {
  const r = (await s.request({ op: 'query', sql })).result;
  if (!r.cursor) return r;
  const { id, pages } = r.cursor;
  const rows = [];
  for (let k = 0; k < pages; k++) {
    const p = await s.request({ op: 'cursor', cursor: id, page: k });
    if (p.page !== k || p.pages !== pages || p.last !== (k === pages - 1) || !Array.isArray(p.rows))
      throw new CdrError('cursor_page_invalid', `page ${k} of ${pages}: the answer is not that page`);
    for (const row of p.rows) rows.push(row);
  }
  if (rows.length !== r.row_count)
    throw new CdrError('cursor_page_invalid', `the ${pages} pages hold ${rows.length} rows; the result announced ${r.row_count}`);
  return { columns: r.columns, rows, row_count: r.row_count };
}
export const contract = (s) => s.request({ op: 'contract' });

// Stream bytes (a Uint8Array of the whole CSV) as table `name`.
// progress(sent, total) is called before the first chunk and after each.
export async function upload(s, name, bytes, replace, progress) {
  if (bytes.length === 0) throw new CdrError('csv_invalid', 'line 1: no header row');
  let text;
  try { text = fromUtf8(bytes); } catch (e) { throw new CdrError('csv_invalid', 'the file is not UTF-8'); }
  const schema = inferSchema(parse(text));
  const digest = toHex(await sha256(bytes));
  const begin = await s.request({ op: 'upload_begin', table: name, replace: !!replace, schema, bytes: bytes.length });
  const id = begin.upload;
  let chunks = 0;
  progress(0, bytes.length);
  // A failed upload_* drops the upload in the enclave (PROTOCOL 4.7):
  // nothing to clean up here on an error.
  for (let at = 0; at < bytes.length; at += CHUNK) {
    const part = bytes.subarray(at, Math.min(at + CHUNK, bytes.length));
    await s.request({ op: 'upload_chunk', upload: id, index: chunks }, part);
    chunks++;
    progress(at + part.length, bytes.length);
  }
  return s.request({ op: 'upload_commit', upload: id, chunks, bytes: bytes.length, sha256: digest });
}

const LABEL = 'CDR-v1 audit chain';

// Read the whole log from index 0 and verify it (PROTOCOL 4.8): returns
// {size, head, entries: [{index, entry?}]}; a failure is audit_invalid.
export async function auditVerified(s, roomId) {
  const bad = (why) => new CdrError('audit_invalid', `the audit log fails verification: ${why}`);
  let head = await sha256(concat(lp(LABEL), roomId));
  let from = 0;
  const out = [];
  for (;;) {
    const p = await s.request({ op: 'audit', from });
    if (!Array.isArray(p.entries) || !Number.isSafeInteger(p.size) || !Number.isSafeInteger(p.next)) throw bad('a malformed page');
    await verifyHead(s.att.identity, roomId, p.size, fromHex(p.head), p.time, p.signature);
    for (const e of p.entries) {
      if (e.index !== out.length) throw bad(`entry ${out.length} is missing or out of order`);
      if (e.damaged !== undefined) throw bad(`entry ${e.index} is damaged: ${e.damaged}`);
      const leaf = fromHex(e.leaf);
      let doc = null;
      if (e.entry !== undefined) {
        const bytes = fromB64(e.entry);
        if (!equal(await sha256(bytes), leaf)) throw bad(`entry ${e.index} does not hash to its leaf`);
        doc = JSON.parse(fromUtf8(bytes));
        if (doc.index !== e.index) throw bad(`entry ${e.index} names another index`);
      }
      head = await sha256(concat(lp(LABEL), head, u64be(e.index), leaf));
      out.push({ index: e.index, entry: doc });
    }
    if (p.next >= p.size) {
      if (out.length !== p.size || toHex(head) !== p.head) throw bad('the chain does not end at the signed head');
      return { size: p.size, head: p.head, entries: out };
    }
    if (p.next <= from) throw bad('a page that does not advance');
    from = p.next;
  }
}
