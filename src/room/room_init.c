/*
 * room_init.c - creating a room folder (cdr_room_init, contract in
 * room.h; the room.json format is described in room.c).
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
 * PINs are wiped on every path.
 */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "crypto/crypto.h"
#include "hsm.h"
#include "room.h"
#include "room_int.h"

/* ---- room.json ---- */

/* Write ROOM/room.json (format in room.c), mode 0644, replacing the file
 * atomically.  Called last by cdr_room_init. */
static int room_json_write(const struct cdr_room *room) {
  json_t *j = NULL;
  char *text = NULL, *path = NULL;
  int r = CDR_ERR_NOMEM;

  j = json_pack("{s:i, s:s, s:s, s:I, s:s, s:s, s:s, s:b, s:s}", "version", CDR_ROOM_FORMAT_VERSION, "room_id",
                room->room_id, "name", room->name, "created_at", (json_int_t)room->created_at, "pkcs11_module",
                room->pkcs11_module, "token_label", room->token_label, "ca_key_label", room->ca_key_label,
                "embedded_softhsm", room->embedded_softhsm, "attestation", room->attestation);
  if (j == NULL || (text = json_dumps(j, JSON_INDENT(2))) == NULL || (r = cdr_room_path(room, "room.json", &path)) != 0)
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
  if ((r = cdr_cert_to_pem(cert, &pem)) != 0 || (r = cdr_room_path(room, rel, &path)) != 0)
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
    if ((r = cdr_room_path(room, "hsm", &hsm_dir)) != 0)
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
      if ((r = random_pin(&user_pin, 16)) != 0 || (r = cdr_room_path(room, "hsm/user-pin", &pin_path)) != 0)
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

/* Phase 3b: the simulated attestation platform's key and certificate. */
static int init_sim_platform(const struct cdr_room *room, struct cdr_ca *ca) {
  EVP_PKEY *k = NULL;
  X509 *cert = NULL;
  char *dir = NULL, *key_path = NULL;
  int r;

  if ((r = cdr_room_path(room, "attestation", &dir)) != 0 ||
      (r = cdr_room_path(room, "attestation/sim-platform.key", &key_path)) != 0)
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
    if ((r = cdr_room_path(room, "attestation/sim-sealing.secret", &spath)) == 0 &&
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
