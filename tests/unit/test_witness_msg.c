/*
 * test_witness_msg.c - the witness messages (src/crypto/witness_msg.c,
 * docs/PROTOCOL.md section 9): the vectors of 9.6, read from the document
 * (every ```vectors block, as test_vectors.c does) so that the document
 * and the code cannot drift apart; the signatures under their exact
 * inputs; the JSON readers' refusals; and the client-side check of a
 * "latest" answer: a replayed answer, an edited echo, another witness, a
 * head the enclave never signed.
 *
 *   test_witness_msg              check
 *   test_witness_msg --generate   print the vector block of 9.6
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "crypto/audit_chain.h"
#include "crypto/crypto.h"
#include "crypto/witness_msg.h"
#include "testlib.h"

static int generate;
static char *doc_text;

/* Fixed inputs: section 7's room id, identity key and client nonce; a
 * witness key of its own; a head of 42 entries at section 7's time. */
static const char *IN_ROOM = "00112233445566778899aabbccddeeff";
static const char *IN_I = "a0ed7c2d1bbb1e4da1c0d7a9e8e03c6a8b7f4e63bb0c2a8a8a5b4f7e5d1c2b3a";
static const char *IN_W = "5eed5eed0b5e55ed5eed5eed0b5e55ed5eed5eed0b5e55ed5eed5eed0b5e55ed";
static const char *IN_NONCE = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
static const char *IN_HEAD = "4242424242424242424242424242424242424242424242424242424242424242";
static const uint64_t IN_SIZE = 42;
static const uint64_t IN_TIME = 1767225600;

static void load_doc(void) {
  const char *src = getenv("CDR_SOURCE_DIR");
  char path[4096];
  uint8_t *d = NULL;
  size_t n = 0;
  snprintf(path, sizeof(path), "%s/docs/PROTOCOL.md", src ? src : ".");
  if (cdr_file_read(path, &d, &n, 4u << 20) != 0) {
    fprintf(stderr, "cannot read %s\n", path);
    exit(1);
  }
  doc_text = malloc(n + 1);
  memcpy(doc_text, d, n);
  doc_text[n] = '\0';
  free(d);
}

/* The hex of vector NAME from a ```vectors block, or NULL. */
static char *vget(const char *name) {
  static char out[4096];
  char key[80];
  snprintf(key, sizeof(key), "\n%s: ", name);
  for (char *p = doc_text; (p = strstr(p, "```vectors\n")) != NULL; p += 3) {
    char *end = strstr(p + 3, "\n```"), *at = strstr(p, key);
    if (at != NULL && end != NULL && at < end) {
      at += strlen(key);
      size_t n = strcspn(at, "\n");
      if (n >= sizeof(out))
        return NULL;
      memcpy(out, at, n);
      out[n] = '\0';
      return out;
    }
  }
  return NULL;
}

static void expect(const char *name, const uint8_t *b, size_t n) {
  char *hex = malloc(2 * n + 1);
  cdr_hex_encode(hex, b, n);
  if (generate) {
    printf("%s: %s\n", name, hex);
  } else {
    const char *doc = vget(name);
    CHECK(doc != NULL);
    if (doc != NULL && strcmp(doc, hex) != 0) {
      test_failures++;
      fprintf(stderr, "vector %s differs:\n  doc:  %s\n  code: %s\n", name, doc, hex);
    }
  }
  free(hex);
}

static void unhex(uint8_t *out, size_t n, const char *hex) {
  if (hex == NULL || strlen(hex) != 2 * n || cdr_hex_decode(out, n, hex) != 0) {
    fprintf(stderr, "bad hex for %zu bytes\n", n);
    exit(1);
  }
}

static EVP_PKEY *key_from(const char *hex) {
  uint8_t d[32];
  EVP_PKEY *k = NULL;
  unhex(d, 32, hex);
  if (cdr_p256_from_private(&k, d) != 0)
    exit(1);
  return k;
}

/* A recorded signature (ECDSA is randomised): made when generating,
 * else read from the document and verified, and a corrupted copy
 * refused.  Leaves the signature in sig. */
static void signature(const char *name, EVP_PKEY *k, const struct cdr_buf *msg, struct cdr_buf *sig) {
  if (generate) {
    CHECK_RC(cdr_sign(sig, k, msg->d, msg->len), 0);
    expect(name, sig->d, sig->len);
    return;
  }
  const char *hex = vget(name);
  size_t n = hex ? strlen(hex) / 2 : 0;
  CHECK(n > 0 && n <= CDR_MAX_SIGNATURE);
  if (n == 0)
    return;
  CHECK_RC(cdr_buf_reserve(sig, n), 0);
  unhex(sig->d, n, hex);
  sig->len = n;
  CHECK_RC(cdr_verify(k, msg->d, msg->len, sig->d, n), 0);
  sig->d[n / 2] ^= 1;
  CHECK_RC(cdr_verify(k, msg->d, msg->len, sig->d, n), CDR_ERR_BAD_SIGNATURE);
  sig->d[n / 2] ^= 1;
}

struct fixture {
  EVP_PKEY *I, *W;
  uint8_t room[16], nonce[32];
  struct cdr_witness_head head; /* signed by I */
  struct cdr_buf cs_sig, latest_sig;
};

static void vectors(struct fixture *f) {
  struct cdr_buf msg, ws;
  uint8_t *spki = NULL, fp[32];
  size_t spki_len = 0;
  cdr_buf_init(&msg, 512, 0);
  cdr_buf_init(&ws, CDR_MAX_SIGNATURE, 0);
  CHECK_RC(cdr_pubkey_to_der(f->W, &spki, &spki_len), 0);
  CHECK_RC(cdr_sha256(fp, spki, spki_len), 0);
  expect("witness_public_key", spki, spki_len);
  expect("witness_key_sha256", fp, 32);
  OPENSSL_free(spki);

  /* T_head (4.8) and the enclave's signature on it. */
  CHECK_RC(cdr_audit_head_transcript(&msg, f->room, 16, f->head.size, f->head.head, f->head.time), 0);
  expect("witness_T_head", msg.d, msg.len);
  signature("witness_T_head_signature_by_identity", f->I, &msg, &ws);
  CHECK(ws.len > 0 && ws.len <= sizeof(f->head.sig));
  memcpy(f->head.sig, ws.d, ws.len);
  f->head.sig_len = ws.len;
  CHECK_RC(cdr_witness_head_verify(&f->head, f->room, f->I), 0);

  msg.len = 0;
  CHECK_RC(cdr_witness_countersign_input(&msg, f->room, f->head.size, f->head.head), 0);
  expect("witness_countersign_input", msg.d, msg.len);
  signature("witness_countersignature", f->W, &msg, &f->cs_sig);
  CHECK_RC(cdr_witness_countersign_verify(f->W, f->room, f->head.size, f->head.head, f->cs_sig.d, f->cs_sig.len), 0);

  msg.len = 0;
  CHECK_RC(cdr_witness_latest_input(&msg, f->room, f->head.size, f->head.head, f->nonce), 0);
  expect("witness_latest_input", msg.d, msg.len);
  signature("witness_latest_signature", f->W, &msg, &f->latest_sig);
  cdr_buf_free(&msg);
  cdr_buf_free(&ws);
}

/* A countersignature binds room, size and head, and nothing else counts. */
static void countersign_binds(struct fixture *f) {
  uint8_t other_room[16], other_head[32];
  memcpy(other_room, f->room, 16);
  other_room[15] ^= 1;
  memcpy(other_head, f->head.head, 32);
  other_head[0] ^= 1;
  const uint8_t *s = f->cs_sig.d;
  size_t n = f->cs_sig.len;
  CHECK_RC(cdr_witness_countersign_verify(f->W, other_room, f->head.size, f->head.head, s, n), CDR_ERR_BAD_SIGNATURE);
  CHECK_RC(cdr_witness_countersign_verify(f->W, f->room, f->head.size + 1, f->head.head, s, n),
           CDR_ERR_BAD_SIGNATURE);
  CHECK_RC(cdr_witness_countersign_verify(f->W, f->room, f->head.size, other_head, s, n), CDR_ERR_BAD_SIGNATURE);
  CHECK_RC(cdr_witness_countersign_verify(f->I, f->room, f->head.size, f->head.head, s, n), CDR_ERR_BAD_SIGNATURE);
  CHECK_RC(cdr_witness_countersign_verify(f->W, f->room, f->head.size, f->head.head, s, 0), CDR_ERR_BAD_SIGNATURE);
  /* The latest signature over the same head is not a countersignature. */
  CHECK_RC(cdr_witness_countersign_verify(f->W, f->room, f->head.size, f->head.head, f->latest_sig.d,
                                          f->latest_sig.len),
           CDR_ERR_BAD_SIGNATURE);
  /* Nor is the enclave's own signature on the head. */
  CHECK_RC(cdr_witness_countersign_verify(f->I, f->room, f->head.size, f->head.head, f->head.sig, f->head.sig_len),
           CDR_ERR_BAD_SIGNATURE);
  struct cdr_witness_head h = f->head;
  h.time++;
  CHECK_RC(cdr_witness_head_verify(&h, f->room, f->I), CDR_ERR_BAD_SIGNATURE);
  CHECK_RC(cdr_witness_head_verify(&f->head, f->room, f->W), CDR_ERR_BAD_SIGNATURE);
  h = f->head;
  h.sig_len = 0;
  CHECK_RC(cdr_witness_head_verify(&h, f->room, f->I), CDR_ERR_BAD_SIGNATURE);
}

static void head_json(struct fixture *f) {
  struct cdr_witness_head back;
  char why[128] = "";
  json_t *j = json_object();
  CHECK_RC(cdr_witness_head_to_json(j, &f->head), 0);
  CHECK_RC(cdr_witness_head_from_json(j, &back, 0, why, sizeof(why)), 0);
  CHECK(back.size == f->head.size && back.time == f->head.time && back.sig_len == f->head.sig_len);
  CHECK(memcmp(back.head, f->head.head, 32) == 0 && memcmp(back.sig, f->head.sig, back.sig_len) == 0);
  json_t *bad = json_deep_copy(j);
  json_object_set_new(bad, "head", json_string("4242"));
  CHECK_RC(cdr_witness_head_from_json(bad, &back, 0, why, sizeof(why)), CDR_ERR_ARG);
  CHECK_STR(why, "head.head: missing or malformed");
  json_decref(bad);
  bad = json_deep_copy(j);
  json_object_set_new(bad, "size", json_integer(-1));
  CHECK_RC(cdr_witness_head_from_json(bad, &back, 0, why, sizeof(why)), CDR_ERR_ARG);
  CHECK_STR(why, "head.size: missing or malformed");
  json_decref(bad);
  bad = json_deep_copy(j);
  json_object_del(bad, "signature");
  CHECK_RC(cdr_witness_head_from_json(bad, &back, 0, why, sizeof(why)), CDR_ERR_ARG);
  CHECK_STR(why, "head.signature: missing or malformed");
  json_decref(bad);
  json_t *str = json_string("x");
  CHECK_RC(cdr_witness_head_from_json(str, &back, 0, why, sizeof(why)), CDR_ERR_ARG);
  json_decref(str);
  json_decref(j);
}

/* The answer a witness gives (witness_routes.c), built here. */
static json_t *latest_json(struct fixture *f, int held, const struct cdr_buf *sig) {
  char rid[33], fp[65], *n64 = NULL, *s64 = NULL, *spki64 = NULL;
  uint8_t *spki = NULL, wfp[32];
  size_t spki_len = 0;
  CHECK_RC(cdr_pubkey_to_der(f->W, &spki, &spki_len), 0);
  CHECK_RC(cdr_sha256(wfp, spki, spki_len), 0);
  OPENSSL_free(spki);
  CHECK_RC(cdr_pubkey_to_der(f->I, &spki, &spki_len), 0);
  cdr_hex_encode(rid, f->room, 16);
  cdr_hex_encode(fp, wfp, 32);
  CHECK_RC(cdr_b64_encode(&n64, f->nonce, 32), 0);
  CHECK_RC(cdr_b64_encode(&s64, sig->d, sig->len), 0);
  CHECK_RC(cdr_b64_encode(&spki64, spki, spki_len), 0);
  json_t *j = json_pack("{s:s, s:b, s:s, s:s, s:s}", "room_id", rid, "held", held, "nonce", n64,
                        "witness_key_sha256", fp, "signature", s64);
  if (held) {
    json_t *h = json_object();
    CHECK_RC(cdr_witness_head_to_json(h, &f->head), 0);
    json_object_set_new(j, "head", h);
    json_object_set_new(j, "identity_public_key", json_string(spki64));
  }
  free(n64);
  free(s64);
  free(spki64);
  OPENSSL_free(spki);
  return j;
}

static int check_latest(struct fixture *f, json_t *j, EVP_PKEY *w, const uint8_t nonce[32]) {
  struct cdr_witness_latest l;
  char why[200] = "";
  int r = cdr_witness_latest_parse(j, &l, why, sizeof(why));
  if (r == 0)
    r = cdr_witness_latest_verify(&l, w, f->room, nonce, why, sizeof(why));
  return r;
}

static void latest(struct fixture *f) {
  uint8_t other_nonce[32];
  memcpy(other_nonce, f->nonce, 32);
  other_nonce[31] ^= 0x80;
  json_t *j = latest_json(f, 1, &f->latest_sig);
  CHECK_RC(check_latest(f, j, f->W, f->nonce), 0);
  /* The same answer offered to a later question: a replay. */
  CHECK_RC(check_latest(f, j, f->W, other_nonce), CDR_ERR_WITNESS_REPLAYED);
  /* With the later nonce written into the echo: the signature fails. */
  char *n64 = NULL;
  CHECK_RC(cdr_b64_encode(&n64, other_nonce, 32), 0);
  json_t *e = json_deep_copy(j);
  json_object_set_new(e, "nonce", json_string(n64));
  CHECK_RC(check_latest(f, e, f->W, other_nonce), CDR_ERR_BAD_SIGNATURE);
  json_decref(e);
  free(n64);
  /* Another witness's key: refused before anything else. */
  CHECK_RC(check_latest(f, j, f->I, f->nonce), CDR_ERR_BAD_SIGNATURE);
  /* A head the witness made up: the enclave's signature does not verify
   * (witness signs the made-up head properly). */
  struct cdr_buf m, s;
  cdr_buf_init(&m, 512, 0);
  cdr_buf_init(&s, CDR_MAX_SIGNATURE, 0);
  struct cdr_witness_head keep = f->head;
  f->head.size = 99;
  CHECK_RC(cdr_witness_latest_input(&m, f->room, f->head.size, f->head.head, f->nonce), 0);
  CHECK_RC(cdr_sign(&s, f->W, m.d, m.len), 0);
  json_t *inv = latest_json(f, 1, &s);
  CHECK_RC(check_latest(f, inv, f->W, f->nonce), CDR_ERR_BAD_SIGNATURE);
  json_decref(inv);
  f->head = keep;
  /* Holds nothing: size 0 and a zero head, signed over our nonce. */
  static const uint8_t zero[32];
  m.len = 0;
  s.len = 0;
  CHECK_RC(cdr_witness_latest_input(&m, f->room, 0, zero, f->nonce), 0);
  CHECK_RC(cdr_sign(&s, f->W, m.d, m.len), 0);
  json_t *none = latest_json(f, 0, &s);
  CHECK_RC(check_latest(f, none, f->W, f->nonce), 0);
  /* "Holds nothing" with a head attached is malformed. */
  json_object_set_new(none, "head", json_object());
  CHECK_RC(check_latest(f, none, f->W, f->nonce), CDR_ERR_ARG);
  json_decref(none);
  /* A held answer without the identity key, or with a short nonce. */
  json_t *b = json_deep_copy(j);
  json_object_del(b, "identity_public_key");
  CHECK_RC(check_latest(f, b, f->W, f->nonce), CDR_ERR_ARG);
  json_decref(b);
  b = json_deep_copy(j);
  json_object_set_new(b, "nonce", json_string("AAEC"));
  CHECK_RC(check_latest(f, b, f->W, f->nonce), CDR_ERR_ARG);
  json_decref(b);
  cdr_buf_free(&m);
  cdr_buf_free(&s);
  json_decref(j);
}

int main(int argc, char **argv) {
  struct fixture f;
  generate = argc > 1 && strcmp(argv[1], "--generate") == 0;
  if (!generate)
    load_doc();
  memset(&f, 0, sizeof(f));
  f.I = key_from(IN_I);
  f.W = key_from(IN_W);
  unhex(f.room, 16, IN_ROOM);
  unhex(f.nonce, 32, IN_NONCE);
  unhex(f.head.head, 32, IN_HEAD);
  f.head.size = IN_SIZE;
  f.head.time = IN_TIME;
  cdr_buf_init(&f.cs_sig, CDR_MAX_SIGNATURE, 0);
  cdr_buf_init(&f.latest_sig, CDR_MAX_SIGNATURE, 0);
  if (generate) {
    printf("witness_private_key: %s\nwitness_head: %s\n", IN_W, IN_HEAD);
  } else {
    CHECK_STR(vget("witness_private_key"), IN_W);
    CHECK_STR(vget("witness_head"), IN_HEAD);
  }
  vectors(&f);
  if (!generate) {
    countersign_binds(&f);
    head_json(&f);
    latest(&f);
  }
  cdr_buf_free(&f.cs_sig);
  cdr_buf_free(&f.latest_sig);
  EVP_PKEY_free(f.I);
  EVP_PKEY_free(f.W);
  free(doc_text);
  return generate ? 0 : test_summary("test_witness_msg");
}
