/*
 * hsm_signer.c - the room CA's signing key through libp11 0.4.12 (see
 * hsm.h): PKCS11_CTX_load (which C_Initializes the module), enumerate
 * slots, open a session, log in, enumerate the private keys and wrap the
 * chosen one in an EVP_PKEY.  With an EC key libp11 returns a "foreign"
 * EC_KEY whose ECDSA method calls C_Sign, so OpenSSL 3 routes
 * EVP_DigestSign (X509_sign) through the token.  The EVP_PKEY refers to
 * libp11's slot list, so it is freed first on close.
 *
 * The signer never shares a process-wide module initialisation with a
 * struct cdr_hsm (hsm.h); the PIN is passed to libp11 and not kept here.
 */
#include <libp11.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "hsm_int.h"

struct cdr_hsm_signer {
  PKCS11_CTX *ctx;
  int loaded;
  PKCS11_SLOT *slots;
  unsigned int nslots;
  PKCS11_SLOT *slot; /* borrowed from slots */
  int logged_in;
  EVP_PKEY *key;
};

void cdr_hsm_signer_close(struct cdr_hsm_signer *s) {
  if (s == NULL)
    return;
  /* The key refers to libp11's slot and key lists: free it first. */
  EVP_PKEY_free(s->key);
  if (s->logged_in && s->slot != NULL)
    (void)PKCS11_logout(s->slot);
  if (s->slots != NULL)
    PKCS11_release_all_slots(s->ctx, s->slots, s->nslots);
  if (s->ctx != NULL) {
    if (s->loaded)
      PKCS11_CTX_unload(s->ctx);
    PKCS11_CTX_free(s->ctx);
  }
  free(s);
}

/* One attempt of cdr_hsm_signer_open.  *token_missing is set when the
 * module loaded but showed no token with the label. */
static int signer_open_once(struct cdr_hsm_signer **out, const char *module_path, const char *token_label,
                            const char *user_pin, const char *key_label, int *token_missing) {
  struct cdr_hsm_signer *s = NULL;
  PKCS11_KEY *keys = NULL, *key = NULL;
  unsigned int nkeys = 0, found = 0;
  int r;

  *out = NULL;
  *token_missing = 0;
  if ((s = calloc(1, sizeof(*s))) == NULL)
    return CDR_ERR_NOMEM;
  r = CDR_ERR_HSM;
  if ((s->ctx = PKCS11_CTX_new()) == NULL) {
    r = CDR_ERR_NOMEM;
    goto out;
  }
  if (PKCS11_CTX_load(s->ctx, module_path) != 0) {
    log_error("pkcs11: libp11 cannot load module %s", module_path);
    goto out;
  }
  s->loaded = 1;
  if (PKCS11_enumerate_slots(s->ctx, &s->slots, &s->nslots) != 0) {
    log_error("pkcs11: cannot enumerate slots");
    goto out;
  }
  for (unsigned int i = 0; i < s->nslots; i++) {
    PKCS11_TOKEN *t = s->slots[i].token;
    if (t != NULL && t->initialized && t->label != NULL && strcmp(t->label, token_label) == 0) {
      s->slot = &s->slots[i];
      found++;
    }
  }
  if (found != 1) {
    *token_missing = found == 0;
    if (found > 1)
      log_error("pkcs11: more than one token labelled \"%s\"", token_label);
    s->slot = NULL;
    goto out;
  }
  if (PKCS11_open_session(s->slot, 0) != 0) {
    log_error("pkcs11: cannot open a session on token \"%s\"", token_label);
    goto out;
  }
  if (PKCS11_login(s->slot, 0, user_pin) != 0) {
    log_error("pkcs11: user login to token \"%s\" failed (wrong PIN?)", token_label);
    goto out;
  }
  s->logged_in = 1;
  if (PKCS11_enumerate_keys(s->slot->token, &keys, &nkeys) != 0) {
    log_error("pkcs11: cannot enumerate the keys of token \"%s\"", token_label);
    goto out;
  }
  found = 0;
  for (unsigned int i = 0; i < nkeys; i++) {
    if (keys[i].isPrivate && keys[i].label != NULL && strcmp(keys[i].label, key_label) == 0) {
      key = &keys[i];
      found++;
    }
  }
  if (found != 1) {
    log_error("pkcs11: %s private key labelled \"%s\"", found == 0 ? "no" : "more than one", key_label);
    r = found == 0 ? CDR_ERR_NOT_FOUND : CDR_ERR_HSM;
    goto out;
  }
  if ((s->key = PKCS11_get_private_key(key)) == NULL) {
    log_error("pkcs11: cannot use private key \"%s\"", key_label);
    goto out;
  }
  *out = s;
  s = NULL;
  r = 0;
out:
  cdr_hsm_signer_close(s);
  return r;
}

/* SoftHSM2 rewrites a token's file at every login, and a process that
 * initialises the module while another one does so can miss the token
 * altogether.  A missing token is therefore retried a few times, with a
 * fresh module initialisation each time, before giving up. */
int cdr_hsm_signer_open(struct cdr_hsm_signer **out, const char *module_path, const char *token_label,
                        const char *user_pin, const char *key_label) {
  int r = CDR_ERR_HSM, missing = 0;

  *out = NULL;
  if (module_path == NULL || module_path[0] != '/' || !cdr_hsm_token_label_ok(token_label) ||
      !cdr_hsm_key_label_ok(key_label) || user_pin == NULL || strlen(user_pin) > CDR_HSM_PIN_MAX)
    return CDR_ERR_ARG;
  for (int attempt = 0; attempt < 5; attempt++) {
    if (attempt > 0) {
      struct timespec ts = {0, 50 * 1000 * 1000L * attempt};
      nanosleep(&ts, NULL);
    }
    r = signer_open_once(out, module_path, token_label, user_pin, key_label, &missing);
    if (!missing)
      return r;
  }
  log_error("pkcs11: no token labelled \"%s\"", token_label);
  return r;
}

EVP_PKEY *cdr_hsm_signer_key(const struct cdr_hsm_signer *s) { return s->key; }

