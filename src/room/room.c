/*
 * room.c - creating and opening a room folder (contracts in room.h).
 *
 * cdr_room_init runs in phases, each of which must finish before the
 * next starts:
 *   1. the folder, and for the embedded token hsm/softhsm2.conf and
 *      hsm/tokens/;
 *   2. the raw PKCS#11 module: initialise the embedded token (random SO
 *      PIN, discarded), log in, generate the CA key pair in the token,
 *      read its public key; unload the module;
 *   3. libp11 (cdr_ca_open): sign the CA certificate, then the sim
 *      platform certificate, inside the token;
 *   4. host.db, then room.json last: a folder without room.json is not a
 *      room, so an interrupted init never looks usable.
 * Phases 2 and 3 never overlap because PKCS#11 has one initialisation per
 * process (hsm.h).  On any failure the partial folder is removed, and on
 * an external token the key pair just generated is destroyed again.
 *
 * room.json (no secrets):
 *   {"version":1, "room_id":"<32 hex>", "name":"...", "created_at":<s>,
 *    "pkcs11_module":"/abs/path.so", "token_label":"...",
 *    "ca_key_label":"...", "embedded_softhsm":true, "attestation":"sim"}
 * attestation: sim, snp, tdx, nitro or auto; cdrd passes it to the
 * enclave as --attestation.  Only a sim room has ROOM/attestation/.
 */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/limits.h"
#include "common/log.h"
#include "common/util.h"
#include "crypto/crypto.h"
#include "hsm.h"
#include "room.h"
#include "room_int.h"

#define ROOM_JSON_MAX (64u * CDR_KiB)
#define ROOM_FORMAT_VERSION 1
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

static int room_path(const struct cdr_room *room, const char *rel, char **out) {
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
  if ((r = room_path(room, "hsm/user-pin", &path)) != 0)
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

static int room_json_write(const struct cdr_room *room) {
  json_t *j = NULL;
  char *text = NULL, *path = NULL;
  int r = CDR_ERR_NOMEM;

  j = json_pack("{s:i, s:s, s:s, s:I, s:s, s:s, s:s, s:b, s:s}", "version", ROOM_FORMAT_VERSION, "room_id",
                room->room_id, "name", room->name, "created_at", (json_int_t)room->created_at, "pkcs11_module",
                room->pkcs11_module, "token_label", room->token_label, "ca_key_label", room->ca_key_label,
                "embedded_softhsm", room->embedded_softhsm, "attestation", room->attestation);
  if (j == NULL || (text = json_dumps(j, JSON_INDENT(2))) == NULL || (r = room_path(room, "room.json", &path)) != 0)
    goto out;
  size_t n = strlen(text);
  text[n] = '\n'; /* json_dumps leaves no trailing newline; keep the file tidy */
  r = cdr_file_write(path, text, n + 1, 0644, 1);
  text[n] = '\0';
out:
  free(text);
  free(path);
  json_decref(j);
  return r;
}

static int json_str(json_t *o, const char *key, char **out) {
  json_t *v = json_object_get(o, key);
  if (!json_is_string(v) || memchr(json_string_value(v), '\0', json_string_length(v)) != NULL)
    return CDR_ERR_BAD_JSON;
  return (*out = strdup(json_string_value(v))) == NULL ? CDR_ERR_NOMEM : 0;
}

static int hex32_ok(const char *s) {
  if (strlen(s) != 2 * CDR_ROOM_ID_LEN)
    return 0;
  for (const char *p = s; *p; p++)
    if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
      return 0;
  return 1;
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
  if ((r = room_path(room, "room.json", &path)) != 0)
    goto out;
  if ((r = cdr_file_read(path, &data, &len, ROOM_JSON_MAX)) != 0)
    goto out;
  if ((j = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL || !json_is_object(j)) {
    log_error("%s: %s", path, j == NULL ? jerr.text : "not an object");
    r = CDR_ERR_BAD_JSON;
    goto out;
  }
  v = json_object_get(j, "version");
  if (!json_is_integer(v) || json_integer_value(v) != ROOM_FORMAT_VERSION) {
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
  if (!hex32_ok(id) || cdr_room_name_check(room->name) != 0 || room->pkcs11_module[0] != '/' ||
      room->token_label[0] == '\0' || strlen(room->token_label) > CDR_HSM_TOKEN_LABEL_MAX ||
      room->ca_key_label[0] == '\0')
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
  if ((r = room_path(room, "ca.crt", &path)) != 0)
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

/* ---- cdr_room_init ---- */

static int rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw) {
  (void)sb;
  if (ftw->level == 0)
    return 0; /* the top is handled by the caller */
  if (type == FTW_DP)
    return rmdir(path) == 0 ? 0 : -1;
  return unlink(path) == 0 ? 0 : -1;
}

/* Remove everything under dir (without following symlinks), and dir
 * itself when remove_top. */
static void rm_tree(const char *dir, int remove_top) {
  if (nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
    log_warn("could not remove everything under %s", dir);
  if (remove_top && rmdir(dir) != 0)
    log_warn("could not remove %s", dir);
}

/* Create dir (0700) or accept an existing empty directory.  *created
 * says which. */
static int make_room_dir(const char *dir, int *created) {
  *created = 0;
  if (mkdir(dir, 0700) == 0) {
    *created = 1;
    return 0;
  }
  if (errno != EEXIST) {
    log_error("cannot create %s: %s", dir, strerror(errno));
    return CDR_ERR_IO;
  }
  DIR *d = opendir(dir);
  if (d == NULL) {
    log_error("%s exists and is not a readable directory", dir);
    return CDR_ERR_IO;
  }
  struct dirent *e;
  int empty = 1;
  while ((e = readdir(d)) != NULL)
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
      empty = 0;
  closedir(d);
  if (!empty) {
    log_error("%s exists and is not empty", dir);
    return CDR_ERR_IO;
  }
  return 0;
}

/* A random PIN of 2*nbytes hex digits, malloc'd. */
static int random_pin(char **out, size_t nbytes) {
  uint8_t raw[32];
  char *p;
  if (nbytes > sizeof(raw))
    return CDR_ERR_ARG;
  if ((p = malloc(2 * nbytes + 1)) == NULL)
    return CDR_ERR_NOMEM;
  if (cdr_random(raw, nbytes) != 0) {
    free(p);
    return CDR_ERR_CRYPTO;
  }
  cdr_hex_encode(p, raw, nbytes);
  OPENSSL_cleanse(raw, sizeof(raw));
  *out = p;
  return 0;
}

static void pin_free(char *pin) {
  if (pin != NULL)
    OPENSSL_clear_free(pin, strlen(pin));
}

static int write_pem_cert(const struct cdr_room *room, const char *rel, X509 *cert) {
  char *pem = NULL, *path = NULL;
  int r;
  if ((r = cdr_cert_to_pem(cert, &pem)) != 0 || (r = room_path(room, rel, &path)) != 0)
    goto out;
  r = cdr_file_write(path, pem, strlen(pem), 0644, 1);
out:
  free(pem);
  free(path);
  return r;
}

/* Phase 2: the token and the CA key pair.  *pub receives the public key. */
static int init_token_and_key(struct cdr_room *room, int *pin_generated, int *key_made, EVP_PKEY **pub) {
  struct cdr_hsm *h = NULL;
  char *so_pin = NULL, *user_pin = NULL, *hsm_dir = NULL, *pin_path = NULL;
  uint8_t id[CDR_ROOM_ID_LEN];
  int r;

  if (room->embedded_softhsm) {
    const char *env = getenv("CDR_HSM_PIN");
    if ((r = room_path(room, "hsm", &hsm_dir)) != 0)
      goto out;
    if (mkdir(hsm_dir, 0700) != 0) {
      r = CDR_ERR_IO;
      goto out;
    }
    if ((r = cdr_hsm_softhsm_write_conf(hsm_dir)) != 0 || (r = cdr_hsm_softhsm_use(hsm_dir)) != 0)
      goto out;
    if ((r = random_pin(&so_pin, 24)) != 0)
      goto out;
    if (env != NULL && env[0] != '\0') {
      if (strlen(env) < CDR_HSM_PIN_MIN || strlen(env) > CDR_HSM_PIN_MAX) {
        log_error("CDR_HSM_PIN must be %u to %u bytes long", CDR_HSM_PIN_MIN, CDR_HSM_PIN_MAX);
        r = CDR_ERR_ARG;
        goto out;
      }
      if ((user_pin = strdup(env)) == NULL) {
        r = CDR_ERR_NOMEM;
        goto out;
      }
    } else {
      if ((r = random_pin(&user_pin, 16)) != 0 || (r = room_path(room, "hsm/user-pin", &pin_path)) != 0)
        goto out;
      if ((r = cdr_file_write(pin_path, user_pin, strlen(user_pin), 0600, 1)) != 0)
        goto out;
      *pin_generated = 1;
    }
    if ((r = cdr_hsm_load(&h, room->pkcs11_module)) != 0)
      goto out;
    if ((r = cdr_hsm_init_token(h, room->token_label, so_pin, user_pin)) != 0)
      goto out;
  } else {
    if ((r = cdr_room_user_pin(room, &user_pin)) != 0)
      goto out;
    if ((r = cdr_hsm_load(&h, room->pkcs11_module)) != 0)
      goto out;
  }
  if ((r = cdr_hsm_login(h, room->token_label, user_pin)) != 0)
    goto out;
  if ((r = cdr_hex_decode(id, sizeof(id), room->room_id)) != 0)
    goto out;
  if ((r = cdr_hsm_generate_ec_p256(h, room->ca_key_label, id, sizeof(id), pub)) != 0)
    goto out;
  *key_made = 1;
out:
  cdr_hsm_unload(h);
  pin_free(so_pin);
  pin_free(user_pin);
  free(hsm_dir);
  free(pin_path);
  return r;
}

/* Undo phase 2 on an external token: destroy the key pair. */
static void destroy_external_key(const struct cdr_room *room) {
  struct cdr_hsm *h = NULL;
  char *pin = NULL;
  size_t n = 0;
  if (cdr_room_user_pin(room, &pin) == 0 && cdr_hsm_load(&h, room->pkcs11_module) == 0 &&
      cdr_hsm_login(h, room->token_label, pin) == 0 && cdr_hsm_destroy_by_label(h, room->ca_key_label, &n) == 0)
    log_info("removed the %zu token objects labelled \"%s\"", n, room->ca_key_label);
  else
    log_warn("could not remove the key pair \"%s\" from token \"%s\"; remove it by hand", room->ca_key_label,
             room->token_label);
  cdr_hsm_unload(h);
  pin_free(pin);
}

int cdr_room_attestation_ok(const char *s) {
  static const char *const known[] = {"sim", "snp", "tdx", "nitro", "auto"};
  for (size_t i = 0; s != NULL && i < sizeof(known) / sizeof(known[0]); i++)
    if (strcmp(s, known[i]) == 0)
      return 1;
  return 0;
}

/* Phase 3b: the simulated attestation platform's key and certificate. */
static int init_sim_platform(const struct cdr_room *room, struct cdr_ca *ca) {
  EVP_PKEY *k = NULL;
  X509 *cert = NULL;
  char *dir = NULL, *key_path = NULL;
  int r;

  if ((r = room_path(room, "attestation", &dir)) != 0 ||
      (r = room_path(room, "attestation/sim-platform.key", &key_path)) != 0)
    goto out;
  if (mkdir(dir, 0700) != 0) {
    r = CDR_ERR_IO;
    goto out;
  }
  if ((r = cdr_key_generate(&k, "ec", 0)) != 0 || (r = cdr_key_save_pem(key_path, k)) != 0)
    goto out;
  if ((r = cdr_ca_issue_platform(ca, room, k, &cert)) != 0)
    goto out;
  if ((r = write_pem_cert(room, "attestation/sim-platform.crt", cert)) != 0)
    goto out;
  /* The secret the sim enclave derives its sealing key from. */
  {
    uint8_t secret[32];
    char *spath = NULL;
    if ((r = room_path(room, "attestation/sim-sealing.secret", &spath)) == 0 &&
        (r = cdr_random(secret, sizeof(secret))) == 0)
      r = cdr_file_write(spath, secret, sizeof(secret), 0600, 1);
    OPENSSL_cleanse(secret, sizeof(secret));
    free(spath);
  }
out:
  EVP_PKEY_free(k);
  X509_free(cert);
  free(dir);
  free(key_path);
  return r;
}

int cdr_room_init(const char *dir, const struct cdr_room_init_opts *opts, struct cdr_room **out, int *pin_generated) {
  static const struct cdr_room_init_opts defaults = {0};
  struct cdr_room *room = NULL;
  struct cdr_ca *ca = NULL;
  EVP_PKEY *pub = NULL;
  X509 *ca_cert = NULL;
  uint8_t idraw[CDR_ROOM_ID_LEN];
  int created = 0, dir_made = 0, key_made = 0, generated = 0, r;

  *out = NULL;
  if (pin_generated != NULL)
    *pin_generated = 0;
  if (opts == NULL)
    opts = &defaults;
  if (dir == NULL || dir[0] == '\0')
    return CDR_ERR_ARG;
  if ((opts->pkcs11_module == NULL) != (opts->token_label == NULL)) {
    log_error("an external PKCS#11 module needs both the module path and the token label");
    return CDR_ERR_ARG;
  }
  if (opts->pkcs11_module != NULL && (opts->pkcs11_module[0] != '/' || access(opts->pkcs11_module, R_OK) != 0)) {
    log_error("PKCS#11 module %s: not an absolute path to a readable file", opts->pkcs11_module);
    return CDR_ERR_ARG;
  }
  if (opts->token_label != NULL &&
      (opts->token_label[0] == '\0' || strlen(opts->token_label) > CDR_HSM_TOKEN_LABEL_MAX)) {
    log_error("the token label must be 1 to %u bytes", CDR_HSM_TOKEN_LABEL_MAX);
    return CDR_ERR_ARG;
  }
  if (opts->attestation != NULL && !cdr_room_attestation_ok(opts->attestation)) {
    log_error("the attestation provider must be sim, snp, tdx, nitro or auto");
    return CDR_ERR_ARG;
  }
  if (opts->name != NULL && cdr_room_name_check(opts->name) != 0) {
    log_error("invalid room name");
    return CDR_ERR_ARG;
  }
  int64_t validity_days = opts->ca_validity_days == 0 ? 3650 : opts->ca_validity_days;
  if (validity_days < 1 || validity_days > 36500)
    return CDR_ERR_ARG;

  if ((room = calloc(1, sizeof(*room))) == NULL)
    return CDR_ERR_NOMEM;
  /* Phase 1: the folder. */
  if ((r = make_room_dir(dir, &created)) != 0)
    goto out;
  dir_made = 1;
  if ((room->dir = realpath(dir, NULL)) == NULL) {
    r = CDR_ERR_IO;
    goto out;
  }
  if ((r = cdr_random(idraw, sizeof(idraw))) != 0)
    goto out;
  cdr_hex_encode(room->room_id, idraw, sizeof(idraw));
  room->created_at = cdr_now();
  room->embedded_softhsm = opts->pkcs11_module == NULL;
  r = CDR_ERR_NOMEM;
  if (opts->name != NULL) {
    if ((room->name = strdup(opts->name)) == NULL)
      goto out;
  } else {
    char def[64];
    snprintf(def, sizeof(def), "CDR room %.8s", room->room_id);
    if ((room->name = strdup(def)) == NULL)
      goto out;
  }
  char label[CDR_HSM_TOKEN_LABEL_MAX + 1], key_label[64];
  snprintf(label, sizeof(label), "cdr-room-%.16s", room->room_id);
  snprintf(key_label, sizeof(key_label), "cdr-room-ca-%s", room->room_id);
  if ((room->pkcs11_module = strdup(room->embedded_softhsm ? CDR_SOFTHSM_MODULE : opts->pkcs11_module)) == NULL ||
      (room->token_label = strdup(room->embedded_softhsm ? label : opts->token_label)) == NULL ||
      (room->ca_key_label = strdup(key_label)) == NULL ||
      (room->attestation = strdup(opts->attestation ? opts->attestation : "sim")) == NULL)
    goto out;

  /* Phase 2: token and key pair (raw module). */
  if ((r = init_token_and_key(room, &generated, &key_made, &pub)) != 0)
    goto out;
  /* Phase 3: certificates signed in the token (libp11). */
  if ((r = cdr_ca_open(room, &ca)) != 0)
    goto out;
  if ((r = cdr_ca_make_root(ca, room, pub, validity_days, &ca_cert)) != 0)
    goto out;
  room->ca_cert = ca_cert;
  ca_cert = NULL;
  if ((r = write_pem_cert(room, "ca.crt", room->ca_cert)) != 0)
    goto out;
  if (strcmp(room->attestation, "sim") == 0 && (r = init_sim_platform(room, ca)) != 0)
    goto out;
  cdr_ca_close(ca);
  ca = NULL;
  /* Phase 4: host state, then room.json last. */
  if ((r = cdr_tokens_db_create(room)) != 0)
    goto out;
  if ((r = room_json_write(room)) != 0)
    goto out;
  if (pin_generated != NULL)
    *pin_generated = generated;
  *out = room;
  room = NULL;
  r = 0;
out:
  cdr_ca_close(ca); /* unloads libp11 before any cleanup below reloads the module */
  EVP_PKEY_free(pub);
  X509_free(ca_cert);
  if (r != 0) {
    if (key_made && room != NULL && !room->embedded_softhsm)
      destroy_external_key(room);
    if (dir_made)
      rm_tree(room != NULL && room->dir != NULL ? room->dir : dir, created);
  }
  cdr_room_free(room);
  return r;
}
