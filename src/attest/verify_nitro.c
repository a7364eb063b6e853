/*
 * verify_nitro.c - the verifier of AWS Nitro Enclaves attestation
 * documents (see hwattest.h for the contract every verifier keeps).
 *
 * A document is a COSE_Sign1 (RFC 8152), untagged or under tag 18:
 *
 *   [ protected:   bstr .cbor {1: -35},      ES384, nothing else
 *     unprotected: {},                        any map; unauthenticated, ignored
 *     payload:     bstr .cbor AttestationDocument,
 *     signature:   bstr .size 96 ]            raw r || s, 48 bytes each
 *
 * and the payload is AWS's AttestationDocument map (module_id, digest,
 * timestamp, pcrs, certificate, cabundle, and optionally public_key,
 * user_data, nonce; aws/aws-nitro-enclaves-nsm-api docs/attestation_process.md).
 *
 * Order of work, stopping at the first failure:
 *   1. Structure (CDR_ERR_ATTEST_MALFORMED).  Every CBOR decode goes
 *      through nitro_cbor_load: a libcbor streaming pass first bounds what
 *      the document claims (only definite lengths; the items all containers
 *      claim add up to no more than the bytes there are), because libcbor
 *      0.8's cbor_load allocates a container's claimed size before reading
 *      it (a 6-byte input can make it allocate and touch 2 GiB); then
 *      cbor_load, which must consume every byte.  libcbor itself refuses
 *      nesting deeper than 2048.  Every type, size and key is checked;
 *      duplicate keys, missing fields, trailing bytes and certificates that
 *      are not exactly one DER X.509 are malformed.  Nothing the document
 *      says is trusted yet, so nothing from it reaches a check's detail
 *      except module_id, which must be printable ASCII.
 *   2. The report is filled (PCRs, user_data, nonce, tcb, policy), so that
 *      the CLI can show what the document claims even when a check fails.
 *   3. Chain: cabundle[0] must be the pinned root itself; then OpenSSL
 *      verifies leaf -> cabundle[n-1] -> ... -> cabundle[1] -> root with a
 *      store holding only the pinned root, cabundle[1..] as untrusted
 *      intermediates, and policy->at as the time (CDR_ERR_ATTEST_ROOT,
 *      _CERT_TIME, _SIGNATURE).  X509_V_FLAG_X509_STRICT is not set: AWS's
 *      instance certificates carry no key identifiers, which strict mode
 *      refuses.
 *   4. The COSE signature: ES384 with the leaf's key (which must be
 *      P-384) over Sig_structure = ["Signature1", protected, h'', payload],
 *      built with libcbor from the exact bytes received
 *      (CDR_ERR_ATTEST_SIGNATURE).
 *   5. Debug: an enclave started in debug mode reports all-zero PCRs; a
 *      zero PCR0 sets out->debug, refused unless policy->allow_debug
 *      (CDR_ERR_ATTEST_DEBUG).
 *   6. policy->expect_measurement against PCR0 (CDR_ERR_ATTEST_MEASUREMENT).
 *   7. policy->expect_report_data against user_data, which must then be
 *      exactly those 64 bytes (CDR_ERR_ATTEST_REPORT_DATA).  CDR's enclave
 *      puts its report_data in user_data; the nonce is never compared in
 *      its place (hwattest.h's "or, if empty, nonce" is not done: one
 *      field, one meaning).
 *   Expected PCRs besides PCR0 are cdr_verify_hw's, after all of these
 *   (out->pcr_present says which the document carries); a policy that
 *   carries any is refused here (CDR_ERR_ARG) rather than ignored.
 *
 * Choices worth knowing:
 *   - The document's timestamp is reported, never compared with
 *     policy->at: the leaf certificate (valid about three hours) is what
 *     bounds a document's age, and freshness against replay is the
 *     caller's to get from a nonce or report_data it chose.
 *   - digest must be "SHA384" (the only value AWS defines), so every PCR
 *     must be 48 bytes; the 32 and 64 of AWS's CDDL belong to digests AWS
 *     does not define, and are refused as malformed.
 *   - PCR indexes are 0..31 (AWS's range, and CDR_HW_MAX_PCRS); PCR0 must
 *     be present.  out->npcrs is the highest index + 1; absent PCRs below
 *     it read as zeros.
 *   - public_key, user_data and nonce may be absent or null (AWS's NSM
 *     library encodes an absent one as null) or a bstr of 0..1024 bytes.
 *   - Unknown payload keys (text, up to 32 keys in all) are ignored: the
 *     payload is signed by AWS, and refusing a field AWS adds later would
 *     break every verification.
 *   - out->report_data holds user_data zero-padded when it is at most 64
 *     bytes (has_report_data only when exactly 64); out->nitro_nonce holds
 *     the nonce only when it is at most 64 bytes, and is left empty (and
 *     the policy line says so) otherwise, rather than truncated.
 *   - *out is cleared on entry.
 */
#include <cbor.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ecdsa_raw.h"
#include "hwattest.h"
#include "nitro_internal.h"

/* COSE: tag 18 is COSE_Sign1; header label 1 is alg; -35 is ES384. */
#define NITRO_COSE_SIGN1_TAG 18u
#define NITRO_TAG18_HEAD 0xd2u /* tag 18 in its one-byte form */
#define NITRO_COSE_ALG_LABEL 1u
#define NITRO_COSE_ALG_ES384_NEG 34u /* CBOR negint n encodes -1 - n */
#define NITRO_COORD_LEN 48u
/* 9999-12-31T23:59:59.999Z: the last millisecond RFC 3339 can render. */
#define NITRO_MAX_TIMESTAMP_MS 253402300799999ull

struct nitro_bytes {
  const uint8_t *p; /* borrowed from the decoded document */
  size_t n;
  int present;
};

/* One decoded document.  The cbor items own every byte the other fields
 * point into; nitro_doc_free releases all of it. */
struct nitro_doc {
  cbor_item_t *top;        /* what the document decodes to */
  cbor_item_t *cose;       /* the COSE_Sign1 array (a reference of its own) */
  cbor_item_t *prot_map;   /* the decoded protected header */
  cbor_item_t *payload;    /* the decoded payload map */
  struct nitro_bytes prot, body, sig;
  const char *module_id;
  size_t module_id_len;
  uint64_t timestamp_ms;
  struct nitro_bytes pcr[CDR_HW_MAX_PCRS];
  size_t npcrs;            /* highest index + 1 */
  size_t pcr_count;
  struct nitro_bytes cert;
  X509 *leaf;
  STACK_OF(X509) *bundle;  /* cabundle, in document order */
  struct nitro_bytes public_key, user_data, nonce;
};

static void nitro_doc_free(struct nitro_doc *d) {
  if (d->payload != NULL)
    cbor_decref(&d->payload);
  if (d->prot_map != NULL)
    cbor_decref(&d->prot_map);
  if (d->cose != NULL)
    cbor_decref(&d->cose);
  if (d->top != NULL)
    cbor_decref(&d->top);
  X509_free(d->leaf);
  sk_X509_pop_free(d->bundle, X509_free);
  memset(d, 0, sizeof(*d));
}

/* Record a structural failure and return CDR_ERR_ATTEST_MALFORMED. */
static int nitro_malformed(struct cdr_hw_report *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int nitro_malformed(struct cdr_hw_report *out, const char *fmt, ...) {
  char detail[sizeof(out->checks[0].detail)];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(detail, sizeof(detail), fmt, ap);
  va_end(ap);
  cdr_hw_check(out, 0, "document structure", "%s", detail);
  return CDR_ERR_ATTEST_MALFORMED;
}

/* ---- bounded CBOR decoding ------------------------------------------ */

struct nitro_prescan {
  size_t len;     /* bytes in the whole input */
  size_t claimed; /* items claimed by all containers seen so far */
  int bad;
};

static void nitro_prescan_claim(struct nitro_prescan *s, size_t items) {
  if (items > s->len - s->claimed)
    s->bad = 1;
  else
    s->claimed += items;
}
static void nitro_prescan_array(void *ctx, size_t n) { nitro_prescan_claim(ctx, n); }
static void nitro_prescan_map(void *ctx, size_t n) {
  struct nitro_prescan *s = ctx;
  if (n > s->len / 2)
    s->bad = 1;
  else
    nitro_prescan_claim(s, 2 * n);
}
static void nitro_prescan_indefinite(void *ctx) { ((struct nitro_prescan *)ctx)->bad = 1; }

/*
 * Walk p[0..n) item head by item head with libcbor's streaming decoder,
 * without building anything.  Refuses indefinite lengths, truncation, and
 * containers whose claimed items add up to more than n: each item takes
 * at least one byte and belongs to one container, so a well-formed input
 * never claims more.  After this, cbor_load allocates O(n).
 */
static int nitro_cbor_prescan(const uint8_t *p, size_t n) {
  struct cbor_callbacks cb = cbor_empty_callbacks;
  struct nitro_prescan s = {n, 0, 0};
  size_t off = 0;
  cb.array_start = nitro_prescan_array;
  cb.map_start = nitro_prescan_map;
  cb.indef_array_start = nitro_prescan_indefinite;
  cb.indef_map_start = nitro_prescan_indefinite;
  cb.byte_string_start = nitro_prescan_indefinite;
  cb.string_start = nitro_prescan_indefinite;
  cb.indef_break = nitro_prescan_indefinite;
  while (off < n) {
    struct cbor_decoder_result res = cbor_stream_decode(p + off, n - off, &cb, &s);
    if (res.status != CBOR_DECODER_FINISHED || res.read == 0 || res.read > n - off || s.bad)
      return CDR_ERR_ATTEST_MALFORMED;
    off += res.read;
  }
  return 0;
}

/* Decode exactly one CBOR item from all of p[0..n).  *item is new and the
 * caller's; NULL on failure.  Every failure, allocation ones included, is
 * CDR_ERR_ATTEST_MALFORMED: libcbor reports too deep a nesting as a memory
 * error, and a document we cannot decode is not one we accept. */
static int nitro_cbor_load(const uint8_t *p, size_t n, cbor_item_t **item) {
  struct cbor_load_result res;
  *item = NULL;
  if (n == 0 || nitro_cbor_prescan(p, n) != 0)
    return CDR_ERR_ATTEST_MALFORMED;
  *item = cbor_load(p, n, &res);
  if (*item == NULL || res.error.code != CBOR_ERR_NONE || res.read != n) {
    if (*item != NULL)
      cbor_decref(item);
    return CDR_ERR_ATTEST_MALFORMED;
  }
  return 0;
}

/* A definite byte string's bytes (borrowed from item), if item is one. */
static int nitro_get_bytes(const cbor_item_t *item, struct nitro_bytes *b) {
  if (!cbor_isa_bytestring(item) || !cbor_bytestring_is_definite(item))
    return -1;
  b->p = cbor_bytestring_handle(item);
  b->n = cbor_bytestring_length(item);
  b->present = 1;
  return 0;
}

static int nitro_text_is(const cbor_item_t *item, const char *s) {
  size_t n = strlen(s);
  return cbor_isa_string(item) && cbor_string_is_definite(item) && cbor_string_length(item) == n &&
         (n == 0 || memcmp(cbor_string_handle(item), s, n) == 0);
}

static int nitro_text_equal(const cbor_item_t *a, const cbor_item_t *b) {
  size_t n = cbor_string_length(a);
  return n == cbor_string_length(b) && (n == 0 || memcmp(cbor_string_handle(a), cbor_string_handle(b), n) == 0);
}

/* ---- the COSE_Sign1 layer ------------------------------------------- */

/* The protected header: exactly {1: -35}. */
static int nitro_parse_protected(struct nitro_doc *d, struct cdr_hw_report *out) {
  struct cbor_pair *pair;
  if (d->prot.n == 0 || nitro_cbor_load(d->prot.p, d->prot.n, &d->prot_map) != 0)
    return nitro_malformed(out, "protected header is not one CBOR item");
  if (!cbor_isa_map(d->prot_map) || cbor_map_size(d->prot_map) != 1)
    return nitro_malformed(out, "protected header is not a map of exactly {1: -35}");
  pair = cbor_map_handle(d->prot_map);
  if (!cbor_isa_uint(pair[0].key) || cbor_get_int(pair[0].key) != NITRO_COSE_ALG_LABEL ||
      !cbor_isa_negint(pair[0].value) || cbor_get_int(pair[0].value) != NITRO_COSE_ALG_ES384_NEG)
    return nitro_malformed(out, "protected header is not {1: -35} (alg ES384)");
  return 0;
}

static int nitro_parse_cose(struct nitro_doc *d, const uint8_t *doc, size_t len, struct cdr_hw_report *out) {
  cbor_item_t **elem;
  int tagged = 0;
  if (len > CDR_NITRO_MAX_DOC)
    return nitro_malformed(out, "document is %zu bytes, more than %u", len, (unsigned)CDR_NITRO_MAX_DOC);
  /* libcbor 0.8 refuses tags 6..20 written in their one-byte form
   * (0xc6..0xd4) as "unassigned" (PJK/libcbor issue #307, fixed in later
   * releases), so it cannot read tag 18 the way every encoder writes it:
   * the single byte 0xd2 (major type 6, value 18; RFC 8949 3.4).  That one
   * leading byte is recognised here; everything after it is libcbor's.  The
   * two-byte form 0xd8 0x12 goes through libcbor like any other tag. */
  if (len > 1 && doc[0] == NITRO_TAG18_HEAD) {
    tagged = 1;
    doc++;
    len--;
  }
  if (nitro_cbor_load(doc, len, &d->top) != 0)
    return nitro_malformed(out, "document is not one well-formed, definite-length CBOR item");
  if (cbor_isa_tag(d->top)) {
    if (tagged)
      return nitro_malformed(out, "document has a tag inside tag 18");
    if (cbor_tag_value(d->top) != NITRO_COSE_SIGN1_TAG)
      return nitro_malformed(out, "document has tag %llu, not 18 (COSE_Sign1)",
                             (unsigned long long)cbor_tag_value(d->top));
    d->cose = cbor_tag_item(d->top); /* a new reference */
  } else {
    d->cose = cbor_incref(d->top);
  }
  if (!cbor_isa_array(d->cose) || cbor_array_size(d->cose) != 4)
    return nitro_malformed(out, "document is not a COSE_Sign1 array of 4");
  elem = cbor_array_handle(d->cose);
  if (nitro_get_bytes(elem[0], &d->prot) != 0)
    return nitro_malformed(out, "protected header is not a byte string");
  if (!cbor_isa_map(elem[1]))
    return nitro_malformed(out, "unprotected header is not a map");
  if (nitro_get_bytes(elem[2], &d->body) != 0 || d->body.n == 0)
    return nitro_malformed(out, "payload is not a non-empty byte string");
  if (nitro_get_bytes(elem[3], &d->sig) != 0 || d->sig.n != CDR_NITRO_SIG_LEN)
    return nitro_malformed(out, "signature is not a byte string of %u bytes", (unsigned)CDR_NITRO_SIG_LEN);
  return nitro_parse_protected(d, out);
}

/* ---- the payload fields --------------------------------------------- */

static int nitro_parse_module_id(struct nitro_doc *d, const cbor_item_t *v, struct cdr_hw_report *out) {
  size_t n;
  const unsigned char *s;
  if (!cbor_isa_string(v) || !cbor_string_is_definite(v))
    return nitro_malformed(out, "module_id is not a text string");
  n = cbor_string_length(v);
  s = cbor_string_handle(v);
  if (n == 0 || n > CDR_NITRO_MAX_MODULE_ID)
    return nitro_malformed(out, "module_id is %zu bytes, not 1..%u", n, (unsigned)CDR_NITRO_MAX_MODULE_ID);
  for (size_t i = 0; i < n; i++)
    if (s[i] < 0x20 || s[i] > 0x7e)
      return nitro_malformed(out, "module_id is not printable ASCII");
  d->module_id = (const char *)s;
  d->module_id_len = n;
  return 0;
}

static int nitro_parse_digest(struct nitro_doc *d, const cbor_item_t *v, struct cdr_hw_report *out) {
  if (!nitro_text_is(v, "SHA384"))
    return nitro_malformed(out, "digest is not \"SHA384\"");
  return 0;
}

static int nitro_parse_timestamp(struct nitro_doc *d, const cbor_item_t *v, struct cdr_hw_report *out) {
  uint64_t t;
  if (!cbor_isa_uint(v))
    return nitro_malformed(out, "timestamp is not an unsigned integer");
  t = cbor_get_int(v);
  if (t == 0 || t > NITRO_MAX_TIMESTAMP_MS)
    return nitro_malformed(out, "timestamp %llu ms is out of range", (unsigned long long)t);
  d->timestamp_ms = t;
  return 0;
}

static int nitro_parse_pcrs(struct nitro_doc *d, const cbor_item_t *v, struct cdr_hw_report *out) {
  struct cbor_pair *pairs;
  size_t n;
  if (!cbor_isa_map(v))
    return nitro_malformed(out, "pcrs is not a map");
  n = cbor_map_size(v);
  if (n == 0 || n > CDR_HW_MAX_PCRS)
    return nitro_malformed(out, "pcrs has %zu entries, not 1..%u", n, (unsigned)CDR_HW_MAX_PCRS);
  pairs = cbor_map_handle(v);
  for (size_t i = 0; i < n; i++) {
    uint64_t idx;
    struct nitro_bytes b;
    if (!cbor_isa_uint(pairs[i].key))
      return nitro_malformed(out, "pcrs key %zu is not an unsigned integer", i);
    idx = cbor_get_int(pairs[i].key);
    if (idx >= CDR_HW_MAX_PCRS)
      return nitro_malformed(out, "PCR index %llu is not 0..%u", (unsigned long long)idx,
                             (unsigned)CDR_HW_MAX_PCRS - 1);
    if (d->pcr[idx].present)
      return nitro_malformed(out, "PCR%llu appears twice", (unsigned long long)idx);
    if (nitro_get_bytes(pairs[i].value, &b) != 0)
      return nitro_malformed(out, "PCR%llu is not a byte string", (unsigned long long)idx);
    if (b.n != CDR_NITRO_PCR_LEN)
      return nitro_malformed(out, "PCR%llu is %zu bytes, not %u (digest SHA384)", (unsigned long long)idx, b.n,
                             (unsigned)CDR_NITRO_PCR_LEN);
    d->pcr[idx] = b;
    d->pcr_count++;
    if (idx + 1 > d->npcrs)
      d->npcrs = (size_t)idx + 1;
  }
  if (!d->pcr[0].present)
    return nitro_malformed(out, "pcrs has no PCR0");
  return 0;
}

/* Exactly one DER certificate filling b, or NULL. */
static X509 *nitro_x509_from(const struct nitro_bytes *b) {
  const unsigned char *p = b->p;
  X509 *x = d2i_X509(NULL, &p, (long)b->n);
  if (x != NULL && p != b->p + b->n) {
    X509_free(x);
    x = NULL;
  }
  ERR_clear_error();
  return x;
}

static int nitro_parse_certificate(struct nitro_doc *d, const cbor_item_t *v, struct cdr_hw_report *out) {
  if (nitro_get_bytes(v, &d->cert) != 0)
    return nitro_malformed(out, "certificate is not a byte string");
  if (d->cert.n == 0 || d->cert.n > CDR_NITRO_MAX_CERT)
    return nitro_malformed(out, "certificate is %zu bytes, not 1..%u", d->cert.n, (unsigned)CDR_NITRO_MAX_CERT);
  if ((d->leaf = nitro_x509_from(&d->cert)) == NULL)
    return nitro_malformed(out, "certificate is not one DER X.509 certificate");
  return 0;
}

static int nitro_parse_cabundle(struct nitro_doc *d, const cbor_item_t *v, struct cdr_hw_report *out) {
  cbor_item_t **elem;
  size_t n;
  if (!cbor_isa_array(v))
    return nitro_malformed(out, "cabundle is not an array");
  n = cbor_array_size(v);
  if (n == 0 || n > CDR_NITRO_MAX_CABUNDLE)
    return nitro_malformed(out, "cabundle has %zu entries, not 1..%u", n, (unsigned)CDR_NITRO_MAX_CABUNDLE);
  if ((d->bundle = sk_X509_new_null()) == NULL)
    return CDR_ERR_NOMEM;
  elem = cbor_array_handle(v);
  for (size_t i = 0; i < n; i++) {
    struct nitro_bytes b;
    X509 *x;
    if (nitro_get_bytes(elem[i], &b) != 0)
      return nitro_malformed(out, "cabundle[%zu] is not a byte string", i);
    if (b.n == 0 || b.n > CDR_NITRO_MAX_CERT)
      return nitro_malformed(out, "cabundle[%zu] is %zu bytes, not 1..%u", i, b.n, (unsigned)CDR_NITRO_MAX_CERT);
    if ((x = nitro_x509_from(&b)) == NULL)
      return nitro_malformed(out, "cabundle[%zu] is not one DER X.509 certificate", i);
    if (!sk_X509_push(d->bundle, x)) {
      X509_free(x);
      return CDR_ERR_NOMEM;
    }
  }
  return 0;
}

/* public_key, user_data, nonce: absent, null, or a bstr of 0..1024. */
static int nitro_parse_user_bytes(struct nitro_bytes *b, const char *name, const cbor_item_t *v,
                                  struct cdr_hw_report *out) {
  if (cbor_is_null(v))
    return 0;
  if (nitro_get_bytes(v, b) != 0)
    return nitro_malformed(out, "%s is neither a byte string nor null", name);
  if (b->n > CDR_NITRO_MAX_USER_BYTES)
    return nitro_malformed(out, "%s is %zu bytes, more than %u", name, b->n, (unsigned)CDR_NITRO_MAX_USER_BYTES);
  return 0;
}
static int nitro_parse_public_key(struct nitro_doc *d, const cbor_item_t *v, struct cdr_hw_report *out) {
  return nitro_parse_user_bytes(&d->public_key, "public_key", v, out);
}
static int nitro_parse_user_data(struct nitro_doc *d, const cbor_item_t *v, struct cdr_hw_report *out) {
  return nitro_parse_user_bytes(&d->user_data, "user_data", v, out);
}
static int nitro_parse_nonce(struct nitro_doc *d, const cbor_item_t *v, struct cdr_hw_report *out) {
  return nitro_parse_user_bytes(&d->nonce, "nonce", v, out);
}

static const struct {
  const char *name;
  int required;
  int (*parse)(struct nitro_doc *, const cbor_item_t *, struct cdr_hw_report *);
} nitro_fields[] = {
    {"module_id", 1, nitro_parse_module_id},     {"digest", 1, nitro_parse_digest},
    {"timestamp", 1, nitro_parse_timestamp},     {"pcrs", 1, nitro_parse_pcrs},
    {"certificate", 1, nitro_parse_certificate}, {"cabundle", 1, nitro_parse_cabundle},
    {"public_key", 0, nitro_parse_public_key},   {"user_data", 0, nitro_parse_user_data},
    {"nonce", 0, nitro_parse_nonce},
};
#define NITRO_NFIELDS (sizeof(nitro_fields) / sizeof(nitro_fields[0]))

static int nitro_parse_payload(struct nitro_doc *d, struct cdr_hw_report *out) {
  struct cbor_pair *pairs;
  int seen[NITRO_NFIELDS] = {0};
  size_t n;
  int r;
  if (nitro_cbor_load(d->body.p, d->body.n, &d->payload) != 0)
    return nitro_malformed(out, "payload is not one well-formed, definite-length CBOR item");
  if (!cbor_isa_map(d->payload))
    return nitro_malformed(out, "payload is not a map");
  n = cbor_map_size(d->payload);
  if (n > CDR_NITRO_MAX_PAYLOAD_KEYS)
    return nitro_malformed(out, "payload has %zu keys, more than %u", n, (unsigned)CDR_NITRO_MAX_PAYLOAD_KEYS);
  pairs = cbor_map_handle(d->payload);
  for (size_t i = 0; i < n; i++) {
    if (!cbor_isa_string(pairs[i].key) || !cbor_string_is_definite(pairs[i].key))
      return nitro_malformed(out, "payload key %zu is not a text string", i);
    for (size_t j = 0; j < i; j++)
      if (nitro_text_equal(pairs[i].key, pairs[j].key))
        return nitro_malformed(out, "payload keys %zu and %zu are the same", j, i);
    for (size_t f = 0; f < NITRO_NFIELDS; f++) {
      if (!nitro_text_is(pairs[i].key, nitro_fields[f].name))
        continue;
      if ((r = nitro_fields[f].parse(d, pairs[i].value, out)) != 0)
        return r;
      seen[f] = 1;
      break;
    }
  }
  for (size_t f = 0; f < NITRO_NFIELDS; f++)
    if (nitro_fields[f].required && !seen[f])
      return nitro_malformed(out, "payload has no %s", nitro_fields[f].name);
  return 0;
}

/* ---- the report ------------------------------------------------------ */

/* RFC 3339 UTC with milliseconds; ms is at most NITRO_MAX_TIMESTAMP_MS. */
static void nitro_format_ms(char *buf, size_t buflen, uint64_t ms) {
  time_t t = (time_t)(ms / 1000u);
  struct tm tm;
  char base[32];
  if (gmtime_r(&t, &tm) == NULL || strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
    snprintf(buf, buflen, "(invalid)");
    return;
  }
  snprintf(buf, buflen, "%s.%03uZ", base, (unsigned)(ms % 1000u));
}

static void nitro_describe_bytes(char *buf, size_t buflen, const struct nitro_bytes *b) {
  if (b->present)
    snprintf(buf, buflen, "%zu bytes", b->n);
  else
    snprintf(buf, buflen, "absent");
}

static void nitro_fill_report(const struct nitro_doc *d, int64_t at, struct cdr_hw_report *out) {
  char ts[40], pk[24], ud[24], nc[24];
  int zero = 1;
  for (size_t i = 0; i < d->npcrs; i++)
    if (d->pcr[i].present) {
      memcpy(out->pcr[i], d->pcr[i].p, CDR_NITRO_PCR_LEN);
      out->pcr_present |= (uint32_t)1 << i;
    }
  out->npcrs = d->npcrs;
  memcpy(out->measurement, d->pcr[0].p, CDR_NITRO_PCR_LEN);
  out->measurement_len = CDR_NITRO_PCR_LEN;
  for (size_t i = 0; i < CDR_NITRO_PCR_LEN; i++)
    zero &= d->pcr[0].p[i] == 0;
  out->debug = zero;
  if (d->user_data.present && d->user_data.n <= sizeof(out->report_data)) {
    if (d->user_data.n > 0)
      memcpy(out->report_data, d->user_data.p, d->user_data.n);
    out->has_report_data = d->user_data.n == sizeof(out->report_data);
  }
  if (d->nonce.present && d->nonce.n <= sizeof(out->nitro_nonce)) {
    if (d->nonce.n > 0)
      memcpy(out->nitro_nonce, d->nonce.p, d->nonce.n);
    out->nitro_nonce_len = d->nonce.n;
  }
  nitro_format_ms(ts, sizeof(ts), d->timestamp_ms);
  snprintf(out->tcb, sizeof(out->tcb), "module %.*s, timestamp %s", (int)d->module_id_len, d->module_id, ts);
  nitro_describe_bytes(pk, sizeof(pk), &d->public_key);
  nitro_describe_bytes(ud, sizeof(ud), &d->user_data);
  nitro_describe_bytes(nc, sizeof(nc), &d->nonce);
  snprintf(out->policy, sizeof(out->policy), "digest SHA384, %zu PCRs, public_key %s, user_data %s, nonce %s%s",
           d->pcr_count, pk, ud, nc,
           d->nonce.present && d->nonce.n > sizeof(out->nitro_nonce) ? " (too long to report)" : "");
  cdr_hw_check(out, 1, "document timestamp",
               "%s, %lld s before the verification time (not checked: the leaf's validity bounds it)", ts,
               (long long)(at - (int64_t)(d->timestamp_ms / 1000u)));
}

/* ---- chain and signature --------------------------------------------- */

static int nitro_map_verify_error(int e) {
  switch (e) {
  case X509_V_ERR_CERT_NOT_YET_VALID:
  case X509_V_ERR_CERT_HAS_EXPIRED:
    return CDR_ERR_ATTEST_CERT_TIME;
  case X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD:
  case X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD:
    return CDR_ERR_ATTEST_MALFORMED;
  case X509_V_ERR_CERT_SIGNATURE_FAILURE:
  case X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE:
    return CDR_ERR_ATTEST_SIGNATURE;
  default: /* no path to the root, or not a valid CA path: unknown root */
    return CDR_ERR_ATTEST_ROOT;
  }
}

static int nitro_verify_chain(const struct nitro_doc *d, X509 *root, int64_t at, struct cdr_hw_report *out) {
  static const char name[] = "certificate chain to the AWS Nitro root";
  X509_STORE *store = NULL;
  X509_STORE_CTX *ctx = NULL;
  STACK_OF(X509) *untrusted = NULL;
  int r = CDR_ERR_CRYPTO;
  int n = sk_X509_num(d->bundle);
  if (X509_cmp(sk_X509_value(d->bundle, 0), root) != 0) {
    cdr_hw_check(out, 0, name, "cabundle[0] is not the pinned root");
    r = CDR_ERR_ATTEST_ROOT;
    goto out;
  }
  if ((store = X509_STORE_new()) == NULL || (ctx = X509_STORE_CTX_new()) == NULL ||
      (untrusted = sk_X509_new_null()) == NULL || X509_STORE_add_cert(store, root) != 1)
    goto out;
  for (int i = 1; i < n; i++)
    if (!sk_X509_push(untrusted, sk_X509_value(d->bundle, i)))
      goto out;
  if (X509_STORE_CTX_init(ctx, store, d->leaf, untrusted) != 1)
    goto out;
  X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx), (time_t)at);
  if (X509_verify_cert(ctx) != 1) {
    int e = X509_STORE_CTX_get_error(ctx);
    cdr_hw_check(out, 0, name, "%s (depth %d)", X509_verify_cert_error_string(e), X509_STORE_CTX_get_error_depth(ctx));
    r = nitro_map_verify_error(e);
    goto out;
  }
  cdr_hw_check(out, 1, name, "%d certificates, valid at the verification time",
               sk_X509_num(X509_STORE_CTX_get0_chain(ctx)));
  r = 0;
out:
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  sk_X509_free(untrusted); /* the certificates belong to d->bundle */
  ERR_clear_error();
  return r;
}

/* Push item (NULL: allocation failed) onto arr; item's reference is
 * consumed either way. */
static int nitro_push(cbor_item_t *arr, cbor_item_t *item) {
  int ok;
  if (item == NULL)
    return CDR_ERR_NOMEM;
  ok = cbor_array_push(arr, item);
  cbor_decref(&item);
  return ok ? 0 : CDR_ERR_NOMEM;
}

/* Sig_structure = ["Signature1", protected, h'', payload] (RFC 8152 4.4),
 * serialized by libcbor into *tbs (malloc'd, the caller frees). */
static int nitro_sig_structure(const struct nitro_doc *d, unsigned char **tbs, size_t *tbslen) {
  cbor_item_t *arr = cbor_new_definite_array(4);
  size_t cap = 0;
  int r = CDR_ERR_NOMEM;
  *tbs = NULL;
  *tbslen = 0;
  if (arr == NULL)
    goto out;
  if ((r = nitro_push(arr, cbor_build_string("Signature1"))) != 0 ||
      (r = nitro_push(arr, cbor_build_bytestring(d->prot.p, d->prot.n))) != 0 ||
      (r = nitro_push(arr, cbor_new_definite_bytestring())) != 0 ||
      (r = nitro_push(arr, cbor_build_bytestring(d->body.p, d->body.n))) != 0)
    goto out;
  if ((*tbslen = cbor_serialize_alloc(arr, tbs, &cap)) == 0) {
    free(*tbs);
    *tbs = NULL;
    r = CDR_ERR_NOMEM;
    goto out;
  }
  r = 0;
out:
  if (arr != NULL)
    cbor_decref(&arr);
  return r;
}

static int nitro_verify_signature(const struct nitro_doc *d, struct cdr_hw_report *out) {
  static const char name[] = "COSE_Sign1 ES384 signature by the leaf";
  EVP_PKEY *key = X509_get0_pubkey(d->leaf);
  unsigned char *tbs = NULL;
  size_t tbslen = 0;
  char group[32];
  int r;
  if (key == NULL || !EVP_PKEY_is_a(key, "EC") ||
      EVP_PKEY_get_group_name(key, group, sizeof(group), NULL) != 1 || strcmp(group, "secp384r1") != 0) {
    cdr_hw_check(out, 0, name, "the leaf key is not ECDSA P-384");
    r = CDR_ERR_ATTEST_SIGNATURE;
    goto out;
  }
  if ((r = nitro_sig_structure(d, &tbs, &tbslen)) != 0)
    goto out;
  r = cdr_hw_ecdsa_verify(key, EVP_sha384(), d->sig.p, d->sig.p + NITRO_COORD_LEN, NITRO_COORD_LEN, 0, tbs, tbslen);
  if (r == CDR_ERR_ATTEST_SIGNATURE)
    cdr_hw_check(out, 0, name, "does not verify");
  else if (r == 0)
    cdr_hw_check(out, 1, name, "verifies");
out:
  free(tbs);
  ERR_clear_error();
  return r;
}

/* ---- policy ------------------------------------------------------------ */

static int nitro_check_policy(const struct nitro_doc *d, const struct cdr_hw_policy *policy,
                              struct cdr_hw_report *out) {
  if (out->debug && !policy->allow_debug) {
    cdr_hw_check(out, 0, "debug mode", "PCR0 is all zeros (debug enclave) and the policy refuses debug");
    return CDR_ERR_ATTEST_DEBUG;
  }
  cdr_hw_check(out, 1, "debug mode", out->debug ? "debug enclave, allowed by the policy" : "not a debug enclave");
  if (policy->expect_measurement != NULL) {
    if (CRYPTO_memcmp(policy->expect_measurement, d->pcr[0].p, CDR_NITRO_PCR_LEN) != 0) {
      cdr_hw_check(out, 0, "PCR0 (measurement)", "differs from the expected value");
      return CDR_ERR_ATTEST_MEASUREMENT;
    }
    cdr_hw_check(out, 1, "PCR0 (measurement)", "matches the expected value");
  }
  if (policy->expect_report_data != NULL) {
    if (!d->user_data.present || d->user_data.n != sizeof(out->report_data)) {
      cdr_hw_check(out, 0, "user_data (report_data)", "user_data is %s, not the expected %zu bytes",
                   d->user_data.present ? "of another length" : "absent", sizeof(out->report_data));
      return CDR_ERR_ATTEST_REPORT_DATA;
    }
    if (CRYPTO_memcmp(policy->expect_report_data, d->user_data.p, sizeof(out->report_data)) != 0) {
      cdr_hw_check(out, 0, "user_data (report_data)", "differs from the expected value");
      return CDR_ERR_ATTEST_REPORT_DATA;
    }
    cdr_hw_check(out, 1, "user_data (report_data)", "matches the expected value");
  }
  return 0;
}

/* ---- entry points ------------------------------------------------------ */

int cdr_nitro_verify_with_root(const uint8_t *doc, size_t len, X509 *root, const struct cdr_hw_policy *policy,
                               struct cdr_hw_report *out) {
  struct nitro_doc d;
  int r;
  memset(&d, 0, sizeof(d));
  if (out == NULL)
    return CDR_ERR_ARG;
  memset(out, 0, sizeof(*out));
  out->platform = CDR_HW_NITRO;
  if (policy == NULL || root == NULL || (doc == NULL && len != 0) ||
      (policy->expect_measurement != NULL && policy->expect_measurement_len != CDR_NITRO_PCR_LEN)) {
    r = CDR_ERR_ARG;
    goto out;
  }
  if (policy->expect_regs != NULL && policy->expect_regs->n > 0) {
    cdr_hw_check(out, 0, "policy", "PCR expectations are checked by cdr_verify_hw, not here");
    r = CDR_ERR_ARG;
    goto out;
  }
  if (doc == NULL || len == 0) {
    r = nitro_malformed(out, "document is empty");
    goto out;
  }
  if ((r = nitro_parse_cose(&d, doc, len, out)) != 0)
    goto out;
  if ((r = nitro_parse_payload(&d, out)) != 0)
    goto out;
  cdr_hw_check(out, 1, "document structure", "COSE_Sign1 (ES384) with a well-formed payload");
  nitro_fill_report(&d, policy->at, out);
  if ((r = nitro_verify_chain(&d, root, policy->at, out)) != 0)
    goto out;
  if ((r = nitro_verify_signature(&d, out)) != 0)
    goto out;
  if ((r = nitro_check_policy(&d, policy, out)) != 0)
    goto out;
  r = 0;
out:
  nitro_doc_free(&d);
  return r;
}

int cdr_verify_nitro(const uint8_t *doc, size_t len, const struct cdr_hw_policy *policy,
                     struct cdr_hw_report *out) {
  X509 *root = cdr_root_aws_nitro_g1();
  if (root == NULL) {
    if (out != NULL) {
      memset(out, 0, sizeof(*out));
      out->platform = CDR_HW_NITRO;
      cdr_hw_check(out, 0, "pinned root", "the embedded AWS Nitro root G1 does not parse");
    }
    return CDR_ERR_INTERNAL;
  }
  return cdr_nitro_verify_with_root(doc, len, root, policy, out);
}
