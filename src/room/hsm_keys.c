/*
 * hsm_keys.c - the objects of a logged-in PKCS#11 session (see hsm.h):
 * finding objects by template or label, reading attributes, generating
 * the room CA's EC P-256 key pair inside the token, reading a public key
 * back, listing objects with their protection attributes and destroying
 * objects by label.
 *
 * Invariants: a private key generated here is checked, after
 * generation, to be CKA_SENSITIVE and not CKA_EXTRACTABLE, and is
 * destroyed again if the token did not honour that.  Nothing here reads
 * a private key's value.  Every function needs a session opened by
 * cdr_hsm_login (CDR_ERR_ARG without one where the session is used
 * first).
 */
#include <limits.h>
#include <openssl/asn1.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "crypto/crypto.h"
#include "hsm_int.h"

/* DER of the P-256 named curve OID 1.2.840.10045.3.1.7 (CKA_EC_PARAMS). */
static const CK_BYTE p256_ec_params[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};

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
    return cdr_hsm_ck_fail("C_FindObjectsInit", rv);
  for (;;) {
    if ((rv = h->fl->C_FindObjects(h->session, batch, 32, &got)) != CKR_OK) {
      r = cdr_hsm_ck_fail("C_FindObjects", rv);
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
    return cdr_hsm_ck_fail("C_GetAttributeValue", rv);
  if (a.ulValueLen > maxlen)
    return CDR_ERR_TOO_LARGE;
  if ((v = calloc(1, a.ulValueLen + 1)) == NULL)
    return CDR_ERR_NOMEM;
  a.pValue = v;
  if ((rv = h->fl->C_GetAttributeValue(h->session, o, &a, 1)) != CKR_OK) {
    free(v);
    return cdr_hsm_ck_fail("C_GetAttributeValue", rv);
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

int cdr_hsm_key_label_ok(const char *label) {
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
  if (!cdr_hsm_key_label_ok(label))
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
  if (!cdr_hsm_key_label_ok(label) || id == NULL || idlen == 0 || idlen > CDR_HSM_ID_MAX)
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
    return cdr_hsm_ck_fail("C_GenerateKeyPair", rv);
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
  if (!cdr_hsm_key_label_ok(label))
    return CDR_ERR_ARG;
  if ((r = hsm_find_label(h, label, (CK_OBJECT_CLASS)~0UL, &objs, &n)) != 0)
    return r;
  for (size_t i = 0; i < n; i++) {
    if ((rv = h->fl->C_DestroyObject(h->session, objs[i])) != CKR_OK)
      r = cdr_hsm_ck_fail("C_DestroyObject", rv);
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
      r = cdr_hsm_ck_fail("C_GetAttributeValue(CKA_CLASS)", rv);
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

