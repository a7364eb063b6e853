/*
 * hsm_int.h - what the files of the PKCS#11 layer share and nothing
 * else sees (the contracts of the layer are in hsm.h):
 *
 *   hsm_token.c   the raw module: embedded SoftHSM2 configuration,
 *                 dlopen/C_Initialize, slots, token initialisation and
 *                 user login; the CKR_ logger and the label checks.
 *   hsm_keys.c    objects in a logged-in session: find, read
 *                 attributes, generate the CA key pair, read a public
 *                 key back, list and destroy.
 *   hsm_signer.c  the signing key through libp11.
 *
 * Calls go one way only: hsm_signer.c -> hsm_keys.c -> hsm_token.c.
 *
 * Invariants of struct cdr_hsm: fl is set once the module is loaded;
 * have_session says whether session is open, logged_in whether the
 * user is logged in on it (never without a session); initialised says
 * whether this handle's C_Initialize succeeded and so whether unloading
 * calls C_Finalize.
 */
#ifndef CDR_HSM_INT_H
#define CDR_HSM_INT_H

#include <p11-kit/pkcs11.h>

#include "hsm.h"

struct cdr_hsm {
  void *dl;
  CK_FUNCTION_LIST *fl;
  int initialised; /* this handle's C_Initialize succeeded: it finalises */
  int have_session;
  int logged_in;
  CK_SESSION_HANDLE session;
};

/* Log a failed PKCS#11 call (the call's name and the CKR_ code, never an
 * argument) and return CDR_ERR_HSM. */
int cdr_hsm_ck_fail(const char *call, CK_RV rv);

/* 1 if label can name a token: 1..CDR_HSM_TOKEN_LABEL_MAX bytes, not
 * ending in a blank (CK_TOKEN_INFO pads with blanks). */
int cdr_hsm_token_label_ok(const char *label);

/* 1 if label can name a key: 1..CDR_HSM_KEY_LABEL_MAX bytes. */
int cdr_hsm_key_label_ok(const char *label);

#endif
