/*
 * client.c - the client context: server URL, the trusted room CA and the
 * room id it names, the user's key and certificate, attestation policy,
 * and the record of the last failure for display.  See client.h.
 *
 * Invariant: when have_ca is set, ca_fp is the SHA-256 of ca's DER and
 * room_id is the OU of ca's subject; when key is set, cert certifies it
 * and spki / cert_der are their encodings.  The private key is only ever
 * used through cdr_sign and cdr_open_sealed.
 */
#include "client.h"

#include <ctype.h>
#include <curl/curl.h>
#include <malloc.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_int.h"
#include "common/json_get.h"
#include "common/util.h"
#include "crypto/crypto.h"
#include "crypto/userkey.h"
#include "crypto/x509.h"

static pthread_once_t client_once = PTHREAD_ONCE_INIT;
static int curl_ready;

void (*cdr_client_json_free_hook)(const void *p, size_t n);

/* jansson's free for the client: wipe the whole block, then free it.
 * jansson passes no size, and blocks made before the install came from
 * plain malloc, so the size is malloc_usable_size's (no header): every
 * block frees the same way whenever it was made, and a string jansson
 * hands to the caller (json_dumps) may still be released with free(3). */
static void client_json_free(void *p) {
  size_t n;
  if (p == NULL)
    return;
  n = malloc_usable_size(p);
  OPENSSL_cleanse(p, n);
  if (cdr_client_json_free_hook != NULL)
    cdr_client_json_free_hook(p, n);
  free(p);
}

void cdr_json_text_free(char *s) {
  size_t n;
  if (s == NULL)
    return;
  n = malloc_usable_size(s);
  OPENSSL_cleanse(s, n);
  if (cdr_client_json_free_hook != NULL)
    cdr_client_json_free_hook(s, n);
  free(s);
}

/* Once per process: libcurl, and the wiping free for jansson unless a
 * program has installed allocators of its own (the enclave's wipe_alloc
 * keeps a size header that this free could not read). */
static void client_init_once(void) {
  json_malloc_t m = NULL;
  json_free_t f = NULL;
  curl_ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  json_get_alloc_funcs(&m, &f);
  if (m == malloc && f == free)
    json_set_alloc_funcs(malloc, client_json_free);
}

void cdr_client_lib_init(void) { pthread_once(&client_once, client_init_once); }

int cdr_client_new(struct cdr_client **out, const char *url) {
  struct cdr_client *c = NULL;
  size_t n;
  int r = CDR_ERR_ARG;

  *out = NULL;
  if (url == NULL || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0))
    goto out;
  for (const char *p = url; *p; p++)
    if (!isgraph((unsigned char)*p))
      goto out;
  pthread_once(&client_once, client_init_once);
  r = CDR_ERR_INTERNAL;
  if (!curl_ready)
    goto out;
  r = CDR_ERR_NOMEM;
  if ((c = calloc(1, sizeof(*c))) == NULL)
    goto out;
  /* curl's parse decides the host, and its normalised URL is the one used */
  if ((r = cdr_url_check(url, &c->url)) != 0)
    goto out;
  n = strlen(c->url);
  while (n > 8 && c->url[n - 1] == '/')
    c->url[--n] = '\0';
  c->connect_timeout_s = CDR_HTTP_CONNECT_TIMEOUT_S;
  c->timeout_s = CDR_HTTP_TIMEOUT_S;
  *out = c;
  c = NULL;
  r = 0;
out:
  cdr_client_free(c);
  return r;
}

void cdr_client_disconnect(struct cdr_client *c) {
  if (c != NULL && c->curl != NULL) {
    curl_easy_cleanup(c->curl);
    c->curl = NULL;
  }
}

void cdr_client_free(struct cdr_client *c) {
  if (c == NULL)
    return;
  cdr_client_disconnect(c);
  free(c->url);
  X509_free(c->ca);
  free(c->ca_pem);
  free(c->tls_cacert);
  EVP_PKEY_free(c->key);
  X509_free(c->cert);
  OPENSSL_free(c->cert_der);
  OPENSSL_free(c->spki);
  free(c->tdx_collateral);
  free(c->accept_tcb);
  OPENSSL_cleanse(c, sizeof(*c));
  free(c);
}

int cdr_x509_name_room_id(X509_NAME *n, uint8_t out[CDR_ROOM_ID_BYTES]) {
  int idx = X509_NAME_get_index_by_NID(n, NID_organizationalUnitName, -1);
  unsigned char *utf8 = NULL;
  int len, r = CDR_ERR_CERT_INVALID;

  if (idx < 0 || X509_NAME_get_index_by_NID(n, NID_organizationalUnitName, idx) >= 0)
    return r;
  len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, idx)));
  if (len == 2 * CDR_ROOM_ID_BYTES) {
    char hex[2 * CDR_ROOM_ID_BYTES + 1];
    memcpy(hex, utf8, (size_t)len);
    hex[len] = '\0';
    if (cdr_hex_lower_ok(hex, (size_t)len) && cdr_hex_decode(out, CDR_ROOM_ID_BYTES, hex) == 0)
      r = 0;
  }
  OPENSSL_free(utf8);
  ERR_clear_error();
  return r;
}

int cdr_client_set_ca(struct cdr_client *c, X509 *ca) {
  uint8_t fp[32], rid[CDR_ROOM_ID_BYTES];
  char *pem = NULL;
  EVP_PKEY *pub = X509_get0_pubkey(ca);
  int r;

  /* A room CA is self-issued, self-signed and a CA. */
  if (pub == NULL || X509_check_ca(ca) == 0 ||
      X509_NAME_cmp(X509_get_subject_name(ca), X509_get_issuer_name(ca)) != 0 || X509_verify(ca, pub) != 1) {
    ERR_clear_error();
    cdr_client_set_detail(c, "the room CA certificate is not a self-signed CA certificate");
    return CDR_ERR_CERT_INVALID;
  }
  if ((r = cdr_x509_name_room_id(X509_get_subject_name(ca), rid)) != 0) {
    cdr_client_set_detail(c, "the room CA certificate names no room id (subject OU)");
    return r;
  }
  if ((r = cdr_cert_fingerprint(ca, fp)) != 0 || (r = cdr_cert_to_pem(ca, &pem)) != 0)
    return r;
  free(c->ca_pem);
  c->ca_pem = pem;
  X509_up_ref(ca);
  X509_free(c->ca);
  c->ca = ca;
  memcpy(c->ca_fp, fp, sizeof(fp));
  memcpy(c->room_id, rid, sizeof(rid));
  c->have_ca = 1;
  return 0;
}

int cdr_client_set_ca_file(struct cdr_client *c, const char *path) {
  X509 *ca = NULL;
  int r;
  if ((r = cdr_cert_load_pem(path, &ca)) != 0) {
    cdr_client_set_detail(c, "cannot read the room CA certificate %s", path);
    return r;
  }
  r = cdr_client_set_ca(c, ca);
  X509_free(ca);
  return r;
}

int cdr_client_set_user(struct cdr_client *c, EVP_PKEY *key, X509 *cert) {
  uint8_t *der = NULL, *spki = NULL;
  size_t der_len = 0, spki_len = 0;
  EVP_PKEY *cpub = X509_get0_pubkey(cert);
  int r;

  if ((r = cdr_key_check_user_type(key)) != 0) {
    cdr_client_set_detail(c, "the key is not EC P-256 or RSA 2048..4096");
    goto out;
  }
  if (cpub == NULL || EVP_PKEY_eq(cpub, key) != 1) {
    cdr_client_set_detail(c, "the certificate does not certify this key");
    r = CDR_ERR_CERT_KEY_MISMATCH;
    goto out;
  }
  if ((r = cdr_cert_to_der(cert, &der, &der_len)) != 0 || (r = cdr_pubkey_to_der(key, &spki, &spki_len)) != 0)
    goto out;
  EVP_PKEY_up_ref(key);
  X509_up_ref(cert);
  EVP_PKEY_free(c->key);
  X509_free(c->cert);
  OPENSSL_free(c->cert_der);
  OPENSSL_free(c->spki);
  c->key = key;
  c->cert = cert;
  c->cert_der = der;
  c->cert_len = der_len;
  c->spki = spki;
  c->spki_len = spki_len;
  der = spki = NULL;
out:
  OPENSSL_free(der);
  OPENSSL_free(spki);
  ERR_clear_error();
  return r;
}

int cdr_client_load_user_src(struct cdr_client *c, const struct cdr_key_source *src, const char *cert_path) {
  EVP_PKEY *key = NULL;
  X509 *cert = NULL;
  int r;
  if ((r = cdr_user_key_load(src, &key)) != 0) {
    char *shown = NULL; /* a pkcs11: URI without its pin-value */
    int dropped;
    if (cdr_key_ref_for_profile(src->ref, &shown, &dropped) != 0)
      shown = NULL;
    /* cdr_client_error_text puts the code and its sentence first. */
    if (r == CDR_ERR_NOT_FOUND || r == CDR_ERR_ARG)
      cdr_client_set_detail(c, "cannot load the private key %s: %s", shown != NULL ? shown : "(a malformed pkcs11: URI)",
                            r == CDR_ERR_NOT_FOUND ? "no such file" : "not a PEM private key or a well-formed pkcs11: URI");
    else
      cdr_client_set_detail(c, "cannot load the private key %s", shown != NULL ? shown : "(a pkcs11: URI)");
    free(shown);
    goto out;
  }
  if ((r = cdr_cert_load_pem(cert_path, &cert)) != 0) {
    cdr_client_set_detail(c, "cannot read the certificate %s", cert_path);
    goto out;
  }
  r = cdr_client_set_user(c, key, cert);
out:
  EVP_PKEY_free(key);
  X509_free(cert);
  return r;
}

int cdr_client_load_user(struct cdr_client *c, const char *key_path, const char *cert_path) {
  struct cdr_key_source src = {key_path, NULL, NULL};
  return cdr_client_load_user_src(c, &src, cert_path);
}

int cdr_client_check_user_cert(struct cdr_client *c) {
  enum cdr_role role = CDR_ROLE_NONE;
  int r;
  if (!c->have_ca || c->cert == NULL)
    return CDR_ERR_ARG;
  if ((r = cdr_cert_verify_user(c->ca, c->cert, cdr_now(), &role, NULL)) != 0)
    cdr_client_set_detail(c, "your certificate does not verify under the room CA");
  return r;
}

int cdr_client_expect_measurement(struct cdr_client *c, const char *hex) {
  size_t n = hex != NULL ? strlen(hex) / 2 : 0;
  if (hex == NULL || (strlen(hex) != 2 * CDR_MEASUREMENT_LEN && strlen(hex) != 2 * CDR_HW_MEASUREMENT_LEN) ||
      cdr_hex_decode(c->measurement, n, hex) != 0) {
    cdr_client_set_detail(c, "the expected measurement must be 64 hex digits (sim) or 96 (snp, tdx, nitro)");
    return CDR_ERR_ARG;
  }
  c->measurement_len = n;
  c->have_measurement = 1;
  return 0;
}

int cdr_client_set_tdx_collateral(struct cdr_client *c, const char *path) {
  uint8_t *data = NULL;
  size_t len = 0;
  int r;
  if ((r = cdr_file_read(path, &data, &len, CDR_TDX_COLLATERAL_MAX)) != 0) {
    cdr_client_set_detail(c, "cannot read the TDX collateral %s", path);
    return r;
  }
  free(c->tdx_collateral);
  c->tdx_collateral = data;
  c->tdx_collateral_len = len;
  return 0;
}

int cdr_client_accept_tcb(struct cdr_client *c, const char *list) {
  char *copy = NULL;
  if (list != NULL && (copy = strdup(list)) == NULL)
    return CDR_ERR_NOMEM;
  free(c->accept_tcb);
  c->accept_tcb = copy;
  return 0;
}

int cdr_client_snp_min_tcb(struct cdr_client *c, const char *spec, int required) {
  uint8_t tcb[CDR_SNP_TCB_LEN];
  if (spec == NULL)
    spec = "";
  if (cdr_snp_min_tcb_parse(spec, tcb) != 0) {
    cdr_client_set_detail(c, "an SEV-SNP minimum TCB is " CDR_SNP_MIN_TCB_FORM);
    return CDR_ERR_ARG;
  }
  memcpy(c->snp_min_tcb, tcb, sizeof(tcb));
  c->snp_min_tcb_required = required && spec[0] != '\0';
  return 0;
}

void cdr_client_allow_sim(struct cdr_client *c, int allow) { c->allow_sim = allow != 0; }

static int client_quiet; /* cdr_client_set_quiet */

void cdr_client_set_quiet(int quiet) { __atomic_store_n(&client_quiet, quiet != 0, __ATOMIC_RELAXED); }

int cdr_client_quiet(void) { return __atomic_load_n(&client_quiet, __ATOMIC_RELAXED); }

void cdr_client_set_detail(struct cdr_client *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->detail, sizeof(c->detail), fmt, ap);
  va_end(ap);
}

void cdr_client_clear_error(struct cdr_client *c) {
  c->http_status = 0;
  c->remote_error = 0;
  c->remote_sealed = 0;
  c->remote_code[0] = '\0';
  c->remote_message[0] = '\0';
  c->detail[0] = '\0';
}

void cdr_client_error_text(const struct cdr_client *c, int err, char *out, size_t outlen) {
  if (outlen == 0)
    return;
  if (c != NULL && c->remote_error) {
    if (c->remote_message[0] != '\0')
      snprintf(out, outlen, "server refused the request: %s: %s", c->remote_code, c->remote_message);
    else if (c->remote_code[0] != '\0')
      snprintf(out, outlen, "server refused the request: %s", c->remote_code);
    else
      snprintf(out, outlen, "server refused the request: HTTP status %ld", c->http_status);
    return;
  }
  /* The wire code first: scripts match on it, people read the rest. */
  if (c != NULL && c->detail[0] != '\0')
    snprintf(out, outlen, "%s: %s: %s", cdr_err_code(err), cdr_err_describe(err), c->detail);
  else
    snprintf(out, outlen, "%s: %s", cdr_err_code(err), cdr_err_describe(err));
}

const char *cdr_json_string(const json_t *o, const char *key) { return cdr_json_get_cstr_opt(o, key); }

void cdr_sanitize(char *out, size_t outlen, const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0;
  if (outlen == 0)
    return;
  for (; p != NULL && *p != '\0' && i + 1 < outlen; p++) {
    if (*p < 0x20 || *p == 0x7f) {
      out[i++] = '?';
    } else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
      out[i++] = '?'; /* a C1 control character (U+0080..U+009F) */
      p++;
    } else {
      out[i++] = (char)*p;
    }
  }
  out[i] = '\0';
}

char *cj_dump(const json_t *v) { return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY); }
