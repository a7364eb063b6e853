/*
 * userkey.h - where a user's private key lives, and loading it from
 * there: a PEM file (plain, or encrypted under a passphrase) or a key in
 * a PKCS#11 token named by an RFC 7512 `pkcs11:` URI, reached through
 * libp11's OpenSSL engine ("pkcs11", Debian's libengine-pkcs11-openssl).
 *
 * Either way the result is an EVP_PKEY that every private-key operation
 * of the protocol takes unchanged: the request and session signatures
 * (cdr_sign), ECDH for an EC user and RSA-OAEP decryption for an RSA
 * user (cdr_open_sealed), and the CSR's signature at enrollment.  For a
 * token key each of these runs inside the token; crypto.c and
 * envelope.c set their RSA digests with EVP_MD objects, which engine keys
 * take (the name-based setters are refused on them).
 *
 * Secrets (the passphrase, the PIN) come from a source spec, as
 * openssl's -passin does: "env:VAR" (the variable's value) or
 * "file:PATH" (the file's first line, without its line end).  They are
 * read into OpenSSL's secure heap and wiped after use; they are never
 * taken as literal text on the command line and never logged.  A PIN
 * may also come from the URI's pin-source (a file: URI or a path) or
 * pin-value query attribute; --pin wins over both.  The URI's
 * module-path names the PKCS#11 module; without it libp11 uses
 * $PKCS11_MODULE_PATH, else p11-kit's proxy (every module p11-kit knows).
 * These query attributes are taken out before the URI reaches libp11,
 * which would otherwise refuse module-path and print the PIN in its
 * error messages.
 *
 * The engine stays loaded and initialised for the rest of the process
 * (the keys it hands out refer to its token sessions), with the module
 * of the first URI loaded: a process uses one user key.
 */
#ifndef CDR_USERKEY_H
#define CDR_USERKEY_H

#include <openssl/evp.h>

#include "common/err.h"

/* Longest passphrase or PIN read from a source. */
#define CDR_SECRET_MAX 1024

/* A user key: ref is a file path or a pkcs11: URI; pass and pin are
 * source specs (env:VAR or file:PATH) or NULL. */
struct cdr_key_source {
  const char *ref;
  const char *pass; /* the PEM file's passphrase */
  const char *pin;  /* the token's PIN (user PIN) */
};

/* Does ref name a key in a PKCS#11 token? */
int cdr_key_ref_is_pkcs11(const char *ref);

/* Read the secret that spec names into *out (NUL-terminated, in the
 * secure heap; free it with cdr_secret_free, which wipes it).
 * CDR_ERR_ARG for a spec of another form or a secret that is empty,
 * longer than CDR_SECRET_MAX or holds a NUL; CDR_ERR_NOT_FOUND for an
 * unset variable or a missing file; CDR_ERR_IO when the file cannot be
 * read. */
int cdr_secret_read(const char *spec, char **out) CDR_WUR;
void cdr_secret_free(char *s);

/* Load the private key.  A file: CDR_ERR_NOT_FOUND (no such file),
 * CDR_ERR_KEY_PASSPHRASE_NEEDED (encrypted and no passphrase given),
 * CDR_ERR_KEY_PASSPHRASE (the passphrase does not decrypt it),
 * CDR_ERR_ARG (not a PEM private key).  A pkcs11: URI:
 * CDR_ERR_PKCS11_UNAVAILABLE (the engine or the module cannot be
 * loaded), CDR_ERR_PKCS11_NO_KEY (no token or private key matches),
 * CDR_ERR_PKCS11_PIN_NEEDED (the token wants a PIN and none was given),
 * CDR_ERR_PKCS11_PIN (the token refused the PIN, or it is locked),
 * CDR_ERR_ARG (a malformed URI).  A pass or pin source that
 * cdr_secret_read refuses (--pass, --pin, the URI's pin-source):
 * CDR_ERR_SECRET_SOURCE. */
int cdr_user_key_load(const struct cdr_key_source *src, EVP_PKEY **out) CDR_WUR;

/* The public half only: for a token key no login is needed (no PIN);
 * for a file the passphrase is needed when the file is encrypted.
 * Errors as cdr_user_key_load. */
int cdr_user_key_load_public(const struct cdr_key_source *src, EVP_PKEY **out) CDR_WUR;

/* The reference to keep in a profile (malloc'd): a pkcs11: URI without
 * its pin-value, in its path (;pin-value=) or its query (?pin-value=)
 * (a PIN does not belong in a file; pin-source and module-path stay), a
 * path as given.  *dropped_pin says whether a pin-value was removed.
 * CDR_ERR_ARG for a malformed URI (then *out is NULL: never show the
 * URI given, it may hold a PIN). */
int cdr_key_ref_for_profile(const char *ref, char **out, int *dropped_pin) CDR_WUR;

#endif
