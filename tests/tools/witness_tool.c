/*
 * witness_tool.c - the room side of tests/integration/test_witness_server.sh:
 * a synthetic sim room (CA, platform certificate, enclave identity keys, a
 * provider member) that makes the requests an enclave's host would relay to
 * a witness, and checks the witness's answers with the protocol's own
 * verifiers (src/crypto/witness_msg.c).  Everything is built as the real
 * room builds it (sim evidence as PROTOCOL 4.5, contracts as 8.1-8.5, heads
 * as 4.8), so the witness cannot tell it from a real room; the tool can
 * also build each kind of bad request.  Keys are derived from fixed labels,
 * so every invocation on one DIR agrees; DIR keeps the room id and the two
 * certificates.
 *
 *   witness_tool init DIR
 *       a new room in DIR: room, ca.der, plat.der, and contract chains
 *       chain1.json [v1], chain12.json [v1, v2], chain2.json [v2],
 *       forged.json [v1 with another measurement, v1's signature]
 *   witness_tool countersign DIR SIZE SEED [--ident N] [--sign-with N]
 *                            [--join CHAIN] [--wrong-measurement] [--room HEX]
 *       print a countersign request: head(SIZE) = SHA-256(SEED), signed by
 *       identity N (default 1) or, with --sign-with, by another key while
 *       naming N; --join adds the chain file and identity N's attestation
 *   witness_tool latest DIR NONCE_HEX
 *       print a latest request
 *   witness_tool check-countersign DIR KEY_JSON ANSWER SIZE SEED
 *   witness_tool check-latest DIR KEY_JSON NONCE_HEX ANSWER
 *       check an answer under the witness key of KEY_JSON (the answer of
 *       GET /v1/witness/key); print "ok SIZE HEAD" or the error code; exit
 *       0 for ok, 1 otherwise
 */
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client.h"
#include "common/json_get.h"
#include "common/util.h"
#include "crypto/audit_chain.h"
#include "crypto/contract.h"
#include "crypto/crypto.h"
#include "crypto/envelope.h"
#include "crypto/witness_msg.h"
#include "crypto/x509.h"

#define DIE(...) do { fprintf(stderr, "witness_tool: " __VA_ARGS__); fprintf(stderr, "\n"); exit(2); } while (0)

static char dir[1024];
static uint8_t room_id[16];

static EVP_PKEY *key_of(const char *label) {
  uint8_t d[32];
  EVP_PKEY *k = NULL;
  char l[128];
  snprintf(l, sizeof(l), "witness_tool key %s", label);
  if (cdr_sha256(d, l, strlen(l)) != 0 || cdr_p256_from_private(&k, d) != 0)
    DIE("key %s", label);
  return k;
}

static uint8_t *spki_of(EVP_PKEY *k, size_t *len) {
  uint8_t *d = NULL;
  if (cdr_pubkey_to_der(k, &d, len) != 0)
    DIE("spki");
  return d;
}

static char *b64(const uint8_t *p, size_t n) {
  char *s = NULL;
  if (cdr_b64_encode(&s, p, n) != 0)
    DIE("b64");
  return s;
}

static void path_of(char *out, size_t n, const char *name) { snprintf(out, n, "%s/%s", dir, name); }

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
  X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
  if (e == NULL || !X509_add_ext(x, e, -1))
    DIE("extension");
  X509_EXTENSION_free(e);
}

static X509 *make_cert(EVP_PKEY *key, EVP_PKEY *issuer_key, X509 *issuer, const char *cn) {
  X509 *x = X509_new();
  X509_NAME *n = X509_NAME_new();
  char ou[33];
  cdr_hex_encode(ou, room_id, 16);
  X509_set_version(x, X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(x), issuer ? 2 : 1);
  X509_NAME_add_entry_by_NID(n, NID_commonName, MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
  X509_NAME_add_entry_by_NID(n, NID_organizationName, MBSTRING_UTF8, (const unsigned char *)"witness test", -1, -1, 0);
  X509_NAME_add_entry_by_NID(n, NID_organizationalUnitName, MBSTRING_UTF8, (const unsigned char *)ou, -1, -1, 0);
  X509_set_subject_name(x, n);
  X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
  X509_set_pubkey(x, key);
  X509_time_adj_ex(X509_getm_notBefore(x), 0, -60, NULL);
  X509_time_adj_ex(X509_getm_notAfter(x), 3650, 0, NULL); /* the fuzz seeds keep it */
  if (issuer == NULL) {
    add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
    add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign");
    add_ext(x, x, NID_subject_key_identifier, "hash");
  } else {
    add_ext(x, issuer, NID_subject_key_identifier, "hash");
    add_ext(x, issuer, NID_authority_key_identifier, "keyid:always");
    add_ext(x, issuer, NID_basic_constraints, "critical,CA:FALSE");
    add_ext(x, issuer, NID_key_usage, "critical,digitalSignature");
  }
  if (X509_sign(x, issuer_key, EVP_sha256()) <= 0)
    DIE("sign certificate");
  X509_NAME_free(n);
  return x;
}

static void write_file(const char *name, const void *p, size_t n) {
  char path[1200];
  path_of(path, sizeof(path), name);
  if (cdr_file_write(path, p, n, 0600, 0) != 0)
    DIE("write %s", path);
}

static uint8_t *read_file(const char *name, size_t *n) {
  char path[1200];
  uint8_t *d = NULL;
  path_of(path, sizeof(path), name);
  if (cdr_file_read(path, &d, n, 8u << 20) != 0)
    DIE("read %s", path);
  return d;
}

static void measurement(uint8_t out[32], int wrong) {
  const char *s = wrong ? "witness_tool another enclave" : "witness_tool enclave";
  if (cdr_sha256(out, s, strlen(s)) != 0)
    DIE("sha256");
}

static void load_room(void) {
  size_t n = 0;
  uint8_t *d = read_file("room", &n);
  char hex[33];
  if (n < 32)
    DIE("room");
  memcpy(hex, d, 32);
  hex[32] = '\0';
  free(d);
  if (cdr_hex_decode(room_id, 16, hex) != 0)
    DIE("room id");
}

/* One contract version: document and the member's signature, as the
 * enclave's `contract` operation shows it (PROTOCOL 8.9). */
static json_t *version_json(const struct cdr_contract *c, const uint8_t *sign_hash) {
  EVP_PKEY *member = key_of("member");
  uint8_t *doc = NULL, h[32], *spki, *obj = NULL;
  size_t len = 0, spki_len = 0, olen = 0;
  struct cdr_buf sig;
  struct cdr_contract_sig s;
  char why[CDR_CONTRACT_WHY_LEN], hex[65], *spki64, *sig_obj;
  if (cdr_contract_encode(c, &doc, &len, why, sizeof(why)) != 0)
    DIE("encode: %s", why);
  if (cdr_sha256(h, doc, len) != 0)
    DIE("hash");
  cdr_buf_init(&sig, CDR_MAX_SIGNATURE, 0);
  if (cdr_contract_sign(member, sign_hash ? sign_hash : h, c->room_id, c->version, &sig) != 0)
    DIE("contract sign");
  spki = spki_of(member, &spki_len);
  memset(&s, 0, sizeof(s));
  s.version = c->version;
  memcpy(s.contract_sha256, sign_hash ? sign_hash : h, 32);
  if (cdr_sha256(s.member_key_sha256, spki, spki_len) != 0)
    DIE("hash");
  s.sig = sig.d;
  s.sig_len = sig.len;
  if (cdr_contract_sig_encode(&s, &obj, &olen) != 0)
    DIE("sig object");
  cdr_hex_encode(hex, h, 32);
  spki64 = b64(spki, spki_len);
  if ((sig_obj = malloc(olen + 1)) == NULL) /* not strndup: obj is not terminated */
    DIE("sig object");
  memcpy(sig_obj, obj, olen);
  sig_obj[olen] = '\0';
  json_t *v = json_pack("{s:I, s:s, s:s%, s:[{s:s, s:s}]}", "version", (json_int_t)c->version, "sha256", hex,
                        "document", (const char *)doc, len, "signatures", "spki", spki64, "object", sig_obj);
  free(sig_obj);
  free(spki64);
  free(obj);
  OPENSSL_free(spki);
  cdr_buf_free(&sig);
  free(doc);
  EVP_PKEY_free(member);
  return v;
}

static void contract_of(struct cdr_contract *c, uint64_t version, const uint8_t prev[32], const uint8_t ca_fp[32],
                        int wrong_measurement) {
  EVP_PKEY *member = key_of("member");
  size_t spki_len = 0;
  uint8_t *spki = spki_of(member, &spki_len);
  if (cdr_contract_alloc(c, 1, 0) != 0)
    DIE("alloc");
  memcpy(c->room_id, room_id, 16);
  c->room_name = strdup("witness test room");
  c->version = version;
  if (prev != NULL)
    memcpy(c->previous_sha256, prev, 32);
  memcpy(c->ca_sha256, ca_fp, 32);
  memcpy(c->platform, "sim", 4);
  c->n_measurements = 1;
  measurement(c->measurements[0], wrong_measurement);
  memcpy(c->governance, CDR_CONTRACT_GOVERNANCE, sizeof(CDR_CONTRACT_GOVERNANCE));
  c->members[0].name = strdup("Provider");
  c->members[0].roles = CDR_CONTRACT_ROLE_PROVIDER;
  if (cdr_sha256(c->members[0].key_sha256, spki, spki_len) != 0)
    DIE("hash");
  OPENSSL_free(spki);
  EVP_PKEY_free(member);
}

static void write_json(const char *name, json_t *j) {
  char *t = json_dumps(j, JSON_COMPACT);
  write_file(name, t, strlen(t));
  free(t);
  json_decref(j);
}

static int cmd_init(void) {
  EVP_PKEY *ca_key = key_of("ca"), *plat_key = key_of("platform");
  struct cdr_contract v1, v2, forged;
  uint8_t *der = NULL, ca_fp[32], h1[32];
  size_t len = 0;
  char hex[33];
  if (cdr_random(room_id, sizeof(room_id)) != 0)
    DIE("random");
  cdr_hex_encode(hex, room_id, 16);
  write_file("room", hex, 32);
  X509 *ca = make_cert(ca_key, ca_key, NULL, "CDR room CA witness test");
  X509 *plat = make_cert(plat_key, ca_key, ca, CDR_SIM_PLATFORM_CN);
  if (cdr_cert_to_der(ca, &der, &len) != 0 || cdr_sha256(ca_fp, der, len) != 0)
    DIE("ca");
  write_file("ca.der", der, len);
  free(der);
  if (cdr_cert_to_der(plat, &der, &len) != 0)
    DIE("platform");
  write_file("plat.der", der, len);
  free(der);
  contract_of(&v1, 1, NULL, ca_fp, 0);
  if (cdr_contract_hash(&v1, h1) != 0)
    DIE("hash");
  contract_of(&v2, 2, h1, ca_fp, 0);
  v2.room_name[0] = 'W'; /* a visible change */
  contract_of(&forged, 1, NULL, ca_fp, 1);
  json_t *j1 = version_json(&v1, NULL), *j2 = version_json(&v2, NULL);
  write_json("chain1.json", json_pack("[O]", j1));
  write_json("chain12.json", json_pack("[O, O]", j1, j2));
  write_json("chain2.json", json_pack("[O]", j2));
  /* The host's contract: another measurement, carrying v1's signature. */
  write_json("forged.json", json_pack("[o]", version_json(&forged, h1)));
  json_decref(j1);
  json_decref(j2);
  cdr_contract_free(&v1);
  cdr_contract_free(&v2);
  cdr_contract_free(&forged);
  X509_free(ca);
  X509_free(plat);
  EVP_PKEY_free(ca_key);
  EVP_PKEY_free(plat_key);
  printf("%s\n", hex);
  return 0;
}

/* The join: the chain file, identity's sim attestation, the CA. */
static json_t *join_json(const char *chain_file, EVP_PKEY *ident, int wrong_measurement) {
  EVP_PKEY *plat_key = key_of("platform");
  size_t ca_len = 0, plat_len = 0, spki_len = 0, clen = 0;
  uint8_t *ca = read_file("ca.der", &ca_len), *plat = read_file("plat.der", &plat_len), *spki = spki_of(ident, &spki_len);
  uint8_t ca_fp[32], nonce[32], rd[64], meas[32];
  uint8_t *chain_text = read_file(chain_file, &clen);
  struct cdr_buf ev, sig;
  char rid[33], fp[65];
  json_t *chain = json_loadb((const char *)chain_text, clen, 0, NULL);
  /* The evidence binds the active contract: the chain's last version. */
  const json_t *last = chain != NULL ? json_array_get(chain, json_array_size(chain) - 1) : NULL;
  const char *last_hex = json_string_value(json_object_get(last, "sha256"));
  json_int_t last_version = json_integer_value(json_object_get(last, "version"));
  uint8_t contract_sha256[32];
  if (chain == NULL || last_hex == NULL || cdr_hex_decode(contract_sha256, 32, last_hex) != 0 ||
      cdr_sha256(ca_fp, ca, ca_len) != 0 || cdr_random(nonce, 32) != 0 ||
      cdr_report_data(rd, spki, spki_len, room_id, ca_fp, contract_sha256, nonce) != 0)
    DIE("join");
  measurement(meas, wrong_measurement);
  cdr_buf_init(&ev, 1024, 0);
  cdr_buf_init(&sig, 256, 0);
  if (cdr_buf_put(&ev, "CDRSIM\x00\x01", 8) != 0 || cdr_buf_put(&ev, meas, 32) != 0 || cdr_buf_put(&ev, rd, 64) != 0 ||
      cdr_buf_put_u64(&ev, (uint64_t)cdr_now()) != 0 || cdr_sign(&sig, plat_key, ev.d, 112) != 0 ||
      cdr_buf_put_lp(&ev, sig.d, sig.len) != 0)
    DIE("evidence");
  cdr_hex_encode(rid, room_id, 16);
  cdr_hex_encode(fp, ca_fp, 32);
  char *e = b64(ev.d, ev.len), *p = b64(plat, plat_len), *s = b64(spki, spki_len), *n = b64(nonce, 32),
       *c = b64(ca, ca_len);
  json_t *j = json_pack("{s:o, s:{s:s, s:s, s:[s], s:s, s:s, s:s, s:s, s:I}, s:s, s:s}", "chain", chain,
                        "attestation", "platform", "sim", "evidence", e, "certificates", p, "identity_public_key", s,
                        "room_id", rid, "ca_fingerprint", fp, "contract_sha256", last_hex, "contract_version",
                        last_version, "nonce", n, "ca_certificate", c);
  free(e);
  free(p);
  free(s);
  free(n);
  free(c);
  free(ca);
  free(plat);
  free(chain_text);
  OPENSSL_free(spki);
  cdr_buf_free(&ev);
  cdr_buf_free(&sig);
  EVP_PKEY_free(plat_key);
  return j;
}

static void head_of(struct cdr_witness_head *h, uint64_t size, const char *seed, EVP_PKEY *signer) {
  struct cdr_buf t, sig;
  memset(h, 0, sizeof(*h));
  h->size = size;
  h->time = (uint64_t)cdr_now();
  if (cdr_sha256(h->head, seed, strlen(seed)) != 0)
    DIE("sha256");
  cdr_buf_init(&t, 256, 0);
  cdr_buf_init(&sig, CDR_MAX_SIGNATURE, 0);
  if (cdr_audit_head_transcript(&t, room_id, 16, h->size, h->head, h->time) != 0 || cdr_sign(&sig, signer, t.d, t.len) != 0)
    DIE("head");
  memcpy(h->sig, sig.d, sig.len);
  h->sig_len = sig.len;
  cdr_buf_free(&t);
  cdr_buf_free(&sig);
}

static int cmd_countersign(int argc, char **argv) {
  uint64_t size = strtoull(argv[3], NULL, 10);
  const char *seed = argv[4], *join = NULL, *ident_n = "1", *sign_n = NULL;
  int wrong = 0;
  for (int i = 5; i < argc; i++) {
    if (strcmp(argv[i], "--ident") == 0 && i + 1 < argc)
      ident_n = argv[++i];
    else if (strcmp(argv[i], "--sign-with") == 0 && i + 1 < argc)
      sign_n = argv[++i];
    else if (strcmp(argv[i], "--join") == 0 && i + 1 < argc)
      join = argv[++i];
    else if (strcmp(argv[i], "--wrong-measurement") == 0)
      wrong = 1;
    else if (strcmp(argv[i], "--room") == 0 && i + 1 < argc) {
      if (cdr_hex_decode(room_id, 16, argv[++i]) != 0)
        DIE("--room");
    } else
      DIE("unknown option %s", argv[i]);
  }
  char l1[32], l2[32];
  snprintf(l1, sizeof(l1), "identity %s", ident_n);
  snprintf(l2, sizeof(l2), "identity %s", sign_n ? sign_n : ident_n);
  EVP_PKEY *ident = key_of(l1), *signer = key_of(l2);
  struct cdr_witness_head h;
  size_t spki_len = 0;
  uint8_t *spki = spki_of(ident, &spki_len);
  char rid[33], *s = b64(spki, spki_len);
  json_t *head = json_object();
  head_of(&h, size, seed, signer);
  if (cdr_witness_head_to_json(head, &h) != 0)
    DIE("head json");
  cdr_hex_encode(rid, room_id, 16);
  json_t *body = json_pack("{s:s, s:o, s:s}", "room_id", rid, "head", head, "identity_public_key", s);
  if (join != NULL)
    json_object_set_new(body, "join", join_json(join, ident, wrong));
  char *t = json_dumps(body, JSON_COMPACT);
  printf("%s\n", t);
  free(t);
  free(s);
  json_decref(body);
  OPENSSL_free(spki);
  EVP_PKEY_free(ident);
  EVP_PKEY_free(signer);
  return 0;
}

static EVP_PKEY *witness_key(const char *key_json) {
  json_t *j = json_load_file(key_json, 0, NULL);
  uint8_t *der = NULL;
  size_t len = 0;
  EVP_PKEY *k = NULL;
  if (j == NULL || cdr_json_get_b64(j, "public_key", CDR_MAX_PUBKEY_DER, &der, &len) != 0 ||
      cdr_pubkey_from_der(&k, der, len) != 0)
    DIE("witness key %s", key_json);
  free(der);
  json_decref(j);
  return k;
}

static int cmd_check_countersign(char **argv) {
  EVP_PKEY *w = witness_key(argv[3]);
  json_t *a = json_load_file(argv[4], 0, NULL);
  uint8_t head[32], *sig = NULL;
  size_t sig_len = 0;
  uint64_t size = strtoull(argv[5], NULL, 10);
  int r;
  if (a == NULL || cdr_sha256(head, argv[6], strlen(argv[6])) != 0 ||
      cdr_json_get_b64(a, "signature", CDR_MAX_SIGNATURE, &sig, &sig_len) != 0)
    DIE("answer");
  r = cdr_witness_countersign_verify(w, room_id, size, head, sig, sig_len);
  printf("%s\n", r == 0 ? "ok" : cdr_err_code(r));
  free(sig);
  json_decref(a);
  EVP_PKEY_free(w);
  return r == 0 ? 0 : 1;
}

static int cmd_check_latest(char **argv) {
  EVP_PKEY *w = witness_key(argv[3]);
  json_t *a = json_load_file(argv[5], 0, NULL);
  struct cdr_witness_latest l;
  uint8_t nonce[32];
  char why[200] = "", hh[65];
  int r;
  if (a == NULL || cdr_hex_decode(nonce, 32, argv[4]) != 0)
    DIE("answer or nonce");
  if ((r = cdr_witness_latest_parse(a, &l, why, sizeof(why))) == 0)
    r = cdr_witness_latest_verify(&l, w, room_id, nonce, why, sizeof(why));
  if (r == 0) {
    cdr_hex_encode(hh, l.head.head, 32);
    printf("ok %llu %s\n", (unsigned long long)l.head.size, hh);
  } else {
    printf("%s\n", cdr_err_code(r));
    fprintf(stderr, "witness_tool: %s\n", why);
  }
  json_decref(a);
  EVP_PKEY_free(w);
  return r == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
  if (argc < 3)
    DIE("usage: see the top of tests/tools/witness_tool.c");
  snprintf(dir, sizeof(dir), "%s", argv[2]);
  if (strcmp(argv[1], "init") == 0)
    return cmd_init();
  load_room();
  if (strcmp(argv[1], "countersign") == 0 && argc >= 5)
    return cmd_countersign(argc, argv);
  if (strcmp(argv[1], "latest") == 0 && argc == 4) {
    char rid[33];
    cdr_hex_encode(rid, room_id, 16);
    printf("{\"room_id\":\"%s\",\"nonce\":\"", rid);
    uint8_t nonce[32];
    if (cdr_hex_decode(nonce, 32, argv[3]) != 0)
      DIE("nonce");
    char *n = b64(nonce, 32);
    printf("%s\"}\n", n);
    free(n);
    return 0;
  }
  if (strcmp(argv[1], "check-countersign") == 0 && argc == 7)
    return cmd_check_countersign(argv);
  if (strcmp(argv[1], "check-latest") == 0 && argc == 6)
    return cmd_check_latest(argv);
  DIE("usage: see the top of tests/tools/witness_tool.c");
}
