// mode.js - who served this copy of the page.
//
// The member's own `cdr console` answers GET /console/info with
// "served_by": "cdr console"; cdrd's copy (served at the room's URL for
// convenience, docs/CONSOLE.md "The host's copy") answers "cdrd".  Anything
// but a positive "cdr console" (no answer, another value) counts as the
// host's copy: that copy trusts the room's operator, who could serve other
// code, so it shows a banner and refuses what the room contract must not
// take on the operator's word: signing a contract version, confirming a
// member's key, approving a template.

import { CdrError } from './errors.js';

let info = null;

// Read /console/info once; returns it (or null when nothing answered).
export async function detect(json) {
  try {
    info = await json('GET', '/console/info');
  } catch (e) {
    info = null;
  }
  return info;
}

export const hostServed = () => !(info && info.served_by === 'cdr console');

// Throw console_host_served before anything of `what` is computed or sent.
export function refuseOnHost(what) {
  if (hostServed())
    throw new CdrError('console_host_served', `${what} is refused in this copy of the console: it is served by the room's host, so it trusts the room's operator. Run your own \`cdr console\` and do it there.`);
}
