// conform.js SPEC LOG SRC - check cdrd's real answers against its
// OpenAPI description, with ajv (JSON Schema 2020-12, the dialect of
// OpenAPI 3.1).  Exit 0 when everything conforms, 1 otherwise, printing
// one "ok -" or "FAIL -" line per check.
//
//   SPEC  docs/openapi.json
//   LOG   JSON lines {method, path, status, content_type, body} (record_proxy.js)
//   SRC   the source tree: the route table of src/host/routes.c and the
//         codes http.c's http_api_error lets through (names from
//         src/common/err.h) must all be in the description.
//
// Each answer: its path and method must be described (else it must be
// the 404 / 405 the description gives for undescribed ones), its status
// must be one the operation lists, and its body must match that
// response's schema.  Every operation must have been seen answering 200.
'use strict';
const fs = require('fs');
const path = require('path');
const Ajv2020 = require('ajv/dist/2020').default;
const addFormats = require('ajv-formats');

const [specFile, logFile, srcDir] = process.argv.slice(2);
const spec = JSON.parse(fs.readFileSync(specFile, 'utf8'));
const log = fs.readFileSync(logFile, 'utf8').split('\n').filter((l) => l).map((l) => JSON.parse(l));
let failed = 0;
const ok = (m) => console.log(`ok - ${m}`);
const fail = (m) => { failed++; console.log(`FAIL - ${m}`); };

const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema({ $id: 'cdr', components: spec.components });

function deref(obj) {
  while (obj && obj.$ref) {
    const parts = obj.$ref.replace(/^#\//, '').split('/');
    obj = parts.reduce((o, k) => o[k], spec);
  }
  return obj;
}
function validator(schema) {
  if (schema.$ref) return ajv.getSchema(`cdr${schema.$ref}`);
  return ajv.compile({ $id: `inline${Math.random()}`, ...JSON.parse(JSON.stringify(schema).replace(/"#\/components/g, '"cdr#/components')) });
}

// 1. The source's routes and error codes are all described.
const routesC = fs.readFileSync(path.join(srcDir, 'src/host/routes.c'), 'utf8');
const table = routesC.slice(routesC.indexOf('routes_table[]'));
const routes = [...table.matchAll(/\{"(GET|POST|PUT|DELETE)", "([^"]+)", route_\w+\}/g)].map((m) => [m[1], m[2]]);
if (routes.length < 8) fail(`found only ${routes.length} routes in src/host/routes.c`);
// cdrd's copy of the web console answers one JSON path of its own (src/host/console_files.c).
const consoleC = fs.readFileSync(path.join(srcDir, 'src/host/console_files.c'), 'utf8');
if (consoleC.includes('strcmp(rq->path, "/console/info") == 0')) routes.push(['GET', '/console/info']);
else fail('src/host/console_files.c no longer answers /console/info');
for (const [m, p] of routes) {
  if (spec.paths[p] && spec.paths[p][m.toLowerCase()]) ok(`route ${m} ${p} is described`);
  else fail(`route ${m} ${p} of src/host/routes.c is missing from the description`);
}
for (const p of Object.keys(spec.paths))
  for (const m of Object.keys(spec.paths[p]))
    if (!routes.some(([rm, rp]) => rm.toLowerCase() === m && rp === p)) fail(`described ${m} ${p} is no route of cdrd`);
const errH = fs.readFileSync(path.join(srcDir, 'src/common/err.h'), 'utf8');
const wire = Object.fromEntries([...errH.matchAll(/X\((CDR_ERR_\w+),\s*"(\w+)"/g)].map((m) => [m[1], m[2]]));
const httpC = fs.readFileSync(path.join(srcDir, 'src/host/http.c'), 'utf8');
const apiFn = httpC.slice(httpC.indexOf('static int http_api_error'));
const passThrough = apiFn.slice(0, apiFn.indexOf('return err;'));
const enumCodes = spec.components.schemas.Error.properties.error.enum;
const sent = [...passThrough.matchAll(/case (CDR_ERR_\w+):/g)].map((m) => wire[m[1]]);
if (sent.length < 30) fail(`found only ${sent.length} error codes in http_api_error`);
const missing = sent.filter((c) => !enumCodes.includes(c));
if (missing.length) fail(`error codes cdrd sends but the description lacks: ${missing.join(', ')}`);
else ok(`all ${sent.length} error codes cdrd sends are in the Error schema`);
const extra = enumCodes.filter((c) => !sent.includes(c));
if (extra.length) fail(`error codes described but never sent: ${extra.join(', ')}`);

// 2. Every recorded answer conforms.
const seen200 = new Set();
for (const x of log) {
  const what = `${x.method} ${x.path} -> ${x.status}`;
  let resp;
  const item = spec.paths[x.path];
  const opn = item && item[x.method.toLowerCase()];
  if (!item) resp = x.status === 404 ? spec.components.responses.NotFound : null;
  else if (!opn) resp = x.status === 405 ? spec.components.responses.MethodNotAllowed : null;
  else resp = opn.responses[String(x.status)] ? deref(opn.responses[String(x.status)]) : null;
  if (!resp) { fail(`${what}: this status is not described for this route`); continue; }
  const media = resp.content && resp.content['application/json'];
  if (!media) { fail(`${what}: the description has no JSON body for it`); continue; }
  if (!/^application\/json/.test(x.content_type)) { fail(`${what}: Content-Type ${x.content_type}`); continue; }
  let body;
  try { body = JSON.parse(x.body); } catch (e) { fail(`${what}: body is not JSON`); continue; }
  const v = validator(media.schema);
  if (v(body)) {
    ok(`${what}${body.error ? ` (${body.error})` : ''} matches its schema`);
    if (x.status === 200 && opn) seen200.add(`${x.method} ${x.path}`);
  } else {
    fail(`${what}: ${ajv.errorsText(v.errors)}; body ${x.body.slice(0, 200)}`);
  }
}
for (const [m, p] of routes)
  if (!seen200.has(`${m} ${p}`)) fail(`no 200 answer of ${m} ${p} was checked`);
console.log(`${log.length} answers checked, ${failed} failures`);
process.exit(failed ? 1 : 0);
