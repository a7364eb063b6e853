/*
 * console_bundle.c - where the web console's files are, and their hash.
 *
 * The bundle is the folder of static files `cdr console` serves
 * (console/web in the source tree, copied with the vendored libraries
 * into BUILD/share/cdr/console at build time and installed to
 * PREFIX/share/cdr/console).  cdr finds it beside its own executable
 * (EXE_DIR/../share/cdr/console), so the build tree and an installed
 * tree each serve their own copy; --bundle DIR or CDR_CONSOLE_DIR name
 * another.
 *
 * The bundle hash (docs/CONSOLE.md) is reproducible with coreutils:
 *   cd DIR && find . -type f -printf '%P\n' | LC_ALL=C sort | xargs sha256sum | sha256sum
 * i.e. SHA-256 over the lines "<sha256 hex>  <relative path>\n" of every
 * regular file, sorted by path in byte order.  A member compares it with
 * the hash of a build of the same commit.  Symbolic links and special
 * files are refused: what is hashed is what is served.
 */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_console.h"
#include "common/buf.h"
#include "common/util.h"
#include "crypto/crypto.h"

#define BUNDLE_MAX_FILES 512u
#define BUNDLE_MAX_DEPTH 4

struct file_list {
  char *paths[BUNDLE_MAX_FILES];
  size_t n;
};

static int cmp_path(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Collect every regular file under root/rel (rel "" for root itself). */
static int collect(const char *root, const char *rel, int depth, struct file_list *fl, char *why, size_t whylen) {
  char dir[PATH_MAX];
  DIR *d;
  struct dirent *e;
  int r = 0;

  if (depth > BUNDLE_MAX_DEPTH) {
    snprintf(why, whylen, "%s: folders nested deeper than %d", root, BUNDLE_MAX_DEPTH);
    return CDR_ERR_ARG;
  }
  if ((size_t)snprintf(dir, sizeof(dir), "%s/%s", root, rel) >= sizeof(dir) || (d = opendir(dir)) == NULL) {
    snprintf(why, whylen, "cannot read the console bundle folder %s", dir);
    return CDR_ERR_NOT_FOUND;
  }
  while (r == 0 && (e = readdir(d)) != NULL) {
    char sub[PATH_MAX], full[PATH_MAX];
    struct stat st;
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    if ((size_t)snprintf(sub, sizeof(sub), "%s%s%s", rel, rel[0] ? "/" : "", e->d_name) >= sizeof(sub) ||
        (size_t)snprintf(full, sizeof(full), "%s/%s", root, sub) >= sizeof(full) || lstat(full, &st) != 0) {
      snprintf(why, whylen, "cannot read %s/%s", root, sub);
      r = CDR_ERR_NOT_FOUND;
    } else if (S_ISDIR(st.st_mode)) {
      r = collect(root, sub, depth + 1, fl, why, whylen);
    } else if (!S_ISREG(st.st_mode)) {
      snprintf(why, whylen, "%s is not a regular file (the bundle holds only files and folders)", full);
      r = CDR_ERR_ARG;
    } else if (fl->n == BUNDLE_MAX_FILES) {
      snprintf(why, whylen, "the console bundle has more than %u files", BUNDLE_MAX_FILES);
      r = CDR_ERR_TOO_LARGE;
    } else if ((fl->paths[fl->n] = strdup(sub)) == NULL) {
      r = CDR_ERR_NOMEM;
    } else {
      fl->n++;
    }
  }
  closedir(d);
  return r;
}

int console_bundle_hash(const char *root, char hex[CDR_SHA256_LEN * 2 + 1], size_t *nfiles, char *why,
                        size_t whylen) {
  struct file_list fl = {{0}, 0};
  struct cdr_buf manifest;
  uint8_t digest[CDR_SHA256_LEN];
  int r;

  cdr_buf_init(&manifest, (size_t)BUNDLE_MAX_FILES * (PATH_MAX + 72u), 0);
  if ((r = collect(root, "", 0, &fl, why, whylen)) != 0)
    goto out;
  qsort(fl.paths, fl.n, sizeof(fl.paths[0]), cmp_path);
  for (size_t i = 0; i < fl.n; i++) {
    char full[PATH_MAX], fhex[CDR_SHA256_LEN * 2 + 1];
    uint8_t *data = NULL;
    size_t len = 0;
    snprintf(full, sizeof(full), "%s/%s", root, fl.paths[i]);
    if ((r = cdr_file_read(full, &data, &len, CONSOLE_FILE_MAX)) != 0) {
      snprintf(why, whylen, "cannot read %s (or it is larger than %u bytes)", full, CONSOLE_FILE_MAX);
      goto out;
    }
    r = cdr_sha256(digest, data, len);
    free(data);
    if (r != 0)
      goto out;
    cdr_hex_encode(fhex, digest, sizeof(digest));
    if ((r = cdr_buf_put(&manifest, fhex, strlen(fhex))) != 0 || (r = cdr_buf_put(&manifest, "  ", 2)) != 0 ||
        (r = cdr_buf_put(&manifest, fl.paths[i], strlen(fl.paths[i]))) != 0 ||
        (r = cdr_buf_put(&manifest, "\n", 1)) != 0)
      goto out;
  }
  if (fl.n == 0) {
    snprintf(why, whylen, "the console bundle %s is empty", root);
    r = CDR_ERR_NOT_FOUND;
    goto out;
  }
  if ((r = cdr_sha256(digest, cdr_buf_ptr(&manifest), cdr_buf_avail(&manifest))) != 0)
    goto out;
  cdr_hex_encode(hex, digest, sizeof(digest));
  *nfiles = fl.n;
out:
  for (size_t i = 0; i < fl.n; i++)
    free(fl.paths[i]);
  cdr_buf_free(&manifest);
  return r;
}

int console_bundle_find(const char *given, char **out) {
  const char *env = getenv("CDR_CONSOLE_DIR");
  char exe[PATH_MAX], path[PATH_MAX];
  ssize_t n;
  char *slash;

  *out = NULL;
  if (given == NULL && env != NULL && env[0] != '\0')
    given = env;
  if (given != NULL)
    return (*out = realpath(given, NULL)) != NULL ? 0 : CDR_ERR_NOT_FOUND;
  if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) <= 0)
    return CDR_ERR_NOT_FOUND;
  exe[n] = '\0';
  if ((slash = strrchr(exe, '/')) == NULL)
    return CDR_ERR_NOT_FOUND;
  *slash = '\0';
  if ((size_t)snprintf(path, sizeof(path), "%s/../share/cdr/console", exe) >= sizeof(path))
    return CDR_ERR_NOT_FOUND;
  return (*out = realpath(path, NULL)) != NULL ? 0 : CDR_ERR_NOT_FOUND;
}
