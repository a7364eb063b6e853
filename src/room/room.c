/*
 * room.c - a room folder as it is read (contracts in room.h): opening
 * room.json and ca.crt, the checks on user and room names, the token's
 * user PIN, and the attestation providers a room may name.  Creating a
 * room is room_init.c.
 *
 * room.json (no secrets; written by room_init.c):
 *   {"version":1, "room_id":"<32 hex>", "name":"...", "created_at":<s>,
 *    "pkcs11_module":"/abs/path.so", "token_label":"...",
 *    "ca_key_label":"...", "embedded_softhsm":true, "attestation":"sim"}
 * attestation: sim, snp, tdx, nitro or auto; cdrd passes it to the
 * enclave as --attestation.  Only a sim room has ROOM/attestation/.
 *
 * This file calls nothing else in room/, so ca.c, tokens.c and
 * room_init.c can all rely on it without a cycle.
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/limits.h"
#include "common/log.h"
#include "common/util.h"
#include "hsm.h"
#include "room.h"
#include "room_int.h"

#define ROOM_JSON_MAX (64u * CDR_KiB)
#define PIN_FILE_MAX 1024u

/* ---- names ---- */

/* Decode one UTF-8 sequence at s (n bytes left): code point into *cp,
 * length returned, 0 if invalid (overlong, surrogate, > U+10FFFF). */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp) {
  uint32_t c;
  size_t len;
  if (s[0] < 0x80) {
    *cp = s[0];
    return 1;
  }
  if (s[0] >= 0xc2 && s[0] <= 0xdf) {
    len = 2;
    c = s[0] & 0x1f;
  } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
    len = 3;
    c = s[0] & 0x0f;
  } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
    len = 4;
    c = s[0] & 0x07;
  } else {
    return 0;
  }
  if (n < len)
    return 0;
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xc0) != 0x80)
      return 0;
    c = (c << 6) | (s[i] & 0x3f);
  }
  if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10ffff)) || (c >= 0xd800 && c <= 0xdfff))
    return 0;
  *cp = c;
  return len;
}

static int codepoint_printable(uint32_t c) {
  if (c < 0x20 || (c >= 0x7f && c <= 0x9f))
    return 0; /* C0, DEL, C1 */
  if ((c >= 0x200b && c <= 0x200f) || (c >= 0x202a && c <= 0x202e) || (c >= 0x2060 && c <= 0x2069) ||
      c == 0xfeff || c == 0x2028 || c == 0x2029 || c == 0xfffe || c == 0xffff)
    return 0; /* zero-width, bidi controls, separators, non-characters */
  return 1;
}

int cdr_room_name_check(const char *s) {
  size_t n = s == NULL ? 0 : strlen(s);
  if (n == 0 || n > CDR_MAX_NAME_LEN)
    return CDR_ERR_ARG;
  if (s[0] == ' ' || s[0] == '#' || s[n - 1] == ' ')
    return CDR_ERR_ARG;
  const unsigned char *p = (const unsigned char *)s;
  for (size_t i = 0; i < n;) {
    uint32_t c;
    size_t len = utf8_decode(p + i, n - i, &c);
    if (len == 0 || !codepoint_printable(c) || (c < 0x80 && strchr(",=+\"\\<>;/", (int)c) != NULL))
      return CDR_ERR_ARG;
    i += len;
  }
  return 0;
}

/* ---- the room struct ---- */

void cdr_room_free(struct cdr_room *room) {
  if (room == NULL)
    return;
  free(room->dir);
  free(room->name);
  free(room->pkcs11_module);
  free(room->token_label);
  free(room->ca_key_label);
  free(room->attestation);
  X509_free(room->ca_cert);
  free(room);
}

int cdr_room_path(const struct cdr_room *room, const char *rel, char **out) {
  return (*out = cdr_path_join(room->dir, rel)) == NULL ? CDR_ERR_NOMEM : 0;
}

int cdr_room_user_pin(const struct cdr_room *room, char **pin) {
  const char *env = getenv("CDR_HSM_PIN");
  uint8_t *data = NULL;
  char *path = NULL, *p = NULL;
  size_t len = 0;
  struct stat st;
  int r;

  *pin = NULL;
  if (env != NULL && env[0] != '\0') {
    if ((*pin = strdup(env)) == NULL)
      return CDR_ERR_NOMEM;
    return 0;
  }
  if (!room->embedded_softhsm) {
    log_error("the PIN of PKCS#11 token \"%s\" is needed: set CDR_HSM_PIN", room->token_label);
    return CDR_ERR_HSM;
  }
  if ((r = cdr_room_path(room, "hsm/user-pin", &path)) != 0)
    return r;
  if ((r = cdr_file_read(path, &data, &len, PIN_FILE_MAX)) != 0) {
    log_error("cannot read the token PIN from %s (set CDR_HSM_PIN instead)", path);
    r = CDR_ERR_HSM;
    goto out;
  }
  if (stat(path, &st) == 0 && (st.st_mode & 077) != 0)
    log_warn("%s is accessible to group or others; it should be mode 0600", path);
  while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
    len--;
  if (len == 0 || memchr(data, '\0', len) != NULL) {
    log_error("%s does not hold a PIN", path);
    r = CDR_ERR_HSM;
    goto out;
  }
  if ((p = malloc(len + 1)) == NULL) {
    r = CDR_ERR_NOMEM;
    goto out;
  }
  memcpy(p, data, len);
  p[len] = '\0';
  *pin = p;
  r = 0;
out:
  if (data != NULL)
    OPENSSL_clear_free(data, len + 1);
  free(path);
  return r;
}

/* ---- room.json ---- */

static int json_str(json_t *o, const char *key, char **out) {
  json_t *v = json_object_get(o, key);
  if (!json_is_string(v) || memchr(json_string_value(v), '\0', json_string_length(v)) != NULL)
    return CDR_ERR_BAD_JSON;
  return (*out = strdup(json_string_value(v))) == NULL ? CDR_ERR_NOMEM : 0;
}

int cdr_room_open(const char *dir, struct cdr_room **out) {
  struct cdr_room *room = NULL;
  uint8_t *data = NULL;
  size_t len = 0;
  char *path = NULL, *id = NULL;
  json_t *j = NULL, *v;
  json_error_t jerr;
  int r;

  *out = NULL;
  if (dir == NULL)
    return CDR_ERR_ARG;
  if ((room = calloc(1, sizeof(*room))) == NULL)
    return CDR_ERR_NOMEM;
  if ((room->dir = realpath(dir, NULL)) == NULL) {
    r = errno == ENOENT || errno == ENOTDIR ? CDR_ERR_NOT_FOUND : CDR_ERR_IO;
    goto out;
  }
  if ((r = cdr_room_path(room, "room.json", &path)) != 0)
    goto out;
  if ((r = cdr_file_read(path, &data, &len, ROOM_JSON_MAX)) != 0)
    goto out;
  if ((j = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL || !json_is_object(j)) {
    log_error("%s: %s", path, j == NULL ? jerr.text : "not an object");
    r = CDR_ERR_BAD_JSON;
    goto out;
  }
  v = json_object_get(j, "version");
  if (!json_is_integer(v) || json_integer_value(v) != CDR_ROOM_FORMAT_VERSION) {
    log_error("%s: unsupported room format version", path);
    r = CDR_ERR_UNSUPPORTED_VERSION;
    goto out;
  }
  if ((r = json_str(j, "room_id", &id)) != 0 || (r = json_str(j, "name", &room->name)) != 0 ||
      (r = json_str(j, "pkcs11_module", &room->pkcs11_module)) != 0 ||
      (r = json_str(j, "token_label", &room->token_label)) != 0 ||
      (r = json_str(j, "ca_key_label", &room->ca_key_label)) != 0 ||
      (r = json_str(j, "attestation", &room->attestation)) != 0)
    goto out;
  r = CDR_ERR_BAD_JSON;
  if (!cdr_room_attestation_ok(room->attestation)) {
    log_error("%s: unknown attestation provider \"%s\"", path, room->attestation);
    goto out;
  }
  if (strlen(id) != 2 * CDR_ROOM_ID_LEN || !cdr_hex_lower_ok(id, 2 * CDR_ROOM_ID_LEN) ||
      cdr_room_name_check(room->name) != 0 || room->pkcs11_module[0] != '/' || room->token_label[0] == '\0' ||
      strlen(room->token_label) > CDR_HSM_TOKEN_LABEL_MAX || room->ca_key_label[0] == '\0')
    goto out;
  memcpy(room->room_id, id, sizeof(room->room_id));
  v = json_object_get(j, "created_at");
  if (!json_is_integer(v))
    goto out;
  room->created_at = json_integer_value(v);
  v = json_object_get(j, "embedded_softhsm");
  if (!json_is_boolean(v))
    goto out;
  room->embedded_softhsm = json_is_true(v);
  free(path);
  if ((r = cdr_room_path(room, "ca.crt", &path)) != 0)
    goto out;
  if ((r = cdr_cert_load_pem(path, &room->ca_cert)) != 0) {
    log_error("%s: cannot load the room CA certificate", path);
    goto out;
  }
  *out = room;
  room = NULL;
  r = 0;
out:
  json_decref(j);
  free(data);
  free(path);
  free(id);
  cdr_room_free(room);
  return r;
}

/* ---- attestation providers ---- */

int cdr_room_attestation_ok(const char *s) {
  static const char *const known[] = {"sim", "snp", "tdx", "nitro", "auto"};
  for (size_t i = 0; s != NULL && i < sizeof(known) / sizeof(known[0]); i++)
    if (strcmp(s, known[i]) == 0)
      return 1;
  return 0;
}
