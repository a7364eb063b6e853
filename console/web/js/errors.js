// errors.js - one error type for everything the page shows: a stable code
// (the server's, or the client-side codes of PROTOCOL 4.1, named as the
// CLI names them) and a sentence.  `sealed` says the code came inside the
// enclave's authenticated answer; `clear` errors travelled unauthenticated.

export class CdrError extends Error {
  constructor(code, message, opts = {}) {
    super(message);
    this.code = code;
    this.status = opts.status || 0;
    this.sealed = !!opts.sealed;
  }
}

export const fail = (code, message, opts) => { throw new CdrError(code, message, opts); };
