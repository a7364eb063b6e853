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
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "crypto/contract.h"

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

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "sample") == 0)
    return sample(strtoul(argv[2], NULL, 10));
  if (argc == 3 && strcmp(argv[1], "parse") == 0)
    return parse(argv[2]);
  fprintf(stderr, "usage: contract_tool sample N | parse FILE\n");
  return 2;
}
