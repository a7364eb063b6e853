/*
 * contract_tool.c - the C side of tests/integration/test_contract_canonical.sh,
 * which checks the room contract's canonical encoding (PROTOCOL.md 8.2)
 * against an independent implementation (Python's json module).
 *
 *   contract_tool sample N   print a valid canonical contract with N members
 *                            (1..1024) whose names mix ASCII, '"', '\', '/',
 *                            Latin, CJK, emoji, combining marks and U+00B7;
 *                            platform snp with a minimum TCB, version 3,
 *                            two witnesses.  Deterministic.
 *   contract_tool parse FILE parse FILE with cdr_contract_parse: print its
 *                            contract hash (hex) and exit 0, or print
 *                            "refused: <code>: <reason>" and exit 1.
 *   contract_tool draft CA MEASUREMENT VERSION PREVIOUS NAME:ROLES:CERT...
 *                            print the canonical document of a sim room
 *                            (room id and CA fingerprint from the CA
 *                            certificate CA, MEASUREMENT one or a comma
 *                            list (sorted here), PREVIOUS the
 *                            previous version's hash or "-" for version 1;
 *                            each member's key fingerprint from its
 *                            certificate, ROLES a comma list), for the
 *                            integration tests that sign contracts.  Among
 *                            the members, witness=FP=URL names a witness
 *                            (key fingerprint, https URL; repeatable) and
 *                            faults=F sets witness_faults.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "common/util.h"
#include "crypto/contract.h"
#include "crypto/crypto.h"
#include "crypto/x509.h"

static const char *const PIECES[] = {"Hôpital", "東京大学", "Zürich \"R&D\"", "a/b\\c", "😀 lab", "e\xcc\x81tude",
                                     "mi\xc2\xb7lieu", "Ωmega", "plain", "Ärzte—Ünion"};

static int sample(size_t n) {
  struct cdr_contract c;
  char why[CDR_CONTRACT_WHY_LEN] = "";
  uint8_t *doc = NULL;
  size_t len = 0;
  int r;
  if (n == 0 || n > CDR_CONTRACT_MAX_MEMBERS || cdr_contract_alloc(&c, n, 2) != 0)
    return 2;
  memset(c.room_id, 0x5c, sizeof(c.room_id));
  c.room_name = strdup("Salle « propre » / 清洁室");
  c.version = 3;
  memset(c.previous_sha256, 0x3e, 32);
  memset(c.ca_sha256, 0xca, 32);
  memcpy(c.platform, "snp", 4);
  c.n_measurements = 2;
  memset(c.measurements[0], 0x10, 48);
  memset(c.measurements[1], 0xf0, 48);
  c.has_snp_min_tcb = 1;
  c.snp_min_tcb = (struct cdr_contract_snp_tcb){3, 0, 22, 213};
  memcpy(c.governance, CDR_CONTRACT_GOVERNANCE, sizeof(CDR_CONTRACT_GOVERNANCE));
  for (size_t i = 0; i < 2; i++) {
    memset(c.witnesses[i].key_sha256, (int)(0x40 + i), 32);
    c.witnesses[i].url = strdup(i ? "https://w2.example/log?room=5c" : "https://witness.example/v1");
  }
  for (size_t i = 0; i < n; i++) {
    char name[96];
    /* Key i: big-endian i+1 in the first two bytes, so keys ascend. */
    memset(c.members[i].key_sha256, 0xa5, 32);
    c.members[i].key_sha256[0] = (uint8_t)((i + 1) >> 8);
    c.members[i].key_sha256[1] = (uint8_t)(i + 1);
    snprintf(name, sizeof(name), "%s %s #%zu", PIECES[i % 10], PIECES[(i / 10) % 10], i);
    c.members[i].name = strdup(name);
    c.members[i].roles = (unsigned)(i % 7) + 1;
  }
  if ((r = cdr_contract_encode(&c, &doc, &len, why, sizeof(why))) != 0) {
    fprintf(stderr, "encode: %s: %s\n", cdr_err_code(r), why);
    cdr_contract_free(&c);
    return 1;
  }
  fwrite(doc, 1, len, stdout);
  free(doc);
  cdr_contract_free(&c);
  return 0;
}

static int parse(const char *path) {
  struct cdr_contract c;
  char why[CDR_CONTRACT_WHY_LEN] = "", hex[65];
  uint8_t *doc = NULL, h[32];
  size_t len = 0;
  int r;
  if (cdr_file_read(path, &doc, &len, CDR_CONTRACT_MAX_BYTES + 1) != 0)
    return 2;
  if ((r = cdr_contract_parse(doc, len, &c, why, sizeof(why))) != 0) {
    printf("refused: %s: %s\n", cdr_err_code(r), why);
    free(doc);
    return 1;
  }
  r = cdr_contract_hash(&c, h);
  cdr_contract_free(&c);
  free(doc);
  if (r != 0)
    return 2;
  cdr_hex_encode(hex, h, 32);
  printf("%s\n", hex);
  return 0;
}

static int member_cmp(const void *a, const void *b) {
  return memcmp(((const struct cdr_contract_member *)a)->key_sha256, ((const struct cdr_contract_member *)b)->key_sha256,
                32);
}

/* The SHA-256 of a certificate's DER (as_spki 0) or of its SPKI DER. */
static int cert_hash(const char *path, int as_spki, uint8_t out[32], X509 **keep) {
  X509 *x = NULL;
  unsigned char *der = NULL;
  int n, r = 1;
  if (cdr_cert_load_pem(path, &x) != 0)
    return 1;
  n = as_spki ? i2d_PUBKEY(X509_get0_pubkey(x), &der) : i2d_X509(x, &der);
  if (n > 0 && cdr_sha256(out, der, (size_t)n) == 0)
    r = 0;
  OPENSSL_free(der);
  if (keep != NULL && r == 0)
    *keep = x;
  else
    X509_free(x);
  return r;
}

static int cmp32(const void *a, const void *b) { return memcmp(a, b, 32); }

/* A comma list of 64-hex sim measurements into c, sorted. */
static int measurements(struct cdr_contract *c, const char *list) {
  size_t n = 0;
  for (const char *p = list; n < CDR_CONTRACT_MAX_MEASUREMENTS; n++) {
    char hex[65];
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len != 64)
      return -1;
    memcpy(hex, p, 64);
    hex[64] = '\0';
    if (cdr_hex_decode(c->measurements[n], 32, hex) != 0)
      return -1;
    if (end == NULL) {
      c->n_measurements = n + 1;
      qsort(c->measurements, c->n_measurements, sizeof(c->measurements[0]), cmp32);
      return 0;
    }
    p = end + 1;
  }
  return -1;
}

static int witness_cmp(const void *a, const void *b) {
  return memcmp(((const struct cdr_contract_witness *)a)->key_sha256,
                ((const struct cdr_contract_witness *)b)->key_sha256, 32);
}

/* The witness=FP=URL and faults=F arguments of draft. */
static int witnesses(struct cdr_contract *c, int argc, char **argv) {
  size_t w = 0;
  for (int i = 6; i < argc; i++) {
    const char *eq = strncmp(argv[i], "witness=", 8) == 0 ? strchr(argv[i] + 8, '=') : NULL;
    if (strncmp(argv[i], "faults=", 7) == 0) {
      c->witness_faults = (unsigned)strtoul(argv[i] + 7, NULL, 10);
    } else if (strncmp(argv[i], "witness=", 8) == 0) {
      char fp[65];
      if (eq == NULL || eq - (argv[i] + 8) != 64)
        return -1;
      memcpy(fp, argv[i] + 8, 64);
      fp[64] = '\0';
      if (cdr_hex_decode(c->witnesses[w].key_sha256, 32, fp) != 0 || (c->witnesses[w].url = strdup(eq + 1)) == NULL)
        return -1;
      w++;
    }
  }
  if (w > 1)
    qsort(c->witnesses, w, sizeof(c->witnesses[0]), witness_cmp);
  return 0;
}

static int draft(int argc, char **argv) {
  struct cdr_contract c;
  char why[CDR_CONTRACT_WHY_LEN] = "";
  uint8_t *doc = NULL;
  size_t len = 0, n = 0, nw = 0;
  X509 *ca = NULL;
  int r = 2;
  for (int i = 6; i < argc; i++) {
    if (strncmp(argv[i], "witness=", 8) == 0)
      nw++;
    else if (strncmp(argv[i], "faults=", 7) != 0)
      n++;
  }
  if (cdr_contract_alloc(&c, n, nw) != 0)
    return 2;
  if (witnesses(&c, argc, argv) != 0)
    goto out;
  if (cert_hash(argv[2], 0, c.ca_sha256, &ca) != 0)
    goto out;
  X509_NAME *sub = X509_get_subject_name(ca);
  int ou = X509_NAME_get_index_by_NID(sub, NID_organizationalUnitName, -1);
  ASN1_STRING *ous = ou >= 0 ? X509_NAME_ENTRY_get_data(X509_NAME_get_entry(sub, ou)) : NULL;
  char idhex[33] = "";
  if (ous == NULL || ASN1_STRING_length(ous) != 32)
    goto out;
  memcpy(idhex, ASN1_STRING_get0_data(ous), 32);
  if (cdr_hex_decode(c.room_id, CDR_ROOM_ID_BYTES, idhex) != 0 || measurements(&c, argv[3]) != 0)
    goto out;
  c.room_name = strdup("test room");
  c.version = strtoull(argv[4], NULL, 10);
  if (strcmp(argv[5], "-") != 0 && cdr_hex_decode(c.previous_sha256, 32, argv[5]) != 0)
    goto out;
  memcpy(c.platform, "sim", 4);
  memcpy(c.governance, CDR_CONTRACT_GOVERNANCE, sizeof(CDR_CONTRACT_GOVERNANCE));
  for (size_t i = 0, a = 6; i < n; i++, a++) {
    while (strncmp(argv[a], "witness=", 8) == 0 || strncmp(argv[a], "faults=", 7) == 0)
      a++;
    char *spec = strdup(argv[a]), *roles = strchr(spec, ':'), *cert = roles ? strchr(roles + 1, ':') : NULL;
    if (cert == NULL) {
      free(spec);
      goto out;
    }
    *roles++ = '\0';
    *cert++ = '\0';
    c.members[i].name = strdup(spec);
    for (char *t = roles; t != NULL && *t != '\0';) {
      char *comma = strchr(t, ',');
      if (comma != NULL)
        *comma = '\0';
      c.members[i].roles |= cdr_contract_role_from_name(t);
      t = comma != NULL ? comma + 1 : NULL;
    }
    r = cert_hash(cert, 1, c.members[i].key_sha256, NULL);
    free(spec);
    if (r != 0) {
      r = 2;
      goto out;
    }
  }
  qsort(c.members, n, sizeof(c.members[0]), member_cmp);
  if (cdr_contract_encode(&c, &doc, &len, why, sizeof(why)) != 0) {
    fprintf(stderr, "draft: %s\n", why);
    r = 1;
    goto out;
  }
  fwrite(doc, 1, len, stdout);
  r = 0;
out:
  free(doc);
  X509_free(ca);
  cdr_contract_free(&c);
  return r;
}

int main(int argc, char **argv) {
  if (argc >= 7 && strcmp(argv[1], "draft") == 0)
    return draft(argc, argv);
  if (argc == 3 && strcmp(argv[1], "sample") == 0)
    return sample(strtoul(argv[2], NULL, 10));
  if (argc == 3 && strcmp(argv[1], "parse") == 0)
    return parse(argv[2]);
  fprintf(stderr, "usage: contract_tool sample N | parse FILE | draft CA MEASUREMENT VERSION PREVIOUS NAME:ROLES:CERT...\n");
  return 2;
}
