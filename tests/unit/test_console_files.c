/*
 * test_console_files.c - cdrd's copy of the web console
 * (src/host/console_files.c) behind the HTTP layer's GET fallback:
 * files served by exact path with the console's CSP, /console/info
 * saying "cdrd", nothing outside the bundle, the API routes untouched,
 * and a bundle with a dot file or a symbolic link refused at load, also a
 * link swapped in after the walk looked (this binary is linked with
 * -Wl,--wrap=lstat: the wrap replaces `swap_at` with a link to a file
 * outside the bundle right after the loader's lstat of it).
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/util.h"
#include "host/console_files.h"
#include "host/http.h"
#include "testlib.h"

/* The race, made certain: after lstat(swap_at) says "a regular file",
 * swap_at becomes a link to swap_to (atomically, by rename). */
static const char *swap_at, *swap_to;
int __real_lstat(const char *path, struct stat *st);
int __wrap_lstat(const char *path, struct stat *st);
int __wrap_lstat(const char *path, struct stat *st) {
  int r = __real_lstat(path, st);
  char tmp[700];
  if (r == 0 && swap_at != NULL && strcmp(path, swap_at) == 0) {
    snprintf(tmp, sizeof(tmp), "%s.swap", swap_at);
    if (symlink(swap_to, tmp) != 0 || rename(tmp, swap_at) != 0)
      fprintf(stderr, "test_console_files: could not swap %s\n", swap_at);
    swap_at = NULL;
  }
  return r;
}

struct got {
  long status;
  struct cdr_buf body, head;
};

static size_t on_data(char *p, size_t sz, size_t n, void *ud) {
  return cdr_buf_put(ud, p, sz * n) == 0 ? sz * n : 0;
}

/* METHOD http://127.0.0.1:port PATH (as it is, no normalisation). */
static int get(uint16_t port, const char *method, const char *path, struct got *g) {
  char url[256];
  CURL *c = curl_easy_init();
  int r;
  cdr_buf_init(&g->body, 1u << 20, 0);
  cdr_buf_init(&g->head, 1u << 16, 0);
  snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", (unsigned)port, path);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &g->body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &g->head);
  r = curl_easy_perform(c) == CURLE_OK ? 0 : -1;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &g->status);
  curl_easy_cleanup(c);
  if (cdr_buf_put(&g->body, "", 1) != 0 || cdr_buf_put(&g->head, "", 1) != 0)
    r = -1;
  return r;
}

static void got_free(struct got *g) {
  cdr_buf_free(&g->body);
  cdr_buf_free(&g->head);
}

static int h_health(void *ctx, const struct http_request *rq, struct http_reply *rep) {
  (void)ctx;
  (void)rq;
  rep->body = json_pack("{s:s}", "status", "ok");
  return 0;
}

static void write_file(const char *dir, const char *rel, const char *text) {
  char path[512];
  snprintf(path, sizeof(path), "%s/%s", dir, rel);
  CHECK_RC(cdr_file_write(path, text, strlen(text), 0644, 0), 0);
}

static void test_serve(struct host_console *con) {
  static const struct http_route routes[] = {{"GET", "/v1/health", h_health}};
  struct http_server_opts o = {.host = "127.0.0.1", .threads = 2, .get_fallback = host_console_serve,
                               .get_fallback_ctx = con};
  struct http_server *srv = NULL;
  struct got g;

  CHECK_RC(http_server_start(&srv, &o, routes, 1, NULL), 0);
  if (srv == NULL)
    return;
  uint16_t port = http_server_port(srv);
  CHECK(get(port, "GET", "/", &g) == 0 && g.status == 200);
  CHECK_STR((char *)cdr_buf_ptr(&g.body), "<!doctype html><p>console</p>\n");
  CHECK(strcasestr((char *)cdr_buf_ptr(&g.head), "\r\ncontent-security-policy: default-src 'none'; script-src 'self';") != NULL);
  CHECK(strcasestr((char *)cdr_buf_ptr(&g.head), "\r\ncontent-type: text/html") != NULL);
  got_free(&g);
  CHECK(get(port, "GET", "/js/app.js", &g) == 0 && g.status == 200);
  CHECK(strcasestr((char *)cdr_buf_ptr(&g.head), "\r\ncontent-type: text/javascript") != NULL);
  CHECK_STR((char *)cdr_buf_ptr(&g.body), "export const x = 1;\n");
  got_free(&g);
  CHECK(get(port, "GET", "/console/info", &g) == 0 && g.status == 200);
  CHECK_STR((char *)cdr_buf_ptr(&g.body), "{\"served_by\":\"cdrd\"}");
  got_free(&g);
  /* nothing outside the bundle, nothing of no served type, no other method */
  CHECK(get(port, "GET", "/js/../index.html", &g) == 0 && g.status == 404);
  got_free(&g);
  CHECK(get(port, "GET", "/notes", &g) == 0 && g.status == 404);
  got_free(&g);
  CHECK(get(port, "POST", "/index.html", &g) == 0 && g.status == 404);
  got_free(&g);
  /* the API's routes are the table's: no CSP of the console on them */
  CHECK(get(port, "GET", "/v1/health", &g) == 0 && g.status == 200);
  CHECK(strcasestr((char *)cdr_buf_ptr(&g.head), "content-security-policy") == NULL);
  got_free(&g);
  http_server_stop(srv);
}

int main(void) {
  char dir[] = "/tmp/cdr-console-XXXXXX", sub[600], why[512];
  struct host_console *con = NULL;

  curl_global_init(CURL_GLOBAL_DEFAULT);
  CHECK(mkdtemp(dir) != NULL);
  snprintf(sub, sizeof(sub), "%s/js", dir);
  CHECK(mkdir(sub, 0755) == 0);
  write_file(dir, "index.html", "<!doctype html><p>console</p>\n");
  write_file(dir, "js/app.js", "export const x = 1;\n");
  write_file(dir, "notes", "no served type\n");
  CHECK_RC(host_console_load(dir, &con, why, sizeof(why)), 0);
  CHECK(host_console_count(con) == 2);
  if (con != NULL)
    test_serve(con);
  host_console_free(con);
  con = NULL;

  /* a dot file, then a symbolic link: the bundle is refused, naming it */
  write_file(dir, ".secret.txt", "x");
  CHECK_RC(host_console_load(dir, &con, why, sizeof(why)), CDR_ERR_ARG);
  CHECK(strstr(why, ".secret.txt") != NULL);
  snprintf(sub, sizeof(sub), "%s/.secret.txt", dir);
  unlink(sub);
  snprintf(sub, sizeof(sub), "%s/js/link.js", dir);
  CHECK(symlink("/etc/passwd", sub) == 0);
  CHECK_RC(host_console_load(dir, &con, why, sizeof(why)), CDR_ERR_ARG);
  CHECK(strstr(why, "not a regular file") != NULL);
  CHECK(con == NULL);
  unlink(sub);

  /* a file that becomes a link to a secret between the walk's lstat and
   * the read: refused, the secret never loaded */
  char at[600], secret[600];
  snprintf(secret, sizeof(secret), "%s.secret", dir);
  CHECK_RC(cdr_file_write(secret, "SECRET\n", 7, 0600, 0), 0);
  snprintf(at, sizeof(at), "%s/js/app.js", dir);
  swap_at = at;
  swap_to = secret;
  CHECK(host_console_load(dir, &con, why, sizeof(why)) != 0);
  CHECK(swap_at == NULL); /* the swap happened */
  CHECK(con == NULL);
  CHECK_CONTAINS(why, "cannot read ");
  CHECK_CONTAINS(why, "js/app.js as a regular file");
  host_console_free(con);
  con = NULL;
  unlink(secret);
  snprintf(sub, sizeof(sub), "rm -rf '%s'", dir);
  CHECK(system(sub) == 0);
  curl_global_cleanup();
  return test_summary("test_console_files");
}
