/*
 * invite.c - build and parse the invitation bundle; see invite.h and
 * docs/PROTOCOL.md 4.4.1.
 *
 * Contract: the parser trusts nothing in the string: the prefix is
 * exact, the decoded JSON is capped (CDR_INVITE_MAX), duplicate keys are
 * refused, every field has its type, length and alphabet checked, and
 * the CA must hash to ca_sha256.  Decoded text holding the token is
 * wiped before it is freed.
 */
#include "invite.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "common/json_get.h"
#include "common/util.h"
#include "crypto/crypto.h"
#include "crypto/x509.h"

#define INVITE_CA_DER_MAX 8192
#define INVITE_FIELD_MAX 4096

int cdr_invite_is_bundle(const char *s) { return s != NULL && strncmp(s, CDR_INVITE_PREFIX, strlen(CDR_INVITE_PREFIX)) == 0; }

void cdr_invite_clear(struct cdr_invite *inv) {
  free(inv->url);
  if (inv->token != NULL)
    OPENSSL_clear_free(inv->token, strlen(inv->token));
  X509_free(inv->ca);
  memset(inv, 0, sizeof(*inv));
}

static int invite_bad(char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int invite_bad(char *why, size_t whylen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, whylen, fmt, ap);
  va_end(ap);
  return CDR_ERR_INVITE_INVALID;
}

/* Lower-case hex digits only, exactly n of them? */
static int invite_hex_ok(const char *s, size_t n) {
  if (strlen(s) != n)
    return 0;
  for (; *s; s++)
    if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
      return 0;
  return 1;
}

/* The optional contract fields (both or neither; version 0 exactly when
 * the hash is all zero, as in the attestation, PROTOCOL 4.5). */
static int invite_contract(const json_t *j, struct cdr_invite *out, char *why, size_t whylen) {
  const json_t *h = json_object_get(j, "contract_sha256"), *v = json_object_get(j, "contract_version");
  uint8_t z = 0;
  if (h == NULL && v == NULL)
    return 0;
  if (h == NULL || v == NULL)
    return invite_bad(why, whylen, "fields \"contract_sha256\" and \"contract_version\" go together");
  if (!json_is_string(h) || !invite_hex_ok(json_string_value(h), 64) ||
      cdr_hex_decode(out->contract_sha256, 32, json_string_value(h)) != 0)
    return invite_bad(why, whylen, "field \"contract_sha256\" must be 64 lower-case hex digits");
  if (cdr_json_get_u64(j, "contract_version", &out->contract_version) != 0)
    return invite_bad(why, whylen, "field \"contract_version\" must be a non-negative integer");
  for (size_t i = 0; i < 32; i++)
    z |= out->contract_sha256[i];
  if ((out->contract_version == 0) != (z == 0))
    return invite_bad(why, whylen, "field \"contract_version\" is 0 exactly when \"contract_sha256\" is all zero");
  out->has_contract = 1;
  return 0;
}

/* The fields of the decoded object into *out. */
static int invite_fields(const json_t *j, struct cdr_invite *out, char *why, size_t whylen) {
  const char *url, *token, *fp, *platform, *meas;
  uint8_t *der = NULL, want[32];
  const unsigned char *p;
  size_t der_len = 0;
  uint64_t v = 0;
  int r = CDR_ERR_INVITE_INVALID;

  if (cdr_json_get_u64(j, "v", &v) != 0 || v != 1)
    return invite_bad(why, whylen, "field \"v\" must be 1");
  if (cdr_json_get_cstr(j, "url", INVITE_FIELD_MAX, &url) != 0 ||
      (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0))
    return invite_bad(why, whylen, "field \"url\" must be an https:// URL");
  if (cdr_json_get_cstr(j, "token", INVITE_FIELD_MAX, &token) != 0 || strncmp(token, "cdr1.", 5) != 0)
    return invite_bad(why, whylen, "field \"token\" must be an enrollment token (cdr1.)");
  if (cdr_json_get_cstr(j, "ca_sha256", 64, &fp) != 0 || !invite_hex_ok(fp, 64) ||
      cdr_hex_decode(want, sizeof(want), fp) != 0)
    return invite_bad(why, whylen, "field \"ca_sha256\" must be 64 lower-case hex digits");
  if (cdr_json_get_cstr(j, "platform", 8, &platform) != 0 ||
      (strcmp(platform, "sim") != 0 && strcmp(platform, "snp") != 0 && strcmp(platform, "tdx") != 0 &&
       strcmp(platform, "nitro") != 0))
    return invite_bad(why, whylen, "field \"platform\" must be sim, snp, tdx or nitro");
  if (cdr_json_get_cstr(j, "measurement", 96, &meas) != 0 ||
      !invite_hex_ok(meas, strcmp(platform, "sim") == 0 ? 64 : 96))
    return invite_bad(why, whylen, "field \"measurement\" must be %d lower-case hex digits for %s",
                      strcmp(platform, "sim") == 0 ? 64 : 96, platform);
  if (cdr_json_get_b64(j, "ca", INVITE_CA_DER_MAX, &der, &der_len) != 0)
    return invite_bad(why, whylen, "field \"ca\" must be base64 of a DER certificate");
  p = der;
  if ((out->ca = d2i_X509(NULL, &p, (long)der_len)) == NULL || p != der + der_len ||
      cdr_cert_fingerprint(out->ca, out->ca_fp) != 0) {
    r = invite_bad(why, whylen, "field \"ca\" is not one DER certificate");
    goto out;
  }
  if (!cdr_ct_equal(out->ca_fp, want, sizeof(want))) {
    r = invite_bad(why, whylen, "field \"ca\" does not have the SHA-256 in \"ca_sha256\"");
    goto out;
  }
  r = CDR_ERR_NOMEM;
  if ((out->url = strdup(url)) == NULL || (out->token = strdup(token)) == NULL)
    goto out;
  snprintf(out->platform, sizeof(out->platform), "%s", platform);
  snprintf(out->measurement, sizeof(out->measurement), "%s", meas);
  r = invite_contract(j, out, why, whylen);
out:
  free(der);
  return r;
}

int cdr_invite_parse(const char *s, struct cdr_invite *out, char *why, size_t whylen) {
  const size_t plen = strlen(CDR_INVITE_PREFIX);
  uint8_t *text = NULL;
  size_t len = 0;
  json_t *j = NULL;
  json_error_t jerr;
  int r;

  memset(out, 0, sizeof(*out));
  cdr_client_lib_init(); /* the JSON below holds the token: wiped when freed */
  if (!cdr_invite_is_bundle(s))
    return invite_bad(why, whylen, "it does not start with %s", CDR_INVITE_PREFIX);
  if (strlen(s) > CDR_INVITE_MAX)
    return invite_bad(why, whylen, "it is longer than %u characters", CDR_INVITE_MAX);
  if (cdr_b64url_decode(&text, &len, s + plen, CDR_INVITE_MAX) != 0)
    return invite_bad(why, whylen, "what follows %s is not base64url without padding", CDR_INVITE_PREFIX);
  j = json_loadb((const char *)text, len, JSON_REJECT_DUPLICATES, &jerr);
  OPENSSL_clear_free(text, len);
  if (!json_is_object(j)) {
    json_decref(j);
    return invite_bad(why, whylen, "the decoded text is not one JSON object");
  }
  r = invite_fields(j, out, why, whylen);
  json_decref(j);
  if (r != 0)
    cdr_invite_clear(out);
  return r;
}

int cdr_invite_build(const struct cdr_invite *in, char **out) {
  uint8_t *der = NULL, fp[32];
  size_t der_len = 0;
  char fphex[65], *ca_b64 = NULL, *text = NULL;
  json_t *j = NULL;
  int r;

  *out = NULL;
  cdr_client_lib_init();
  if ((r = cdr_cert_to_der(in->ca, &der, &der_len)) != 0 || (r = cdr_sha256(fp, der, der_len)) != 0 ||
      (r = cdr_b64_encode(&ca_b64, der, der_len)) != 0)
    goto out;
  cdr_hex_encode(fphex, fp, sizeof(fp));
  r = CDR_ERR_ARG; /* json_pack refuses text that is not UTF-8 */
  if ((j = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:s}", "v", 1, "url", in->url, "token", in->token, "ca",
                     ca_b64, "ca_sha256", fphex, "platform", in->platform, "measurement", in->measurement)) == NULL)
    goto out;
  if (in->has_contract) {
    char ch[65];
    cdr_hex_encode(ch, in->contract_sha256, sizeof(in->contract_sha256));
    if (in->contract_version > (uint64_t)INT64_MAX ||
        json_object_set_new(j, "contract_sha256", json_string(ch)) != 0 ||
        json_object_set_new(j, "contract_version", json_integer((json_int_t)in->contract_version)) != 0)
      goto out;
  }
  if ((text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER)) == NULL)
    goto out;
  char *b64 = NULL;
  if ((r = cdr_b64url_encode(&b64, (const uint8_t *)text, strlen(text))) != 0)
    goto out;
  size_t n = strlen(CDR_INVITE_PREFIX) + strlen(b64) + 1;
  if ((*out = malloc(n)) != NULL)
    snprintf(*out, n, "%s%s", CDR_INVITE_PREFIX, b64);
  OPENSSL_clear_free(b64, strlen(b64));
  r = *out != NULL ? 0 : CDR_ERR_NOMEM;
out:
  cdr_json_text_free(text);
  json_decref(j);
  free(ca_b64);
  OPENSSL_free(der);
  return r;
}
