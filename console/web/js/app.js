// app.js - the console's screens: enroll, room, tables, query, upload,
// audit.  DOM only through textContent and element creation (never
// innerHTML), so nothing the room sends can become markup or script.

import { CdrError } from './errors.js';
import { toHex, sha256 } from './bytes.js';
import * as api from './api.js';
import { loadMember, enroll, withSession, roomInfo, caFingerprint } from './room.js';
import * as ops from './ops.js';
import { toCsv, cellText } from './csv.js';
import { checkedDocument, signPending, keySha256, changes, confirmedKeys, confirmKey } from './contract.js';
import * as mode from './mode.js';
import { pem } from './keys.js';

const $ = (id) => document.getElementById(id);
let member = null;
let lastResult = null;
let shownPending = null; // the pending version the member last saw: the one a click signs
let shownDocs = [];      // the checked documents shown (active, pending): what a confirmation is held to

function el(tag, text, attrs = {}) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

function status(text) { $('status').textContent = text; }

function showError(e) {
  const code = e instanceof CdrError ? e.code : 'internal';
  $('error-code').textContent = code;
  $('error-message').textContent = e.message || String(e);
  $('error').hidden = false;
  status('');
}

function clearError() { $('error').hidden = true; }

// Run an action with its errors shown in words; buttons stay usable.
async function act(label, fn) {
  clearError();
  status(`${label}…`);
  try {
    await fn();
    status(`${label}: done.`);
  } catch (e) {
    showError(e);
  }
}

function show(screen) {
  for (const s of document.querySelectorAll('main > section')) s.hidden = s.id !== `screen-${screen}`;
  for (const b of document.querySelectorAll('nav button'))
    if (b.dataset.screen === screen) b.setAttribute('aria-current', 'page'); else b.removeAttribute('aria-current');
  const h = document.querySelector(`#screen-${screen} h2`);
  if (h) { h.tabIndex = -1; h.focus(); }
}

function table(columns, rows, id) {
  const wrap = el('div', null, { class: 'table-wrap' });
  const t = el('table', null, id ? { id } : {});
  const tr = el('tr');
  for (const c of columns) tr.appendChild(el('th', c, { scope: 'col' }));
  const thead = el('thead'); thead.appendChild(tr); t.appendChild(thead);
  const tb = el('tbody');
  for (const r of rows) {
    const row = el('tr');
    for (const v of r) row.appendChild(el('td', cellText(v)));
    tb.appendChild(row);
  }
  t.appendChild(tb);
  wrap.appendChild(t);
  return wrap;
}

function facts(list) {
  const dl = $('room-facts');
  dl.replaceChildren();
  for (const [k, v, id] of list) {
    dl.appendChild(el('dt', k));
    dl.appendChild(el('dd', v, id ? { id } : {}));
  }
}

async function showRoom() {
  await withSession(member, async (s, att, c) => {
    const info = await roomInfo();
    facts([
      ['Name', info.name, 'room-name'], ['Room id', toHex(member.roomId), 'room-id'],
      ['Room CA fingerprint (SHA-256)', await caFingerprint(member), 'room-ca'],
      ['Platform', att.platform === 'sim' ? 'sim (simulated: not hardware-backed)' : att.platform, 'room-platform'],
      ['Measurement (pinned)', att.measurement, 'room-measurement'],
      ['Enclave identity key (SHA-256)', toHex(await sha256(att.identitySpki)), 'room-identity'],
      ['You', `${member.name} (${member.role || 'member'})`, 'room-you'],
      ['Room URL (through cdr console)', member.url, 'room-url'],
    ]);
    $('sim-banner').hidden = att.platform !== 'sim';
    await showContract(c);
  });
}

// The members of a version, each key marked as the member's own,
// confirmed out of band, or not (as `cdr contract` marks them).
function membersTable(doc, mine, confirmed, id) {
  const mark = (k) => (k === mine ? 'yours' : confirmed.has(k) ? 'confirmed' : 'unconfirmed');
  return table(['Member', 'Roles', 'Key (SHA-256)', 'Key checked'],
    doc.members.map((m) => [m.name, m.roles.join(', '), m.key_sha256, mark(m.key_sha256)]), id);
}

async function showContract(c) {
  const box = $('room-contract');
  box.replaceChildren();
  shownPending = null;
  shownDocs = [];
  $('contract-sign').hidden = true;
  const mine = await keySha256(member);
  const confirmed = await confirmedKeys(member);
  let activeDoc = null;
  if (c.active) {
    const doc = activeDoc = await checkedDocument(c.active, member);
    shownDocs.push(doc);
    box.appendChild(el('p', `Active version ${c.active.version}, SHA-256 ${c.active.sha256}`, { id: 'contract-active' }));
    box.appendChild(membersTable(doc, mine, confirmed, 'contract-active-members'));
  } else {
    box.appendChild(el('p', 'No contract version is active in this room yet.', { id: 'contract-active' }));
  }
  if (c.pending) {
    const doc = await checkedDocument(c.pending, member);
    shownDocs.push(doc);
    const need = (c.pending.required || []).find((r) => r.key_sha256 === mine);
    box.appendChild(el('h4', `Pending version ${c.pending.version}`));
    box.appendChild(el('p', `SHA-256 ${c.pending.sha256}; ${c.pending.missing} required signature(s) missing; expires ${new Date(c.pending.expires * 1000).toISOString()}. Measurements: ${doc.measurements.join(', ')}; platform ${doc.platform}.`, { id: 'contract-pending' }));
    box.appendChild(membersTable(doc, mine, confirmed, 'contract-pending-members'));
    if (activeDoc) {
      const list = el('ul', null, { id: 'contract-changes', 'aria-label': 'What changed since the active version' });
      const ch = changes(activeDoc, doc);
      for (const x of ch) list.appendChild(el('li', `${x.mark} ${x.text}`));
      if (ch.length === 0) list.appendChild(el('li', 'nothing but the version number'));
      box.appendChild(el('h5', `What changed since the active version ${c.active.version}`));
      box.appendChild(list);
    }
    if (doc.members.some((m) => m.key_sha256 !== mine && !confirmed.has(m.key_sha256)))
      box.appendChild(el('p', 'Before signing, check every unconfirmed key with its member (out of band: in person, by phone) and confirm it below.', { class: 'note' }));
    if (need && !need.signed) {
      shownPending = { version: c.pending.version, sha256: c.pending.sha256 };
      const b = $('contract-sign');
      b.textContent = `Sign version ${c.pending.version} (${c.pending.sha256.slice(0, 16)}…) as read above`;
      b.hidden = false;
    } else {
      box.appendChild(el('p', need ? 'You have signed it.' : 'Your signature is not required.'));
    }
  }
}

async function signContract() {
  mode.refuseOnHost('Signing a contract version');
  if (!shownPending) throw new CdrError('contract_no_pending', 'no pending version shown: verify the room again');
  const want = shownPending;
  const r = await withSession(member, async (s) => {
    const c = await ops.contract(s);
    if (!c.pending || c.pending.sha256 !== want.sha256 || c.pending.version !== want.version)
      throw new CdrError('contract_mismatch', 'the pending version changed since you read it: verify the room again and read it first');
    await checkedDocument(c.pending, member);
    const out = await signPending(s, member, c.pending);
    await showContract(await ops.contract(s));
    return out;
  });
  $('contract-result').textContent = `Signature ${r.result}; ${r.missing} missing${r.active ? '; the version is active' : ''}.`;
}

async function confirmMember() {
  await confirmKey(member, $('confirm-name').value, $('confirm-fp').value, shownDocs);
  $('confirm-fp').value = '';
  await showRoom();
}

async function showTables() {
  const list = await withSession(member, (s) => ops.tables(s));
  const box = $('tables-list');
  box.replaceChildren();
  if (list.length === 0) { box.appendChild(el('p', 'No table you can see.')); return; }
  for (const t of list) {
    const sec = el('section', null, { 'aria-label': `table ${t.name}` });
    sec.appendChild(el('h3', t.name));
    sec.appendChild(el('p', `Owner ${t.owner}; ${t.rows} rows; your access: ${t.access}${t.unavailable ? `; unavailable: ${t.unavailable}` : ''}`));
    sec.appendChild(table(['Column', 'Type', 'Hidden', 'Readable by you'],
      t.columns.map((c) => [c.name, c.type, c.hidden ? 'yes' : 'no', c.readable ? 'yes' : 'no'])));
    if (t.grants) sec.appendChild(el('p', `Grants: ${t.grants.length ? t.grants.map((g) => `${g.to} (${Array.isArray(g.columns) ? g.columns.join(', ') : g.columns})`).join('; ') : 'none'}`));
    box.appendChild(sec);
  }
}

async function grant(revoke) {
  const table = $('grant-table').value.trim(), to = $('grant-to').value.trim();
  const cols = $('grant-columns').value.split(',').map((c) => c.trim()).filter((c) => c);
  if (!table || !to) throw new CdrError('bad_request', 'give the table and whom to grant it to');
  const hdr = revoke ? { op: 'revoke_grant', table, to } : { op: 'grant', table, to, columns: cols.length ? cols : 'all' };
  await withSession(member, (s) => s.request(hdr));
  await showTables();
}

async function hide(hidden) {
  const table = $('hide-table').value.trim(), column = $('hide-column').value.trim();
  if (!table || !column) throw new CdrError('bad_request', 'give the table and the column');
  await withSession(member, (s) => s.request({ op: 'hide', table, column, hidden }));
  await showTables();
}

async function drop() {
  const table = $('drop-table').value.trim();
  if (!table) throw new CdrError('bad_request', 'type the name of the table to drop');
  await withSession(member, (s) => s.request({ op: 'drop', table }));
  $('drop-table').value = '';
  await showTables();
}

async function runQuery(sql) {
  const r = await withSession(member, (s) => ops.query(s, sql));
  lastResult = r;
  $('query-summary').textContent = `${r.row_count} row${r.row_count === 1 ? '' : 's'}.`;
  $('query-result').replaceChildren(table(r.columns, r.rows, 'result-table'));
  $('query-download').disabled = false;
}

function download(text, type, name) {
  const blob = new Blob([text], { type });
  const a = el('a', null, { href: URL.createObjectURL(blob), download: name });
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

function downloadCsv() {
  if (lastResult) download(toCsv(lastResult.columns, lastResult.rows), 'text/csv', 'result.csv');
}

// The key backup, offered once after enrollment (it lives in this page's
// memory only, encrypted), with the certificate the CLI needs beside it.
function offerBackup(m) {
  const box = $('backup');
  const fname = m.name.replace(/[^A-Za-z0-9_.-]/g, '_');
  box.hidden = false;
  $('backup-download').onclick = () => download(m.backupPem, 'application/x-pem-file', `${fname}.key.pem`);
  $('cert-download').onclick = () => download(pem('CERTIFICATE', m.certDer), 'application/x-pem-file', `${fname}.crt`);
}

function backupPassphrase() {
  if (!$('backup-want').checked) return null;
  const p = $('backup-pass').value;
  if (p !== $('backup-pass2').value) throw new CdrError('bad_request', 'the two backup passphrases differ');
  return p;
}

async function runUpload() {
  const file = $('upload-file').files[0];
  const name = $('upload-table').value.trim();
  if (!file) throw new CdrError('bad_request', 'choose a CSV file');
  if (!name) throw new CdrError('table_name_invalid', 'give the table a name');
  const bytes = new Uint8Array(await file.arrayBuffer());
  const bar = $('upload-progress');
  const r = await withSession(member, (s) => ops.upload(s, name, bytes, $('upload-replace').checked, (sent, total) => {
    bar.value = total ? Math.floor((sent * 100) / total) : 0;
    $('upload-progress-text').textContent = `${sent} of ${total} bytes`;
  }));
  $('upload-progress-text').textContent = `Table ${r.table}: ${r.rows} rows${r.replaced ? ' (replaced)' : ''}; columns ${r.columns.map((c) => `${c.name} ${c.type}`).join(', ')}`;
}

async function readAudit() {
  const log = await withSession(member, (s) => ops.auditVerified(s, member.roomId));
  $('audit-summary').textContent = `Verified: ${log.size} entries, head ${log.head}, signed by the attested enclave.`;
  const rows = log.entries.filter((e) => e.entry).map((e) => [e.index, new Date(e.entry.time * 1000).toISOString(),
    e.entry.op, e.entry.subject || '', e.entry.decision, e.entry.reason || '']);
  $('audit-list').replaceChildren(table(['Index', 'Time', 'Operation', 'Subject', 'Decision', 'Reason'], rows, 'audit-table'));
}

function needMember(fn) {
  return () => (member ? fn() : Promise.reject(new CdrError('not_enrolled', 'enroll first: paste your invitation on the Enroll screen')));
}

async function start() {
  const info = await mode.detect(api.json);
  if (mode.hostServed()) {
    $('served-by').hidden = true;
    $('host-banner').hidden = false;
    document.body.dataset.servedBy = 'host';
  } else {
    $('bundle-hash').textContent = info.bundle_sha256;
    document.body.dataset.servedBy = 'member';
  }
  member = (await loadMember()) || null;
  for (const b of document.querySelectorAll('nav button')) b.addEventListener('click', () => show(b.dataset.screen));
  $('enroll-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    act('Enrolling', async () => {
      const m = await enroll($('bundle').value, $('allow-sim').checked, backupPassphrase());
      $('bundle').value = '';
      $('backup-pass').value = '';
      $('backup-pass2').value = '';
      member = (await loadMember()) || null;
      if (m.backupPem) offerBackup(m);
      show('room');
      await showRoom();
    });
  });
  $('contract-sign').addEventListener('click', () => act('Signing the contract version', needMember(signContract)));
  $('confirm-form').addEventListener('submit', (ev) => { ev.preventDefault(); act('Confirming the key', needMember(confirmMember)); });
  $('room-refresh').addEventListener('click', () => act('Verifying the room', needMember(showRoom)));
  $('nav-room').addEventListener('click', () => member && act('Verifying the room', showRoom));
  $('tables-refresh').addEventListener('click', () => act('Listing tables', needMember(showTables)));
  $('nav-tables').addEventListener('click', () => member && act('Listing tables', showTables));
  $('grant-form').addEventListener('submit', (ev) => { ev.preventDefault(); act('Granting', needMember(() => grant(false))); });
  $('revoke-submit').addEventListener('click', () => act('Revoking the grant', needMember(() => grant(true))));
  $('hide-form').addEventListener('submit', (ev) => { ev.preventDefault(); act('Hiding the column', needMember(() => hide(true))); });
  $('unhide-submit').addEventListener('click', () => act('Making the column readable', needMember(() => hide(false))));
  $('drop-form').addEventListener('submit', (ev) => { ev.preventDefault(); act('Dropping the table', needMember(drop)); });
  $('query-form').addEventListener('submit', (ev) => { ev.preventDefault(); act('Running the query', needMember(() => runQuery($('sql').value))); });
  $('query-download').addEventListener('click', downloadCsv);
  $('upload-form').addEventListener('submit', (ev) => { ev.preventDefault(); act('Uploading', needMember(runUpload)); });
  $('audit-read').addEventListener('click', () => act('Reading the audit log', needMember(readAudit)));
  if (member) { show('room'); await act('Verifying the room', showRoom); } else show('enroll');
  document.body.dataset.ready = '1';
}

start();
