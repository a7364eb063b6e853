/*
 * console_serve.c - the loopback HTTP server of `cdr console`.
 *
 * It answers three kinds of request, one at a time (libmicrohttpd's one
 * internal thread: the relay's single libcurl handle is never shared):
 *   GET  /, /index.html, /js/..., ...   a file of the bundle, read at
 *        each request from the folder that was hashed;
 *   GET  /console/info                  {"bundle_sha256","target","profile"};
 *   POST /console/room {"url","ca"}     name the room the relay talks to,
 *        once, when no profile named it (TLS then trusts that CA alone:
 *        the invitation's, whose hash the page checked against the token);
 *   GET|POST /v1/...                    relayed as they are to the room over
 *        TLS pinned as the profile (or the invitation) says, and the answer
 *        returned as it is: the relay sees only the envelopes the host sees.
 * Every answer carries a Content-Security-Policy that allows scripts,
 * styles and connections to this origin only, and no inline script.
 *
 * Other web pages the browser shows can reach a loopback port too, so
 * every request must name this server in Host (no DNS rebinding), a
 * request that carries an Origin must carry this one, and a POST must
 * be application/json (which a foreign page cannot send without a CORS
 * preflight, which is never granted).
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_console.h"
#include "client/client.h"
#include "common/buf.h"
#include "common/json_get.h"
#include "common/limits.h"
#include "common/util.h"

#define CONSOLE_CSP                                                                                            \
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "             \
  "form-action 'none'; frame-ancestors 'none'; base-uri 'none'"

struct console_server {
  struct MHD_Daemon *d;
  char *bundle;
  char bundle_sha256[65];
  char *profile;
  struct cdr_client *target;
  char host[64], host_alt[64], origin[80], origin_alt[80]; /* 127.0.0.1:PORT, localhost:PORT */
};

struct req {
  struct cdr_buf body;
  int too_large;
};

static enum MHD_Result answer(struct MHD_Connection *conn, unsigned status, const char *ctype, const void *data,
                              size_t len) {
  struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
  enum MHD_Result ret;
  if (resp == NULL)
    return MHD_NO;
  (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
  (void)MHD_add_response_header(resp, "Content-Security-Policy", CONSOLE_CSP);
  (void)MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
  (void)MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
  (void)MHD_add_response_header(resp, "Cross-Origin-Opener-Policy", "same-origin");
  (void)MHD_add_response_header(resp, "Cross-Origin-Resource-Policy", "same-origin");
  (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  ret = MHD_queue_response(conn, status, resp);
  MHD_destroy_response(resp);
  return ret;
}

/* {"error": code, "message": msg}, the shape of the room's errors. */
static enum MHD_Result answer_error(struct MHD_Connection *conn, unsigned status, const char *code, const char *msg) {
  json_t *j = json_pack("{s:s, s:s}", "error", code, "message", msg);
  char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
  enum MHD_Result ret = text ? answer(conn, status, "application/json", text, strlen(text)) : MHD_NO;
  free(text);
  json_decref(j);
  return ret;
}

static const char *content_type(const char *path) {
  const char *dot = strrchr(path, '.');
  static const struct {
    const char *ext, *type;
  } types[] = {{".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
               {".css", "text/css; charset=utf-8"},   {".json", "application/json"},
               {".svg", "image/svg+xml"},             {".png", "image/png"},
               {".txt", "text/plain; charset=utf-8"}};
  for (size_t i = 0; dot != NULL && i < sizeof(types) / sizeof(types[0]); i++)
    if (strcmp(dot, types[i].ext) == 0)
      return types[i].type;
  return NULL;
}

/* A bundle path: [A-Za-z0-9_.-] segments separated by '/', none empty or
 * starting with '.', so nothing outside the folder (and no dot file). */
static int path_ok(const char *p) {
  size_t seg = 0;
  if (strlen(p) > 200)
    return 0;
  for (const char *s = p; *s; s++) {
    if (*s == '/') {
      if (seg == 0)
        return 0;
      seg = 0;
    } else if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' ||
               *s == '-' || (*s == '.' && seg > 0)) {
      seg++;
    } else {
      return 0;
    }
  }
  return seg > 0;
}

static enum MHD_Result serve_file(struct console_server *s, struct MHD_Connection *conn, const char *url) {
  const char *rel = strcmp(url, "/") == 0 ? "index.html" : url + 1;
  const char *ctype = content_type(rel);
  char full[4096];
  uint8_t *data = NULL;
  size_t len = 0;
  enum MHD_Result ret;

  if (!path_ok(rel) || ctype == NULL ||
      (size_t)snprintf(full, sizeof(full), "%s/%s", s->bundle, rel) >= sizeof(full) ||
      cdr_file_read(full, &data, &len, CONSOLE_FILE_MAX) != 0)
    return answer_error(conn, MHD_HTTP_NOT_FOUND, "not_found", "no such file in the console bundle");
  ret = answer(conn, MHD_HTTP_OK, ctype, data, len);
  free(data);
  return ret;
}

static enum MHD_Result serve_info(struct console_server *s, struct MHD_Connection *conn) {
  json_t *j = json_pack("{s:s, s:s, s:o, s:o}", "served_by", "cdr console", "bundle_sha256", s->bundle_sha256,
                        "target", s->target ? json_string(s->target->url) : json_null(), "profile",
                        s->profile ? json_string(s->profile) : json_null());
  char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
  enum MHD_Result ret = text ? answer(conn, MHD_HTTP_OK, "application/json", text, strlen(text)) : MHD_NO;
  free(text);
  json_decref(j);
  return ret;
}

/* POST /console/room {"url": URL, "ca": b64 DER}: the room of an
 * invitation, when none is set yet. */
static enum MHD_Result set_room(struct console_server *s, struct MHD_Connection *conn, const uint8_t *body,
                                size_t len) {
  json_t *j = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, NULL);
  const char *url = NULL;
  uint8_t *der = NULL;
  size_t derlen = 0;
  const unsigned char *p;
  X509 *ca = NULL;
  struct cdr_client *c = NULL;
  enum MHD_Result ret;
  int r;

  if (s->target != NULL) { /* the same room again is fine; another is not */
    const char *u = json_string_value(json_object_get(j, "url"));
    ret = u != NULL && strcmp(u, s->target->url) == 0
              ? serve_info(s, conn)
              : answer_error(conn, MHD_HTTP_CONFLICT, "bad_request",
                             "this console already talks to another room (start another cdr console for it)");
    goto out;
  }
  if (!json_is_object(j) || cdr_json_get_cstr(j, "url", 2048, &url) != 0 ||
      cdr_json_get_b64(j, "ca", 64 * 1024, &der, &derlen) != 0 || (p = der, ca = d2i_X509(NULL, &p, (long)derlen)) == NULL ||
      p != der + derlen) {
    ret = answer_error(conn, MHD_HTTP_BAD_REQUEST, "bad_request", "want {\"url\": URL, \"ca\": base64 DER}");
    goto out;
  }
  if ((r = cdr_client_new(&c, url)) != 0 || (r = cdr_client_set_ca(c, ca)) != 0) {
    ret = answer_error(conn, MHD_HTTP_BAD_REQUEST, cdr_err_code(r), cdr_err_describe(r));
    cdr_client_free(c);
    goto out;
  }
  s->target = c;
  ret = serve_info(s, conn);
out:
  X509_free(ca);
  free(der);
  json_decref(j);
  return ret;
}

static enum MHD_Result relay(struct console_server *s, struct MHD_Connection *conn, const char *method,
                             const char *url, const struct cdr_buf *body) {
  struct cdr_buf resp;
  long status = 0;
  enum MHD_Result ret;
  int r;

  if (s->target == NULL)
    return answer_error(conn, MHD_HTTP_CONFLICT, "not_found",
                        "no room yet: enroll with an invitation, or start cdr console --profile NAME");
  cdr_buf_init(&resp, CDR_MAX_HTTP_BODY, 0);
  r = cdr_http_raw(s->target, method, url, strcmp(method, "POST") == 0 ? cdr_buf_ptr(body) : NULL,
                   cdr_buf_avail(body), &status, &resp);
  if (r != 0) {
    char text[768];
    cdr_client_error_text(s->target, r, text, sizeof(text));
    ret = answer_error(conn, MHD_HTTP_BAD_GATEWAY, cdr_err_code(r), text);
  } else if (status < 100 || status > 599) {
    ret = answer_error(conn, MHD_HTTP_BAD_GATEWAY, "network", "the room answered without an HTTP status");
  } else {
    ret = answer(conn, (unsigned)status, "application/json", cdr_buf_ptr(&resp), cdr_buf_avail(&resp));
  }
  cdr_buf_free(&resp);
  return ret;
}

/* Host names this server, Origin (when sent) is this origin, a POST is
 * JSON: see the file comment. */
static const char *request_refusal(struct console_server *s, struct MHD_Connection *conn, const char *method) {
  const char *host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
  const char *origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
  const char *ctype = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
  if (host == NULL || (strcmp(host, s->host) != 0 && strcmp(host, s->host_alt) != 0))
    return "the Host header does not name this console";
  if (origin != NULL && strcmp(origin, s->origin) != 0 && strcmp(origin, s->origin_alt) != 0)
    return "a request from another origin";
  if (strcmp(method, "POST") == 0 &&
      (ctype == NULL || strncmp(ctype, "application/json", 16) != 0 || (ctype[16] != '\0' && ctype[16] != ';')))
    return "a POST must be application/json";
  return NULL;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                              const char *version, const char *upload_data, size_t *upload_size, void **con_cls) {
  struct console_server *s = cls;
  struct req *rq = *con_cls;
  const char *why;
  (void)version;

  if (rq == NULL) {
    if ((rq = calloc(1, sizeof(*rq))) == NULL)
      return MHD_NO;
    cdr_buf_init(&rq->body, CDR_MAX_HTTP_REQUEST_BODY, 0);
    *con_cls = rq;
    return MHD_YES;
  }
  if (*upload_size != 0) {
    if (!rq->too_large && cdr_buf_put(&rq->body, upload_data, *upload_size) != 0)
      rq->too_large = 1;
    *upload_size = 0;
    return MHD_YES;
  }
  if ((why = request_refusal(s, conn, method)) != NULL)
    return answer_error(conn, MHD_HTTP_FORBIDDEN, "bad_request", why);
  if (rq->too_large)
    return answer_error(conn, MHD_HTTP_CONTENT_TOO_LARGE, "too_large", "the request body is too large");
  if (strncmp(url, "/v1/", 4) == 0 && (strcmp(method, "GET") == 0 || strcmp(method, "POST") == 0))
    return relay(s, conn, method, url, &rq->body);
  if (strcmp(url, "/console/info") == 0 && strcmp(method, "GET") == 0)
    return serve_info(s, conn);
  if (strcmp(url, "/console/room") == 0 && strcmp(method, "POST") == 0)
    return set_room(s, conn, cdr_buf_ptr(&rq->body), cdr_buf_avail(&rq->body));
  if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
    return serve_file(s, conn, url);
  return answer_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", "GET or POST only");
}

static void request_done(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode t) {
  struct req *rq = *con_cls;
  (void)cls;
  (void)conn;
  (void)t;
  if (rq != NULL) {
    cdr_buf_free(&rq->body);
    free(rq);
    *con_cls = NULL;
  }
}

int console_server_start(const struct console_config *cfg, struct console_server **out, uint16_t *port_out,
                         char *why, size_t whylen) {
  struct console_server *s = calloc(1, sizeof(*s));
  struct sockaddr_in sa;
  const union MHD_DaemonInfo *di;
  char addr[INET_ADDRSTRLEN];

  *out = NULL;
  if (s == NULL || (s->bundle = strdup(cfg->bundle)) == NULL ||
      (cfg->profile != NULL && (s->profile = strdup(cfg->profile)) == NULL)) {
    console_server_stop(s);
    cdr_client_free(cfg->target);
    return CDR_ERR_NOMEM;
  }
  snprintf(s->bundle_sha256, sizeof(s->bundle_sha256), "%s", cfg->bundle_sha256);
  s->target = cfg->target;
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_port = htons(cfg->port);
  sa.sin_addr.s_addr = htonl(cfg->listen_addr);
  s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, cfg->port, NULL, NULL, handle, s,
                          MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_NOTIFY_COMPLETED, request_done, s,
                          MHD_OPTION_CONNECTION_TIMEOUT, 120u, MHD_OPTION_END);
  if (s->d == NULL || (di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT)) == NULL) {
    inet_ntop(AF_INET, &sa.sin_addr, addr, sizeof(addr));
    snprintf(why, whylen, "cannot listen on %s:%u (in use?)", addr, (unsigned)cfg->port);
    console_server_stop(s);
    return CDR_ERR_NETWORK;
  }
  *port_out = di->port;
  inet_ntop(AF_INET, &sa.sin_addr, addr, sizeof(addr));
  snprintf(s->host, sizeof(s->host), "%s:%u", addr, (unsigned)di->port);
  snprintf(s->host_alt, sizeof(s->host_alt), "localhost:%u", (unsigned)di->port);
  snprintf(s->origin, sizeof(s->origin), "http://%s", s->host);
  snprintf(s->origin_alt, sizeof(s->origin_alt), "http://%s", s->host_alt);
  *out = s;
  return 0;
}

void console_server_stop(struct console_server *s) {
  if (s == NULL)
    return;
  if (s->d != NULL)
    MHD_stop_daemon(s->d);
  cdr_client_free(s->target);
  free(s->bundle);
  free(s->profile);
  free(s);
}
