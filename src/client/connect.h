/*
 * connect.h - everything a `cdr` command does before its first request:
 * find the profile, load the user key and certificate, choose the room
 * CA to trust, attest the enclave with a fresh nonce, and open a session
 * with the attested identity key.
 *
 * Where the room CA comes from, in order:
 *   1. --ca FILE;
 *   2. the profile (named with --profile, or the default one when no URL
 *      is given, or the one whose URL equals the given URL);
 *   3. the file `cdr enroll` saved beside the certificate
 *      (cdr_ca_path_beside);
 *   4. GET /v1/room, trust on first use: ca_pinned is 0 and the command
 *      must say so.  When a user certificate is in use it must verify
 *      under that CA, which only the real room CA key can make happen.
 */
#ifndef CDR_CONNECT_H
#define CDR_CONNECT_H

#include <stddef.h>

#include "client.h"
#include "profile.h"

struct cdr_connect_opts {
  const char *url;                /* NULL: the profile's */
  const char *key, *cert;         /* NULL: the profile's */
  const char *key_pass;           /* the key file's passphrase source (env:VAR, file:PATH), or NULL */
  const char *key_pin;            /* a pkcs11: key's PIN source, or NULL (crypto/userkey.h) */
  const char *ca;                 /* NULL: see above */
  const char *tls_cacert;         /* --cacert: TLS trusts this CA file instead
                                   * of the room CA (NULL: the profile's
                                   * tls_cacert, else the room CA) */
  const char *profile;            /* NULL: by URL, or the default */
  const char *expect_measurement; /* 64 hex (sim) or 96 (snp, tdx, nitro), or NULL */
  const char *tdx_collateral;     /* TDX collateral file; NULL: $CDR_TDX_COLLATERAL */
  const char *accept_tcb;         /* TCB statuses besides UpToDate; NULL: $CDR_ACCEPT_TCB */
  const char *snp_min_tcb;        /* SEV-SNP minimum TCB (cdr_client_snp_min_tcb), required:
                                   * a room of another platform fails; NULL:
                                   * $CDR_SNP_MIN_TCB, applied to SEV-SNP rooms only */
  struct cdr_hw_expect expect_regs; /* --expect-rtmr / --expect-pcr (cdr_hw_expect_add) */
  const char *expect_regs_error;  /* why one of those was refused (the CLI records it while
                                   * parsing and reports it as a usage error); cdr_connect
                                   * refuses options that carry one */
  int allow_sim;
  int need_user;                  /* a key and certificate are required */
  int open_session;               /* also open a session */
};

struct cdr_connection {
  struct cdr_client *client;
  struct cdr_profile *profile;    /* the profile used, or NULL */
  struct cdr_attestation att;
  struct cdr_session *session;    /* when open_session */
  int ca_pinned;                  /* 0: fetched from the server (TOFU) */
  int head_checked;               /* the audit head passed the check at connect: the
                                   * close remembers the head after this command */
  char ca_source[512];            /* where the CA came from, for display */
};

/* Do all of the above.  On failure returns the cdr_err and writes one
 * line for the user to why (e.g. "attestation failed: ..."); *k is then
 * cleared, and the caller still calls cdr_connection_close. */
int cdr_connect(struct cdr_connection *k, const struct cdr_connect_opts *o, char *why, size_t whylen) CDR_WUR;
void cdr_connection_close(struct cdr_connection *k);

/* The profile's pins (pins.c): after attestation, check the CA, the
 * contract the evidence binds, the platform and the measurement against
 * what the profile remembers; *follow_needed when the contract moved (or
 * a first version is to be pinned) and a session will be open: then
 * cdr_pins_follow, once the session is open, reads the chain, checks it
 * follows the pin and moves the pin.  0, or the error with one line in
 * why. */
int cdr_pins_check(struct cdr_connection *k, const struct cdr_connect_opts *o, int *follow_needed, char *why,
                   size_t whylen) CDR_WUR;
int cdr_pins_follow(struct cdr_connection *k, const struct cdr_connect_opts *o, char *why, size_t whylen) CDR_WUR;

/* The CA file that belongs to a certificate file: the certificate path
 * without a ".crt" or ".pem" suffix, plus ".ca.crt" (malloc'd). */
char *cdr_ca_path_beside(const char *cert_path);

/* 1 if s starts with http:// or https:// (a URL argument). */
int cdr_is_url(const char *s);

#endif
