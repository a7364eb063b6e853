/*
 * test_contract.c - the room contract library (src/crypto/contract.h,
 * docs/PROTOCOL.md section 8): the canonical encoding round trip; every
 * rule's refusal, each CDR_ERR_CONTRACT_INVALID with the field named in
 * the reason; members' signatures (EC P-256 and RSA) and the detached
 * signature object; the governance rule cdr-gov-1, rule by rule, each
 * with one signer set that satisfies it and one that lacks one signer.
 */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "crypto/contract.h"
#include "crypto/crypto.h"
#include "testlib.h"

static char why[CDR_CONTRACT_WHY_LEN];

/* A fingerprint of 32 bytes of value b (sorted by b). */
static void fp_fill(uint8_t fp[32], uint8_t b) { memset(fp, b, 32); }

/* A valid sim contract, version 1, with n members whose key fingerprints
 * are 32 times keys[i] (ascending) and the given roles. */
static void make_keys(struct cdr_contract *c, size_t n, const uint8_t *keys, const unsigned *roles) {
  CHECK_RC(cdr_contract_alloc(c, n, 0), 0);
  memset(c->room_id, 0xab, sizeof(c->room_id));
  c->room_name = strdup("Cardiology study");
  c->version = 1;
  fp_fill(c->ca_sha256, 0xca);
  memcpy(c->platform, "sim", 4);
  c->n_measurements = 1;
  memset(c->measurements[0], 0xee, 32);
  memcpy(c->governance, CDR_CONTRACT_GOVERNANCE, sizeof(CDR_CONTRACT_GOVERNANCE));
  for (size_t i = 0; i < n; i++) {
    char name[32];
    snprintf(name, sizeof(name), "member-%zu", i);
    fp_fill(c->members[i].key_sha256, keys[i]);
    c->members[i].name = strdup(name);
    c->members[i].roles = roles[i];
  }
}

/* Replace the first occurrence of from in s by to (a new string). */
static char *replace(const char *s, const char *from, const char *to) {
  const char *p = strstr(s, from);
  CHECK(p != NULL);
  if (p == NULL)
    return strdup(s);
  size_t n = strlen(s) - strlen(from) + strlen(to);
  char *out = malloc(n + 1);
  memcpy(out, s, (size_t)(p - s));
  memcpy(out + (p - s), to, strlen(to));
  memcpy(out + (p - s) + strlen(to), p + strlen(from), strlen(p + strlen(from)) + 1);
  return out;
}

/* doc must be refused with CDR_ERR_CONTRACT_INVALID, the reason naming field. */
static void refused(const char *doc, const char *field) {
  struct cdr_contract c;
  why[0] = '\0';
  CHECK_RC(cdr_contract_parse((const uint8_t *)doc, strlen(doc), &c, why, sizeof(why)), CDR_ERR_CONTRACT_INVALID);
  CHECK_CONTAINS(why, field);
  CHECK(c.members == NULL && c.room_name == NULL); /* nothing left allocated */
}

static void accepted(const char *doc) {
  struct cdr_contract c;
  CHECK_RC(cdr_contract_parse((const uint8_t *)doc, strlen(doc), &c, why, sizeof(why)), 0);
  cdr_contract_free(&c);
}

/* Replace and expect a refusal naming field. */
static void mutate(const char *base, const char *from, const char *to, const char *field) {
  char *d = replace(base, from, to);
  refused(d, field);
  free(d);
}

/* The same, with keys 0x11, 0x22, ... */
static void make(struct cdr_contract *c, size_t n, const unsigned *roles) {
  uint8_t keys[8];
  for (size_t i = 0; i < n && i < 8; i++)
    keys[i] = (uint8_t)(0x11 * (i + 1));
  make_keys(c, n, keys, roles);
}

static char *base_doc(void) {
  static const unsigned roles[] = {CDR_CONTRACT_ROLE_ANALYST | CDR_CONTRACT_ROLE_PROVIDER, CDR_CONTRACT_ROLE_AUDITOR};
  struct cdr_contract c;
  uint8_t *doc = NULL;
  size_t len = 0;
  make(&c, 2, roles);
  CHECK_RC(cdr_contract_encode(&c, &doc, &len, why, sizeof(why)), 0);
  cdr_contract_free(&c);
  return (char *)doc;
}

static void test_round_trip(void) {
  static const unsigned roles[] = {CDR_CONTRACT_ROLE_ALL, CDR_CONTRACT_ROLE_ANALYST, CDR_CONTRACT_ROLE_PROVIDER};
  struct cdr_contract c, d;
  uint8_t *doc = NULL, *again = NULL, h1[32], h2[32];
  size_t len = 0, len2 = 0;
  make(&c, 3, roles);
  free(c.members[1].name);
  c.members[1].name = strdup("Hôpital Saint-Éloi \"R&D\" / 東京 \xc2\xb7 😀");
  c.version = 7;
  fp_fill(c.previous_sha256, 0x5a);
  memcpy(c.platform, "snp", 4);
  c.n_measurements = 2;
  memset(c.measurements[0], 0x01, 48);
  memset(c.measurements[1], 0x02, 48);
  c.has_snp_min_tcb = 1;
  c.snp_min_tcb = (struct cdr_contract_snp_tcb){3, 0, 8, 115};
  CHECK_RC(cdr_contract_encode(&c, &doc, &len, why, sizeof(why)), 0);
  CHECK(doc != NULL && strstr((char *)doc, "Hôpital Saint-Éloi \\\"R&D\\\" / 東京") != NULL); /* raw UTF-8, '/' bare */
  CHECK(doc != NULL && strstr((char *)doc, "\"snp_min_tcb\":{\"bootloader\":3,\"microcode\":115,\"snp\":8,\"tee\":0}") != NULL);
  CHECK(doc != NULL && strncmp((char *)doc, "{\"ca_sha256\":\"caca", 18) == 0);
  CHECK(doc != NULL && strstr((char *)doc, "\": ") == NULL && strstr((char *)doc, ", \"") == NULL); /* compact */
  CHECK_RC(cdr_contract_parse(doc, len, &d, why, sizeof(why)), 0);
  CHECK(d.version == 7 && d.n_members == 3 && d.members[2].roles == CDR_CONTRACT_ROLE_PROVIDER && d.has_snp_min_tcb &&
        d.snp_min_tcb.microcode == 115 && d.n_measurements == 2 && strcmp(d.members[1].name, c.members[1].name) == 0);
  CHECK_RC(cdr_contract_encode(&d, &again, &len2, why, sizeof(why)), 0);
  CHECK(len == len2 && memcmp(doc, again, len) == 0);
  CHECK_RC(cdr_contract_hash(&c, h1), 0);
  CHECK_RC(cdr_sha256(h2, doc, len), 0);
  CHECK(memcmp(h1, h2, 32) == 0);
  CHECK(cdr_contract_find_member(&d, d.members[2].key_sha256) == 2);
  uint8_t nobody[32];
  fp_fill(nobody, 0x99);
  CHECK(cdr_contract_find_member(&d, nobody) == -1);
  /* An invalid struct is never encoded. */
  c.members[0].roles = 0;
  free(again);
  again = NULL;
  CHECK_RC(cdr_contract_encode(&c, &again, &len2, why, sizeof(why)), CDR_ERR_CONTRACT_INVALID);
  CHECK_CONTAINS(why, "members[0].roles");
  CHECK(again == NULL);
  free(doc);
  free(again);
  cdr_contract_free(&c);
  cdr_contract_free(&d);
}

static void test_refusals(void) {
  char *b = base_doc();
  const char *k1 = "1111111111111111111111111111111111111111111111111111111111111111";
  const char *k2 = "2222222222222222222222222222222222222222222222222222222222222222";
  const char *m32 = "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee";
  accepted(b);
  /* Canonical form. */
  char *moved = replace(b, "\"governance\":\"cdr-gov-1\",", "");
  mutate(moved, "\"witnesses\":[]}", "\"witnesses\":[],\"governance\":\"cdr-gov-1\"}", "canonical"); /* key order */
  free(moved);
  mutate(b, "\"version\":1", "\"version\": 1", "canonical");               /* whitespace */
  mutate(b, "\"witnesses\":[]}", "\"witnesses\":[]}\n", "canonical");    /* trailing newline */
  mutate(b, "\"name\":\"member-1\"", "\"name\":\"m\\u0065mber-1\"", "canonical"); /* an escape */
  mutate(b, "\"room_name\":\"Cardiology study\"", "\"room_name\":\"Cardiology\\/study\"", "canonical");
  mutate(b, "\"version\":1", "\"version\":1,\"version\":1", "duplicate");   /* duplicate key */
  mutate(b, "\"name\":\"member-1\"", "\"name\":\"member\\u0001\"", "members[1].name"); /* control character */
  mutate(b, "\"name\":\"member-1\"", "\"name\":\"member\\u0085\"", "members[1].name"); /* C1 control */
  mutate(b, "\"room_name\":\"Cardiology study\"", "\"room_name\":\"Cardiology\\u007fstudy\"", "room_name");
  mutate(b, "\"version\":1", "\"version\":1.0", "version");                 /* float */
  mutate(b, "\"version\":1", "\"version\":1e0", "version");
  mutate(b, "\"version\":1", "\"version\":9007199254740992", "version");     /* 2^53 */
  mutate(b, "\"version\":1", "\"version\":-1", "version");
  mutate(b, "\"version\":1", "\"version\":0", "version");                    /* version 0 */
  mutate(b, "\"version\":1", "\"version\":2", "previous_sha256");            /* no previous hash on version 2 */
  mutate(b, "\"room_id\"", "\"previous_sha256\":\"5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a\",\"room_id\"",
         "previous_sha256");                                                  /* a previous hash on version 1 */
  /* Members. */
  char *unsorted = replace(b, k1, "3333333333333333333333333333333333333333333333333333333333333333");
  refused(unsorted, "members[1].key_sha256");
  free(unsorted);
  mutate(b, k2, k1, "members[1].key_sha256");                                 /* the same key twice */
  mutate(b, "\"name\":\"member-1\"", "\"name\":\"member-0\"", "members[1].name"); /* the same name twice */
  mutate(b, "\"name\":\"member-1\"", "\"name\":\"MEMBER-0\"", "members[1].name"); /* ... in another case */
  /* Names that could look like another to a reader (PROTOCOL 8.1). */
  mutate(b, "\"name\":\"member-1\"", "\"name\":\"member\u200b-1\"", "members[1].name"); /* zero width space */
  mutate(b, "\"name\":\"member-1\"", "\"name\":\"member\u202e-1\"", "members[1].name"); /* right-to-left */
  mutate(b, "\"name\":\"member-1\"", "\"name\":\"member\ufeff-1\"", "members[1].name"); /* BOM */
  mutate(b, "\"name\":\"member-1\"", "\"name\":\"member\u00a01\"", "members[1].name"); /* no-break space */
  mutate(b, "\"name\":\"member-1\"", "\"name\":\"member\ufe0f-1\"", "members[1].name"); /* variation selector */
  mutate(b, "\"name\":\"member-1\"", "\"name\":\"member\ue000\"", "members[1].name"); /* private use */
  mutate(b, "\"name\":\"member-1\"", "\"name\":\"member\ufdd0\"", "members[1].name"); /* noncharacter */
  mutate(b, "\"name\":\"member-1\"", "\"name\":\" member-1\"", "members[1].name");        /* leading space */
  mutate(b, "\"name\":\"member-1\"", "\"name\":\"member-1 \"", "members[1].name");        /* trailing space */
  mutate(b, "\"name\":\"member-1\"", "\"name\":\"member  1\"", "members[1].name");        /* two spaces */
  mutate(b, "\"room_name\":\"Cardiology study\"", "\"room_name\":\"Cardiology\u2028study\"", "room_name");
  mutate(b, "[\"auditor\"]", "[\"admin\"]", "members[1].roles[0]");         /* bad role */
  mutate(b, "[\"auditor\"]", "[]", "members[1].roles");                     /* empty roles */
  mutate(b, "[\"analyst\",\"provider\"]", "[\"provider\",\"analyst\"]", "members[0].roles[1]");
  mutate(b, "[\"analyst\",\"provider\"]", "[\"analyst\",\"analyst\"]", "members[0].roles[1]");
  mutate(b, "\"name\":\"member-1\"", "\"name\":\"\"", "members[1].name");
  mutate(b, k2, "2222222222222222222222222222222222222222222222222222222222222222AA", "members[1].key_sha256");
  mutate(b, k2, "222222222222222222222222222222222222222222222222222222222222222A", "members[1].key_sha256");
  mutate(b, "\"roles\":[\"auditor\"]", "\"roles\":[\"auditor\"],\"admin\":true", "unknown field \"admin\"");
  /* Measurements and platform. */
  char m48[97];
  memset(m48, 'e', 96);
  m48[96] = '\0';
  mutate(b, m32, m48, "measurements[0]");                                   /* 48 bytes on sim */
  mutate(b, "\"platform\":\"sim\"", "\"platform\":\"snp\"", "measurements[0]"); /* 32 bytes on snp */
  mutate(b, "\"platform\":\"sim\"", "\"platform\":\"sgx\"", "platform");
  mutate(b, "\"measurements\":[\"", "\"measurements\":[\"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\",\"",
         "measurements[1]");                                                  /* unsorted */
  mutate(b, m32, "", "measurements[0]");
  char *nomeas = replace(b, "\"measurements\":[\"eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee\"]",
                         "\"measurements\":[]");
  refused(nomeas, "measurements");
  free(nomeas);
  mutate(b, "\"room_id\"", "\"snp_min_tcb\":{\"bootloader\":1,\"microcode\":1,\"snp\":1,\"tee\":1},\"room_id\"",
         "snp_min_tcb"); /* sorted, but on sim */
  /* Other fields. */
  mutate(b, "\"governance\":\"cdr-gov-1\"", "\"governance\":\"anyone\"", "governance");
  mutate(b, "\"type\":\"cdr-contract-1\"", "\"type\":\"cdr-contract-2\"", "type");
  mutate(b, "\"ca_sha256\":\"caca", "\"ca_sha256\":\"CACA", "ca_sha256");
  mutate(b, "\"room_name\":\"Cardiology study\",", "", "room_name");
  mutate(b, "\"witnesses\":[]", "\"witnesses\":[{\"key_sha256\":\"" "1111111111111111111111111111111111111111111111111111111111111111" "\",\"url\":\"http://w.example\"}]",
         "witnesses[0].url");
  char *wit = replace(b, "\"witnesses\":[]", "\"witnesses\":[{\"key_sha256\":\"1111111111111111111111111111111111111111111111111111111111111111\",\"url\":\"https://w.example/log\"}]");
  accepted(wit);
  free(wit);
  refused("[]", "object");
  refused("{\"type\":", "JSON");
  refused("\xff", "UTF-8");
  refused("", "contract");
  free(b);
}

/* 1025 members, as a struct and as a document: refused before allocation. */
static void test_too_many(void) {
  struct cdr_contract c;
  CHECK_RC(cdr_contract_alloc(&c, CDR_CONTRACT_MAX_MEMBERS + 1, 0), CDR_ERR_TOO_LARGE);
  CHECK(c.members == NULL);
  size_t cap = 200 * (CDR_CONTRACT_MAX_MEMBERS + 2);
  char *doc = malloc(cap), *p = doc;
  p += snprintf(p, cap, "{\"ca_sha256\":\"%064x\",\"governance\":\"cdr-gov-1\",\"measurements\":[\"%064x\"],\"members\":[", 1, 2);
  for (unsigned i = 0; i <= CDR_CONTRACT_MAX_MEMBERS; i++)
    p += snprintf(p, cap - (size_t)(p - doc), "%s{\"key_sha256\":\"%064x\",\"name\":\"m%u\",\"roles\":[\"analyst\"]}",
                  i ? "," : "", i + 1, i);
  snprintf(p, cap - (size_t)(p - doc),
           "],\"platform\":\"sim\",\"room_id\":\"%032x\",\"room_name\":\"r\",\"type\":\"cdr-contract-1\",\"version\":1,"
           "\"witnesses\":[]}", 3);
  refused(doc, "members: more than 1024");
  /* 1024 is fine. */
  char *last = strstr(doc, ",{\"key_sha256\":\"0000000000000000000000000000000000000000000000000000000000000401\"");
  CHECK(last != NULL);
  if (last != NULL) {
    char *end = strstr(last, "],\"platform\"");
    memmove(last, end, strlen(end) + 1);
    accepted(doc);
  }
  free(doc);
}

/* ---- signatures ---- */

struct member_key {
  EVP_PKEY *k;
  uint8_t *spki;
  size_t spki_len;
  uint8_t fp[32];
};

static void key_make(struct member_key *m, const char *kind, int bits) {
  CHECK_RC(cdr_key_generate(&m->k, kind, bits), 0);
  CHECK_RC(cdr_pubkey_to_der(m->k, &m->spki, &m->spki_len), 0);
  CHECK_RC(cdr_sha256(m->fp, m->spki, m->spki_len), 0);
}

static void key_free(struct member_key *m) {
  EVP_PKEY_free(m->k);
  OPENSSL_free(m->spki);
}

static void test_signatures(void) {
  struct member_key a, b, rsa;
  uint8_t room[16], other_room[16], h[32], h2[32];
  struct cdr_buf sig, rsig, m;
  key_make(&a, "ec", 0);
  key_make(&b, "ec", 0);
  key_make(&rsa, "rsa", 2048);
  memset(room, 0x42, 16);
  memset(other_room, 0x43, 16);
  memset(h, 0x77, 32);
  memcpy(h2, h, 32);
  h2[31] ^= 1;
  cdr_buf_init(&sig, CDR_MAX_SIGNATURE, 0);
  cdr_buf_init(&rsig, CDR_MAX_SIGNATURE, 0);
  cdr_buf_init(&m, 256, 0);

  CHECK_RC(cdr_contract_sign_input(&m, room, 3, h), 0);
  CHECK(m.len == CDR_CONTRACT_SIGN_INPUT_LEN && m.len == 80);
  CHECK(memcmp(m.d, "\0\0\0\x14" "CDR-v1 contract sign", 24) == 0 && memcmp(m.d + 24, room, 16) == 0 &&
        m.d[47] == 3 && memcmp(m.d + 48, h, 32) == 0);

  CHECK_RC(cdr_contract_sign(a.k, h, room, 3, &sig), 0);
  CHECK_RC(cdr_contract_verify(a.spki, a.spki_len, a.fp, h, room, 3, sig.d, sig.len), 0);
  /* Wrong key: b's key under a's fingerprint, or b's own. */
  CHECK_RC(cdr_contract_verify(b.spki, b.spki_len, a.fp, h, room, 3, sig.d, sig.len), CDR_ERR_CERT_KEY_MISMATCH);
  CHECK_RC(cdr_contract_verify(b.spki, b.spki_len, b.fp, h, room, 3, sig.d, sig.len), CDR_ERR_BAD_SIGNATURE);
  /* Wrong hash, version, room. */
  CHECK_RC(cdr_contract_verify(a.spki, a.spki_len, a.fp, h2, room, 3, sig.d, sig.len), CDR_ERR_BAD_SIGNATURE);
  CHECK_RC(cdr_contract_verify(a.spki, a.spki_len, a.fp, h, room, 4, sig.d, sig.len), CDR_ERR_BAD_SIGNATURE);
  CHECK_RC(cdr_contract_verify(a.spki, a.spki_len, a.fp, h, other_room, 3, sig.d, sig.len), CDR_ERR_BAD_SIGNATURE);
  /* A signature over another protocol message with the same key does not count. */
  struct cdr_buf other;
  cdr_buf_init(&other, CDR_MAX_SIGNATURE, 0);
  CHECK_RC(cdr_sign(&other, a.k, h, 32), 0);
  CHECK_RC(cdr_contract_verify(a.spki, a.spki_len, a.fp, h, room, 3, other.d, other.len), CDR_ERR_BAD_SIGNATURE);
  cdr_buf_free(&other);
  /* RSA (PSS) member keys. */
  CHECK_RC(cdr_contract_sign(rsa.k, h, room, 1, &rsig), 0);
  CHECK_RC(cdr_contract_verify(rsa.spki, rsa.spki_len, rsa.fp, h, room, 1, rsig.d, rsig.len), 0);
  CHECK_RC(cdr_contract_verify(rsa.spki, rsa.spki_len, rsa.fp, h, room, 2, rsig.d, rsig.len), CDR_ERR_BAD_SIGNATURE);

  /* The detached object. */
  struct cdr_contract_sig s = {.version = 3, .sig = sig.d, .sig_len = sig.len}, t;
  memcpy(s.contract_sha256, h, 32);
  memcpy(s.member_key_sha256, a.fp, 32);
  uint8_t *obj = NULL;
  size_t objlen = 0;
  CHECK_RC(cdr_contract_sig_encode(&s, &obj, &objlen), 0);
  CHECK(obj != NULL && strncmp((char *)obj, "{\"contract_sha256\":\"7777", 24) == 0 &&
        strstr((char *)obj, "\",\"member_key_sha256\":\"") != NULL && strstr((char *)obj, "\"version\":3}") != NULL);
  CHECK_RC(cdr_contract_sig_parse(obj, objlen, &t, why, sizeof(why)), 0);
  CHECK(t.version == 3 && t.sig_len == sig.len && memcmp(t.sig, sig.d, sig.len) == 0 && memcmp(t.member_key_sha256, a.fp, 32) == 0);
  CHECK_RC(cdr_contract_verify(a.spki, a.spki_len, t.member_key_sha256, t.contract_sha256, room, t.version, t.sig, t.sig_len), 0);
  cdr_contract_sig_free(&t);
  char *spaced = replace((char *)obj, "\"version\":3", "\"version\": 3");
  CHECK_RC(cdr_contract_sig_parse((uint8_t *)spaced, strlen(spaced), &t, why, sizeof(why)), CDR_ERR_CONTRACT_INVALID);
  CHECK_CONTAINS(why, "canonical");
  free(spaced);
  char *v0 = replace((char *)obj, "\"version\":3", "\"version\":0");
  CHECK_RC(cdr_contract_sig_parse((uint8_t *)v0, strlen(v0), &t, why, sizeof(why)), CDR_ERR_CONTRACT_INVALID);
  CHECK_CONTAINS(why, "version");
  free(v0);
  char *extra = replace((char *)obj, "\"version\":3", "\"version\":3,\"x\":1");
  CHECK_RC(cdr_contract_sig_parse((uint8_t *)extra, strlen(extra), &t, why, sizeof(why)), CDR_ERR_CONTRACT_INVALID);
  free(extra);
  free(obj);

  cdr_buf_free(&sig);
  cdr_buf_free(&rsig);
  cdr_buf_free(&m);
  key_free(&a);
  key_free(&b);
  key_free(&rsa);
}

/* ---- governance rule cdr-gov-1 ---- */

/* next becomes the successor of active in the chain. */
static void chain(struct cdr_contract *next, const struct cdr_contract *active) {
  next->version = active->version + 1;
  CHECK_RC(cdr_contract_hash(active, next->previous_sha256), 0);
}

/* How many required signers are missing when the keys in have sign. */
static size_t missing_with(const struct cdr_contract_signers *req, const uint8_t *have, size_t n) {
  uint8_t fps[8][32];
  size_t miss = 99, first = 99;
  for (size_t i = 0; i < n; i++)
    fp_fill(fps[i], have[i]);
  CHECK_RC(cdr_contract_signers_missing(req, (const uint8_t(*)[32])fps, n, &miss, &first), 0);
  CHECK((miss == 0) == (first == req->n));
  return miss;
}

/* The signer set is exactly keys[0..n) with these reasons. */
static void expect_set(const struct cdr_contract_signers *req, const uint8_t *keys, const unsigned *reasons, size_t n) {
  CHECK(req->n == n);
  for (size_t i = 0; i < n && i < req->n; i++) {
    uint8_t fp[32];
    fp_fill(fp, keys[i]);
    CHECK(memcmp(req->v[i].key_sha256, fp, 32) == 0);
    CHECK(req->v[i].reasons == reasons[i]);
  }
}

static void test_gov_v1(void) {
  static const unsigned roles[] = {CDR_CONTRACT_ROLE_PROVIDER, CDR_CONTRACT_ROLE_ANALYST, CDR_CONTRACT_ROLE_AUDITOR};
  static const uint8_t all[] = {0x11, 0x22, 0x33};
  static const unsigned listed[] = {CDR_SIGNER_LISTED, CDR_SIGNER_LISTED, CDR_SIGNER_LISTED};
  struct cdr_contract v1;
  struct cdr_contract_signers req;
  make(&v1, 3, roles);
  CHECK_RC(cdr_contract_required_signers(NULL, &v1, &req, why, sizeof(why)), 0);
  expect_set(&req, all, listed, 3);
  CHECK(missing_with(&req, all, 3) == 0);             /* every listed member: satisfied */
  CHECK(missing_with(&req, all, 2) == 1);             /* one missing (an auditor too) */
  static const uint8_t extra[] = {0x11, 0x22, 0x99}; /* a stranger's signature does not count */
  CHECK(missing_with(&req, extra, 3) == 1);
  cdr_contract_signers_free(&req);
  /* Version 2 with no active version, or version 1 as a successor. */
  v1.version = 2;
  fp_fill(v1.previous_sha256, 1);
  CHECK_RC(cdr_contract_required_signers(NULL, &v1, &req, why, sizeof(why)), CDR_ERR_CONTRACT_INVALID);
  CHECK_CONTAINS(why, "version");
  CHECK(req.v == NULL);
  cdr_contract_free(&v1);
}

/* Adding a member needs that member and every provider of the active version. */
static void test_gov_add(void) {
  static const unsigned roles[] = {CDR_CONTRACT_ROLE_PROVIDER, CDR_CONTRACT_ROLE_PROVIDER | CDR_CONTRACT_ROLE_ANALYST, CDR_CONTRACT_ROLE_ANALYST};
  static const unsigned roles2[] = {CDR_CONTRACT_ROLE_PROVIDER, CDR_CONTRACT_ROLE_PROVIDER | CDR_CONTRACT_ROLE_ANALYST, CDR_CONTRACT_ROLE_ANALYST,
                                    CDR_CONTRACT_ROLE_ANALYST};
  static const uint8_t keys2[] = {0x11, 0x22, 0x33, 0x44};
  static const uint8_t want[] = {0x11, 0x22, 0x44};
  static const unsigned reasons[] = {CDR_SIGNER_PROVIDER, CDR_SIGNER_PROVIDER, CDR_SIGNER_ADDED};
  struct cdr_contract active, next;
  struct cdr_contract_signers req;
  make(&active, 3, roles);
  make_keys(&next, 4, keys2, roles2);
  chain(&next, &active);
  CHECK_RC(cdr_contract_required_signers(&active, &next, &req, why, sizeof(why)), 0);
  expect_set(&req, want, reasons, 3); /* the unchanged analyst 0x33 is not needed */
  CHECK(missing_with(&req, want, 3) == 0);
  static const uint8_t no_new[] = {0x11, 0x22, 0x33};
  CHECK(missing_with(&req, no_new, 3) == 1);      /* without the new member */
  static const uint8_t no_provider[] = {0x11, 0x44};
  CHECK(missing_with(&req, no_provider, 2) == 1); /* without one provider */
  cdr_contract_signers_free(&req);
  /* The chain: another room, a skipped version, another previous hash. */
  next.room_id[0] ^= 1;
  CHECK_RC(cdr_contract_required_signers(&active, &next, &req, why, sizeof(why)), CDR_ERR_CONTRACT_INVALID);
  CHECK_CONTAINS(why, "room_id");
  next.room_id[0] ^= 1;
  next.version = 3;
  CHECK_RC(cdr_contract_required_signers(&active, &next, &req, why, sizeof(why)), CDR_ERR_CONTRACT_INVALID);
  CHECK_CONTAINS(why, "version");
  next.version = 2;
  next.previous_sha256[0] ^= 1;
  CHECK_RC(cdr_contract_required_signers(&active, &next, &req, why, sizeof(why)), CDR_ERR_CONTRACT_INVALID);
  CHECK_CONTAINS(why, "previous_sha256");
  cdr_contract_free(&active);
  cdr_contract_free(&next);
}

/* A provider that is removed must still sign its own removal; and the
 * operator's shortcut: drop the only provider and add a member of one's
 * own, which that member alone cannot activate. */
static void test_gov_remove(void) {
  static const unsigned roles[] = {CDR_CONTRACT_ROLE_PROVIDER, CDR_CONTRACT_ROLE_PROVIDER, CDR_CONTRACT_ROLE_ANALYST};
  static const unsigned roles2[] = {CDR_CONTRACT_ROLE_PROVIDER, CDR_CONTRACT_ROLE_ANALYST};
  static const uint8_t keys2[] = {0x11, 0x33};
  static const uint8_t want[] = {0x11, 0x22};
  static const unsigned reasons[] = {CDR_SIGNER_PROVIDER, CDR_SIGNER_PROVIDER};
  struct cdr_contract active, next;
  struct cdr_contract_signers req;
  make(&active, 3, roles);
  make_keys(&next, 2, keys2, roles2);
  chain(&next, &active);
  CHECK_RC(cdr_contract_required_signers(&active, &next, &req, why, sizeof(why)), 0);
  expect_set(&req, want, reasons, 2);
  CHECK(missing_with(&req, want, 2) == 0);
  CHECK(missing_with(&req, want, 1) == 1); /* the removed provider 0x22 has not signed */
  cdr_contract_signers_free(&req);
  cdr_contract_free(&active);
  cdr_contract_free(&next);

  static const unsigned r_one[] = {CDR_CONTRACT_ROLE_PROVIDER, CDR_CONTRACT_ROLE_ANALYST};
  static const unsigned r_op[] = {CDR_CONTRACT_ROLE_ANALYST, CDR_CONTRACT_ROLE_ANALYST};
  static const uint8_t k_op[] = {0x22, 0x99}; /* 0x11 (the provider) gone, 0x99 the operator's */
  static const uint8_t want_op[] = {0x11, 0x99};
  static const unsigned reasons_op[] = {CDR_SIGNER_PROVIDER, CDR_SIGNER_ADDED};
  make(&active, 2, r_one);
  make_keys(&next, 2, k_op, r_op);
  chain(&next, &active);
  CHECK_RC(cdr_contract_required_signers(&active, &next, &req, why, sizeof(why)), 0);
  expect_set(&req, want_op, reasons_op, 2);
  static const uint8_t op_only[] = {0x99, 0x22};
  CHECK(missing_with(&req, op_only, 2) == 1); /* never activates without the provider */
  CHECK(missing_with(&req, want_op, 2) == 0);
  cdr_contract_signers_free(&req);
  cdr_contract_free(&active);
  cdr_contract_free(&next);
}

/* Widening a role needs that member; narrowing one does not. */
static void test_gov_widen(void) {
  static const unsigned roles[] = {CDR_CONTRACT_ROLE_PROVIDER, CDR_CONTRACT_ROLE_ANALYST | CDR_CONTRACT_ROLE_AUDITOR};
  static const unsigned wider[] = {CDR_CONTRACT_ROLE_PROVIDER, CDR_CONTRACT_ROLE_ANALYST | CDR_CONTRACT_ROLE_AUDITOR | CDR_CONTRACT_ROLE_PROVIDER};
  static const unsigned narrower[] = {CDR_CONTRACT_ROLE_PROVIDER, CDR_CONTRACT_ROLE_ANALYST};
  static const uint8_t both[] = {0x11, 0x22};
  static const unsigned reasons[] = {CDR_SIGNER_PROVIDER, CDR_SIGNER_WIDENED};
  struct cdr_contract active, next;
  struct cdr_contract_signers req;
  make(&active, 2, roles);
  make(&next, 2, wider);
  chain(&next, &active);
  CHECK_RC(cdr_contract_required_signers(&active, &next, &req, why, sizeof(why)), 0);
  expect_set(&req, both, reasons, 2);
  CHECK(missing_with(&req, both, 2) == 0);
  CHECK(missing_with(&req, both, 1) == 1); /* the widened member has not signed */
  cdr_contract_signers_free(&req);
  cdr_contract_free(&next);
  make(&next, 2, narrower);
  chain(&next, &active);
  CHECK_RC(cdr_contract_required_signers(&active, &next, &req, why, sizeof(why)), 0);
  expect_set(&req, both, reasons, 1); /* the provider only */
  CHECK(missing_with(&req, both, 1) == 0);
  CHECK(missing_with(&req, both + 1, 1) == 1);
  cdr_contract_signers_free(&req);
  cdr_contract_free(&next);
  /* A provider that is also widened is listed once, with both reasons. */
  static const unsigned p_wide[] = {CDR_CONTRACT_ROLE_PROVIDER | CDR_CONTRACT_ROLE_AUDITOR, CDR_CONTRACT_ROLE_ANALYST | CDR_CONTRACT_ROLE_AUDITOR};
  static const unsigned both_reasons[] = {CDR_SIGNER_PROVIDER | CDR_SIGNER_WIDENED};
  make(&next, 2, p_wide);
  chain(&next, &active);
  CHECK_RC(cdr_contract_required_signers(&active, &next, &req, why, sizeof(why)), 0);
  expect_set(&req, both, both_reasons, 1);
  cdr_contract_signers_free(&req);
  cdr_contract_free(&next);
  cdr_contract_free(&active);
}

/* An active version with no provider: every one of its members must
 * sign, so a version that adds the operator's key as provider (and moves
 * the enclave) is not the operator's alone to activate. */
static void test_gov_no_provider(void) {
  static const unsigned roles[] = {CDR_CONTRACT_ROLE_ANALYST, CDR_CONTRACT_ROLE_AUDITOR};
  static const uint8_t members[] = {0x11, 0x22};
  static const unsigned reasons[] = {CDR_SIGNER_MEMBER, CDR_SIGNER_MEMBER};
  static const unsigned roles_op[] = {CDR_CONTRACT_ROLE_PROVIDER};
  static const uint8_t keys_op[] = {0x99};
  static const uint8_t want_op[] = {0x11, 0x22, 0x99};
  static const unsigned reasons_op[] = {CDR_SIGNER_MEMBER, CDR_SIGNER_MEMBER, CDR_SIGNER_ADDED};
  struct cdr_contract active, next;
  struct cdr_contract_signers req;
  make(&active, 2, roles);
  make(&next, 2, roles);
  chain(&next, &active);
  memset(next.measurements[0], 0x0f, 32); /* a new enclave, and no provider to agree */
  CHECK_RC(cdr_contract_required_signers(&active, &next, &req, why, sizeof(why)), 0);
  expect_set(&req, members, reasons, 2);
  CHECK(missing_with(&req, members, 2) == 0);
  CHECK(missing_with(&req, members, 1) == 1); /* one member missing */
  cdr_contract_signers_free(&req);
  cdr_contract_free(&next);
  /* The takeover: the operator's key alone, as the only provider, with a
   * new enclave, and the members dropped. */
  make_keys(&next, 1, keys_op, roles_op);
  chain(&next, &active);
  memset(next.measurements[0], 0x0f, 32);
  CHECK_RC(cdr_contract_required_signers(&active, &next, &req, why, sizeof(why)), 0);
  expect_set(&req, want_op, reasons_op, 3);
  CHECK(missing_with(&req, keys_op, 1) == 2); /* the operator's own signature is not enough */
  CHECK(missing_with(&req, want_op, 3) == 0);
  cdr_contract_signers_free(&req);
  cdr_contract_free(&next);
  cdr_contract_free(&active);
}

static void test_governance(void) {
  test_gov_v1();
  test_gov_add();
  test_gov_remove();
  test_gov_widen();
  test_gov_no_provider();
}

int main(void) {
  test_round_trip();
  test_refusals();
  test_too_many();
  test_signatures();
  test_governance();
  return test_summary("test_contract");
}
