/*
 * tdx_pki.c - the Intel PKI part of TDX quote verification, all through
 * OpenSSL: PEM chains, path validation to the pinned Intel SGX Root CA at
 * an explicit time, raw (r || s) ECDSA P-256 signatures, P-256 keys from
 * raw coordinates, and the SGX extension of a PCK certificate.
 *
 * The SGX extension (Intel SGX PCK Certificate and CRL Profile) is
 *   1.2.840.113741.1.13.1  SEQUENCE OF SEQUENCE { OID, value }:
 *     .2  TCB    SEQUENCE OF SEQUENCE { OID .2.N, INTEGER } (N = 1..16 the
 *                SGX TCB components, 17 the PCE SVN, 18 the CPUSVN)
 *     .3  PCE-ID OCTET STRING (2)
 *     .4  FMSPC  OCTET STRING (6)
 *     (others: PPID, SGX type, ... not used here)
 * It is decoded with d2i_ASN1_SEQUENCE_ANY at each level, each decode
 * required to consume its input exactly; there is no hand-written DER.
 *
 * Nothing here is secret: the inputs are public evidence, so plain
 * memcmp is fine and nothing needs wiping.
 */
#include <limits.h>
#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>

#include "ecdsa_raw.h"
#include "hwattest.h"
#include "tdx_internal.h"

#define SGX_EXT_OID "1.2.840.113741.1.13.1"

int tdx_pem_chain(STACK_OF(X509) **out, const uint8_t *pem, size_t len, char *why, size_t whylen) {
  BIO *bio = NULL;
  STACK_OF(X509) *sk = NULL;
  X509 *c;
  unsigned long e;
  int r = CDR_ERR_ATTEST_MALFORMED;

  *out = NULL;
  if (len == 0 || len > (size_t)INT_MAX) {
    snprintf(why, whylen, "empty or oversized PEM chain");
    return CDR_ERR_ATTEST_MALFORMED;
  }
  if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL || (sk = sk_X509_new_null()) == NULL) {
    r = CDR_ERR_NOMEM;
    goto out;
  }
  ERR_set_mark();
  while ((c = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
    if (sk_X509_num(sk) >= TDX_MAX_CHAIN_CERTS || !sk_X509_push(sk, c)) {
      X509_free(c);
      ERR_pop_to_mark();
      snprintf(why, whylen, "more than %d certificates in a chain", TDX_MAX_CHAIN_CERTS);
      goto out;
    }
  }
  /* The loop ends at end of input (no further BEGIN line) or at a
   * certificate that does not parse; only the first is acceptable. */
  e = ERR_peek_last_error();
  ERR_pop_to_mark();
  if (ERR_GET_LIB(e) != ERR_LIB_PEM || ERR_GET_REASON(e) != PEM_R_NO_START_LINE) {
    snprintf(why, whylen, "a certificate of the PEM chain does not parse");
    goto out;
  }
  if (sk_X509_num(sk) < 2) {
    snprintf(why, whylen, "%d certificate(s) in the chain, want the leaf and its CA", sk_X509_num(sk));
    goto out;
  }
  *out = sk;
  sk = NULL;
  r = 0;
out:
  sk_X509_pop_free(sk, X509_free);
  BIO_free(bio);
  return r;
}

/* 1 if the subject of c has exactly one CN and it is want. */
static int cn_is(X509 *c, const char *want) {
  X509_NAME *n = X509_get_subject_name(c);
  int i = X509_NAME_get_index_by_NID(n, NID_commonName, -1);
  const ASN1_STRING *s;
  size_t wl = strlen(want);

  if (i < 0 || X509_NAME_get_index_by_NID(n, NID_commonName, i) >= 0)
    return 0;
  s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, i));
  return s != NULL && ASN1_STRING_length(s) >= 0 && (size_t)ASN1_STRING_length(s) == wl &&
         memcmp(ASN1_STRING_get0_data(s), want, wl) == 0;
}

static int chain_error(int x509_err) {
  switch (x509_err) {
  case X509_V_ERR_CERT_NOT_YET_VALID:
  case X509_V_ERR_CERT_HAS_EXPIRED:
    return CDR_ERR_ATTEST_CERT_TIME;
  case X509_V_ERR_CERT_SIGNATURE_FAILURE:
  case X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY:
    return CDR_ERR_ATTEST_SIGNATURE;
  default: /* no path to the pinned root, or not a valid CA path */
    return CDR_ERR_ATTEST_ROOT;
  }
}

int tdx_chain_verify(STACK_OF(X509) *sk, int64_t at, const char *leaf_cn, const char *ca_cn1,
                     const char *ca_cn2, char *why, size_t whylen) {
  X509 *root = cdr_root_intel_sgx();
  X509_STORE *store = NULL;
  X509_STORE_CTX *ctx = NULL;
  STACK_OF(X509) *chain;
  X509 *leaf, *ca;
  int want = ca_cn1 != NULL ? 3 : 2, err, r = CDR_ERR_INTERNAL;

  if (root == NULL) {
    snprintf(why, whylen, "the pinned Intel SGX Root CA does not load");
    return CDR_ERR_INTERNAL;
  }
  if (sk_X509_num(sk) < 1) {
    snprintf(why, whylen, "empty chain");
    return CDR_ERR_ATTEST_MALFORMED;
  }
  leaf = sk_X509_value(sk, 0);
  if ((store = X509_STORE_new()) == NULL || (ctx = X509_STORE_CTX_new()) == NULL) {
    r = CDR_ERR_NOMEM;
    goto out;
  }
  if (X509_STORE_add_cert(store, root) != 1 || X509_STORE_CTX_init(ctx, store, leaf, sk) != 1) {
    r = CDR_ERR_CRYPTO;
    goto out;
  }
  /* Only the pinned root is trusted (no partial chains); "now" is the
   * caller's time, never the clock. */
  X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx), (time_t)at);
  if (X509_verify_cert(ctx) != 1) {
    err = X509_STORE_CTX_get_error(ctx);
    snprintf(why, whylen, "%s (certificate at depth %d)", X509_verify_cert_error_string(err),
             X509_STORE_CTX_get_error_depth(ctx));
    r = chain_error(err);
    goto out;
  }
  chain = X509_STORE_CTX_get0_chain(ctx);
  r = CDR_ERR_ATTEST_ROOT;
  if (chain == NULL || sk_X509_num(chain) != want || X509_cmp(sk_X509_value(chain, want - 1), root) != 0) {
    snprintf(why, whylen, "chain of %d, want %d ending at the Intel SGX Root CA", chain ? sk_X509_num(chain) : 0,
             want);
    goto out;
  }
  /* Every certificate the evidence carries must be on that path, in
   * order: a root other than the pinned one (even if unused, because the
   * intermediate also names the pinned root) is refused. */
  for (int i = 0; i < sk_X509_num(sk); i++) {
    if (i >= want || X509_cmp(sk_X509_value(sk, i), sk_X509_value(chain, i)) != 0) {
      snprintf(why, whylen, "certificate %d of the chain is not on the path to the pinned root%s", i,
               i == want - 1 ? " (a different root)" : "");
      goto out;
    }
  }
  if (!cn_is(leaf, leaf_cn)) {
    snprintf(why, whylen, "leaf is not an \"%s\" certificate", leaf_cn);
    goto out;
  }
  ca = sk_X509_value(chain, 1);
  if (ca_cn1 != NULL && !cn_is(ca, ca_cn1) && (ca_cn2 == NULL || !cn_is(ca, ca_cn2))) {
    snprintf(why, whylen, "intermediate is not \"%s\"", ca_cn1);
    goto out;
  }
  r = 0;
out:
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  if (r != 0)
    ERR_clear_error();
  return r;
}

static int is_p256(EVP_PKEY *key) {
  char group[32];
  size_t glen = 0;
  return key != NULL && EVP_PKEY_is_a(key, "EC") &&
         EVP_PKEY_get_group_name(key, group, sizeof(group), &glen) == 1 && strcmp(group, "prime256v1") == 0;
}

int tdx_ecdsa_verify(EVP_PKEY *key, const uint8_t *msg, size_t msglen, const uint8_t sig[64]) {
  if (!is_p256(key))
    return CDR_ERR_ATTEST_SIGNATURE;
  return cdr_hw_ecdsa_verify(key, EVP_sha256(), sig, sig + 32, 32, 0, msg, msglen);
}

int tdx_p256_key(EVP_PKEY **out, const uint8_t xy[64]) {
  char group[] = "prime256v1";
  uint8_t pub[65];
  EVP_PKEY_CTX *ctx = NULL, *chk = NULL;
  EVP_PKEY *key = NULL;
  OSSL_PARAM params[3];
  int r = CDR_ERR_ATTEST_MALFORMED;

  *out = NULL;
  pub[0] = 0x04; /* uncompressed point */
  memcpy(pub + 1, xy, 64);
  params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
  params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub));
  params[2] = OSSL_PARAM_construct_end();
  if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL) {
    r = CDR_ERR_NOMEM;
    goto out;
  }
  if (EVP_PKEY_fromdata_init(ctx) != 1 || EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1)
    goto out;
  if ((chk = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL)) == NULL || EVP_PKEY_public_check(chk) != 1)
    goto out;
  *out = key;
  key = NULL;
  r = 0;
out:
  EVP_PKEY_CTX_free(chk);
  EVP_PKEY_CTX_free(ctx);
  EVP_PKEY_free(key);
  if (r != 0)
    ERR_clear_error();
  return r;
}

static void seq_free(STACK_OF(ASN1_TYPE) *sk) { sk_ASN1_TYPE_pop_free(sk, ASN1_TYPE_free); }

/* A DER SEQUENCE OF ANY that must span exactly len bytes; NULL if not. */
static STACK_OF(ASN1_TYPE) *seq_any(const unsigned char *p, int len) {
  const unsigned char *q = p;
  STACK_OF(ASN1_TYPE) *sk;

  if (p == NULL || len <= 0)
    return NULL;
  sk = d2i_ASN1_SEQUENCE_ANY(NULL, &q, len);
  if (sk != NULL && q != p + len) {
    seq_free(sk);
    return NULL;
  }
  return sk;
}

/* An element SEQUENCE { OID, value }: *kv gets both (freed by the caller),
 * *oid the dotted OID text, *val the value. */
static int oid_pair(const ASN1_TYPE *t, STACK_OF(ASN1_TYPE) **kv, char *oid, size_t oidlen,
                    const ASN1_TYPE **val) {
  const ASN1_TYPE *o;
  int n;

  *kv = NULL;
  if (ASN1_TYPE_get(t) != V_ASN1_SEQUENCE)
    return CDR_ERR_ATTEST_MALFORMED;
  *kv = seq_any(ASN1_STRING_get0_data(t->value.sequence), ASN1_STRING_length(t->value.sequence));
  if (*kv == NULL || sk_ASN1_TYPE_num(*kv) != 2)
    return CDR_ERR_ATTEST_MALFORMED;
  o = sk_ASN1_TYPE_value(*kv, 0);
  if (ASN1_TYPE_get(o) != V_ASN1_OBJECT)
    return CDR_ERR_ATTEST_MALFORMED;
  n = OBJ_obj2txt(oid, (int)oidlen, o->value.object, 1);
  if (n <= 0 || (size_t)n >= oidlen)
    return CDR_ERR_ATTEST_MALFORMED;
  *val = sk_ASN1_TYPE_value(*kv, 1);
  return 0;
}

static int octets(const ASN1_TYPE *v, uint8_t *out, size_t n) {
  if (ASN1_TYPE_get(v) != V_ASN1_OCTET_STRING || ASN1_STRING_length(v->value.octet_string) != (int)n)
    return CDR_ERR_ATTEST_MALFORMED;
  memcpy(out, ASN1_STRING_get0_data(v->value.octet_string), n);
  return 0;
}

static int integer(const ASN1_TYPE *v, int64_t max, int64_t *out) {
  if (ASN1_TYPE_get(v) != V_ASN1_INTEGER || ASN1_INTEGER_get_int64(out, v->value.integer) != 1 || *out < 0 ||
      *out > max)
    return CDR_ERR_ATTEST_MALFORMED;
  return 0;
}

/* The TCB element: components .2.1-.2.16 and the PCE SVN .2.17, each
 * exactly once.  *seen gets one bit per element found. */
static int pck_tcb_parse(const ASN1_TYPE *v, struct tdx_pck_ext *e, uint32_t *seen) {
  STACK_OF(ASN1_TYPE) *tcb = NULL, *kv = NULL;
  const ASN1_TYPE *val;
  char oid[80], want[80];
  int64_t x;
  int r = CDR_ERR_ATTEST_MALFORMED;

  if (ASN1_TYPE_get(v) != V_ASN1_SEQUENCE)
    goto out;
  if ((tcb = seq_any(ASN1_STRING_get0_data(v->value.sequence), ASN1_STRING_length(v->value.sequence))) == NULL)
    goto out;
  for (int i = 0; i < sk_ASN1_TYPE_num(tcb); i++) {
    seq_free(kv);
    if ((r = oid_pair(sk_ASN1_TYPE_value(tcb, i), &kv, oid, sizeof(oid), &val)) != 0)
      goto out;
    r = CDR_ERR_ATTEST_MALFORMED;
    for (unsigned k = 1; k <= 17; k++) {
      snprintf(want, sizeof(want), SGX_EXT_OID ".2.%u", k);
      if (strcmp(oid, want) != 0)
        continue;
      if ((*seen & (1u << k)) != 0 || integer(val, k <= 16 ? 255 : 65535, &x) != 0)
        goto out;
      *seen |= 1u << k;
      if (k <= 16)
        e->comp[k - 1] = (uint8_t)x;
      else
        e->pcesvn = (uint16_t)x;
    }
  }
  r = 0;
out:
  seq_free(kv);
  seq_free(tcb);
  return r;
}

int tdx_pck_ext_parse(X509 *pck, struct tdx_pck_ext *e, char *why, size_t whylen) {
  ASN1_OBJECT *obj = NULL;
  STACK_OF(ASN1_TYPE) *top = NULL, *kv = NULL;
  const ASN1_OCTET_STRING *data;
  const ASN1_TYPE *val;
  char oid[80];
  uint32_t seen = 0, tcb_seen = 0;
  int idx, r = CDR_ERR_ATTEST_MALFORMED;

  memset(e, 0, sizeof(*e));
  if ((obj = OBJ_txt2obj(SGX_EXT_OID, 1)) == NULL) {
    r = CDR_ERR_NOMEM;
    goto out;
  }
  idx = X509_get_ext_by_OBJ(pck, obj, -1);
  if (idx < 0 || X509_get_ext_by_OBJ(pck, obj, idx) >= 0) {
    snprintf(why, whylen, "PCK certificate has %s SGX extension", idx < 0 ? "no" : "more than one");
    goto out;
  }
  data = X509_EXTENSION_get_data(X509_get_ext(pck, idx));
  if ((top = seq_any(ASN1_STRING_get0_data(data), ASN1_STRING_length(data))) == NULL) {
    snprintf(why, whylen, "SGX extension is not a DER SEQUENCE");
    goto out;
  }
  for (int i = 0; i < sk_ASN1_TYPE_num(top); i++) {
    unsigned bit = 0;
    seq_free(kv);
    if (oid_pair(sk_ASN1_TYPE_value(top, i), &kv, oid, sizeof(oid), &val) != 0) {
      snprintf(why, whylen, "SGX extension element %d is not { OID, value }", i);
      goto out;
    }
    if (strcmp(oid, SGX_EXT_OID ".2") == 0) {
      bit = 2;
      if ((seen & (1u << bit)) == 0 && pck_tcb_parse(val, e, &tcb_seen) != 0) {
        snprintf(why, whylen, "SGX extension: TCB does not parse");
        goto out;
      }
    } else if (strcmp(oid, SGX_EXT_OID ".3") == 0) {
      bit = 3;
      if ((seen & (1u << bit)) == 0 && octets(val, e->pceid, sizeof(e->pceid)) != 0) {
        snprintf(why, whylen, "SGX extension: PCE-ID is not 2 bytes");
        goto out;
      }
    } else if (strcmp(oid, SGX_EXT_OID ".4") == 0) {
      bit = 4;
      if ((seen & (1u << bit)) == 0 && octets(val, e->fmspc, sizeof(e->fmspc)) != 0) {
        snprintf(why, whylen, "SGX extension: FMSPC is not 6 bytes");
        goto out;
      }
    }
    if (bit != 0) {
      if ((seen & (1u << bit)) != 0) {
        snprintf(why, whylen, "SGX extension: %s twice", oid);
        goto out;
      }
      seen |= 1u << bit;
    }
  }
  if (seen != ((1u << 2) | (1u << 3) | (1u << 4)) || tcb_seen != 0x3fffeu) {
    snprintf(why, whylen, "SGX extension lacks FMSPC, PCE-ID, a TCB component or the PCE SVN");
    goto out;
  }
  r = 0;
out:
  seq_free(kv);
  seq_free(top);
  ASN1_OBJECT_free(obj);
  if (r != 0)
    ERR_clear_error();
  return r;
}
