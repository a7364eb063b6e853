/*
 * contract.c - the room contract's document (contract.h, PROTOCOL.md 8.1
 * to 8.3): the rules a version must meet, its one canonical encoding,
 * the strict parser and the contract hash.
 *
 * The encoding is the JSON profile of PROTOCOL.md 8.2, produced by
 * jansson (JSON_COMPACT | JSON_SORT_KEYS) from a document whose keys are
 * all ASCII, whose strings hold no control character and whose integers
 * are below 2^53: for such documents jansson's output is exactly what
 * Python's json.dumps(sort_keys=True, separators=(",", ":"),
 * ensure_ascii=False) gives (tests/integration/test_contract_canonical.sh
 * checks it).  The parser accepts a document only when its content is
 * valid and re-encoding that content gives back its exact bytes, so
 * whitespace, key order, escapes such as \u00e9 or \/, a leading zero or
 * "-0" are all refused as non-canonical.
 */
#include "contract.h"
#include "contract_int.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"
#include "common/util.h"
#include "crypto.h"

/* Integers in the document stay below 2^53 (exact in every JSON reader). */
#define CONTRACT_INT_MAX ((1ull << 53) - 1)

static const char *const ROLE_NAMES[] = {"analyst", "auditor", "provider"}; /* sorted, bit i */

int contract_refuse(char *why, size_t whylen, const char *fmt, ...) {
  if (why != NULL && whylen > 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
  }
  return CDR_ERR_CONTRACT_INVALID;
}

size_t cdr_contract_measurement_len(const char *platform) {
  if (platform == NULL)
    return 0;
  if (strcmp(platform, "sim") == 0)
    return 32;
  if (strcmp(platform, "snp") == 0 || strcmp(platform, "tdx") == 0 || strcmp(platform, "nitro") == 0)
    return 48;
  return 0;
}

unsigned cdr_contract_role_from_name(const char *s) {
  for (unsigned i = 0; s != NULL && i < 3; i++)
    if (strcmp(s, ROLE_NAMES[i]) == 0)
      return 1u << i;
  return 0;
}

const char *cdr_contract_role_name(unsigned role) {
  for (unsigned i = 0; i < 3; i++)
    if (role == 1u << i)
      return ROLE_NAMES[i];
  return NULL;
}

int cdr_contract_alloc(struct cdr_contract *c, size_t n_members, size_t n_witnesses) {
  memset(c, 0, sizeof(*c));
  if (n_members > CDR_CONTRACT_MAX_MEMBERS || n_witnesses > CDR_CONTRACT_MAX_WITNESSES)
    return CDR_ERR_TOO_LARGE;
  if (n_members > 0 && (c->members = calloc(n_members, sizeof(*c->members))) == NULL)
    return CDR_ERR_NOMEM;
  if (n_witnesses > 0 && (c->witnesses = calloc(n_witnesses, sizeof(*c->witnesses))) == NULL) {
    cdr_contract_free(c);
    return CDR_ERR_NOMEM;
  }
  c->n_members = n_members;
  c->n_witnesses = n_witnesses;
  return 0;
}

void cdr_contract_free(struct cdr_contract *c) {
  if (c == NULL)
    return;
  for (size_t i = 0; c->members != NULL && i < c->n_members; i++)
    free(c->members[i].name);
  for (size_t i = 0; c->witnesses != NULL && i < c->n_witnesses; i++)
    free(c->witnesses[i].url);
  free(c->members);
  free(c->witnesses);
  free(c->room_name);
  memset(c, 0, sizeof(*c));
}

size_t cdr_contract_witness_quorum(const struct cdr_contract *c) {
  return c->n_witnesses == 0 ? 0 : (c->n_witnesses + (size_t)c->witness_faults + 2) / 2;
}

long cdr_contract_find_member(const struct cdr_contract *c, const uint8_t key_sha256[32]) {
  size_t lo = 0, hi = c->n_members; /* members are sorted by key */
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int d = memcmp(c->members[mid].key_sha256, key_sha256, 32);
    if (d == 0)
      return (long)mid;
    if (d < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return -1;
}

static int all_zero(const uint8_t *p, size_t n) {
  uint8_t acc = 0;
  for (size_t i = 0; i < n; i++)
    acc |= p[i];
  return acc == 0;
}

/* Code points a name may not hold because they do not show, or show
 * differently from one reader to the next, so that two names could look
 * the same to the members who read a draft (PROTOCOL.md 8.1): controls,
 * spaces other than U+0020, format and invisible characters, variation
 * selectors, private use and noncharacters.  Sorted, inclusive ranges. */
static const uint32_t NAME_REFUSED[][2] = {
    {0x0000, 0x001F},   {0x007F, 0x00A0},   {0x00AD, 0x00AD},   {0x034F, 0x034F},   {0x061C, 0x061C},
    {0x115F, 0x1160},   {0x1680, 0x1680},   {0x17B4, 0x17B5},   {0x180B, 0x180F},   {0x2000, 0x200F},
    {0x2028, 0x202F},   {0x205F, 0x206F},   {0x3000, 0x3000},   {0x3164, 0x3164},   {0xE000, 0xF8FF},
    {0xFDD0, 0xFDEF},   {0xFE00, 0xFE0F},   {0xFEFF, 0xFEFF},   {0xFFA0, 0xFFA0},   {0xFFF0, 0xFFFB},
    {0x1BCA0, 0x1BCA3}, {0x1D173, 0x1D17A}, {0xE0000, 0xE0FFF}, {0xF0000, 0x10FFFF}};

static int name_cp_refused(uint32_t cp) {
  if ((cp & 0xFFFE) == 0xFFFE) /* U+xFFFE, U+xFFFF: noncharacters in every plane */
    return 1;
  for (size_t i = 0; i < sizeof(NAME_REFUSED) / sizeof(NAME_REFUSED[0]); i++)
    if (cp >= NAME_REFUSED[i][0] && cp <= NAME_REFUSED[i][1])
      return 1;
  return 0;
}

/* A display or room name: 1..maxlen bytes of strict UTF-8, no code point
 * of NAME_REFUSED, no space at either end and no two spaces in a row. */
static int text_ok(const char *s, size_t maxlen) {
  if (s == NULL)
    return 0;
  size_t n = strlen(s);
  if (n == 0 || n > maxlen || !cdr_utf8_valid((const uint8_t *)s, n))
    return 0;
  if (s[0] == ' ' || s[n - 1] == ' ' || strstr(s, "  ") != NULL)
    return 0;
  for (size_t i = 0; i < n;) {
    const uint8_t *p = (const uint8_t *)s + i;
    /* Well-formed (checked above), so the lead byte gives the length. */
    size_t len = p[0] < 0x80 ? 1 : p[0] < 0xE0 ? 2 : p[0] < 0xF0 ? 3 : 4;
    uint32_t cp = len == 1 ? p[0] : len == 2 ? (uint32_t)(p[0] & 0x1F) : len == 3 ? (uint32_t)(p[0] & 0x0F)
                                                                                  : (uint32_t)(p[0] & 0x07);
    for (size_t k = 1; k < len; k++)
      cp = cp << 6 | (uint32_t)(p[k] & 0x3F);
    if (name_cp_refused(cp))
      return 0;
    i += len;
  }
  return 1;
}

/* A witness URL: https://, printable ASCII, at most CDR_CONTRACT_MAX_URL. */
static int url_ok(const char *s) {
  if (s == NULL || strncmp(s, "https://", 8) != 0 || strlen(s) <= 8 || strlen(s) > CDR_CONTRACT_MAX_URL)
    return 0;
  for (const char *p = s; *p; p++)
    if ((uint8_t)*p <= 0x20 || (uint8_t)*p >= 0x7f)
      return 0;
  return 1;
}

static int validate_members(const struct cdr_contract *c, char *why, size_t whylen) {
  if (c->n_members == 0 || c->members == NULL)
    return contract_refuse(why, whylen, "members: a contract lists at least one member");
  if (c->n_members > CDR_CONTRACT_MAX_MEMBERS)
    return contract_refuse(why, whylen, "members: more than %u members", CDR_CONTRACT_MAX_MEMBERS);
  for (size_t i = 0; i < c->n_members; i++) {
    const struct cdr_contract_member *m = &c->members[i];
    if (!text_ok(m->name, CDR_MAX_NAME_LEN))
      return contract_refuse(why, whylen,
                 "members[%zu].name: a display name is 1 to %u bytes of UTF-8 of visible text (PROTOCOL 8.1: "
                 "no control, format, invisible or private-use character, no space at an end or two in a row)", i,
                 CDR_MAX_NAME_LEN);
    if (m->roles == 0 || (m->roles & ~CDR_CONTRACT_ROLE_ALL) != 0)
      return contract_refuse(why, whylen, "members[%zu].roles: a non-empty set of analyst, auditor, provider", i);
    if (all_zero(m->key_sha256, 32))
      return contract_refuse(why, whylen, "members[%zu].key_sha256: all zero", i);
    if (i > 0) {
      int d = memcmp(c->members[i - 1].key_sha256, m->key_sha256, 32);
      if (d == 0)
        return contract_refuse(why, whylen, "members[%zu].key_sha256: the same key as members[%zu]", i, i - 1);
      if (d > 0)
        return contract_refuse(why, whylen, "members[%zu].key_sha256: members must be sorted by key_sha256", i);
    }
    for (size_t j = 0; j < i; j++)
      if (cdr_ascii_casecmp(c->members[j].name, m->name) == 0) /* "Alice" and "alice" are one name to a reader */
        return contract_refuse(why, whylen, "members[%zu].name: the same display name as members[%zu]", i, j);
  }
  return 0;
}

static int validate_lists(const struct cdr_contract *c, char *why, size_t whylen) {
  size_t mlen = cdr_contract_measurement_len(c->platform);
  if (mlen == 0)
    return contract_refuse(why, whylen, "platform: one of sim, snp, tdx, nitro");
  if (c->n_measurements == 0 || c->n_measurements > CDR_CONTRACT_MAX_MEASUREMENTS)
    return contract_refuse(why, whylen, "measurements: 1 to %u measurements", CDR_CONTRACT_MAX_MEASUREMENTS);
  for (size_t i = 1; i < c->n_measurements; i++) {
    int d = memcmp(c->measurements[i - 1], c->measurements[i], mlen);
    if (d >= 0)
      return contract_refuse(why, whylen, "measurements[%zu]: measurements must be sorted and distinct", i);
  }
  if (c->has_snp_min_tcb && strcmp(c->platform, "snp") != 0)
    return contract_refuse(why, whylen, "snp_min_tcb: only on platform snp");
  if (c->n_witnesses > CDR_CONTRACT_MAX_WITNESSES || (c->n_witnesses > 0 && c->witnesses == NULL))
    return contract_refuse(why, whylen, "witnesses: at most %u witnesses", CDR_CONTRACT_MAX_WITNESSES);
  for (size_t i = 0; i < c->n_witnesses; i++) {
    if (!url_ok(c->witnesses[i].url))
      return contract_refuse(why, whylen, "witnesses[%zu].url: https:// and printable ASCII, at most %u bytes", i,
                 CDR_CONTRACT_MAX_URL);
    if (i > 0 && memcmp(c->witnesses[i - 1].key_sha256, c->witnesses[i].key_sha256, 32) >= 0)
      return contract_refuse(why, whylen, "witnesses[%zu].key_sha256: witnesses must be sorted by key_sha256 and distinct", i);
  }
  /* n >= 3f + 1: quorums of ceil((n + f + 1) / 2) then overlap in an
   * honest witness and stay reachable with f gone (ARCHITECTURE "Witnesses"). */
  if (c->witness_faults > 0 && c->n_witnesses < 3u * (size_t)c->witness_faults + 1u)
    return contract_refuse(why, whylen,
                           "witness_faults: %u faulty witnesses need at least %u witnesses (n >= 3f + 1), not %zu",
                           c->witness_faults, 3u * c->witness_faults + 1u, c->n_witnesses);
  return 0;
}

int cdr_contract_validate(const struct cdr_contract *c, char *why, size_t whylen) {
  int r;
  if (c == NULL)
    return contract_refuse(why, whylen, "no contract");
  if (!text_ok(c->room_name, CDR_MAX_NAME_LEN))
    return contract_refuse(why, whylen, "room_name: 1 to %u bytes of UTF-8 of visible text (PROTOCOL 8.1)", CDR_MAX_NAME_LEN);
  if (c->version == 0 || c->version > CONTRACT_INT_MAX)
    return contract_refuse(why, whylen, "version: an integer from 1 to 2^53-1");
  if (c->version == 1 && !all_zero(c->previous_sha256, 32))
    return contract_refuse(why, whylen, "previous_sha256: version 1 has no previous version");
  if (c->version > 1 && all_zero(c->previous_sha256, 32))
    return contract_refuse(why, whylen, "previous_sha256: required from version 2 on (the hash of the version before)");
  if (all_zero(c->ca_sha256, 32))
    return contract_refuse(why, whylen, "ca_sha256: all zero");
  if (memchr(c->governance, '\0', sizeof(c->governance)) == NULL ||
      strcmp(c->governance, CDR_CONTRACT_GOVERNANCE) != 0)
    return contract_refuse(why, whylen, "governance: must be \"%s\"", CDR_CONTRACT_GOVERNANCE);
  if (memchr(c->platform, '\0', sizeof(c->platform)) == NULL)
    return contract_refuse(why, whylen, "platform: one of sim, snp, tdx, nitro");
  if ((r = validate_lists(c, why, whylen)) != 0)
    return r;
  return validate_members(c, why, whylen);
}

/* ---- encoding ---- */

static int set_new(json_t *o, const char *k, json_t *v) {
  return v != NULL && json_object_set_new(o, k, v) == 0 ? 0 : CDR_ERR_NOMEM;
}

static json_t *hex_value(const uint8_t *p, size_t n) {
  char hex[2 * CDR_CONTRACT_MEASUREMENT_MAX + 1];
  cdr_hex_encode(hex, p, n);
  return json_string(hex);
}

static int append_new(json_t *a, json_t *v) { return v != NULL && json_array_append_new(a, v) == 0 ? 0 : CDR_ERR_NOMEM; }

static int encode_members(json_t *o, const struct cdr_contract *c) {
  json_t *arr = json_array();
  int r = set_new(o, "members", arr);
  for (size_t i = 0; r == 0 && i < c->n_members; i++) {
    const struct cdr_contract_member *m = &c->members[i];
    json_t *mo = json_object(), *roles = json_array();
    if ((r = append_new(arr, mo)) != 0) {
      json_decref(roles);
      break;
    }
    if ((r = set_new(mo, "roles", roles)) != 0 || (r = set_new(mo, "key_sha256", hex_value(m->key_sha256, 32))) != 0 ||
        (r = set_new(mo, "name", json_string(m->name))) != 0)
      break;
    for (unsigned b = 0; r == 0 && b < 3; b++)
      if (m->roles & (1u << b))
        r = append_new(roles, json_string(ROLE_NAMES[b]));
  }
  return r;
}

static int encode_lists(json_t *o, const struct cdr_contract *c) {
  size_t mlen = cdr_contract_measurement_len(c->platform);
  json_t *ms = json_array(), *ws = json_array();
  int r = set_new(o, "measurements", ms);
  if (r != 0) {
    json_decref(ws);
    return r;
  }
  if ((r = set_new(o, "witnesses", ws)) != 0)
    return r;
  for (size_t i = 0; r == 0 && i < c->n_measurements; i++)
    r = append_new(ms, hex_value(c->measurements[i], mlen));
  for (size_t i = 0; r == 0 && i < c->n_witnesses; i++) {
    json_t *wo = json_object();
    if ((r = append_new(ws, wo)) == 0 && (r = set_new(wo, "key_sha256", hex_value(c->witnesses[i].key_sha256, 32))) == 0)
      r = set_new(wo, "url", json_string(c->witnesses[i].url));
  }
  if (r == 0 && c->witness_faults > 0)
    r = set_new(o, "witness_faults", json_integer(c->witness_faults));
  if (r == 0 && c->has_snp_min_tcb) {
    json_t *t = json_object();
    if ((r = set_new(o, "snp_min_tcb", t)) == 0 && (r = set_new(t, "bootloader", json_integer(c->snp_min_tcb.bootloader))) == 0 &&
        (r = set_new(t, "tee", json_integer(c->snp_min_tcb.tee))) == 0 &&
        (r = set_new(t, "snp", json_integer(c->snp_min_tcb.snp))) == 0)
      r = set_new(t, "microcode", json_integer(c->snp_min_tcb.microcode));
  }
  return r;
}

/* The canonical bytes of a JSON value: compact, keys sorted, UTF-8 raw. */
static int dump_canonical(const json_t *o, uint8_t **out, size_t *outlen) {
  const size_t flags = JSON_COMPACT | JSON_SORT_KEYS;
  size_t n = json_dumpb(o, NULL, 0, flags);
  if (n == 0)
    return CDR_ERR_NOMEM;
  uint8_t *p = malloc(n + 1);
  if (p == NULL)
    return CDR_ERR_NOMEM;
  if (json_dumpb(o, (char *)p, n, flags) != n) {
    free(p);
    return CDR_ERR_INTERNAL;
  }
  p[n] = '\0';
  *out = p;
  *outlen = n;
  return 0;
}

int cdr_contract_encode(const struct cdr_contract *c, uint8_t **out, size_t *outlen, char *why, size_t whylen) {
  json_t *o = NULL;
  int r;

  *out = NULL;
  *outlen = 0;
  if ((r = cdr_contract_validate(c, why, whylen)) != 0)
    return r;
  if ((o = json_object()) == NULL)
    return CDR_ERR_NOMEM;
  if ((r = set_new(o, "type", json_string(CDR_CONTRACT_TYPE))) != 0 ||
      (r = set_new(o, "room_id", hex_value(c->room_id, CDR_ROOM_ID_BYTES))) != 0 ||
      (r = set_new(o, "room_name", json_string(c->room_name))) != 0 ||
      (r = set_new(o, "version", json_integer((json_int_t)c->version))) != 0 ||
      (r = set_new(o, "ca_sha256", hex_value(c->ca_sha256, 32))) != 0 ||
      (r = set_new(o, "platform", json_string(c->platform))) != 0 ||
      (r = set_new(o, "governance", json_string(c->governance))) != 0)
    goto out;
  if (c->version > 1 && (r = set_new(o, "previous_sha256", hex_value(c->previous_sha256, 32))) != 0)
    goto out;
  if ((r = encode_lists(o, c)) != 0 || (r = encode_members(o, c)) != 0)
    goto out;
  r = dump_canonical(o, out, outlen);
out:
  json_decref(o);
  return r;
}

int cdr_contract_hash(const struct cdr_contract *c, uint8_t out[32]) {
  uint8_t *doc = NULL;
  size_t len = 0;
  int r = cdr_contract_encode(c, &doc, &len, NULL, 0);
  if (r == 0)
    r = cdr_sha256(out, doc, len);
  free(doc);
  return r;
}

/* ---- parsing ---- */

static const char *type_name(const json_t *v) {
  switch (json_typeof(v)) {
  case JSON_OBJECT: return "an object";
  case JSON_ARRAY: return "an array";
  case JSON_STRING: return "a string";
  case JSON_INTEGER: return "an integer";
  case JSON_REAL: return "a number with a fraction or exponent";
  default: return "true, false or null";
  }
}

/* Every key of o is in the NULL-terminated list known; a key is printed
 * in the reason only when it is short printable ASCII. */
static int keys_known(const json_t *o, const char *where, const char *const *known, char *why, size_t whylen) {
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)o, k, v) {
    size_t i = 0;
    while (known[i] != NULL && strcmp(known[i], k) != 0)
      i++;
    if (known[i] != NULL)
      continue;
    int printable = strlen(k) <= 40;
    for (const char *q = k; printable && *q; q++)
      printable = (uint8_t)*q >= 0x20 && (uint8_t)*q < 0x7f && *q != '"' && *q != '\\';
    if (printable)
      return contract_refuse(why, whylen, "%s: unknown field \"%s\"", where, k);
    return contract_refuse(why, whylen, "%s: an unknown field", where);
  }
  return 0;
}

/* Member k of o, of type t; CDR_ERR_NOT_FOUND (no reason) if absent and
 * optional. */
static int get(const json_t *o, const char *where, const char *k, json_type t, int required, json_t **v, char *why,
               size_t whylen) {
  *v = json_object_get(o, k);
  if (*v == NULL)
    return required ? contract_refuse(why, whylen, "%s%s: missing", where, k) : CDR_ERR_NOT_FOUND;
  if (json_typeof(*v) != t)
    return contract_refuse(why, whylen, "%s%s: must be %s, not %s", where, k,
               t == JSON_OBJECT ? "an object" : t == JSON_ARRAY ? "an array" : t == JSON_STRING ? "a string" : "an integer",
               type_name(*v));
  return 0;
}

static int get_hex(const json_t *o, const char *where, const char *k, uint8_t *out, size_t n, char *why, size_t whylen) {
  json_t *v;
  int r = get(o, where, k, JSON_STRING, 1, &v, why, whylen);
  if (r != 0)
    return r;
  const char *s = json_string_value(v);
  if (json_string_length(v) != 2 * n || !cdr_hex_lower_ok(s, 2 * n) || cdr_hex_decode(out, n, s) != 0)
    return contract_refuse(why, whylen, "%s%s: must be %zu lower-case hex digits", where, k, 2 * n);
  return 0;
}

static int get_uint(const json_t *o, const char *where, const char *k, uint64_t max, uint64_t *out, char *why,
                    size_t whylen) {
  json_t *v;
  int r = get(o, where, k, JSON_INTEGER, 1, &v, why, whylen);
  if (r != 0)
    return r;
  json_int_t i = json_integer_value(v);
  if (i < 0 || (uint64_t)i > max)
    return contract_refuse(why, whylen, "%s%s: an integer from 0 to %llu", where, k, (unsigned long long)max);
  *out = (uint64_t)i;
  return 0;
}

/* A text member, copied; the rules are checked by cdr_contract_validate. */
static int get_text(const json_t *o, const char *where, const char *k, size_t maxlen, char **out, char *why,
                    size_t whylen) {
  json_t *v;
  int r = get(o, where, k, JSON_STRING, 1, &v, why, whylen);
  if (r != 0)
    return r;
  size_t n = json_string_length(v);
  if (n > maxlen || memchr(json_string_value(v), '\0', n) != NULL || !text_ok(json_string_value(v), maxlen))
    return contract_refuse(why, whylen, "%s%s: 1 to %zu bytes of UTF-8 of visible text (PROTOCOL 8.1: no control, format, invisible or "
                           "private-use character, no space at an end or two in a row)", where, k, maxlen);
  if ((*out = strdup(json_string_value(v))) == NULL)
    return CDR_ERR_NOMEM;
  return 0;
}

static int parse_roles(const json_t *mo, const char *where, unsigned *roles, char *why, size_t whylen) {
  json_t *a, *v;
  size_t i;
  int r = get(mo, where, "roles", JSON_ARRAY, 1, &a, why, whylen);
  if (r != 0)
    return r;
  *roles = 0;
  if (json_array_size(a) == 0 || json_array_size(a) > 3)
    return contract_refuse(why, whylen, "%sroles: a non-empty list of analyst, auditor, provider", where);
  json_array_foreach(a, i, v) {
    unsigned bit = json_is_string(v) ? cdr_contract_role_from_name(json_string_value(v)) : 0;
    if (bit == 0)
      return contract_refuse(why, whylen, "%sroles[%zu]: not a role (analyst, auditor, provider)", where, i);
    if (bit <= *roles)
      return contract_refuse(why, whylen, "%sroles[%zu]: roles must be sorted and distinct", where, i);
    *roles |= bit;
  }
  return 0;
}

static int parse_members(const json_t *o, struct cdr_contract *c, char *why, size_t whylen) {
  static const char *const known[] = {"key_sha256", "name", "roles", NULL};
  char where[48];
  json_t *a, *mo;
  size_t i;
  int r = get(o, "", "members", JSON_ARRAY, 1, &a, why, whylen);
  if (r != 0)
    return r;
  if (json_array_size(a) > CDR_CONTRACT_MAX_MEMBERS)
    return contract_refuse(why, whylen, "members: more than %u members", CDR_CONTRACT_MAX_MEMBERS);
  if (json_array_size(a) > 0 && (c->members = calloc(json_array_size(a), sizeof(*c->members))) == NULL)
    return CDR_ERR_NOMEM;
  json_array_foreach(a, i, mo) {
    struct cdr_contract_member *m = &c->members[i];
    snprintf(where, sizeof(where), "members[%zu].", i);
    c->n_members = i + 1;
    if (!json_is_object(mo))
      return contract_refuse(why, whylen, "members[%zu]: must be an object", i);
    if ((r = keys_known(mo, where, known, why, whylen)) != 0 ||
        (r = get_hex(mo, where, "key_sha256", m->key_sha256, 32, why, whylen)) != 0 ||
        (r = get_text(mo, where, "name", CDR_MAX_NAME_LEN, &m->name, why, whylen)) != 0 ||
        (r = parse_roles(mo, where, &m->roles, why, whylen)) != 0)
      return r;
  }
  return 0;
}

static int parse_witnesses(const json_t *o, struct cdr_contract *c, char *why, size_t whylen) {
  static const char *const known[] = {"key_sha256", "url", NULL};
  char where[48];
  json_t *a, *wo;
  size_t i;
  int r = get(o, "", "witnesses", JSON_ARRAY, 1, &a, why, whylen);
  if (r != 0)
    return r;
  if (json_array_size(a) > CDR_CONTRACT_MAX_WITNESSES)
    return contract_refuse(why, whylen, "witnesses: more than %u witnesses", CDR_CONTRACT_MAX_WITNESSES);
  if (json_array_size(a) > 0 && (c->witnesses = calloc(json_array_size(a), sizeof(*c->witnesses))) == NULL)
    return CDR_ERR_NOMEM;
  json_array_foreach(a, i, wo) {
    struct cdr_contract_witness *w = &c->witnesses[i];
    json_t *u;
    snprintf(where, sizeof(where), "witnesses[%zu].", i);
    c->n_witnesses = i + 1;
    if (!json_is_object(wo))
      return contract_refuse(why, whylen, "witnesses[%zu]: must be an object", i);
    if ((r = keys_known(wo, where, known, why, whylen)) != 0 ||
        (r = get_hex(wo, where, "key_sha256", w->key_sha256, 32, why, whylen)) != 0 ||
        (r = get(wo, where, "url", JSON_STRING, 1, &u, why, whylen)) != 0)
      return r;
    if (json_string_length(u) > CDR_CONTRACT_MAX_URL || !url_ok(json_string_value(u)))
      return contract_refuse(why, whylen, "%surl: https:// and printable ASCII, at most %u bytes", where, CDR_CONTRACT_MAX_URL);
    if ((w->url = strdup(json_string_value(u))) == NULL)
      return CDR_ERR_NOMEM;
  }
  /* Absent means 0; 0 itself is written by leaving it out (canonical). */
  uint64_t f = 0;
  if (json_object_get(o, "witness_faults") == NULL)
    return 0;
  if ((r = get_uint(o, "", "witness_faults", CDR_CONTRACT_MAX_WITNESSES, &f, why, whylen)) != 0)
    return r;
  if (f == 0)
    return contract_refuse(why, whylen, "witness_faults: 0 is written by leaving the member out");
  c->witness_faults = (unsigned)f;
  return 0;
}

static int parse_platform(const json_t *o, struct cdr_contract *c, char *why, size_t whylen) {
  static const char *const tcb_known[] = {"bootloader", "microcode", "snp", "tee", NULL};
  json_t *v, *a;
  size_t i, mlen;
  uint64_t t[4];
  int r = get(o, "", "platform", JSON_STRING, 1, &v, why, whylen);
  if (r != 0)
    return r;
  if (strlen(json_string_value(v)) != json_string_length(v) ||
      (mlen = cdr_contract_measurement_len(json_string_value(v))) == 0)
    return contract_refuse(why, whylen, "platform: one of sim, snp, tdx, nitro");
  memcpy(c->platform, json_string_value(v), json_string_length(v) + 1);
  if ((r = get(o, "", "measurements", JSON_ARRAY, 1, &a, why, whylen)) != 0)
    return r;
  if (json_array_size(a) == 0 || json_array_size(a) > CDR_CONTRACT_MAX_MEASUREMENTS)
    return contract_refuse(why, whylen, "measurements: 1 to %u measurements", CDR_CONTRACT_MAX_MEASUREMENTS);
  json_array_foreach(a, i, v) {
    if (!json_is_string(v) || json_string_length(v) != 2 * mlen || !cdr_hex_lower_ok(json_string_value(v), 2 * mlen) ||
        cdr_hex_decode(c->measurements[i], mlen, json_string_value(v)) != 0)
      return contract_refuse(why, whylen, "measurements[%zu]: must be %zu lower-case hex digits (a %s measurement is %zu bytes)", i,
                 2 * mlen, c->platform, mlen);
    c->n_measurements = i + 1;
  }
  if ((r = get(o, "", "snp_min_tcb", JSON_OBJECT, 0, &v, why, whylen)) == CDR_ERR_NOT_FOUND)
    return 0;
  if (r != 0 || (r = keys_known(v, "snp_min_tcb", tcb_known, why, whylen)) != 0 ||
      (r = get_uint(v, "snp_min_tcb.", "bootloader", 255, &t[0], why, whylen)) != 0 ||
      (r = get_uint(v, "snp_min_tcb.", "tee", 255, &t[1], why, whylen)) != 0 ||
      (r = get_uint(v, "snp_min_tcb.", "snp", 255, &t[2], why, whylen)) != 0 ||
      (r = get_uint(v, "snp_min_tcb.", "microcode", 255, &t[3], why, whylen)) != 0)
    return r;
  c->has_snp_min_tcb = 1;
  c->snp_min_tcb = (struct cdr_contract_snp_tcb){(uint8_t)t[0], (uint8_t)t[1], (uint8_t)t[2], (uint8_t)t[3]};
  return 0;
}

static int parse_top(const json_t *o, struct cdr_contract *c, char *why, size_t whylen) {
  static const char *const known[] = {"ca_sha256", "governance", "measurements", "members", "platform",
                                      "previous_sha256", "room_id", "room_name", "snp_min_tcb", "type",
                                      "version", "witness_faults", "witnesses", NULL};
  json_t *v;
  int r;
  if ((r = keys_known(o, "contract", known, why, whylen)) != 0 ||
      (r = get(o, "", "type", JSON_STRING, 1, &v, why, whylen)) != 0)
    return r;
  if (strcmp(json_string_value(v), CDR_CONTRACT_TYPE) != 0)
    return contract_refuse(why, whylen, "type: must be \"%s\"", CDR_CONTRACT_TYPE);
  if ((r = get_uint(o, "", "version", CONTRACT_INT_MAX, &c->version, why, whylen)) != 0)
    return r;
  if (c->version == 0)
    return contract_refuse(why, whylen, "version: versions start at 1");
  r = get(o, "", "previous_sha256", JSON_STRING, 0, &v, why, whylen);
  if (r == CDR_ERR_NOT_FOUND && c->version > 1)
    return contract_refuse(why, whylen, "previous_sha256: required from version 2 on (the hash of the version before)");
  if (r == 0 && c->version == 1)
    return contract_refuse(why, whylen, "previous_sha256: version 1 has no previous version (omit the field)");
  if ((r == 0 && (r = get_hex(o, "", "previous_sha256", c->previous_sha256, 32, why, whylen)) != 0) ||
      (r != 0 && r != CDR_ERR_NOT_FOUND))
    return r;
  if ((r = get_hex(o, "", "room_id", c->room_id, CDR_ROOM_ID_BYTES, why, whylen)) != 0 ||
      (r = get_text(o, "", "room_name", CDR_MAX_NAME_LEN, &c->room_name, why, whylen)) != 0 ||
      (r = get_hex(o, "", "ca_sha256", c->ca_sha256, 32, why, whylen)) != 0 ||
      (r = get(o, "", "governance", JSON_STRING, 1, &v, why, whylen)) != 0)
    return r;
  if (strcmp(json_string_value(v), CDR_CONTRACT_GOVERNANCE) != 0)
    return contract_refuse(why, whylen, "governance: the only rule is \"%s\"", CDR_CONTRACT_GOVERNANCE);
  memcpy(c->governance, CDR_CONTRACT_GOVERNANCE, sizeof(CDR_CONTRACT_GOVERNANCE));
  if ((r = parse_platform(o, c, why, whylen)) != 0 || (r = parse_witnesses(o, c, why, whylen)) != 0)
    return r;
  return parse_members(o, c, why, whylen);
}

/* Index of the first byte where a and b differ. */
static size_t first_diff(const uint8_t *a, size_t an, const uint8_t *b, size_t bn) {
  size_t i = 0;
  while (i < an && i < bn && a[i] == b[i])
    i++;
  return i;
}

int cdr_contract_parse(const uint8_t *p, size_t len, struct cdr_contract *c, char *why, size_t whylen) {
  json_error_t jerr;
  json_t *o = NULL;
  uint8_t *again = NULL;
  size_t again_len = 0;
  int r;

  memset(c, 0, sizeof(*c));
  if (why != NULL && whylen > 0)
    why[0] = '\0';
  if (p == NULL || len == 0 || len > CDR_CONTRACT_MAX_BYTES)
    return contract_refuse(why, whylen, "contract: 1 to %u bytes", CDR_CONTRACT_MAX_BYTES);
  if (!cdr_utf8_valid(p, len))
    return contract_refuse(why, whylen, "contract: not valid UTF-8");
  if ((o = json_loadb((const char *)p, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
    r = contract_refuse(why, whylen, "contract: not valid JSON at byte %d: %s", jerr.position, jerr.text);
    goto out;
  }
  if (!json_is_object(o)) {
    r = contract_refuse(why, whylen, "contract: must be a JSON object");
    goto out;
  }
  if ((r = parse_top(o, c, why, whylen)) != 0 || (r = cdr_contract_validate(c, why, whylen)) != 0 ||
      (r = cdr_contract_encode(c, &again, &again_len, why, whylen)) != 0)
    goto out;
  if (again_len != len || memcmp(again, p, len) != 0)
    r = contract_refuse(why, whylen,
            "contract: not in canonical form from byte %zu (keys sorted, no whitespace, no escapes but \\\" and "
            "\\\\, UTF-8 written raw)",
            first_diff(p, len, again, again_len));
out:
  free(again);
  json_decref(o);
  if (r != 0) {
    if (r != CDR_ERR_NOMEM && r != CDR_ERR_CONTRACT_INVALID)
      r = CDR_ERR_CONTRACT_INVALID;
    cdr_contract_free(c);
  }
  return r;
}
