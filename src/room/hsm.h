/*
 * hsm.h - PKCS#11 access for the room CA.  Part of room/ (its only
 * user), so host and admin CLI only; the enclave never links this.
 * Implemented in hsm_token.c (module, token, login), hsm_keys.c (the
 * objects of a session) and hsm_signer.c (libp11); see hsm_int.h.
 *
 * Two faces of one token:
 *
 *   struct cdr_hsm         the raw module (dlopen + C_GetFunctionList).
 *                          Administration: initialise a token (embedded
 *                          SoftHSM2), generate the CA key pair INSIDE the
 *                          token (libp11 0.4 cannot generate EC keys),
 *                          read a public key back, list objects with
 *                          their protection attributes, destroy objects.
 *   struct cdr_hsm_signer  the signing key through libp11: an EVP_PKEY
 *                          whose private operations run in the token,
 *                          usable with X509_sign and X509_CRL_sign.
 *
 * Invariants:
 *   - Private keys generated here are CKA_TOKEN, CKA_PRIVATE,
 *     CKA_SENSITIVE, not CKA_EXTRACTABLE, sign-only (CKA_DERIVE false).
 *     Nothing here reads or returns private key material.
 *   - Key labels are unique within a token: generation refuses a label
 *     that is already present, so lookups by label are unambiguous.
 *   - PINs are borrowed for the duration of a call and never copied by
 *     this module.  (libp11 keeps its own copy of the user PIN, to log in
 *     again after fork, until cdr_hsm_signer_close.)
 *   - PKCS#11 allows one C_Initialize per process and module.  Do not
 *     keep a struct cdr_hsm and a struct cdr_hsm_signer on the same module
 *     open at the same time: closing one finalises the module under the
 *     other.  Close one before opening the other.
 *
 * Every function returns 0 or a negative cdr_err; PKCS#11 failures are
 * CDR_ERR_HSM, logged with the CKR_ name (never with a PIN).  None of
 * these functions is thread-safe; callers serialise.
 */
#ifndef CDR_HSM_H
#define CDR_HSM_H

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define CDR_HSM_TOKEN_LABEL_MAX 32u /* CK_TOKEN_INFO.label, blank padded */
#define CDR_HSM_KEY_LABEL_MAX 128u
#define CDR_HSM_ID_MAX 64u
#define CDR_HSM_PIN_MIN 4u   /* SoftHSM2's bounds; other tokens are stricter */
#define CDR_HSM_PIN_MAX 255u

/* ---- embedded SoftHSM2 ---- */

/* Create hsm_dir/tokens (0700) and write hsm_dir/softhsm2.conf (0600)
 * pointing SoftHSM2's file object store at it.  hsm_dir must exist and
 * be an absolute path. */
int cdr_hsm_softhsm_write_conf(const char *hsm_dir) CDR_WUR;
/* Point SoftHSM2 at hsm_dir/softhsm2.conf (setenv SOFTHSM2_CONF).  Call
 * before loading the module through either face; SoftHSM2 reads the
 * variable at C_Initialize.  Process-global, not thread-safe. */
int cdr_hsm_softhsm_use(const char *hsm_dir) CDR_WUR;

/* ---- the raw module ---- */
struct cdr_hsm;

/* dlopen the module (an absolute path), C_GetFunctionList, C_Initialize
 * (OS locking).  *out is freed with cdr_hsm_unload. */
int cdr_hsm_load(struct cdr_hsm **out, const char *module_path) CDR_WUR;
/* Log out, close the session, C_Finalize (when this handle initialised
 * the module) and release.  NULL is a no-op. */
void cdr_hsm_unload(struct cdr_hsm *h);

/* Initialise a token in the first slot whose token is not initialised
 * (SoftHSM2 always offers one): C_InitToken with so_pin and label, then
 * log in as SO and C_InitPIN user_pin.  Fails if a token with this label
 * already exists.  Leaves no session open. */
int cdr_hsm_init_token(struct cdr_hsm *h, const char *label, const char *so_pin, const char *user_pin) CDR_WUR;

/* Open a read/write session on the one token labelled token_label and
 * log in as the normal user.  Replaces any previous session. */
int cdr_hsm_login(struct cdr_hsm *h, const char *token_label, const char *user_pin) CDR_WUR;

/* Generate an EC P-256 key pair inside the token (CKM_EC_KEY_PAIR_GEN),
 * both halves labelled label with CKA_ID id.  *pub (optional) receives
 * the public key read back from the token.  Requires cdr_hsm_login.
 * CDR_ERR_ARG if an object with this label already exists. */
int cdr_hsm_generate_ec_p256(struct cdr_hsm *h, const char *label, const uint8_t *id, size_t idlen,
                             EVP_PKEY **pub) CDR_WUR;

/* The public key object labelled label, as an EVP_PKEY (EC P-256 only;
 * CKA_EC_POINT, DER OCTET STRING or raw).  CDR_ERR_NOT_FOUND if absent. */
int cdr_hsm_public_key(struct cdr_hsm *h, const char *label, EVP_PKEY **pub) CDR_WUR;

/* Destroy every object labelled label (cleanup after a failed room
 * creation on an external token).  *ndestroyed (optional) is set. */
int cdr_hsm_destroy_by_label(struct cdr_hsm *h, const char *label, size_t *ndestroyed) CDR_WUR;

/* One token object as seen by the logged-in user.  The boolean fields
 * are 1, 0, or -1 when the attribute does not apply to the class. */
struct cdr_hsm_object {
  unsigned long cls; /* CKO_* */
  char *label;       /* "" when the object has none */
  char *id_hex;      /* CKA_ID in lower-case hex, "" when empty */
  int is_private;    /* CKA_PRIVATE */
  int sensitive;     /* CKA_SENSITIVE */
  int extractable;   /* CKA_EXTRACTABLE */
  int always_sensitive;
  int never_extractable;
};
/* Every object visible in the session (private ones after login).
 * *objs is freed with cdr_hsm_objects_free. */
int cdr_hsm_list_objects(struct cdr_hsm *h, struct cdr_hsm_object **objs, size_t *n) CDR_WUR;
void cdr_hsm_objects_free(struct cdr_hsm_object *objs, size_t n);
/* "private-key", "public-key", "certificate", ... for CKO_* values. */
const char *cdr_hsm_class_name(unsigned long cls);

/* ---- the signing key, through libp11 ---- */
struct cdr_hsm_signer;

/* Load the module through libp11, find the one token labelled
 * token_label, log in as user with user_pin and take the one private key
 * labelled key_label.  *out is freed with cdr_hsm_signer_close. */
int cdr_hsm_signer_open(struct cdr_hsm_signer **out, const char *module_path, const char *token_label,
                        const char *user_pin, const char *key_label) CDR_WUR;
/* The private key, owned by the signer; valid until cdr_hsm_signer_close.
 * Sign with X509_sign(x, key, EVP_sha256()) / X509_CRL_sign. */
EVP_PKEY *cdr_hsm_signer_key(const struct cdr_hsm_signer *s);
/* Free the key, log out and unload the module.  NULL is a no-op. */
void cdr_hsm_signer_close(struct cdr_hsm_signer *s);

#endif
