/*
 * userkey.c - load a user's private key from where it lives (userkey.h):
 * a PEM file here, a pkcs11: URI in userkey_pkcs11.c.
 *
 * A PEM file is read with a passphrase callback of our own, never
 * OpenSSL's default one (which prompts on a terminal, and fails without
 * one): it hands over the passphrase from --pass, or refuses, and notes
 * that it was asked.  So an encrypted key without a passphrase, and a
 * passphrase that does not decrypt it, are each told apart from a file
 * that is not a key.
 */
#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "userkey.h"
#include "userkey_int.h"

int cdr_key_ref_is_pkcs11(const char *ref) { return ref != NULL && strncmp(ref, "pkcs11:", 7) == 0; }

/* What the passphrase callback hands over, and whether it was asked. */
struct pass_state {
  const char *pass; /* NULL: none given */
  int asked;
};

static int pass_cb(char *buf, int size, int rwflag, void *u) {
  struct pass_state *ps = u;
  size_t n;
  (void)rwflag;
  ps->asked = 1;
  if (ps->pass == NULL || size < 0)
    return -1;
  n = strlen(ps->pass);
  if (n > (size_t)size)
    return -1;
  memcpy(buf, ps->pass, n); /* OpenSSL wipes buf after use */
  return (int)n;
}

/* A PEM private key file, decrypted with the passphrase pass_spec names
 * when it is encrypted. */
static int file_key_load(const char *path, const char *pass_spec, EVP_PKEY **out) {
  struct pass_state ps = {NULL, 0};
  char *pass = NULL;
  FILE *f;
  int r;

  if (pass_spec != NULL && (r = cdr_secret_read(pass_spec, &pass)) != 0)
    return r == CDR_ERR_NOMEM ? r : CDR_ERR_SECRET_SOURCE;
  ps.pass = pass;
  if ((f = fopen(path, "re")) == NULL) {
    r = errno == ENOENT ? CDR_ERR_NOT_FOUND : CDR_ERR_IO;
    goto out;
  }
  *out = PEM_read_PrivateKey(f, NULL, pass_cb, &ps);
  fclose(f);
  ERR_clear_error();
  if (*out != NULL)
    r = 0;
  else if (ps.asked)
    r = pass != NULL ? CDR_ERR_KEY_PASSPHRASE : CDR_ERR_KEY_PASSPHRASE_NEEDED;
  else
    r = CDR_ERR_ARG;
out:
  cdr_secret_free(pass);
  return r;
}

int cdr_user_key_load(const struct cdr_key_source *src, EVP_PKEY **out) {
  *out = NULL;
  if (src == NULL || src->ref == NULL || src->ref[0] == '\0')
    return CDR_ERR_ARG;
  if (cdr_key_ref_is_pkcs11(src->ref))
    return cdr_pkcs11_key_load(src->ref, src->pin, 1, out);
  return file_key_load(src->ref, src->pass, out);
}

int cdr_user_key_load_public(const struct cdr_key_source *src, EVP_PKEY **out) {
  *out = NULL;
  if (src == NULL || src->ref == NULL || src->ref[0] == '\0')
    return CDR_ERR_ARG;
  if (cdr_key_ref_is_pkcs11(src->ref))
    return cdr_pkcs11_key_load(src->ref, src->pin, 0, out);
  return file_key_load(src->ref, src->pass, out); /* the file holds both halves */
}

int cdr_key_ref_for_profile(const char *ref, char **out, int *dropped_pin) {
  *out = NULL;
  *dropped_pin = 0;
  if (cdr_key_ref_is_pkcs11(ref))
    return cdr_pkcs11_uri_without_pin(ref, out, dropped_pin);
  return (*out = strdup(ref)) != NULL ? 0 : CDR_ERR_NOMEM;
}
