/*
 * profile.c - saved connection profiles; see profile.h for the layout.
 *
 * Files are written through cdr_file_write (temp file, fsync, rename)
 * with mode 0600, so a crash never leaves half a profile, and read with
 * a size cap and strict JSON (duplicate keys refused).
 */
#include "profile.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "client.h"
#include "client_int.h"
#include "common/json_get.h"
#include "common/util.h"

int cdr_config_dir(char **out) {
  const char *d = getenv("CDR_CONFIG_DIR");
  const char *x = getenv("XDG_CONFIG_HOME");
  const char *h = getenv("HOME");
  *out = NULL;
  if (d != NULL && *d != '\0')
    *out = strdup(d);
  else if (x != NULL && *x == '/')
    *out = cdr_path_join(x, "cdr");
  else if (h != NULL && *h != '\0')
    *out = cdr_path_join(h, ".config/cdr");
  else
    return CDR_ERR_NOT_FOUND;
  return *out ? 0 : CDR_ERR_NOMEM;
}

int cdr_profile_name_valid(const char *name) {
  size_t n = name ? strlen(name) : 0;
  if (n == 0 || n > CDR_PROFILE_NAME_MAX || name[0] == '.')
    return 0;
  for (size_t i = 0; i < n; i++) {
    char ch = name[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
          ch == '_' || ch == '-'))
      return 0;
  }
  return 1;
}

int cdr_url_equal(const char *a, const char *b) {
  size_t na = strlen(a), nb = strlen(b);
  while (na > 0 && a[na - 1] == '/')
    na--;
  while (nb > 0 && b[nb - 1] == '/')
    nb--;
  return na == nb && memcmp(a, b, na) == 0;
}

void cdr_profile_free(struct cdr_profile *p) {
  if (p == NULL)
    return;
  free(p->name);
  free(p->url);
  free(p->key);
  free(p->cert);
  free(p->ca);
  free(p->room_id);
  free(p->tls_cacert);
  free(p->attest_platform);
  free(p->attest_measurement);
  free(p->ca_sha256);
  free(p);
}

/* The config dir and its profiles/ subdirectory, created 0700. */
static int dirs_make(char **cfg, char **pdir) {
  int r;
  *pdir = NULL;
  if ((r = cdr_config_dir(cfg)) != 0)
    return r;
  if ((*pdir = cdr_path_join(*cfg, "profiles")) == NULL)
    return CDR_ERR_NOMEM;
  if ((r = cdr_mkdir_p(*pdir, 0700)) != 0)
    return r;
  (void)chmod(*cfg, 0700);
  (void)chmod(*pdir, 0700);
  return 0;
}

/* Contract in profile.h. */
int cdr_profile_file_path(const char *name, const char *suffix, char **out) {
  char *cfg = NULL, *file = NULL;
  size_t n;
  int r;
  *out = NULL;
  if (!cdr_profile_name_valid(name))
    return CDR_ERR_ARG;
  if ((r = cdr_config_dir(&cfg)) != 0)
    return r;
  n = strlen(name) + strlen(suffix) + sizeof("profiles/");
  r = CDR_ERR_NOMEM;
  if ((file = malloc(n)) != NULL) {
    snprintf(file, n, "profiles/%s%s", name, suffix);
    if ((*out = cdr_path_join(cfg, file)) != NULL)
      r = 0;
  }
  free(file);
  free(cfg);
  return r;
}

/* profiles/NAME.json under the config dir (malloc'd). */
static int profile_path(const char *name, char **out) { return cdr_profile_file_path(name, ".json", out); }

int cdr_profile_exists(const char *name) {
  struct stat st;
  char *path = NULL;
  int found = profile_path(name, &path) == 0 && lstat(path, &st) == 0;
  free(path);
  return found;
}

int cdr_profile_save(const struct cdr_profile *p) {
  char *cfg = NULL, *pdir = NULL, *path = NULL, *text = NULL;
  json_t *j = NULL;
  int r;

  if (!cdr_profile_name_valid(p->name) || !p->url || !p->key || !p->cert || !p->ca || !p->room_id)
    return CDR_ERR_ARG;
  if ((r = dirs_make(&cfg, &pdir)) != 0 || (r = profile_path(p->name, &path)) != 0)
    goto out;
  r = CDR_ERR_NOMEM;
  j = json_pack("{s:s, s:s, s:s, s:s, s:s}", "url", p->url, "key", p->key, "cert", p->cert, "ca", p->ca, "room_id",
                p->room_id);
  if (j != NULL && ((p->tls_cacert && json_object_set_new(j, "tls_cacert", json_string(p->tls_cacert)) != 0) ||
                    (p->attest_platform &&
                     json_object_set_new(j, "attest_platform", json_string(p->attest_platform)) != 0) ||
                    (p->attest_measurement &&
                     json_object_set_new(j, "attest_measurement", json_string(p->attest_measurement)) != 0) ||
                    (p->ca_sha256 && json_object_set_new(j, "ca_sha256", json_string(p->ca_sha256)) != 0)))
    goto out;
  if (j == NULL || (text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS)) == NULL)
    goto out;
  size_t n = strlen(text);
  char *nl = realloc(text, n + 2);
  if (nl == NULL)
    goto out;
  text = nl;
  text[n] = '\n';
  text[n + 1] = '\0';
  r = cdr_file_write(path, text, n + 1, 0600, 0);
out:
  json_decref(j);
  free(text);
  free(path);
  free(pdir);
  free(cfg);
  return r;
}

int cdr_profile_default_get(char **name) {
  char *cfg = NULL, *path = NULL;
  uint8_t *d = NULL;
  size_t len = 0;
  int r;
  *name = NULL;
  if ((r = cdr_config_dir(&cfg)) != 0)
    goto out;
  r = CDR_ERR_NOMEM;
  if ((path = cdr_path_join(cfg, "default")) == NULL)
    goto out;
  if ((r = cdr_file_read(path, &d, &len, 1024)) != 0)
    goto out;
  while (len > 0 && (d[len - 1] == '\n' || d[len - 1] == '\r' || d[len - 1] == ' '))
    d[--len] = '\0';
  r = CDR_ERR_NOT_FOUND;
  if (memchr(d, 0, len) != NULL || !cdr_profile_name_valid((char *)d))
    goto out;
  *name = (char *)d;
  d = NULL;
  r = 0;
out:
  free(d);
  free(path);
  free(cfg);
  return r;
}

int cdr_profile_default_set(const char *name) {
  char *cfg = NULL, *pdir = NULL, *path = NULL, *text = NULL;
  size_t n;
  int r;
  if (!cdr_profile_name_valid(name))
    return CDR_ERR_ARG;
  if ((r = dirs_make(&cfg, &pdir)) != 0)
    goto out;
  r = CDR_ERR_NOMEM;
  n = strlen(name) + 2;
  if ((path = cdr_path_join(cfg, "default")) == NULL || (text = malloc(n)) == NULL)
    goto out;
  snprintf(text, n, "%s\n", name);
  r = cdr_file_write(path, text, n - 1, 0600, 0);
out:
  free(text);
  free(path);
  free(pdir);
  free(cfg);
  return r;
}

static int dup_field(const json_t *j, const char *key, char **out) {
  const char *s;
  if (cdr_json_get_cstr(j, key, SIZE_MAX, &s) != 0 || *s == '\0')
    return CDR_ERR_BAD_JSON;
  return (*out = strdup(s)) ? 0 : CDR_ERR_NOMEM;
}

int cdr_profile_load(const char *name, struct cdr_profile **out) {
  char *dflt = NULL, *path = NULL;
  uint8_t *d = NULL, rid[16];
  size_t len = 0;
  json_t *j = NULL;
  struct cdr_profile *p = NULL;
  int r;

  *out = NULL;
  if (name == NULL) {
    if ((r = cdr_profile_default_get(&dflt)) != 0)
      goto out;
    name = dflt;
  }
  if ((r = profile_path(name, &path)) != 0 || (r = cdr_file_read(path, &d, &len, CDR_PROFILE_FILE_MAX)) != 0)
    goto out;
  r = CDR_ERR_BAD_JSON;
  if (cdr_json_parse_object(&j, d, len) != 0)
    goto out;
  r = CDR_ERR_NOMEM;
  if ((p = calloc(1, sizeof(*p))) == NULL || (p->name = strdup(name)) == NULL)
    goto out;
  if ((r = dup_field(j, "url", &p->url)) != 0 || (r = dup_field(j, "key", &p->key)) != 0 ||
      (r = dup_field(j, "cert", &p->cert)) != 0 || (r = dup_field(j, "ca", &p->ca)) != 0 ||
      (r = dup_field(j, "room_id", &p->room_id)) != 0)
    goto out;
  if ((json_object_get(j, "tls_cacert") && (r = dup_field(j, "tls_cacert", &p->tls_cacert)) != 0) ||
      (json_object_get(j, "attest_platform") && (r = dup_field(j, "attest_platform", &p->attest_platform)) != 0) ||
      (json_object_get(j, "attest_measurement") &&
       (r = dup_field(j, "attest_measurement", &p->attest_measurement)) != 0) ||
      (json_object_get(j, "ca_sha256") && (r = dup_field(j, "ca_sha256", &p->ca_sha256)) != 0))
    goto out;
  if (strlen(p->room_id) != 32 || cdr_hex_decode(rid, sizeof(rid), p->room_id) != 0) {
    r = CDR_ERR_BAD_JSON;
    goto out;
  }
  *out = p;
  p = NULL;
  r = 0;
out:
  cdr_profile_free(p);
  json_decref(j);
  free(d);
  free(path);
  free(dflt);
  return r;
}

static int json_name_filter(const struct dirent *e) {
  size_t n = strlen(e->d_name);
  return n > 5 && strcmp(e->d_name + n - 5, ".json") == 0;
}

int cdr_profile_find_url(const char *url, struct cdr_profile **out) {
  struct cdr_profile *p = NULL;
  struct dirent **ents = NULL;
  char *cfg = NULL, *pdir = NULL;
  int n = 0, r;

  *out = NULL;
  if (cdr_profile_load(NULL, &p) == 0 && cdr_url_equal(p->url, url)) {
    *out = p;
    return 0;
  }
  cdr_profile_free(p);
  p = NULL;
  if ((r = cdr_config_dir(&cfg)) != 0)
    goto out;
  r = CDR_ERR_NOMEM;
  if ((pdir = cdr_path_join(cfg, "profiles")) == NULL)
    goto out;
  r = CDR_ERR_NOT_FOUND;
  if ((n = scandir(pdir, &ents, json_name_filter, alphasort)) < 0) {
    n = 0;
    goto out;
  }
  for (int i = 0; i < n && *out == NULL; i++) {
    char name[CDR_PROFILE_NAME_MAX + 1];
    size_t len = strlen(ents[i]->d_name) - 5;
    if (len > CDR_PROFILE_NAME_MAX)
      continue;
    memcpy(name, ents[i]->d_name, len);
    name[len] = '\0';
    if (cdr_profile_load(name, &p) != 0)
      continue;
    if (cdr_url_equal(p->url, url)) {
      *out = p;
      p = NULL;
      r = 0;
    }
    cdr_profile_free(p);
    p = NULL;
  }
out:
  for (int i = 0; i < n; i++)
    free(ents[i]);
  free(ents);
  free(pdir);
  free(cfg);
  return r;
}

int cdr_profile_list(char ***names, size_t *count) {
  struct dirent **ents = NULL;
  char *cfg = NULL, *pdir = NULL, **out = NULL;
  size_t k = 0;
  int n = 0, r;

  *names = NULL;
  *count = 0;
  if ((r = cdr_config_dir(&cfg)) != 0)
    return r;
  r = CDR_ERR_NOMEM;
  if ((pdir = cdr_path_join(cfg, "profiles")) == NULL)
    goto out;
  if ((n = scandir(pdir, &ents, json_name_filter, alphasort)) < 0) {
    n = 0;
    r = errno == ENOENT ? 0 : CDR_ERR_IO; /* no profiles yet: an empty list */
    goto out;
  }
  if (n > 0 && (out = calloc((size_t)n, sizeof(*out))) == NULL)
    goto out;
  for (int i = 0; i < n; i++) {
    size_t len = strlen(ents[i]->d_name) - 5;
    char *name;
    if (len > CDR_PROFILE_NAME_MAX || (name = strndup(ents[i]->d_name, len)) == NULL)
      continue;
    if (!cdr_profile_name_valid(name)) { /* not a file cdr_profile_save makes */
      free(name);
      continue;
    }
    out[k++] = name;
  }
  *names = out;
  *count = k;
  out = NULL;
  r = 0;
out:
  free(out);
  for (int i = 0; i < n; i++)
    free(ents[i]);
  free(ents);
  free(pdir);
  free(cfg);
  return r;
}
