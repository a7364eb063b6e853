// api.js - the page's HTTP: same-origin requests only, to the relay of
// `cdr console` (/v1/... goes to the room as it is; /console/... is the
// relay's own).  An error answer {"error","message"} becomes a CdrError
// with the server's code; such codes travel in clear (PROTOCOL 4.1).

import { CdrError } from './errors.js';

async function call(method, path, body) {
  const init = { method, headers: { Accept: 'application/json' }, credentials: 'omit', cache: 'no-store' };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(path, init);
  } catch (e) {
    throw new CdrError('network', `cannot reach cdr console (${e.message}): is it still running?`);
  }
  const text = await resp.text();
  let json = null;
  try { json = JSON.parse(text); } catch (e) { json = null; }
  return { status: resp.status, json };
}

// A call that must answer 200 with a JSON object.
export async function json(method, path, body) {
  const { status, json: j } = await call(method, path, body);
  if (status === 200 && j && typeof j === 'object' && !Array.isArray(j)) return j;
  if (j && typeof j.error === 'string')
    throw new CdrError(j.error, `${j.message || 'the room refused'} (HTTP ${status})`, { status });
  throw new CdrError('malformed', `unexpected answer (HTTP ${status}) to ${method} ${path}`, { status });
}

// The raw status and body (POST /v1/request: 422 is an answer too).
export const raw = call;
