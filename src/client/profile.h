/*
 * profile.h - saved connection profiles of `cdr`.
 *
 * Layout under the configuration directory ($CDR_CONFIG_DIR, else
 * $XDG_CONFIG_HOME/cdr, else ~/.config/cdr):
 *   profiles/NAME.json   {"url","key","cert","ca","room_id"} and, when
 *                        set, "tls_cacert", "attest_platform",
 *                        "attest_measurement", "ca_sha256"; paths are
 *                        absolute; mode 0600
 *   profiles/NAME.contract, NAME.contract.json  the contract pin (pins.c)
 *   default              the name of the default profile and a newline;
 *                        mode 0600
 * Directories are created with mode 0700.  A profile holds no secret
 * (the key stays in its own file), but it says which key to use and
 * which CA to trust, so it is private to the user all the same.
 *
 * Names are 1..64 characters of [A-Za-z0-9._-], not starting with '.'.
 */
#ifndef CDR_PROFILE_H
#define CDR_PROFILE_H

#include <stddef.h>

#include "common/err.h"

#define CDR_PROFILE_NAME_MAX 64
#define CDR_PROFILE_FILE_MAX (64u * 1024u)

struct cdr_profile {
  char *name;
  char *url;
  char *key;     /* where the private key lives: a PEM file or a pkcs11: URI */
  char *cert;    /* user certificate file */
  char *ca;      /* room CA certificate file */
  char *room_id; /* 32 hex */
  /* Optional (NULL when absent; each saved only when set): */
  char *tls_cacert;         /* "tls_cacert": --cacert at enrollment, the CA
                             * file TLS verifies against instead of "ca" */
  char *attest_platform;    /* "attest_platform", "attest_measurement": */
  char *attest_measurement; /* from the invitation bundle, else the first
                             * attestation: while no contract version is
                             * active, every later one must show them (hex) */
  char *ca_sha256;          /* "ca_sha256": the room CA's fingerprint (hex),
                             * pinned at the first connection (pins.c) */
};

/* The configuration directory (malloc'd); it need not exist yet. */
int cdr_config_dir(char **out) CDR_WUR;
/* 1 if name is a valid profile name. */
int cdr_profile_name_valid(const char *name);
/* 1 if profiles/NAME.json exists. */
int cdr_profile_exists(const char *name);
/* Write profiles/NAME.json atomically (creating the directories). */
int cdr_profile_save(const struct cdr_profile *p) CDR_WUR;
/* Load profile `name`, or the default one when name is NULL.
 * CDR_ERR_NOT_FOUND if there is no such profile (or no default). */
int cdr_profile_load(const char *name, struct cdr_profile **out) CDR_WUR;
/* The default profile's name (malloc'd), CDR_ERR_NOT_FOUND if none. */
int cdr_profile_default_get(char **name) CDR_WUR;
int cdr_profile_default_set(const char *name) CDR_WUR;
/* A profile whose URL equals url (ignoring trailing '/'): the default
 * profile if it matches, else the first by name.  CDR_ERR_NOT_FOUND. */
int cdr_profile_find_url(const char *url, struct cdr_profile **out) CDR_WUR;
void cdr_profile_free(struct cdr_profile *p);
/* profiles/NAME<suffix> under the config dir (malloc'd into *out): the
 * profile (".json") and the files kept beside it (".confirmed",
 * ".contract").  CDR_ERR_ARG for an invalid name. */
int cdr_profile_file_path(const char *name, const char *suffix, char **out) CDR_WUR;

/* Key fingerprints the user confirmed out of band (confirmed.c),
 * profiles/NAME.confirmed.  has: 1 if fp is confirmed for this profile. */
#include <stdint.h>
int cdr_confirmed_has(const char *profile, const uint8_t fp[32]);
int cdr_confirmed_add(const char *profile, const uint8_t fp[32], const char *name) CDR_WUR;
/* The names of the saved profiles, sorted; *names is an array of *count
 * malloc'd strings, itself malloc'd (NULL when there are none: no
 * profiles directory is an empty list).  0, or CDR_ERR_IO, CDR_ERR_NOMEM. */
int cdr_profile_list(char ***names, size_t *count) CDR_WUR;
/* URLs equal up to trailing slashes. */
int cdr_url_equal(const char *a, const char *b);

#endif
