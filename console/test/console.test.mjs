// console.test.mjs PHASE - drives the web console in Debian's headless
// Chromium with playwright-core (tests/integration/test_console.sh runs
// it and reads its "ok - " / "FAIL - " lines).  PHASE "main": enroll
// (with the key backup), attest, upload, query, download, interop with the
// CLI, refusals, audit, contract version 1; then cdrd's own copy and
// version 2 (its changes, a key confirmed, signed);
// PHASE "measurement": the same browser profile after the room was
// restarted with another enclave binary.  Chromium that cannot start is a
// failure, never a skip.
import { chromium } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

const env = process.env;
const phase = process.argv[2];
const CHROMIUM = env.CDR_CHROMIUM || '/usr/lib/chromium/chromium';
let failures = 0;
const ok = (name) => console.log(`ok - ${name}`);
const bad = (name, why) => { failures++; console.log(`FAIL - ${name}: ${String(why).split('\n')[0]}`); };
const check = (name, cond, why = '') => (cond ? ok(name) : bad(name, why));
const origin = new URL(env.CONSOLE).origin;
const norm = (s) => s.replace(/\r/g, '').trim();
const cli = (...args) => execFileSync(env.CDR, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

async function step(name, fn) {
  try { await fn(); } catch (e) { bad(name, e.message || e); }
}

// Wait for the action to end: a status "...: done." or a shown error.
async function outcome(page) {
  await page.waitForFunction(() => !document.getElementById('error').hidden || /: done\.$/.test(document.getElementById('status').textContent), null, { timeout: 90000 });
  const shown = await page.isVisible('#error');
  return shown ? { code: await page.textContent('#error-code'), message: await page.textContent('#error-message') } : null;
}

async function tableCells(page, sel) {
  return page.$$eval(`${sel} tr`, (rows) => rows.map((r) => Array.from(r.children, (c) => c.textContent)));
}

async function storedMember(page) {
  return page.evaluate(() => new Promise((resolve, reject) => {
    const rq = indexedDB.open('cdr-console', 1);
    rq.onupgradeneeded = () => rq.result.createObjectStore('state');
    rq.onsuccess = () => {
      const g = rq.result.transaction('state').objectStore('state').get('member');
      g.onsuccess = () => resolve(g.result ? { name: g.result.name, measurement: g.result.measurement } : null);
      g.onerror = () => reject(g.error);
    };
    rq.onerror = () => reject(rq.error);
  }));
}

// get or put one record of the console's IndexedDB store (test only).
async function idb(page, op, key, value) {
  return page.evaluate(([op, key, value]) => new Promise((resolve, reject) => {
    const rq = indexedDB.open('cdr-console', 1);
    rq.onsuccess = () => {
      const t = rq.result.transaction('state', op === 'get' ? 'readonly' : 'readwrite');
      const r = op === 'get' ? t.objectStore('state').get(key) : t.objectStore('state').put(value, key);
      t.oncomplete = () => resolve(op === 'get' ? r.result : null);
      t.onerror = () => reject(t.error);
    };
    rq.onerror = () => reject(rq.error);
  }), [op, key, value]);
}

async function enrollWith(page, bundle, allowSim) {
  await page.fill('#bundle', bundle);
  await page.setChecked('#allow-sim', allowSim);
  await page.click('#enroll-submit');
  return outcome(page);
}

function tamperedToken(bundle) {
  const j = JSON.parse(Buffer.from(bundle.slice(13), 'base64url').toString('utf8'));
  const parts = j.token.split('.');
  parts[2] = (parts[2][0] === 'A' ? 'B' : 'A') + parts[2].slice(1);
  j.token = parts.join('.');
  return 'cdr-invite-1:' + Buffer.from(JSON.stringify(j)).toString('base64url');
}

function withUrl(bundle, url) {
  const j = JSON.parse(Buffer.from(bundle.slice(13), 'base64url').toString('utf8'));
  j.url = url;
  return 'cdr-invite-1:' + Buffer.from(JSON.stringify(j)).toString('base64url');
}

async function main(ctx, page) {
  await step('the page loads from cdr console', async () => {
    const resp = await page.goto(env.CONSOLE);
    const csp = resp.headers()['content-security-policy'] || '';
    check('the document has a CSP without inline script', csp.includes("script-src 'self'") && !csp.includes('unsafe'), csp);
    await page.waitForSelector('body[data-ready="1"]');
    check('the page shows the bundle hash cdr console printed', (await page.textContent('#bundle-hash')).length === 64);
  });
  await page.screenshot({ path: `${env.SHOTS}/enroll.png`, fullPage: true });

  await step('sim refused without the allowance', async () => {
    const e = await enrollWith(page, env.BUNDLE, false);
    check('sim attestation is refused until allowed', e && e.code === 'attestation_sim_not_allowed', JSON.stringify(e));
    check('nothing is kept after the refusal', (await storedMember(page)) === null);
  });
  await step('wrong token', async () => {
    const e = await enrollWith(page, tamperedToken(env.BUNDLE), true);
    check('a wrong token shows token_invalid', e && e.code === 'token_invalid', JSON.stringify(e));
    check('nothing is kept after a wrong token', (await storedMember(page)) === null);
  });
  await step('enroll', async () => {
    await page.setChecked('#backup-want', true);
    await page.fill('#backup-pass', 'short');
    await page.fill('#backup-pass2', 'short');
    const e0 = await enrollWith(page, env.BUNDLE, true);
    check('a backup passphrase under 12 characters is refused, nothing kept', e0 && e0.code === 'bad_request' && /at least 12 characters/.test(e0.message) &&
      (await storedMember(page)) === null, JSON.stringify(e0));
    await page.fill('#backup-pass', env.BACKUP_PASS);
    await page.fill('#backup-pass2', env.BACKUP_PASS);
    const e = await enrollWith(page, env.BUNDLE, true);
    check('enrollment in the browser succeeds', e === null, JSON.stringify(e));
    await page.waitForSelector('#room-measurement');
    check('the room screen shows the attested measurement', (await page.textContent('#room-measurement')) === env.MEASUREMENT,
      await page.textContent('#room-measurement'));
    check('the room screen says the attestation is not hardware-backed', await page.isVisible('#sim-banner'));
    const m = await storedMember(page);
    check('the member and its pinned measurement are kept', m && m.name === 'browser@example.org' && m.measurement === env.MEASUREMENT, JSON.stringify(m));
  });
  await page.screenshot({ path: `${env.SHOTS}/room.png`, fullPage: true });

  await step('key backup', async () => {
    check('the key backup is offered once, after enrollment', await page.isVisible('#backup'));
    const [dk] = await Promise.all([page.waitForEvent('download'), page.click('#backup-download')]);
    await dk.saveAs(`${env.WORK}/backup.key.pem`);
    const [dc] = await Promise.all([page.waitForEvent('download'), page.click('#cert-download')]);
    await dc.saveAs(`${env.WORK}/backup.crt`);
    const text = readFileSync(`${env.WORK}/backup.key.pem`, 'utf8');
    check('the backup is an encrypted PKCS#8 PEM', /^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/.test(text) && !/BEGIN PRIVATE KEY/.test(text), text.slice(0, 60));
    const parsed = execFileSync('openssl', ['asn1parse', '-in', `${env.WORK}/backup.key.pem`], { encoding: 'utf8' });
    check('it is PBES2 with PBKDF2-HMAC-SHA256 and AES-256-CBC', /PBES2/.test(parsed) && /PBKDF2/.test(parsed) && /hmacWithSHA256/.test(parsed) &&
      /aes-256-cbc/.test(parsed) && /INTEGER\s*:0?927C0\s/.test(parsed), parsed);
    const pub = (args) => execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const fromKey = pub(['pkey', '-in', `${env.WORK}/backup.key.pem`, '-passin', 'env:BACKUP_PASS', '-pubout']);
    const fromCert = pub(['x509', '-in', `${env.WORK}/backup.crt`, '-noout', '-pubkey']);
    check('openssl decrypts it with the passphrase to the certified key', fromKey === fromCert && /BEGIN PUBLIC KEY/.test(fromKey), fromKey);
    let wrong = '';
    try { execFileSync('openssl', ['pkey', '-in', `${env.WORK}/backup.key.pem`, '-passin', 'pass:not the passphrase'], { stdio: 'pipe' }); } catch (e) { wrong = String(e.stderr); }
    check('a wrong passphrase does not decrypt it', /bad decrypt|unable to load|Could not read|decryption failed/i.test(wrong), wrong);
  });

  await step('non-extractable key', async () => {
    const r = await page.evaluate(() => new Promise((resolve) => {
      const rq = indexedDB.open('cdr-console', 1);
      rq.onsuccess = () => {
        const g = rq.result.transaction('state').objectStore('state').get('member');
        g.onsuccess = async () => {
          const m = g.result, out = { extractable: [m.sign.extractable, m.dh.extractable], refused: [] };
          for (const [k, f] of [[m.sign, 'pkcs8'], [m.dh, 'pkcs8'], [m.sign, 'jwk'], [m.dh, 'jwk']]) {
            try { await crypto.subtle.exportKey(f, k); out.refused.push('exported'); } catch (e) { out.refused.push(e.name); }
          }
          resolve(out);
        };
      };
    }));
    check('the private keys are not extractable (also after the backup was made)', r.extractable.every((x) => x === false), JSON.stringify(r));
    check('WebCrypto refuses to export them', r.refused.every((x) => x === 'InvalidAccessError'), JSON.stringify(r));
  });

  // A room serves its members only once contract version 1 is active.
  await step('contract', async () => {
    const out = cli('room', 'propose', env.ROOM, '--measurement', env.MEASUREMENT, '--measurement', env.MEASUREMENT2);
    const h = /contract hash ([0-9a-f]{64})/.exec(out)[1];
    for (let i = 0; i < 100 && !/pending contract: version 1/.test(cli('contract', '--profile', 'cli')); i++)
      await new Promise((r) => setTimeout(r, 100));
    await page.click('#nav-room');
    check('the room screen reads the pending version', (await outcome(page)) === null);
    check('it shows the pending version and its hash', (await page.textContent('#contract-pending')).includes(h), await page.textContent('#room-contract'));
    await page.screenshot({ path: `${env.SHOTS}/contract-pending.png`, fullPage: true });
    await page.click('#contract-sign');
    check('signing the pending version in the browser succeeds', (await outcome(page)) === null);
    check('the enclave counts the signature, one missing', /^Signature added; 1 missing/.test(await page.textContent('#contract-result')), await page.textContent('#contract-result'));
    const signed = cli('contract', 'sign', '--profile', 'cli', h);
    check('the CLI member\'s signature activates it', /now active/.test(signed), signed);
    await page.click('#room-refresh');
    check('the room screen reads the active version', (await outcome(page)) === null);
    check('it shows version 1 active with both members', (await page.textContent('#contract-active')).includes(`Active version 1, SHA-256 ${h}`) &&
      /browser@example.org/.test(await page.textContent('#room-contract')) && /cli@example.org/.test(await page.textContent('#room-contract')));
    await page.screenshot({ path: `${env.SHOTS}/contract-active.png`, fullPage: true });
    const pin = await idb(page, 'get', `contract-pin:${await page.textContent('#room-id')}`);
    check('the console pins the active version', pin && pin.version === 1 && pin.sha256 === h, JSON.stringify(pin));
    await idb(page, 'put', `contract-pin:${await page.textContent('#room-id')}`, { version: 1, sha256: '0'.repeat(64) });
    await page.click('#room-refresh');
    const e = await outcome(page);
    check('a room whose contract is not the pinned one is refused', e && e.code === 'contract_unpinned' && /does not start with the pinned version 1/.test(e.message), JSON.stringify(e));
    await idb(page, 'put', `contract-pin:${await page.textContent('#room-id')}`, pin);
    await page.click('#room-refresh');
    check('with the right pin the room is accepted again', (await outcome(page)) === null);
    // Only now (an active contract) may the CLI member upload and grant.
    cli('upload', '--profile', 'cli', 'cli_table', env.CLI_CSV);
    cli('grant', '--profile', 'cli', 'cli_table', '--to', 'browser@example.org');
    cli('upload', '--profile', 'cli', 'cli_private', env.CLI_CSV);
  });

  // The backup in the CLI: once version 1 is active (a room serves its
  // members only then) and the CLI member has granted its table.
  await step('key backup in the CLI', async () => {
    const out = cli('tables', env.URL, '--key', `${env.WORK}/backup.key.pem`, '--pass', 'env:BACKUP_PASS', '--cert', `${env.WORK}/backup.crt`,
      '--ca', `${env.ROOM}/ca.crt`, '--format', 'csv');
    check('the CLI opens a session as that member with the backup (and sees the table granted to it)', /^cli_table,cli@example.org,/m.test(out), out);
  });

  await step('upload', async () => {
    await page.click('#nav-upload');
    await page.setInputFiles('#upload-file', env.SALES_CSV);
    await page.fill('#upload-table', 'sales');
    await page.evaluate(() => {
      window.__progress = [];
      const bar = document.getElementById('upload-progress');
      new MutationObserver(() => window.__progress.push(bar.value)).observe(bar, { attributes: true });
    });
    await page.click('#upload-submit');
    check('the upload succeeds', (await outcome(page)) === null);
    const seen = await page.evaluate(() => window.__progress);
    const mid = seen.filter((v) => v > 0 && v < 100);
    check('the progress bar was seen to advance', mid.length >= 1 && seen[seen.length - 1] === 100 &&
      seen.every((v, i) => i === 0 || v >= seen[i - 1]), JSON.stringify(seen));
    check('the upload reports the table', /Table sales: 120000 rows/.test(await page.textContent('#upload-progress-text')));
  });
  await page.screenshot({ path: `${env.SHOTS}/upload.png`, fullPage: true });

  await step('malformed CSV', async () => {
    await page.setInputFiles('#upload-file', env.RAGGED_CSV);
    await page.fill('#upload-table', 'ragged');
    await page.click('#upload-submit');
    const e = await outcome(page);
    check('a malformed CSV shows csv_invalid with its line, as the CLI', e && e.code === 'csv_invalid' && /line 3: expected 2 fields, found 3/.test(e.message), JSON.stringify(e));
    await page.screenshot({ path: `${env.SHOTS}/upload-refused.png`, fullPage: true });
  });

  await step('tables', async () => {
    await page.click('#nav-tables');
    check('listing tables succeeds', (await outcome(page)) === null);
    const text = await page.textContent('#tables-list');
    check('the tables screen lists the upload with its columns and access', /sales/.test(text) && /amount/.test(text) && /owner/.test(text), text);
    check('the tables screen lists the CLI table granted to us', /cli_table/.test(text), text);
    await page.fill('#grant-table', 'sales');
    await page.fill('#grant-to', 'cli@example.org');
    await page.click('#grant-submit');
    check('granting the CLI member our table succeeds', (await outcome(page)) === null);
  });
  await page.screenshot({ path: `${env.SHOTS}/tables.png`, fullPage: true });

  let shown;
  await step('query', async () => {
    await page.click('#nav-query');
    await page.fill('#sql', env.Q);
    await page.click('#query-run');
    check('the query succeeds', (await outcome(page)) === null);
    shown = await tableCells(page, '#result-table');
    const want = norm(readFileSync(env.EXPECTED_CSV, 'utf8')).split('\n').map((l) => l.split(','));
    check('the decrypted result equals SQLite\'s answer', JSON.stringify(shown) === JSON.stringify(want), JSON.stringify(shown));
    const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#query-download')]);
    const path = `${env.WORK}/download.csv`;
    await dl.saveAs(path);
    check('the downloaded CSV equals SQLite\'s answer', norm(readFileSync(path, 'utf8')) === norm(readFileSync(env.EXPECTED_CSV, 'utf8')));
  });
  await page.screenshot({ path: `${env.SHOTS}/query.png`, fullPage: true });

  await step('interop', async () => {
    const fromCli = norm(cli('query', '--profile', 'cli', env.Q.replace('FROM sales', 'FROM sales'), '--format', 'csv'));
    check('the CLI reads the browser\'s table with identical results', fromCli === norm(readFileSync(env.EXPECTED_CSV, 'utf8')), fromCli);
    const q = 'SELECT k, v FROM cli_table ORDER BY k';
    const cliOut = norm(cli('query', '--profile', 'cli', q, '--format', 'csv')).split('\n');
    await page.fill('#sql', q);
    await page.click('#query-run');
    check('the browser queries the CLI\'s table', (await outcome(page)) === null);
    const cells = await tableCells(page, '#result-table');
    const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#query-download')]);
    await dl.saveAs(`${env.WORK}/download2.csv`);
    check('the browser\'s CSV of the CLI\'s table equals the CLI\'s', norm(readFileSync(`${env.WORK}/download2.csv`, 'utf8')) === cliOut.join('\n'),
      JSON.stringify([readFileSync(`${env.WORK}/download2.csv`, 'utf8'), cliOut]));
    check('the browser shows the CLI\'s rows', cells.length === 4 && cells[2][1] === 'two, quoted' && cells[3][1] === '', JSON.stringify(cells));
  });

  await step('refused query', async () => {
    await page.fill('#sql', 'SELECT * FROM cli_private');
    await page.click('#query-run');
    const e = await outcome(page);
    check('a refused query shows access_denied and the enclave\'s reason', e && e.code === 'access_denied' && /no access to table cli_private/.test(e.message), JSON.stringify(e));
    await page.screenshot({ path: `${env.SHOTS}/query-refused.png`, fullPage: true });
  });

  await step('audit', async () => {
    await page.click('#nav-audit');
    await page.click('#audit-read');
    check('the audit log reads and verifies', (await outcome(page)) === null);
    check('the audit summary says it verified', /^Verified: \d+ entries/.test(await page.textContent('#audit-summary')));
    const rows = await tableCells(page, '#audit-table');
    check('the audit log shows our upload', rows.some((r) => r[2] === 'upload_commit' && r[3] === 'browser@example.org'), rows.length);
  });
  await page.screenshot({ path: `${env.SHOTS}/audit.png`, fullPage: true });

  await step('hide and drop', async () => {
    const q = 'SELECT sum(amount) FROM sales';
    const cliErr = () => { try { cli('query', '--profile', 'cli', q); return ''; } catch (e) { return String(e.stderr); } };
    await page.click('#nav-tables');
    await outcome(page);
    await page.fill('#hide-table', 'sales');
    await page.fill('#hide-column', 'amount');
    await page.click('#hide-submit');
    check('hiding a column in the browser succeeds', (await outcome(page)) === null);
    check('the CLI member can no longer read the hidden column', /hidden by its owner/.test(cliErr()), cliErr());
    await page.click('#unhide-submit');
    check('making it readable again succeeds', (await outcome(page)) === null);
    check('the CLI member reads it again', cliErr() === '', cliErr());
    await page.fill('#drop-table', 'sales');
    await page.click('#drop-submit');
    check('dropping the table in the browser succeeds', (await outcome(page)) === null);
    check('the table is gone for the CLI member', /no such table/.test(cliErr()), cliErr());
    check('and from the tables screen', !/\bsales\b/.test(await page.textContent('#tables-list')), await page.textContent('#tables-list'));
  });

  await step('tampered attestation', async () => {
    const p2 = await ctx.newPage();
    watch(p2, new URL(env.CONSOLE_MITM).origin);
    await p2.goto(env.CONSOLE_MITM);
    await p2.waitForSelector('body[data-ready="1"]');
    const e = await enrollWith(p2, withUrl(env.BUNDLE2, env.MITM), true);
    check('a tampered attestation is refused', e && e.code === 'attestation_bad_signature', JSON.stringify(e));
    check('nothing is kept after a tampered attestation', (await storedMember(p2)) === null);
    await p2.screenshot({ path: `${env.SHOTS}/attestation-tampered.png`, fullPage: true });
    await p2.close();
  });

  // cdrd's own copy (its own origin, in a page of its own), then version 2
  // in this member's console: one browser start for all (it is slow here).
  const hp = await ctx.newPage();
  watch(hp, new URL(env.HOST_URL).origin);
  await host(ctx, hp);
  await hp.close();
  await pending(ctx, page);
}

// The operator's copy served by cdrd at its URL: the banner, and a
// contract version it refuses to sign with no request sent.
async function host(ctx, page) {
  await step('the host\'s copy', async () => {
    const resp = await page.goto(env.HOST_URL);
    const csp = resp.headers()['content-security-policy'] || '';
    check('cdrd serves the console at / with the same strict CSP', resp.status() === 200 && csp.includes("script-src 'self'") && csp.includes("default-src 'none'") && !csp.includes('unsafe'), csp);
    await page.waitForSelector('body[data-ready="1"]');
    check('the host\'s copy knows it is served by the host', (await page.getAttribute('body', 'data-served-by')) === 'host');
    check('it says plainly that it trusts the room\'s operator', await page.isVisible('#host-banner') &&
      /served by the room's host,\s+so it trusts the room's operator/.test(await page.textContent('#host-banner')) && !(await page.isVisible('#served-by')));
    // The key is certified and kept; the room then refuses sessions
    // (not_a_member) until a contract version names the new member.
    const e = await enrollWith(page, env.BUNDLE3, true);
    const m = await storedMember(page);
    check('enrollment in the host\'s copy succeeds', e && e.code === 'not_a_member' && m && m.name === 'browser3@example.org', JSON.stringify([e, m]));
    await page.screenshot({ path: `${env.SHOTS}/host-copy.png`, fullPage: true });
  });
  await step('the host\'s copy refuses to sign', async () => {
    const active = JSON.parse(cli('contract', '--profile', 'cli', '--format', 'json')).active;
    writeFileSync(`${env.WORK}/v1.json`, active.document);
    const out = cli('room', 'propose', env.ROOM, '--previous', `${env.WORK}/v1.json`);
    const h = /contract hash ([0-9a-f]{64})/.exec(out)[1];
    const pending = () => JSON.parse(cli('contract', '--profile', 'cli', '--format', 'json')).pending;
    for (let i = 0; i < 100 && !(pending() && pending().sha256 === h); i++) await new Promise((r) => setTimeout(r, 100));
    const before = pending();
    await page.click('#room-refresh');
    check('the host\'s copy shows the pending version 2', (await outcome(page)) === null && (await page.textContent('#contract-pending')).includes(h),
      await page.textContent('#room-contract'));
    const sent = [];
    page.on('request', (r) => sent.push(`${r.method()} ${r.url()}`));
    await page.click('#contract-sign');
    const e2 = await outcome(page);
    check('signing a contract version in the host\'s copy is refused with a clear message', e2 && e2.code === 'console_host_served' &&
      /refused in this copy of the console: it is served by the room's host/.test(e2.message), JSON.stringify(e2));
    check('and no request goes out', sent.length === 0, sent.join(' '));
    const after = pending();
    check('the enclave counts no new signature', after.sha256 === h && after.missing === before.missing &&
      JSON.stringify(after.required) === JSON.stringify(before.required), JSON.stringify([before.required, after.required]));
    await page.screenshot({ path: `${env.SHOTS}/host-copy-refused.png`, fullPage: true });
    await page.fill('#confirm-name', 'cli@example.org');
    await page.fill('#confirm-fp', '0'.repeat(64));
    sent.length = 0;
    await page.click('#confirm-submit');
    const e3 = await outcome(page);
    check('the host\'s copy refuses to confirm a member\'s key', e3 && e3.code === 'console_host_served' && /Confirming a member's key is refused/.test(e3.message) && sent.length === 0,
      JSON.stringify([e3, sent]));
  });
}

// The member's own console with version 2 pending: what changed, a key
// confirmed out of band (a wrong fingerprint refused), and the signature.
async function pending(ctx, page) {
  const v2 = JSON.parse(cli('contract', '--profile', 'cli', '--format', 'json')).pending;
  const doc = JSON.parse(v2.document);
  const b3 = doc.members.find((m) => m.name === 'browser3@example.org');
  await step('what changed', async () => {
    await page.goto(env.CONSOLE);
    await page.waitForSelector('body[data-ready="1"]');
    check('the member\'s console reads version 2 pending', (await outcome(page)) === null && (await page.textContent('#contract-pending')).includes(v2.sha256));
    const ch = await page.$$eval('#contract-changes li', (li) => li.map((x) => x.textContent));
    check('it shows what changed since the active version', b3 && ch.some((t) => t.startsWith(`+ browser3@example.org (provider), key ${b3.key_sha256}`)) &&
      !ch.some((t) => t.startsWith('-')), JSON.stringify(ch));
    const rows = await tableCells(page, '#contract-pending-members');
    const row = (n) => rows.find((r) => r[0] === n) || [];
    check('keys are marked yours / unconfirmed', row('browser@example.org')[3] === 'yours' && row('browser3@example.org')[3] === 'unconfirmed', JSON.stringify(rows));
  });
  await step('confirm', async () => {
    await page.fill('#confirm-name', 'browser3@example.org');
    await page.fill('#confirm-fp', 'ab'.repeat(32));
    await page.click('#confirm-submit');
    const e = await outcome(page);
    check('a fingerprint that is not the contract\'s key for that member is refused', e && e.code === 'contract_mismatch' && e.message.includes(b3.key_sha256), JSON.stringify(e));
    check('and not recorded', ((await tableCells(page, '#contract-pending-members')).find((r) => r[0] === 'browser3@example.org') || [])[3] === 'unconfirmed');
    await page.fill('#confirm-fp', b3.key_sha256.toUpperCase());
    await page.click('#confirm-submit');
    check('confirming the right fingerprint succeeds', (await outcome(page)) === null);
    const rows = await tableCells(page, '#contract-pending-members');
    check('the key is marked confirmed', (rows.find((r) => r[0] === 'browser3@example.org') || [])[3] === 'confirmed', JSON.stringify(rows));
    await page.screenshot({ path: `${env.SHOTS}/contract-changes.png`, fullPage: true });
  });
  await step('sign version 2', async () => {
    await page.click('#contract-sign');
    check('the member\'s own console signs version 2', (await outcome(page)) === null && /^Signature added/.test(await page.textContent('#contract-result')),
      await page.textContent('#contract-result'));
    const after = JSON.parse(cli('contract', '--profile', 'cli', '--format', 'json')).pending;
    check('the enclave counts it', after.missing === v2.missing - 1, JSON.stringify([v2.missing, after.missing]));
  });
}

async function measurement(ctx, page) {
  await page.goto(env.CONSOLE);
  await page.waitForSelector('body[data-ready="1"]');
  const e = await outcome(page);
  check('a changed measurement after pinning is refused', e && e.code === 'attestation_measurement_mismatch', JSON.stringify(e));
  await page.click('#nav-query');
  await page.fill('#sql', 'SELECT 1');
  await page.click('#query-run');
  const e2 = await outcome(page);
  check('no query runs against the changed enclave', e2 && e2.code === 'attestation_measurement_mismatch', JSON.stringify(e2));
  await page.screenshot({ path: `${env.SHOTS}/measurement-changed.png`, fullPage: true });
}

let ctx;
try {
  ctx = await chromium.launchPersistentContext(env.PROFILE_DIR, {
    executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'], acceptDownloads: true,
    // the host's copy: cdrd's certificate is of the room CA, which this
    // browser does not know (the member's console is plain HTTP on loopback)
    ignoreHTTPSErrors: true });
} catch (e) {
  console.log(`FAIL - Chromium cannot start (${CHROMIUM}): ${String(e.message).split('\n')[0]}`);
  process.exit(1);
}
// Every request of each page, and each one to another origin than the
// page's own (a blob: URL of that origin, the CSV download, counts as its own).
let requests = 0;
const foreign = [];
const cspErrors = [];
function watch(p, own) {
  p.on('request', (r) => {
    requests++;
    const u = r.url();
    if (new URL(u).origin !== own && !u.startsWith(`blob:${own}/`)) foreign.push(u);
  });
  p.on('console', (m) => { if (/Content.Security.Policy/i.test(m.text())) cspErrors.push(m.text()); });
}
const page = ctx.pages()[0] || await ctx.newPage();
watch(page, origin);
try {
  if (phase === 'main') await main(ctx, page);
  else if (phase === 'measurement') await measurement(ctx, page);
  else bad('phase', `unknown phase ${phase}`);
} catch (e) {
  bad(`phase ${phase}`, e.message);
}
check(`every request of the pages went to their own origin (${requests} requests, phase ${phase})`, requests > 0 && foreign.length === 0, foreign.join(' '));
check(`no Content-Security-Policy violation (phase ${phase})`, cspErrors.length === 0, cspErrors.join(' '));
await ctx.close();
process.exit(failures ? 1 : 0);
