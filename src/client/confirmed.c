/*
 * confirmed.c - the key fingerprints a user has confirmed out of band
 * (`cdr contract confirm NAME FINGERPRINT`), kept beside the profile as
 * profiles/NAME.confirmed, one "<64 hex> <member name>" line each, mode
 * 0600.  `cdr contract` marks every other member's key as unconfirmed:
 * bootstrapping a room is trust on first use, as with SSH host keys.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "profile.h"

#define CONFIRMED_FILE_MAX (1024u * 1024u)

static int confirmed_path(const char *profile, char **out) { return cdr_profile_file_path(profile, ".confirmed", out); }

int cdr_confirmed_has(const char *profile, const uint8_t fp[32]) {
  char *path = NULL, hex[65];
  uint8_t *d = NULL;
  size_t len = 0;
  int found = 0;
  if (confirmed_path(profile, &path) != 0 || cdr_file_read(path, &d, &len, CONFIRMED_FILE_MAX) != 0) {
    free(path);
    return 0;
  }
  cdr_hex_encode(hex, fp, 32);
  /* A line starts with the fingerprint: look for it at each line start. */
  for (size_t i = 0; i + 64 <= len && !found; i++)
    if ((i == 0 || d[i - 1] == '\n') && memcmp(d + i, hex, 64) == 0 && (i + 64 == len || d[i + 64] == ' '))
      found = 1;
  free(d);
  free(path);
  return found;
}

int cdr_confirmed_add(const char *profile, const uint8_t fp[32], const char *name) {
  char *path = NULL, hex[65];
  uint8_t *d = NULL, *nd;
  size_t len = 0, add;
  int r;
  if (strchr(name, '\n') != NULL)
    return CDR_ERR_ARG;
  if ((r = confirmed_path(profile, &path)) != 0)
    return r;
  if (cdr_file_read(path, &d, &len, CONFIRMED_FILE_MAX) != 0)
    len = 0;
  cdr_hex_encode(hex, fp, 32);
  add = 64 + 1 + strlen(name) + 1;
  if (len + add > CONFIRMED_FILE_MAX || (nd = realloc(d, len + add + 1)) == NULL) {
    free(d);
    free(path);
    return len + add > CONFIRMED_FILE_MAX ? CDR_ERR_TOO_LARGE : CDR_ERR_NOMEM;
  }
  snprintf((char *)nd + len, add + 1, "%s %s\n", hex, name);
  r = cdr_file_write(path, nd, len + add, 0600, 0);
  free(nd);
  free(path);
  return r;
}
