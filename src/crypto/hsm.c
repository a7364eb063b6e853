/*
 * hsm.c - PKCS#11 token access for the room CA (see hsm.h).
 *
 * The raw face keeps one module handle, at most one session and the
 * login state of that session.  It calls the module's function list
 * directly; every CK_RV other than CKR_OK becomes CDR_ERR_HSM and one log
 * line naming the call and the CKR_ code.  Nothing logged here contains a
 * PIN.
 *
 * The signer face is libp11 0.4.12: PKCS11_CTX_load (which C_Initializes
 * the module), enumerate slots, open a session, log in, enumerate the
 * private keys and wrap the chosen one in an EVP_PKEY.  With an EC key
 * libp11 returns a "foreign" EC_KEY whose ECDSA method calls C_Sign, so
 * OpenSSL 3 routes EVP_DigestSign (X509_sign) through the token.  The
 * EVP_PKEY refers to libp11's slot list, so it is freed first on close.
 *
 * SoftHSM2 reads SOFTHSM2_CONF during C_Initialize, so the embedded
 * room's configuration must be in the environment before either face
 * loads the module (cdr_hsm_softhsm_use).
 */
#include "hsm.h"

#include <dlfcn.h>
#include <errno.h>
#include <libp11.h>
#include <limits.h>
#include <openssl/asn1.h>
#include <openssl/crypto.h>
#include <p11-kit/pkcs11.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "crypto.h"

struct cdr_hsm {
  void *dl;
  CK_FUNCTION_LIST *fl;
  int initialised; /* this handle's C_Initialize succeeded: it finalises */
  int have_session;
  int logged_in;
  CK_SESSION_HANDLE session;
};

struct cdr_hsm_signer {
  PKCS11_CTX *ctx;
  int loaded;
  PKCS11_SLOT *slots;
  unsigned int nslots;
  PKCS11_SLOT *slot; /* borrowed from slots */
  int logged_in;
  EVP_PKEY *key;
};

/* DER of the P-256 named curve OID 1.2.840.10045.3.1.7 (CKA_EC_PARAMS). */
static const CK_BYTE p256_ec_params[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};

static const char *ckr_name(CK_RV rv) {
  switch (rv) {
  case CKR_OK: return "CKR_OK";
  case CKR_HOST_MEMORY: return "CKR_HOST_MEMORY";
  case CKR_SLOT_ID_INVALID: return "CKR_SLOT_ID_INVALID";
  case CKR_GENERAL_ERROR: return "CKR_GENERAL_ERROR";
  case CKR_FUNCTION_FAILED: return "CKR_FUNCTION_FAILED";
  case CKR_ARGUMENTS_BAD: return "CKR_ARGUMENTS_BAD";
  case CKR_ATTRIBUTE_READ_ONLY: return "CKR_ATTRIBUTE_READ_ONLY";
  case CKR_ATTRIBUTE_SENSITIVE: return "CKR_ATTRIBUTE_SENSITIVE";
  case CKR_ATTRIBUTE_TYPE_INVALID: return "CKR_ATTRIBUTE_TYPE_INVALID";
  case CKR_ATTRIBUTE_VALUE_INVALID: return "CKR_ATTRIBUTE_VALUE_INVALID";
  case CKR_DEVICE_ERROR: return "CKR_DEVICE_ERROR";
  case CKR_DEVICE_MEMORY: return "CKR_DEVICE_MEMORY";
  case CKR_DEVICE_REMOVED: return "CKR_DEVICE_REMOVED";
  case CKR_DOMAIN_PARAMS_INVALID: return "CKR_DOMAIN_PARAMS_INVALID";
  case CKR_MECHANISM_INVALID: return "CKR_MECHANISM_INVALID";
  case CKR_OBJECT_HANDLE_INVALID: return "CKR_OBJECT_HANDLE_INVALID";
  case CKR_PIN_INCORRECT: return "CKR_PIN_INCORRECT";
  case CKR_PIN_INVALID: return "CKR_PIN_INVALID";
  case CKR_PIN_LEN_RANGE: return "CKR_PIN_LEN_RANGE";
  case CKR_PIN_LOCKED: return "CKR_PIN_LOCKED";
  case CKR_SESSION_HANDLE_INVALID: return "CKR_SESSION_HANDLE_INVALID";
  case CKR_SESSION_READ_ONLY: return "CKR_SESSION_READ_ONLY";
  case CKR_TEMPLATE_INCOMPLETE: return "CKR_TEMPLATE_INCOMPLETE";
  case CKR_TEMPLATE_INCONSISTENT: return "CKR_TEMPLATE_INCONSISTENT";
  case CKR_TOKEN_NOT_PRESENT: return "CKR_TOKEN_NOT_PRESENT";
  case CKR_TOKEN_NOT_RECOGNIZED: return "CKR_TOKEN_NOT_RECOGNIZED";
  case CKR_TOKEN_WRITE_PROTECTED: return "CKR_TOKEN_WRITE_PROTECTED";
  case CKR_USER_ALREADY_LOGGED_IN: return "CKR_USER_ALREADY_LOGGED_IN";
  case CKR_USER_NOT_LOGGED_IN: return "CKR_USER_NOT_LOGGED_IN";
  case CKR_USER_PIN_NOT_INITIALIZED: return "CKR_USER_PIN_NOT_INITIALIZED";
  case CKR_USER_TYPE_INVALID: return "CKR_USER_TYPE_INVALID";
  case CKR_BUFFER_TOO_SMALL: return "CKR_BUFFER_TOO_SMALL";
  case CKR_CRYPTOKI_NOT_INITIALIZED: return "CKR_CRYPTOKI_NOT_INITIALIZED";
  case CKR_CRYPTOKI_ALREADY_INITIALIZED: return "CKR_CRYPTOKI_ALREADY_INITIALIZED";
  default: return "CKR_(other)";
  }
}

/* Log a failed PKCS#11 call and map it to CDR_ERR_HSM. */
static int ck_fail(const char *call, CK_RV rv) {
  log_error("pkcs11: %s failed: %s (0x%lx)", call, ckr_name(rv), (unsigned long)rv);
  return CDR_ERR_HSM;
}

/* ------------------------------------------------------------------ */
/* embedded SoftHSM2                                                   */

int cdr_hsm_softhsm_write_conf(const char *hsm_dir) {
  char *tokens = NULL, *conf_path = NULL, *text = NULL;
  int r = CDR_ERR_NOMEM;

  if (hsm_dir == NULL || hsm_dir[0] != '/' || strchr(hsm_dir, '\n') != NULL)
    return CDR_ERR_ARG;
  if ((tokens = cdr_path_join(hsm_dir, "tokens")) == NULL ||
      (conf_path = cdr_path_join(hsm_dir, "softhsm2.conf")) == NULL)
    goto out;
  if (mkdir(tokens, 0700) != 0 && errno != EEXIST) {
    r = CDR_ERR_IO;
    goto out;
  }
  size_t cap = strlen(tokens) + 256;
  if ((text = malloc(cap)) == NULL)
    goto out;
  int w = snprintf(text, cap,
                   "# SoftHSM2 token store of this CDR room (written by cdr room init).\n"
                   "directories.tokendir = %s\n"
                   "objectstore.backend = file\n"
                   "log.level = ERROR\n"
                   "slots.removable = false\n",
                   tokens);
  if (w < 0 || (size_t)w >= cap) {
    r = CDR_ERR_INTERNAL;
    goto out;
  }
  r = cdr_file_write(conf_path, text, (size_t)w, 0600, 1);
out:
  free(tokens);
  free(conf_path);
  free(text);
  return r;
}

int cdr_hsm_softhsm_use(const char *hsm_dir) {
  char *conf_path;
  int r = 0;

  if (hsm_dir == NULL || hsm_dir[0] != '/')
    return CDR_ERR_ARG;
  if ((conf_path = cdr_path_join(hsm_dir, "softhsm2.conf")) == NULL)
    return CDR_ERR_NOMEM;
  if (access(conf_path, R_OK) != 0) {
    log_error("pkcs11: SoftHSM2 configuration %s is missing", conf_path);
    r = CDR_ERR_NOT_FOUND;
  } else if (setenv("SOFTHSM2_CONF", conf_path, 1) != 0) {
    r = CDR_ERR_NOMEM;
  }
  free(conf_path);
  return r;
}

/* ------------------------------------------------------------------ */
/* the raw module                                                      */

int cdr_hsm_load(struct cdr_hsm **out, const char *module_path) {
  struct cdr_hsm *h = NULL;
  CK_C_GetFunctionList getfl;
  CK_C_INITIALIZE_ARGS args;
  CK_RV rv;
  int r;

  *out = NULL;
  if (module_path == NULL || module_path[0] != '/')
    return CDR_ERR_ARG;
  if ((h = calloc(1, sizeof(*h))) == NULL)
    return CDR_ERR_NOMEM;
  if ((h->dl = dlopen(module_path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
    log_error("pkcs11: cannot load module %s: %s", module_path, dlerror());
    r = CDR_ERR_HSM;
    goto out;
  }
  /* POSIX blesses converting dlsym's void * to a function pointer. */
  *(void **)(&getfl) = dlsym(h->dl, "C_GetFunctionList");
  if (getfl == NULL) {
    log_error("pkcs11: %s has no C_GetFunctionList", module_path);
    r = CDR_ERR_HSM;
    goto out;
  }
  if ((rv = getfl(&h->fl)) != CKR_OK || h->fl == NULL) {
    r = ck_fail("C_GetFunctionList", rv);
    goto out;
  }
  memset(&args, 0, sizeof(args));
  args.flags = CKF_OS_LOCKING_OK;
  rv = h->fl->C_Initialize(&args);
  if (rv == CKR_OK) {
    h->initialised = 1;
  } else if (rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
    r = ck_fail("C_Initialize", rv);
    goto out;
  }
  *out = h;
  h = NULL;
  r = 0;
out:
  cdr_hsm_unload(h);
  return r;
}

/* Close the session (logging out first), if any. */
static void hsm_close_session(struct cdr_hsm *h) {
  if (h->have_session) {
    if (h->logged_in)
      (void)h->fl->C_Logout(h->session);
    (void)h->fl->C_CloseSession(h->session);
  }
  h->have_session = 0;
  h->logged_in = 0;
}

void cdr_hsm_unload(struct cdr_hsm *h) {
  if (h == NULL)
    return;
  if (h->fl != NULL) {
    hsm_close_session(h);
    if (h->initialised)
      (void)h->fl->C_Finalize(NULL);
  }
  if (h->dl != NULL)
    dlclose(h->dl);
  free(h);
}

/* Length of a blank-padded PKCS#11 string without its padding. */
static size_t padded_len(const unsigned char *s, size_t n) {
  while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\0'))
    n--;
  return n;
}

static int token_label_ok(const char *label) {
  size_t n = label == NULL ? 0 : strlen(label);
  return n > 0 && n <= CDR_HSM_TOKEN_LABEL_MAX && label[n - 1] != ' ';
}

static int pin_ok(const char *pin) {
  size_t n = pin == NULL ? 0 : strlen(pin);
  return n >= CDR_HSM_PIN_MIN && n <= CDR_HSM_PIN_MAX;
}

/* The slot list (present tokens only), malloc'd into *slots. */
static int hsm_slot_list(struct cdr_hsm *h, CK_SLOT_ID **slots, CK_ULONG *n) {
  CK_SLOT_ID *list = NULL;
  CK_ULONG count = 0;
  CK_RV rv;

  *slots = NULL;
  *n = 0;
  for (int attempt = 0; attempt < 4; attempt++) {
    if ((rv = h->fl->C_GetSlotList(CK_TRUE, NULL, &count)) != CKR_OK)
      return ck_fail("C_GetSlotList", rv);
    if (count == 0)
      return 0;
    if (count > 4096)
      return CDR_ERR_HSM;
    free(list);
    if ((list = calloc(count, sizeof(*list))) == NULL)
      return CDR_ERR_NOMEM;
    rv = h->fl->C_GetSlotList(CK_TRUE, list, &count);
    if (rv == CKR_OK) {
      *slots = list;
      *n = count;
      return 0;
    }
    if (rv != CKR_BUFFER_TOO_SMALL)
      break;
  }
  free(list);
  return ck_fail("C_GetSlotList", rv);
}

/* Find the one initialised token labelled label (CDR_ERR_NOT_FOUND if
 * none, CDR_ERR_HSM if several), or with label NULL the first slot whose
 * token is not initialised. */
static int hsm_find_slot(struct cdr_hsm *h, const char *label, CK_SLOT_ID *slot) {
  CK_SLOT_ID *slots = NULL;
  CK_ULONG n = 0, found = 0;
  CK_TOKEN_INFO ti;
  CK_RV rv;
  int r;

  if ((r = hsm_slot_list(h, &slots, &n)) != 0)
    return r;
  for (CK_ULONG i = 0; i < n; i++) {
    if ((rv = h->fl->C_GetTokenInfo(slots[i], &ti)) != CKR_OK) {
      if (rv == CKR_TOKEN_NOT_PRESENT || rv == CKR_TOKEN_NOT_RECOGNIZED)
        continue;
      r = ck_fail("C_GetTokenInfo", rv);
      goto out;
    }
    int initialised = (ti.flags & CKF_TOKEN_INITIALIZED) != 0;
    if (label == NULL) {
      if (!initialised) {
        *slot = slots[i];
        found = 1;
        break;
      }
      continue;
    }
    size_t len = padded_len(ti.label, sizeof(ti.label));
    if (initialised && len == strlen(label) && memcmp(ti.label, label, len) == 0) {
      *slot = slots[i];
      found++;
    }
  }
  if (found == 0) {
    r = CDR_ERR_NOT_FOUND;
  } else if (found > 1) {
    log_error("pkcs11: %lu tokens are labelled \"%s\"", (unsigned long)found, label);
    r = CDR_ERR_HSM;
  } else {
    r = 0;
  }
out:
  free(slots);
  return r;
}

int cdr_hsm_init_token(struct cdr_hsm *h, const char *label, const char *so_pin, const char *user_pin) {
  CK_SLOT_ID slot;
  CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
  CK_UTF8CHAR padded[32];
  int have_session = 0, logged_in = 0;
  CK_RV rv;
  int r;

  if (!token_label_ok(label) || !pin_ok(so_pin) || !pin_ok(user_pin))
    return CDR_ERR_ARG;
  r = hsm_find_slot(h, label, &slot);
  if (r == 0) {
    log_error("pkcs11: a token labelled \"%s\" already exists", label);
    return CDR_ERR_HSM;
  }
  if (r != CDR_ERR_NOT_FOUND)
    return r;
  if ((r = hsm_find_slot(h, NULL, &slot)) != 0) {
    if (r == CDR_ERR_NOT_FOUND)
      log_error("pkcs11: no slot with an uninitialised token");
    return r == CDR_ERR_NOT_FOUND ? CDR_ERR_HSM : r;
  }
  memset(padded, ' ', sizeof(padded));
  memcpy(padded, label, strlen(label));
  if ((rv = h->fl->C_InitToken(slot, (CK_UTF8CHAR_PTR)so_pin, strlen(so_pin), padded)) != CKR_OK) {
    r = ck_fail("C_InitToken", rv);
    goto out;
  }
  /* SoftHSM2 moves a freshly initialised token to a new slot id; look
   * it up again by its label. */
  if ((r = hsm_find_slot(h, label, &slot)) != 0) {
    if (r == CDR_ERR_NOT_FOUND)
      log_error("pkcs11: the token just initialised is not visible");
    r = CDR_ERR_HSM;
    goto out;
  }
  if ((rv = h->fl->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s)) != CKR_OK) {
    r = ck_fail("C_OpenSession", rv);
    goto out;
  }
  have_session = 1;
  if ((rv = h->fl->C_Login(s, CKU_SO, (CK_UTF8CHAR_PTR)so_pin, strlen(so_pin))) != CKR_OK) {
    r = ck_fail("C_Login(SO)", rv);
    goto out;
  }
  logged_in = 1;
  if ((rv = h->fl->C_InitPIN(s, (CK_UTF8CHAR_PTR)user_pin, strlen(user_pin))) != CKR_OK) {
    r = ck_fail("C_InitPIN", rv);
    goto out;
  }
  r = 0;
out:
  if (logged_in)
    (void)h->fl->C_Logout(s);
  if (have_session)
    (void)h->fl->C_CloseSession(s);
  return r;
}

int cdr_hsm_login(struct cdr_hsm *h, const char *token_label, const char *user_pin) {
  CK_SLOT_ID slot;
  CK_RV rv;
  int r;

  if (!token_label_ok(token_label) || user_pin == NULL || strlen(user_pin) > CDR_HSM_PIN_MAX)
    return CDR_ERR_ARG;
  hsm_close_session(h);
  if ((r = hsm_find_slot(h, token_label, &slot)) != 0) {
    if (r == CDR_ERR_NOT_FOUND)
      log_error("pkcs11: no token labelled \"%s\"", token_label);
    return r;
  }
  if ((rv = h->fl->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h->session)) != CKR_OK)
    return ck_fail("C_OpenSession", rv);
  h->have_session = 1;
  rv = h->fl->C_Login(h->session, CKU_USER, (CK_UTF8CHAR_PTR)user_pin, strlen(user_pin));
  if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
    r = ck_fail("C_Login(user)", rv);
    hsm_close_session(h);
    return r;
  }
  h->logged_in = rv == CKR_OK;
  return 0;
}

/* Handles of the objects matching tmpl (n attributes), malloc'd. */
static int hsm_find(struct cdr_hsm *h, CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE **objs, size_t *count) {
  CK_OBJECT_HANDLE *list = NULL, batch[32];
  size_t used = 0, cap = 0;
  CK_ULONG got;
  CK_RV rv;
  int r = 0;

  *objs = NULL;
  *count = 0;
  if (!h->have_session)
    return CDR_ERR_ARG;
  if ((rv = h->fl->C_FindObjectsInit(h->session, tmpl, n)) != CKR_OK)
    return ck_fail("C_FindObjectsInit", rv);
  for (;;) {
    if ((rv = h->fl->C_FindObjects(h->session, batch, 32, &got)) != CKR_OK) {
      r = ck_fail("C_FindObjects", rv);
      break;
    }
    if (got == 0)
      break;
    if (used + got > 65536) {
      r = CDR_ERR_TOO_LARGE;
      break;
    }
    if (used + got > cap) {
      size_t ncap = cap == 0 ? 64 : cap * 2;
      while (ncap < used + got)
        ncap *= 2;
      CK_OBJECT_HANDLE *nl = realloc(list, ncap * sizeof(*nl));
      if (nl == NULL) {
        r = CDR_ERR_NOMEM;
        break;
      }
      list = nl;
      cap = ncap;
    }
    memcpy(list + used, batch, got * sizeof(*batch));
    used += got;
  }
  (void)h->fl->C_FindObjectsFinal(h->session);
  if (r != 0) {
    free(list);
    return r;
  }
  *objs = list;
  *count = used;
  return 0;
}

/* One attribute of an object as malloc'd bytes (NUL-terminated for
 * convenience); *len = 0 and a "" buffer when the value is empty.
 * CDR_ERR_NOT_FOUND when the attribute does not apply or is sensitive. */
static int hsm_get_attr(struct cdr_hsm *h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type, size_t maxlen, uint8_t **val,
                        size_t *len) {
  CK_ATTRIBUTE a = {type, NULL, 0};
  uint8_t *v;
  CK_RV rv;

  *val = NULL;
  *len = 0;
  rv = h->fl->C_GetAttributeValue(h->session, o, &a, 1);
  if (rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_ATTRIBUTE_SENSITIVE || a.ulValueLen == CK_UNAVAILABLE_INFORMATION)
    return CDR_ERR_NOT_FOUND;
  if (rv != CKR_OK)
    return ck_fail("C_GetAttributeValue", rv);
  if (a.ulValueLen > maxlen)
    return CDR_ERR_TOO_LARGE;
  if ((v = calloc(1, a.ulValueLen + 1)) == NULL)
    return CDR_ERR_NOMEM;
  a.pValue = v;
  if ((rv = h->fl->C_GetAttributeValue(h->session, o, &a, 1)) != CKR_OK) {
    free(v);
    return ck_fail("C_GetAttributeValue", rv);
  }
  *val = v;
  *len = a.ulValueLen;
  return 0;
}

/* A CK_BBOOL attribute: 1, 0, or -1 when it does not apply. */
static int hsm_get_bool(struct cdr_hsm *h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type) {
  CK_BBOOL b = CK_FALSE;
  CK_ATTRIBUTE a = {type, &b, sizeof(b)};
  if (h->fl->C_GetAttributeValue(h->session, o, &a, 1) != CKR_OK || a.ulValueLen != sizeof(b))
    return -1;
  return b == CK_TRUE ? 1 : 0;
}

static int key_label_ok(const char *label) {
  size_t n = label == NULL ? 0 : strlen(label);
  return n > 0 && n <= CDR_HSM_KEY_LABEL_MAX;
}

/* Objects labelled label, optionally of one class (cls != ~0UL). */
static int hsm_find_label(struct cdr_hsm *h, const char *label, CK_OBJECT_CLASS cls, CK_OBJECT_HANDLE **objs,
                          size_t *count) {
  CK_ATTRIBUTE tmpl[2] = {
      {CKA_LABEL, (void *)label, strlen(label)},
      {CKA_CLASS, &cls, sizeof(cls)},
  };
  return hsm_find(h, tmpl, cls == (CK_OBJECT_CLASS)~0UL ? 1 : 2, objs, count);
}

/* EC point attribute -> EVP_PKEY.  Accepts the DER OCTET STRING that
 * PKCS#11 2.40 prescribes and, for older tokens, the raw point. */
static int ec_point_to_pkey(const uint8_t *v, size_t len, EVP_PKEY **pub) {
  uint8_t point[CDR_P256_POINT_LEN];
  ASN1_OCTET_STRING *os = NULL;
  int r = CDR_ERR_HSM;

  if (len == CDR_P256_POINT_LEN && v[0] == 0x04) {
    memcpy(point, v, sizeof(point));
  } else {
    const unsigned char *p = v;
    if (len > LONG_MAX || (os = d2i_ASN1_OCTET_STRING(NULL, &p, (long)len)) == NULL || p != v + len ||
        ASN1_STRING_length(os) != CDR_P256_POINT_LEN) {
      log_error("pkcs11: CKA_EC_POINT is not an uncompressed P-256 point");
      goto out;
    }
    memcpy(point, ASN1_STRING_get0_data(os), sizeof(point));
  }
  r = cdr_p256_point_to_key(pub, point);
out:
  ASN1_OCTET_STRING_free(os);
  return r;
}

int cdr_hsm_public_key(struct cdr_hsm *h, const char *label, EVP_PKEY **pub) {
  CK_OBJECT_HANDLE *objs = NULL;
  size_t n = 0, len = 0;
  uint8_t *params = NULL, *point = NULL;
  int r;

  *pub = NULL;
  if (!key_label_ok(label))
    return CDR_ERR_ARG;
  if ((r = hsm_find_label(h, label, CKO_PUBLIC_KEY, &objs, &n)) != 0)
    goto out;
  if (n == 0) {
    r = CDR_ERR_NOT_FOUND;
    goto out;
  }
  if (n > 1) {
    log_error("pkcs11: %zu public keys are labelled \"%s\"", n, label);
    r = CDR_ERR_HSM;
    goto out;
  }
  if ((r = hsm_get_attr(h, objs[0], CKA_EC_PARAMS, 256, &params, &len)) != 0)
    goto out;
  if (len != sizeof(p256_ec_params) || memcmp(params, p256_ec_params, len) != 0) {
    log_error("pkcs11: key \"%s\" is not on P-256", label);
    r = CDR_ERR_KEY_UNSUPPORTED;
    goto out;
  }
  if ((r = hsm_get_attr(h, objs[0], CKA_EC_POINT, 256, &point, &len)) != 0)
    goto out;
  r = ec_point_to_pkey(point, len, pub);
out:
  if (r == CDR_ERR_NOT_FOUND && n > 0)
    r = CDR_ERR_HSM; /* the key exists but lacks an attribute */
  free(objs);
  free(params);
  free(point);
  return r;
}

int cdr_hsm_generate_ec_p256(struct cdr_hsm *h, const char *label, const uint8_t *id, size_t idlen,
                             EVP_PKEY **pub) {
  CK_MECHANISM mech = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
  CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
  CK_KEY_TYPE kt = CKK_EC;
  CK_OBJECT_HANDLE hpub = CK_INVALID_HANDLE, hpriv = CK_INVALID_HANDLE;
  CK_OBJECT_HANDLE *existing = NULL;
  size_t nexisting = 0;
  CK_RV rv;
  int r;

  if (pub != NULL)
    *pub = NULL;
  if (!key_label_ok(label) || id == NULL || idlen == 0 || idlen > CDR_HSM_ID_MAX)
    return CDR_ERR_ARG;
  if (!h->have_session)
    return CDR_ERR_ARG;
  if ((r = hsm_find_label(h, label, (CK_OBJECT_CLASS)~0UL, &existing, &nexisting)) != 0)
    return r;
  free(existing);
  if (nexisting != 0) {
    log_error("pkcs11: the token already holds an object labelled \"%s\"", label);
    return CDR_ERR_ARG;
  }

  CK_ATTRIBUTE pub_tmpl[] = {
      {CKA_KEY_TYPE, &kt, sizeof(kt)},
      {CKA_TOKEN, &yes, sizeof(yes)},
      {CKA_PRIVATE, &no, sizeof(no)},
      {CKA_VERIFY, &yes, sizeof(yes)},
      {CKA_EC_PARAMS, (void *)p256_ec_params, sizeof(p256_ec_params)},
      {CKA_LABEL, (void *)label, strlen(label)},
      {CKA_ID, (void *)id, idlen},
  };
  CK_ATTRIBUTE priv_tmpl[] = {
      {CKA_KEY_TYPE, &kt, sizeof(kt)},
      {CKA_TOKEN, &yes, sizeof(yes)},
      {CKA_PRIVATE, &yes, sizeof(yes)},
      {CKA_SENSITIVE, &yes, sizeof(yes)},
      {CKA_EXTRACTABLE, &no, sizeof(no)},
      {CKA_SIGN, &yes, sizeof(yes)},
      {CKA_DERIVE, &no, sizeof(no)},
      {CKA_LABEL, (void *)label, strlen(label)},
      {CKA_ID, (void *)id, idlen},
  };
  rv = h->fl->C_GenerateKeyPair(h->session, &mech, pub_tmpl, sizeof(pub_tmpl) / sizeof(pub_tmpl[0]), priv_tmpl,
                                sizeof(priv_tmpl) / sizeof(priv_tmpl[0]), &hpub, &hpriv);
  if (rv != CKR_OK)
    return ck_fail("C_GenerateKeyPair", rv);
  /* The token must have honoured the protection we asked for. */
  if (hsm_get_bool(h, hpriv, CKA_SENSITIVE) != 1 || hsm_get_bool(h, hpriv, CKA_EXTRACTABLE) != 0) {
    log_error("pkcs11: the token did not keep the new private key sensitive and non-extractable");
    r = CDR_ERR_HSM;
    goto fail;
  }
  if (pub != NULL && (r = cdr_hsm_public_key(h, label, pub)) != 0)
    goto fail;
  return 0;
fail:
  (void)h->fl->C_DestroyObject(h->session, hpriv);
  (void)h->fl->C_DestroyObject(h->session, hpub);
  return r;
}

int cdr_hsm_destroy_by_label(struct cdr_hsm *h, const char *label, size_t *ndestroyed) {
  CK_OBJECT_HANDLE *objs = NULL;
  size_t n = 0, done = 0;
  CK_RV rv;
  int r;

  if (ndestroyed != NULL)
    *ndestroyed = 0;
  if (!key_label_ok(label))
    return CDR_ERR_ARG;
  if ((r = hsm_find_label(h, label, (CK_OBJECT_CLASS)~0UL, &objs, &n)) != 0)
    return r;
  for (size_t i = 0; i < n; i++) {
    if ((rv = h->fl->C_DestroyObject(h->session, objs[i])) != CKR_OK)
      r = ck_fail("C_DestroyObject", rv);
    else
      done++;
  }
  free(objs);
  if (ndestroyed != NULL)
    *ndestroyed = done;
  return r;
}

void cdr_hsm_objects_free(struct cdr_hsm_object *objs, size_t n) {
  if (objs == NULL)
    return;
  for (size_t i = 0; i < n; i++) {
    free(objs[i].label);
    free(objs[i].id_hex);
  }
  free(objs);
}

int cdr_hsm_list_objects(struct cdr_hsm *h, struct cdr_hsm_object **objs_out, size_t *n_out) {
  CK_OBJECT_HANDLE *handles = NULL;
  struct cdr_hsm_object *objs = NULL;
  size_t n = 0, len;
  uint8_t *v = NULL;
  int r;

  *objs_out = NULL;
  *n_out = 0;
  if ((r = hsm_find(h, NULL, 0, &handles, &n)) != 0)
    return r;
  if (n > 0 && (objs = calloc(n, sizeof(*objs))) == NULL) {
    r = CDR_ERR_NOMEM;
    goto out;
  }
  for (size_t i = 0; i < n; i++) {
    struct cdr_hsm_object *o = &objs[i];
    CK_OBJECT_CLASS cls = 0;
    CK_ATTRIBUTE a = {CKA_CLASS, &cls, sizeof(cls)};
    CK_RV rv = h->fl->C_GetAttributeValue(h->session, handles[i], &a, 1);
    if (rv != CKR_OK) {
      r = ck_fail("C_GetAttributeValue(CKA_CLASS)", rv);
      goto out;
    }
    o->cls = cls;
    r = hsm_get_attr(h, handles[i], CKA_LABEL, 4096, &v, &len);
    if (r == CDR_ERR_NOT_FOUND)
      o->label = strdup("");
    else if (r == 0) {
      o->label = (char *)v; /* NUL-terminated by hsm_get_attr */
      v = NULL;
    } else
      goto out;
    r = hsm_get_attr(h, handles[i], CKA_ID, CDR_HSM_ID_MAX * 4, &v, &len);
    if (r != 0 && r != CDR_ERR_NOT_FOUND)
      goto out;
    if ((o->id_hex = malloc(2 * len + 1)) != NULL)
      cdr_hex_encode(o->id_hex, v, len);
    free(v);
    v = NULL;
    if (o->label == NULL || o->id_hex == NULL) {
      r = CDR_ERR_NOMEM;
      goto out;
    }
    o->is_private = hsm_get_bool(h, handles[i], CKA_PRIVATE);
    o->sensitive = hsm_get_bool(h, handles[i], CKA_SENSITIVE);
    o->extractable = hsm_get_bool(h, handles[i], CKA_EXTRACTABLE);
    o->always_sensitive = hsm_get_bool(h, handles[i], CKA_ALWAYS_SENSITIVE);
    o->never_extractable = hsm_get_bool(h, handles[i], CKA_NEVER_EXTRACTABLE);
  }
  *objs_out = objs;
  *n_out = n;
  objs = NULL;
  r = 0;
out:
  free(v);
  cdr_hsm_objects_free(objs, n);
  free(handles);
  return r;
}

const char *cdr_hsm_class_name(unsigned long cls) {
  switch (cls) {
  case CKO_DATA: return "data";
  case CKO_CERTIFICATE: return "certificate";
  case CKO_PUBLIC_KEY: return "public-key";
  case CKO_PRIVATE_KEY: return "private-key";
  case CKO_SECRET_KEY: return "secret-key";
  case CKO_HW_FEATURE: return "hw-feature";
  case CKO_DOMAIN_PARAMETERS: return "domain-parameters";
  case CKO_MECHANISM: return "mechanism";
  default: return "other";
  }
}

/* ------------------------------------------------------------------ */
/* the signer, through libp11                                          */

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
  if (module_path == NULL || module_path[0] != '/' || !token_label_ok(token_label) || !key_label_ok(key_label) ||
      user_pin == NULL || strlen(user_pin) > CDR_HSM_PIN_MAX)
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
