/*
 * invite.h - the invitation bundle: everything a new member needs in
 * one string (docs/PROTOCOL.md 4.4.1, byte-exact there):
 *
 *   cdr-invite-1:<base64url, no padding, of a compact JSON object>
 *   {"v":1,"url":"https://...","token":"cdr1....","ca":"<base64 DER>",
 *    "ca_sha256":"<64 hex>","platform":"sim|snp|tdx|nitro",
 *    "measurement":"<64 or 96 hex>","contract_sha256":"<64 hex>",
 *    "contract_version":n}
 * (the two contract fields together or neither: a bundle from before
 * they existed has none, and the caller says the contract is unchecked)
 *
 * It holds the enrollment token, so it is as secret as the token.  The
 * parser checks the CA against its own fingerprint field; the caller
 * checks that fingerprint against the token's (the server's CA is then
 * checked against both by enrollment itself).
 */
#ifndef CDR_CLIENT_INVITE_H
#define CDR_CLIENT_INVITE_H

#include <openssl/x509.h>
#include <stdint.h>

#include "common/err.h"

#define CDR_INVITE_PREFIX "cdr-invite-1:"
#define CDR_INVITE_MAX 16384 /* characters of a whole bundle */

struct cdr_invite {
  char *url;               /* https://..., or http:// to loopback */
  char *token;             /* the enrollment token (secret; wiped by clear) */
  X509 *ca;                /* the room CA certificate */
  uint8_t ca_fp[32];       /* its SHA-256 */
  char platform[16];       /* sim, snp, tdx or nitro */
  char measurement[97];    /* lower-case hex: 64 (sim) or 96 digits */
  int has_contract;        /* the bundle names the active contract: */
  uint64_t contract_version; /* 0 and 32 zero bytes when none was active */
  uint8_t contract_sha256[32];
};

/* 1 if s starts with CDR_INVITE_PREFIX. */
int cdr_invite_is_bundle(const char *s);
/* Parse and check a bundle into *out (cleared first; clear it after).
 * CDR_ERR_INVITE_INVALID with a sentence in why (whylen bytes) naming
 * the field that is wrong. */
int cdr_invite_parse(const char *s, struct cdr_invite *out, char *why, size_t whylen) CDR_WUR;
/* The bundle for in (ca_fp is computed from in->ca); *out is malloc'd
 * and secret (wipe it). */
int cdr_invite_build(const struct cdr_invite *in, char **out) CDR_WUR;
void cdr_invite_clear(struct cdr_invite *inv);

#endif
