/*
 * attest_nitro.c - the `nitro` attestation provider: AWS Nitro Enclaves,
 * through the Nitro Secure Module at /dev/nsm.
 *
 * The NSM speaks CBOR through one ioctl (the kernel's uapi/linux/nsm.h,
 * NSM_IOCTL_RAW: a request buffer of at most 0x1000 bytes and a response
 * buffer of at most 0x3000, whose length the kernel sets to what the NSM
 * answered).  The messages are those of aws/aws-nitro-enclaves-nsm-api
 * (src/api/mod.rs), serde's externally tagged enums:
 *   {"Attestation": {"user_data": bstr, "nonce": null, "public_key": null}}
 *     -> {"Attestation": {"document": bstr}}
 *   {"DescribePCR": {"index": 0}}
 *     -> {"DescribePCR": {"lock": bool, "data": bstr}}
 *   any failure -> {"Error": "<ErrorCode>"}
 * Evidence is the document, a COSE_Sign1 that carries its own certificate
 * chain, so certificates is empty.  user_data is the 64-byte report_data;
 * the nonce field is left null (the report_data already binds the
 * client's nonce).  The measurement is PCR0 (the enclave image), read
 * once at init with DescribePCR.
 *
 * CBOR through libcbor only.  Responses come from the NSM, part of the
 * platform we trust, but they are still decoded with a bounded loader:
 * libcbor 0.8's cbor_load allocates what a container claims before
 * reading it, so a streaming pass first checks that the claims fit in
 * the bytes there are (the same rule as src/attest/verify_nitro.c, whose
 * code the enclave does not link).
 *
 * Sealing: the NSM offers no sealing key, so this provider has none and
 * the enclave seals under a random key per run: a Nitro room keeps
 * nothing across restarts (cdr_platform_keeps_state, util.h).  AWS KMS,
 * which releases a key only to an attested enclave, would give it one;
 * that is not built (docs/ATTESTATION.md, "Sealing").
 */
#include <cbor.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "attest.h"
#include "common/log.h"

/* uapi/linux/nsm.h (not in every distribution's kernel headers yet). */
#define NSM_MAGIC 0x0A
#define NSM_REQUEST_MAX_SIZE 0x1000u
#define NSM_RESPONSE_MAX_SIZE 0x3000u
struct nsm_iovec {
  uint64_t addr;
  uint64_t len;
};
struct nsm_raw {
  struct nsm_iovec request;
  struct nsm_iovec response;
};
#define NSM_IOCTL_RAW _IOWR(NSM_MAGIC, 0x0, struct nsm_raw)

#define NITRO_PCR_LEN 48u
#define NSM_ERROR_NAME_MAX 48u

struct nitro_state {
  int fd;
  uint8_t pcr0[NITRO_PCR_LEN];
};

/* ---- bounded decoding ---- */

struct nsm_prescan {
  size_t len, claimed;
  int bad;
};

static void nsm_claim(struct nsm_prescan *s, size_t items) {
  if (items > s->len - s->claimed)
    s->bad = 1;
  else
    s->claimed += items;
}
static void nsm_prescan_array(void *ctx, size_t n) { nsm_claim(ctx, n); }
static void nsm_prescan_map(void *ctx, size_t n) {
  struct nsm_prescan *s = ctx;
  if (n > s->len / 2)
    s->bad = 1;
  else
    nsm_claim(s, 2 * n);
}
static void nsm_prescan_indefinite(void *ctx) { ((struct nsm_prescan *)ctx)->bad = 1; }

/* Exactly one CBOR item from all of p[0..n), after checking that no
 * container claims more items than there are bytes.  *item is the
 * caller's (cbor_decref).  CDR_ERR_INTERNAL for anything else. */
static int nsm_cbor_load(const uint8_t *p, size_t n, cbor_item_t **item) {
  struct cbor_callbacks cb = cbor_empty_callbacks;
  struct nsm_prescan s = {n, 0, 0};
  struct cbor_load_result res;
  size_t off = 0;
  *item = NULL;
  if (n == 0)
    return CDR_ERR_INTERNAL;
  cb.array_start = nsm_prescan_array;
  cb.map_start = nsm_prescan_map;
  cb.indef_array_start = nsm_prescan_indefinite;
  cb.indef_map_start = nsm_prescan_indefinite;
  cb.byte_string_start = nsm_prescan_indefinite;
  cb.string_start = nsm_prescan_indefinite;
  cb.indef_break = nsm_prescan_indefinite;
  while (off < n) {
    struct cbor_decoder_result d = cbor_stream_decode(p + off, n - off, &cb, &s);
    if (d.status != CBOR_DECODER_FINISHED || d.read == 0 || d.read > n - off || s.bad)
      return CDR_ERR_INTERNAL;
    off += d.read;
  }
  *item = cbor_load(p, n, &res);
  if (*item == NULL || res.error.code != CBOR_ERR_NONE || res.read != n) {
    if (*item != NULL)
      cbor_decref(item);
    return CDR_ERR_INTERNAL;
  }
  return 0;
}

static int text_is(const cbor_item_t *item, const char *s) {
  size_t n = strlen(s);
  return cbor_isa_string(item) && cbor_string_is_definite(item) && cbor_string_length(item) == n &&
         memcmp(cbor_string_handle(item), s, n) == 0;
}

/* The value of key `name` in a definite map (borrowed), or NULL. */
static cbor_item_t *map_get(const cbor_item_t *map, const char *name) {
  struct cbor_pair *pairs = cbor_map_handle(map);
  for (size_t i = 0; i < cbor_map_size(map); i++)
    if (text_is(pairs[i].key, name))
      return pairs[i].value;
  return NULL;
}

/* The inner map of {"<variant>": {...}}, or NULL; logs {"Error": "..."}. */
static cbor_item_t *nsm_variant(const cbor_item_t *top, const char *variant) {
  struct cbor_pair *pair;
  if (!cbor_isa_map(top) || !cbor_map_is_definite(top) || cbor_map_size(top) != 1)
    return NULL;
  pair = cbor_map_handle(top);
  if (text_is(pair[0].key, "Error")) {
    char name[NSM_ERROR_NAME_MAX] = "(unprintable)";
    if (cbor_isa_string(pair[0].value) && cbor_string_is_definite(pair[0].value) &&
        cbor_string_length(pair[0].value) < sizeof(name)) {
      size_t n = cbor_string_length(pair[0].value);
      const unsigned char *s = cbor_string_handle(pair[0].value);
      int printable = 1;
      for (size_t i = 0; i < n; i++)
        printable &= s[i] >= 0x20 && s[i] < 0x7f;
      if (printable && n > 0) {
        memcpy(name, s, n);
        name[n] = '\0';
      }
    }
    log_error("the Nitro Secure Module refused the %s request: %s", variant, name);
    return NULL;
  }
  if (!text_is(pair[0].key, variant) || !cbor_isa_map(pair[0].value) || !cbor_map_is_definite(pair[0].value))
    return NULL;
  return pair[0].value;
}

/* A definite byte string's bytes appended to out. */
static int put_bytes(struct cdr_buf *out, const cbor_item_t *item) {
  if (item == NULL || !cbor_isa_bytestring(item) || !cbor_bytestring_is_definite(item))
    return CDR_ERR_INTERNAL;
  return cdr_buf_put(out, cbor_bytestring_handle(item), cbor_bytestring_length(item));
}

/* ---- messages ---- */

/* Serialise item (consumed) and append it to out. */
static int nsm_serialise(cbor_item_t *item, struct cdr_buf *out) {
  unsigned char *enc = NULL;
  size_t cap = 0, n;
  int r = CDR_ERR_NOMEM;
  if (item == NULL)
    return CDR_ERR_NOMEM;
  if ((n = cbor_serialize_alloc(item, &enc, &cap)) > 0)
    r = n <= NSM_REQUEST_MAX_SIZE ? cdr_buf_put(out, enc, n) : CDR_ERR_TOO_LARGE;
  free(enc);
  cbor_decref(&item);
  return r;
}

/* {variant: inner}; both consumed.  NULL on allocation failure. */
static cbor_item_t *nsm_wrap(const char *variant, cbor_item_t *inner) {
  cbor_item_t *top = cbor_new_definite_map(1), *key = cbor_build_string(variant);
  int ok = top != NULL && key != NULL && inner != NULL &&
           cbor_map_add(top, (struct cbor_pair){.key = key, .value = inner});
  if (key != NULL)
    cbor_decref(&key);
  if (inner != NULL)
    cbor_decref(&inner);
  if (!ok && top != NULL)
    cbor_decref(&top);
  return ok ? top : NULL;
}

/* Add name: value to map; value consumed. */
static int map_add(cbor_item_t *map, const char *name, cbor_item_t *value) {
  cbor_item_t *key = cbor_build_string(name);
  int ok = key != NULL && value != NULL && cbor_map_add(map, (struct cbor_pair){.key = key, .value = value});
  if (key != NULL)
    cbor_decref(&key);
  if (value != NULL)
    cbor_decref(&value);
  return ok ? 0 : CDR_ERR_NOMEM;
}

int attest_nsm_attestation_request(struct cdr_buf *out, const uint8_t *user_data, size_t user_data_len) {
  cbor_item_t *inner = cbor_new_definite_map(3);
  if (inner == NULL || map_add(inner, "user_data", cbor_build_bytestring(user_data, user_data_len)) != 0 ||
      map_add(inner, "nonce", cbor_new_null()) != 0 || map_add(inner, "public_key", cbor_new_null()) != 0) {
    if (inner != NULL)
      cbor_decref(&inner);
    return CDR_ERR_NOMEM;
  }
  return nsm_serialise(nsm_wrap("Attestation", inner), out);
}

int attest_nsm_attestation_response(const uint8_t *resp, size_t len, struct cdr_buf *out) {
  cbor_item_t *top = NULL, *inner;
  int r;
  if ((r = nsm_cbor_load(resp, len, &top)) != 0 || (inner = nsm_variant(top, "Attestation")) == NULL ||
      cbor_map_size(inner) != 1 || (r = put_bytes(out, map_get(inner, "document"))) != 0) {
    if (r == 0)
      r = CDR_ERR_INTERNAL;
    log_error("the Nitro Secure Module's answer to Attestation is not an attestation document");
  }
  if (top != NULL)
    cbor_decref(&top);
  return r;
}

/* PCR0 from a DescribePCR response. */
static int nsm_describe_pcr_response(const uint8_t *resp, size_t len, uint8_t pcr[NITRO_PCR_LEN]) {
  cbor_item_t *top = NULL, *inner, *data;
  int r = nsm_cbor_load(resp, len, &top);
  if (r == 0 && ((inner = nsm_variant(top, "DescribePCR")) == NULL || (data = map_get(inner, "data")) == NULL ||
                 !cbor_isa_bytestring(data) || !cbor_bytestring_is_definite(data) ||
                 cbor_bytestring_length(data) != NITRO_PCR_LEN))
    r = CDR_ERR_INTERNAL;
  if (r == 0)
    memcpy(pcr, cbor_bytestring_handle(data), NITRO_PCR_LEN);
  else
    log_error("the Nitro Secure Module's answer to DescribePCR is not a 48-byte PCR");
  if (top != NULL)
    cbor_decref(&top);
  return r;
}

/* One exchange with the NSM: req in, the response into resp (reset). */
static int nsm_exchange(int fd, const struct cdr_buf *req, struct cdr_buf *resp) {
  struct nsm_raw raw;
  int r;
  cdr_buf_free(resp);
  if ((r = cdr_buf_reserve(resp, NSM_RESPONSE_MAX_SIZE)) != 0)
    return r;
  memset(&raw, 0, sizeof(raw));
  raw.request.addr = (uint64_t)(uintptr_t)req->d;
  raw.request.len = req->len;
  raw.response.addr = (uint64_t)(uintptr_t)resp->d;
  raw.response.len = NSM_RESPONSE_MAX_SIZE;
  if (ioctl(fd, NSM_IOCTL_RAW, &raw) != 0) {
    log_error("the Nitro Secure Module request failed: %s", strerror(errno));
    return CDR_ERR_IO;
  }
  if (raw.response.len == 0 || raw.response.len > NSM_RESPONSE_MAX_SIZE) {
    log_error("the Nitro Secure Module answered %llu bytes", (unsigned long long)raw.response.len);
    return CDR_ERR_IO;
  }
  resp->len = (size_t)raw.response.len;
  return 0;
}

/* ---- the provider ---- */

static int nitro_init(struct attest_provider *p, const char *room_dir) {
  const char *dev = p->opts && p->opts->nsm_device ? p->opts->nsm_device : ATTEST_NSM_DEVICE_DEFAULT;
  struct nitro_state *s = calloc(1, sizeof(*s));
  struct cdr_buf req, resp;
  cbor_item_t *inner = NULL;
  int r;
  if (s == NULL)
    return CDR_ERR_NOMEM;
  cdr_buf_init(&req, NSM_REQUEST_MAX_SIZE, 0);
  cdr_buf_init(&resp, NSM_RESPONSE_MAX_SIZE, 0);
  if ((s->fd = open(dev, O_RDWR | O_CLOEXEC)) < 0) {
    log_error("nitro attestation: cannot open the Nitro Secure Module %s (%s): this is not a Nitro enclave", dev,
              strerror(errno));
    r = CDR_ERR_NOT_FOUND;
    goto out;
  }
  r = CDR_ERR_NOMEM;
  if ((inner = cbor_new_definite_map(1)) == NULL || map_add(inner, "index", cbor_build_uint16(0)) != 0)
    goto out;
  r = nsm_serialise(nsm_wrap("DescribePCR", inner), &req);
  inner = NULL;
  if (r != 0 || (r = nsm_exchange(s->fd, &req, &resp)) != 0 ||
      (r = nsm_describe_pcr_response(resp.d, resp.len, s->pcr0)) != 0)
    goto out;
  p->state = s;
  s = NULL;
out:
  if (inner != NULL)
    cbor_decref(&inner);
  if (s != NULL) {
    if (s->fd >= 0)
      (void)close(s->fd);
    free(s);
  }
  cdr_buf_free(&req);
  cdr_buf_free(&resp);
  return r;
}

static int nitro_evidence(struct attest_provider *p, const uint8_t report_data[CDR_REPORT_DATA_LEN],
                          struct cdr_buf *evidence, struct cdr_buf certs[ATTEST_MAX_CERTS], size_t *ncerts) {
  struct nitro_state *s = p->state;
  struct cdr_buf req, resp;
  int r;
  *ncerts = 0;
  cdr_buf_init(&req, NSM_REQUEST_MAX_SIZE, 0);
  cdr_buf_init(&resp, NSM_RESPONSE_MAX_SIZE, 0);
  if ((r = attest_nsm_attestation_request(&req, report_data, CDR_REPORT_DATA_LEN)) == 0 &&
      (r = nsm_exchange(s->fd, &req, &resp)) == 0)
    r = attest_nsm_attestation_response(resp.d, resp.len, evidence);
  cdr_buf_free(&req);
  cdr_buf_free(&resp);
  return r;
}

static int nitro_measurement(struct attest_provider *p, uint8_t out[CDR_MEASUREMENT_MAX], size_t *len) {
  struct nitro_state *s = p->state;
  memcpy(out, s->pcr0, NITRO_PCR_LEN);
  *len = NITRO_PCR_LEN;
  return 0;
}

static void nitro_fini(struct attest_provider *p) {
  struct nitro_state *s = p->state;
  if (s == NULL)
    return;
  if (s->fd >= 0)
    (void)close(s->fd);
  free(s);
  p->state = NULL;
}

struct attest_provider attest_nitro_provider = {.name = "nitro",
                                                .init = nitro_init,
                                                .evidence = nitro_evidence,
                                                .measurement = nitro_measurement,
                                                .sealing_key = NULL, /* none: util.h */
                                                .fini = nitro_fini};
