/*
 * console_files.c - the web console's bundle, read once and served by
 * cdrd at `/` (console_files.h, docs/CONSOLE.md "The host's copy").
 *
 * Every file is read at start into one table of {path, bytes, type};
 * a request is a lookup by exact path, so nothing on disk is opened by a
 * request and no path a client sends reaches the file system.  Answers
 * carry the console's Content-Security-Policy (no inline script, nothing
 * from another origin) and the other headers `cdr console` sends.
 */
#include "host/console_files.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/limits.h"
#include "common/util.h"

#define CONSOLE_MAX_DEPTH 4

struct console_file {
  char *path; /* relative, "js/app.js" */
  uint8_t *data;
  size_t len;
  const char *type;
};

struct host_console {
  struct console_file files[HOST_CONSOLE_MAX_FILES];
  size_t n, total;
};

/* The headers of every answer of the console's files (as `cdr console`'s,
 * src/cli/console_serve.c): name, value pairs, NULL-terminated. */
static const char *const console_headers[] = {
    "Content-Security-Policy",
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy", "no-referrer",
    "Cross-Origin-Opener-Policy", "same-origin",
    "Cross-Origin-Resource-Policy", "same-origin",
    NULL};

static const char *console_type(const char *path) {
  static const struct {
    const char *ext, *type;
  } types[] = {{".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
               {".css", "text/css; charset=utf-8"},   {".json", "application/json"},
               {".svg", "image/svg+xml"},             {".png", "image/png"},
               {".txt", "text/plain; charset=utf-8"}};
  const char *dot = strrchr(path, '.');
  for (size_t i = 0; dot != NULL && i < sizeof(types) / sizeof(types[0]); i++)
    if (strcmp(dot, types[i].ext) == 0)
      return types[i].type;
  return NULL;
}

/* A name of the bundle: [A-Za-z0-9_.-], not empty, not starting with '.'. */
static int console_name_ok(const char *s) {
  if (s[0] == '\0' || s[0] == '.' || strlen(s) > 100)
    return 0;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' ||
          *s == '-' || *s == '.'))
      return 0;
  return 1;
}

static int console_add(struct host_console *c, const char *full, const char *rel, char *why, size_t whylen) {
  struct console_file *f;
  const char *type = console_type(rel);
  int r;

  if (type == NULL)
    return 0; /* a file of no served type (a licence without .txt): not served */
  if (c->n == HOST_CONSOLE_MAX_FILES) {
    snprintf(why, whylen, "the console bundle has more than %u files", HOST_CONSOLE_MAX_FILES);
    return CDR_ERR_TOO_LARGE;
  }
  f = &c->files[c->n];
  /* Not followed if it became a link since the walk's lstat. */
  if ((r = cdr_file_read_nofollow(full, &f->data, &f->len, HOST_CONSOLE_FILE_MAX)) != 0) {
    snprintf(why, whylen, "cannot read %s as a regular file (or it is larger than %u bytes)", full,
             HOST_CONSOLE_FILE_MAX);
    return r;
  }
  if (f->len > HOST_CONSOLE_TOTAL_MAX - c->total) {
    free(f->data);
    f->data = NULL;
    snprintf(why, whylen, "the console bundle is larger than %u bytes", HOST_CONSOLE_TOTAL_MAX);
    return CDR_ERR_TOO_LARGE;
  }
  if ((f->path = strdup(rel)) == NULL) {
    free(f->data);
    f->data = NULL;
    return CDR_ERR_NOMEM;
  }
  f->type = type;
  c->total += f->len;
  c->n++;
  return 0;
}

static int console_walk(struct host_console *c, const char *root, const char *rel, int depth, char *why,
                        size_t whylen) {
  char dir[PATH_MAX];
  DIR *d;
  struct dirent *e;
  int r = 0;

  if (depth > CONSOLE_MAX_DEPTH) {
    snprintf(why, whylen, "%s: folders nested deeper than %d", root, CONSOLE_MAX_DEPTH);
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
    if (!console_name_ok(e->d_name)) {
      snprintf(why, whylen, "%s/%s: a name the console does not serve", dir, e->d_name);
      r = CDR_ERR_ARG;
    } else if ((size_t)snprintf(sub, sizeof(sub), "%s%s%s", rel, rel[0] ? "/" : "", e->d_name) >= sizeof(sub) ||
               (size_t)snprintf(full, sizeof(full), "%s/%s", root, sub) >= sizeof(full) || lstat(full, &st) != 0) {
      snprintf(why, whylen, "cannot read %s/%s", root, e->d_name);
      r = CDR_ERR_NOT_FOUND;
    } else if (S_ISDIR(st.st_mode)) {
      r = console_walk(c, root, sub, depth + 1, why, whylen);
    } else if (!S_ISREG(st.st_mode)) {
      snprintf(why, whylen, "%s is not a regular file (the bundle holds only files and folders)", full);
      r = CDR_ERR_ARG;
    } else {
      r = console_add(c, full, sub, why, whylen);
    }
  }
  closedir(d);
  return r;
}

int host_console_load(const char *dir, struct host_console **out, char *why, size_t whylen) {
  struct host_console *c = calloc(1, sizeof(*c));
  int r;

  *out = NULL;
  if (c == NULL)
    return CDR_ERR_NOMEM;
  if ((r = console_walk(c, dir, "", 0, why, whylen)) != 0) {
    host_console_free(c);
    return r;
  }
  *out = c;
  return 0;
}

char *host_console_default_dir(void) {
  char exe[PATH_MAX], path[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  char *slash;
  struct stat st;

  if (n <= 0 || (size_t)n >= sizeof(exe) - 1)
    return NULL;
  exe[n] = '\0';
  if ((slash = strrchr(exe, '/')) == NULL)
    return NULL;
  *slash = '\0';
  if ((size_t)snprintf(path, sizeof(path), "%s/../share/cdr/console", exe) >= sizeof(path) || stat(path, &st) != 0 ||
      !S_ISDIR(st.st_mode))
    return NULL;
  return realpath(path, NULL);
}

size_t host_console_count(const struct host_console *c) { return c != NULL ? c->n : 0; }

static int console_reply(struct http_reply *rep, const void *data, size_t len, const char *type) {
  if ((rep->text = malloc(len + 1)) == NULL)
    return http_reply_fail(rep, CDR_ERR_BUSY, "out of memory");
  memcpy(rep->text, data, len);
  rep->text[len] = '\0';
  rep->text_len = len;
  rep->content_type = type;
  rep->headers = console_headers;
  return 0;
}

int host_console_serve(void *ctx, const struct http_request *rq, struct http_reply *rep) {
  static const char info[] = "{\"served_by\":\"cdrd\"}";
  const struct host_console *c = ctx;
  const char *rel = strcmp(rq->path, "/") == 0 ? "index.html" : rq->path + 1;

  if (rq->path[0] != '/')
    return http_reply_fail(rep, CDR_ERR_NOT_FOUND, "no such route");
  if (strcmp(rq->path, "/console/info") == 0)
    return console_reply(rep, info, sizeof(info) - 1, "application/json");
  for (size_t i = 0; i < c->n; i++)
    if (strcmp(c->files[i].path, rel) == 0)
      return console_reply(rep, c->files[i].data, c->files[i].len, c->files[i].type);
  return http_reply_fail(rep, CDR_ERR_NOT_FOUND, "no such route");
}

void host_console_free(struct host_console *c) {
  if (c == NULL)
    return;
  for (size_t i = 0; i < c->n; i++) {
    free(c->files[i].path);
    free(c->files[i].data);
  }
  free(c);
}
