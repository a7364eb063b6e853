/*
 * test_http.c - cdrd's HTTP layer (src/host/http.c) and the request
 * checks of its handlers (src/host/routes.c), in-process and without an
 * enclave.
 *
 * Three servers on ephemeral loopback ports:
 *   - the real route table over a host_ctx with no enclave link and no
 *     CA (a fake room with a freshly made CA certificate), and a small
 *     body cap so that the accumulation cap is cheap to cross;
 *   - the same with the production cap, for the Content-Length check;
 *   - injected test handlers, for the reply plumbing itself.
 * A request that passes every check of a route reaches the missing
 * enclave and gets 503 internal (or 500 hsm_error for enrollment), which
 * is how the tests tell "accepted" from "refused".
 *
 * The client is a raw socket speaking HTTP/1.1 with Connection: close,
 * so that the tests control every byte (chunked bodies, lying lengths).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/limits.h"
#include "common/log.h"
#include "common/util.h"
#include "host/http.h"
#include "host/routes.h"
#include "testlib.h"

#define SMALL_CAP 4096u

/* ---------------------------------------------------------------- */
/* A raw HTTP/1.1 client                                             */
/* ---------------------------------------------------------------- */

struct answer {
  int status;
  char *head; /* status line and headers */
  char *body;
  json_t *json; /* body parsed, or NULL */
};

static void answer_free(struct answer *a) {
  free(a->head);
  free(a->body);
  json_decref(a->json);
  memset(a, 0, sizeof(*a));
}

static int send_all(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n > 0) {
    ssize_t k = send(fd, c, n, MSG_NOSIGNAL);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      return -1;
    c += k;
    n -= (size_t)k;
  }
  return 0;
}

static int connect_local(uint16_t port) {
  struct sockaddr_in sa;
  struct timeval tv = {.tv_sec = 20, .tv_usec = 0};
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    return -1;
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/* Read to EOF and split the answer. */
static int read_answer(int fd, struct answer *a) {
  size_t cap = 8192, len = 0;
  char *buf = malloc(cap);
  char *sep;

  memset(a, 0, sizeof(*a));
  for (;;) {
    if (len + 4096 + 1 > cap) {
      char *nb = realloc(buf, cap * 2);
      if (nb == NULL)
        break;
      buf = nb;
      cap *= 2;
    }
    ssize_t k = recv(fd, buf + len, cap - len - 1, 0);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      break;
    len += (size_t)k;
  }
  buf[len] = '\0';
  if (strncmp(buf, "HTTP/1.1 ", 9) != 0 || (sep = strstr(buf, "\r\n\r\n")) == NULL) {
    free(buf);
    return -1;
  }
  a->status = (int)strtol(buf + 9, NULL, 10);
  a->head = strndup(buf, (size_t)(sep - buf) + 2);
  a->body = strdup(sep + 4);
  a->json = json_loads(a->body, 0, NULL);
  free(buf);
  return 0;
}

/* One request with a Content-Length body (or none when body is NULL). */
static int http_call(uint16_t port, const char *method, const char *path, const char *body, struct answer *a) {
  char head[512];
  size_t blen = body ? strlen(body) : 0;
  int fd = connect_local(port), r = -1;

  memset(a, 0, sizeof(*a));
  if (fd < 0)
    return -1;
  int n = snprintf(head, sizeof(head),
                   "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                   "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                   method, path, blen);
  if (n > 0 && (size_t)n < sizeof(head) && send_all(fd, head, (size_t)n) == 0 && send_all(fd, body, blen) == 0)
    r = read_answer(fd, a);
  close(fd);
  return r;
}

/* Headers only, with a raw extra header block and optional raw bytes
 * after them (the caller frames chunks itself). */
static int http_raw(uint16_t port, const char *method, const char *path, const char *extra, const char *after,
                    size_t after_len, struct answer *a) {
  char head[512];
  int fd = connect_local(port), r = -1;

  memset(a, 0, sizeof(*a));
  if (fd < 0)
    return -1;
  int n = snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s\r\n", method,
                   path, extra);
  if (n > 0 && (size_t)n < sizeof(head) && send_all(fd, head, (size_t)n) == 0) {
    if (after_len > 0)
      (void)send_all(fd, after, after_len); /* the server may have answered already */
    r = read_answer(fd, a);
  }
  close(fd);
  return r;
}

/* A chunked body of total bytes of `fill`, in chunks of 1000. */
static char *make_chunked(size_t total, char fill, size_t *outlen) {
  size_t cap = total + (total / 1000 + 2) * 16 + 16, len = 0;
  char *out = malloc(cap);
  while (total > 0) {
    size_t n = total < 1000 ? total : 1000;
    len += (size_t)snprintf(out + len, cap - len, "%zx\r\n", n);
    memset(out + len, fill, n);
    len += n;
    memcpy(out + len, "\r\n", 2);
    len += 2;
    total -= n;
  }
  memcpy(out + len, "0\r\n\r\n", 5);
  len += 5;
  *outlen = len;
  return out;
}

/* ---------------------------------------------------------------- */
/* Checks on answers                                                 */
/* ---------------------------------------------------------------- */

/* status, an error body of exactly {"error","message"} with this code,
 * the JSON content type, and (if field) a message that names it. */
static void check_error(const struct answer *a, int status, const char *code, const char *field, int line) {
  int ok = a->status == status && a->json != NULL && json_is_object(a->json) && json_object_size(a->json) == 2 &&
           json_is_string(json_object_get(a->json, "error")) &&
           strcmp(json_string_value(json_object_get(a->json, "error")), code) == 0 &&
           json_is_string(json_object_get(a->json, "message")) && a->head != NULL &&
           strcasestr(a->head, "\r\nContent-Type: application/json\r\n") != NULL;
  if (ok && field != NULL) {
    char quoted[80];
    snprintf(quoted, sizeof(quoted), "\"%s\"", field);
    ok = strstr(json_string_value(json_object_get(a->json, "message")), quoted) != NULL;
  }
  test_checks++;
  if (!ok) {
    test_failures++;
    fprintf(stderr, "test_http.c:%d: want %d %s%s%s, got %d %s\n", line, status, code, field ? " naming " : "",
            field ? field : "", a->status, a->body ? a->body : "(no body)");
  }
}
#define CHECK_ERROR(a, status, code, field) check_error((a), (status), (code), (field), __LINE__)

/* ---------------------------------------------------------------- */
/* Fixtures                                                          */
/* ---------------------------------------------------------------- */

static X509 *make_ca_cert(void) {
  EVP_PKEY *k = EVP_EC_gen("P-256");
  X509 *c = X509_new();
  X509_NAME *n = X509_NAME_new();
  if (k == NULL || c == NULL || n == NULL)
    return NULL;
  X509_set_version(c, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(c), 1);
  X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)"CDR room CA test", -1, -1, 0);
  X509_set_subject_name(c, n);
  X509_set_issuer_name(c, n);
  X509_gmtime_adj(X509_getm_notBefore(c), -60);
  X509_gmtime_adj(X509_getm_notAfter(c), 3600);
  X509_set_pubkey(c, k);
  X509_sign(c, k, EVP_sha256());
  X509_NAME_free(n);
  EVP_PKEY_free(k);
  return c;
}

static char *b64_of(size_t n, uint8_t fill) {
  uint8_t *p = malloc(n ? n : 1);
  char *s = NULL;
  memset(p, fill, n);
  if (cdr_b64_encode(&s, p, n) != 0)
    s = NULL;
  free(p);
  return s;
}

/* A valid-looking session request with one field replaced by `value`
 * (raw JSON; NULL removes the field). */
static char *session_body(const char *field, const char *value) {
  char *cert = b64_of(300, 1), *spki = b64_of(91, 2), *share = b64_of(65, 4), *nonce = b64_of(32, 5),
       *sig = b64_of(72, 6);
  const char *names[] = {"version", "certificate", "user_public_key", "client_key_share", "client_nonce",
                         "timestamp", "signature", "extra_ignored"};
  char vals[8][512];
  snprintf(vals[0], sizeof(vals[0]), "1");
  snprintf(vals[1], sizeof(vals[1]), "\"%s\"", cert);
  snprintf(vals[2], sizeof(vals[2]), "\"%s\"", spki);
  snprintf(vals[3], sizeof(vals[3]), "\"%s\"", share);
  snprintf(vals[4], sizeof(vals[4]), "\"%s\"", nonce);
  snprintf(vals[5], sizeof(vals[5]), "1700000000");
  snprintf(vals[6], sizeof(vals[6]), "\"%s\"", sig);
  snprintf(vals[7], sizeof(vals[7]), "{\"anything\": [1, 2]}");
  size_t cap = 8192 + (value ? strlen(value) : 0), len = 0;
  char *out = malloc(cap);
  out[len++] = '{';
  for (int i = 0; i < 8; i++) {
    const char *v = vals[i];
    if (field != NULL && strcmp(field, names[i]) == 0) {
      if (value == NULL)
        continue;
      v = value;
    }
    len += (size_t)snprintf(out + len, cap - len, "%s\"%s\": %s", len > 1 ? ", " : "", names[i], v);
  }
  snprintf(out + len, cap - len, "}");
  free(cert);
  free(spki);
  free(share);
  free(nonce);
  free(sig);
  return out;
}

static char *request_body(const char *field, const char *value) {
  char *sid = b64_of(16, 7), *ct = b64_of(100, 8), *sig = b64_of(70, 9);
  const char *names[] = {"session_id", "seq", "timestamp", "ciphertext", "signature"};
  char vals[5][512];
  snprintf(vals[0], sizeof(vals[0]), "\"%s\"", sid);
  snprintf(vals[1], sizeof(vals[1]), "1");
  snprintf(vals[2], sizeof(vals[2]), "1700000000");
  snprintf(vals[3], sizeof(vals[3]), "\"%s\"", ct);
  snprintf(vals[4], sizeof(vals[4]), "\"%s\"", sig);
  size_t cap = 4096, len = 0;
  char *out = malloc(cap);
  out[len++] = '{';
  for (int i = 0; i < 5; i++) {
    const char *v = vals[i];
    if (field != NULL && strcmp(field, names[i]) == 0) {
      if (value == NULL)
        continue;
      v = value;
    }
    len += (size_t)snprintf(out + len, cap - len, "%s\"%s\": %s", len > 1 ? ", " : "", names[i], v);
  }
  snprintf(out + len, cap - len, "}");
  free(sid);
  free(ct);
  free(sig);
  return out;
}

/* ---------------------------------------------------------------- */
/* Tests on the real routes                                          */
/* ---------------------------------------------------------------- */

static void test_routing(uint16_t port, const struct cdr_room *room) {
  struct answer a;

  CHECK(http_call(port, "GET", "/v1/health", NULL, &a) == 0);
  CHECK_ERROR(&a, 503, "internal", NULL); /* no enclave */
  answer_free(&a);

  CHECK(http_call(port, "GET", "/v1/room", NULL, &a) == 0);
  CHECK(a.status == 200);
  CHECK(a.head != NULL && strcasestr(a.head, "\r\nContent-Type: application/json\r\n") != NULL);
  CHECK_STR(json_string_value(json_object_get(a.json, "room_id")), room->room_id);
  CHECK_STR(json_string_value(json_object_get(a.json, "name")), "Test room");
  CHECK_STR(json_string_value(json_object_get(a.json, "attestation")), "sim");
  {
    char *pem = NULL;
    CHECK_RC(cdr_cert_to_pem(room->ca_cert, &pem), 0);
    CHECK_STR(json_string_value(json_object_get(a.json, "ca_certificate")), pem);
    free(pem);
  }
  answer_free(&a);

  CHECK(http_call(port, "GET", "/v1/nope", NULL, &a) == 0);
  CHECK_ERROR(&a, 404, "not_found", NULL);
  answer_free(&a);
  CHECK(http_call(port, "GET", "/v1/health/", NULL, &a) == 0);
  CHECK_ERROR(&a, 404, "not_found", NULL);
  answer_free(&a);
  CHECK(http_call(port, "POST", "/", "{}", &a) == 0);
  CHECK_ERROR(&a, 404, "not_found", NULL);
  answer_free(&a);

  CHECK(http_call(port, "POST", "/v1/health", "{}", &a) == 0);
  CHECK_ERROR(&a, 405, "method_not_allowed", NULL);
  CHECK(a.head != NULL && strcasestr(a.head, "\r\nAllow: GET\r\n") != NULL);
  answer_free(&a);
  CHECK(http_call(port, "GET", "/v1/session", NULL, &a) == 0);
  CHECK_ERROR(&a, 405, "method_not_allowed", NULL);
  CHECK(a.head != NULL && strcasestr(a.head, "\r\nAllow: POST\r\n") != NULL);
  answer_free(&a);
  CHECK(http_call(port, "DELETE", "/v1/room", NULL, &a) == 0);
  CHECK_ERROR(&a, 405, "method_not_allowed", NULL);
  answer_free(&a);
  /* A long method and path (the log line truncates them). */
  CHECK(http_call(port, "VERYLONGMETHODNAMEXYZ", "/v1/room", NULL, &a) == 0);
  CHECK_ERROR(&a, 405, "method_not_allowed", NULL);
  answer_free(&a);
  {
    char path[400];
    memset(path, 'p', sizeof(path) - 1);
    path[0] = '/';
    path[sizeof(path) - 1] = '\0';
    CHECK(http_call(port, "GET", path, NULL, &a) == 0);
    CHECK_ERROR(&a, 404, "not_found", NULL);
    answer_free(&a);
  }
}

static void test_bad_json(uint16_t port) {
  static const char *bodies[] = {"{not json", "", "{\"nonce\": \"AAAA\",}", "{\"a\": 1, \"a\": 2}", "nul"};
  struct answer a;

  for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
    CHECK(http_call(port, "POST", "/v1/attest", bodies[i], &a) == 0);
    CHECK_ERROR(&a, 400, "bad_json", NULL);
    answer_free(&a);
  }
  /* Valid JSON that is not an object is a bad request, not bad JSON. */
  CHECK(http_call(port, "POST", "/v1/session", "[1, 2]", &a) == 0);
  CHECK_ERROR(&a, 400, "bad_request", NULL);
  answer_free(&a);
  CHECK(http_call(port, "POST", "/v1/request", "\"str\"", &a) == 0);
  CHECK_ERROR(&a, 400, "bad_request", NULL);
  answer_free(&a);
}

static void test_session_fields(uint16_t port) {
  struct answer a;
  char *body, *b31 = b64_of(31, 1), *b64_66 = b64_of(66, 1);
  char q31[128], q66[160];
  struct {
    const char *field, *value, *code;
    int status;
  } cases[] = {
      {"version", "\"1\"", "bad_request", 400},
      {"version", "1.0", "bad_request", 400},
      {"version", NULL, "bad_request", 400},
      {"certificate", NULL, "bad_request", 400},
      {"certificate", "42", "bad_request", 400},
      {"certificate", "\"abc\"", "bad_request", 400},    /* not a multiple of 4 */
      {"certificate", "\"ab=c\"", "bad_request", 400},   /* padding inside */
      {"certificate", "\"YWJj\\n\"", "bad_request", 400}, /* whitespace */
      {"user_public_key", "null", "bad_request", 400},
      {"user_public_key", "[\"AAAA\"]", "bad_request", 400},
      {"client_key_share", q66, "bad_request", 400},
      {"client_key_share", "\"\"", "bad_request", 400},
      {"client_nonce", q31, "bad_request", 400},
      {"client_nonce", NULL, "bad_request", 400},
      {"timestamp", "\"1700000000\"", "bad_request", 400},
      {"timestamp", "-5", "bad_request", 400},
      {"timestamp", "1.5", "bad_request", 400},
      {"timestamp", "true", "bad_request", 400},
      {"signature", "{}", "bad_request", 400},
      {"signature", NULL, "bad_request", 400},
  };

  snprintf(q31, sizeof(q31), "\"%s\"", b31);
  snprintf(q66, sizeof(q66), "\"%s\"", b64_66);
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    body = session_body(cases[i].field, cases[i].value);
    CHECK(http_call(port, "POST", "/v1/session", body, &a) == 0);
    CHECK_ERROR(&a, cases[i].status, cases[i].code, cases[i].field);
    answer_free(&a);
    free(body);
  }

  /* A version out of range is not a type error. */
  body = session_body("version", "1099511627776");
  CHECK(http_call(port, "POST", "/v1/session", body, &a) == 0);
  CHECK_ERROR(&a, 400, "unsupported_version", NULL);
  answer_free(&a);
  free(body);

  /* The complete request passes every check (and unknown fields are
   * ignored): it reaches the missing enclave. */
  body = session_body(NULL, NULL);
  CHECK(http_call(port, "POST", "/v1/session", body, &a) == 0);
  CHECK_ERROR(&a, 503, "internal", NULL);
  answer_free(&a);
  free(body);
  free(b31);
  free(b64_66);
}

/* A field over its own cap (the body is under the body cap). */
static void test_field_caps(uint16_t real_port) {
  struct answer a;
  char *big = b64_of(CDR_MAX_CERT_DER + 1, 1), *quoted, *body;
  size_t n = strlen(big) + 3;

  quoted = malloc(n);
  snprintf(quoted, n, "\"%s\"", big);
  body = session_body("certificate", quoted);
  CHECK(http_call(real_port, "POST", "/v1/session", body, &a) == 0);
  CHECK_ERROR(&a, 413, "too_large", "certificate");
  answer_free(&a);
  free(body);
  free(big);
  /* At the cap it passes. */
  big = b64_of(CDR_MAX_CERT_DER, 1);
  snprintf(quoted, n, "\"%s\"", big);
  body = session_body("certificate", quoted);
  CHECK(http_call(real_port, "POST", "/v1/session", body, &a) == 0);
  CHECK_ERROR(&a, 503, "internal", NULL);
  answer_free(&a);
  free(body);
  free(big);
  free(quoted);
}

static void test_request_fields(uint16_t port) {
  struct answer a;
  char *body, *b15 = b64_of(15, 1), q15[64];
  struct {
    const char *field, *value;
  } cases[] = {
      {"session_id", q15}, {"session_id", "7"},     {"seq", "\"1\""},     {"seq", NULL},
      {"seq", "-1"},       {"timestamp", "null"},   {"ciphertext", "1"},  {"ciphertext", "\"%%%%\""},
      {"signature", NULL}, {"signature", "false"},
  };

  snprintf(q15, sizeof(q15), "\"%s\"", b15);
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    body = request_body(cases[i].field, cases[i].value);
    CHECK(http_call(port, "POST", "/v1/request", body, &a) == 0);
    CHECK_ERROR(&a, 400, "bad_request", cases[i].field);
    answer_free(&a);
    free(body);
  }
  body = request_body(NULL, NULL);
  CHECK(http_call(port, "POST", "/v1/request", body, &a) == 0);
  CHECK_ERROR(&a, 503, "internal", NULL);
  answer_free(&a);
  free(body);
  free(b15);
}

static void test_attest_enroll_fields(uint16_t port) {
  struct answer a;
  char body[512], *n31 = b64_of(31, 3), *n32 = b64_of(32, 3), *mac = b64_of(32, 4);

  snprintf(body, sizeof(body), "{\"nonce\": \"%s\"}", n31);
  CHECK(http_call(port, "POST", "/v1/attest", body, &a) == 0);
  CHECK_ERROR(&a, 400, "bad_request", "nonce");
  answer_free(&a);
  CHECK(http_call(port, "POST", "/v1/attest", "{\"nonce\": 5}", &a) == 0);
  CHECK_ERROR(&a, 400, "bad_request", "nonce");
  answer_free(&a);
  CHECK(http_call(port, "POST", "/v1/attest", "{}", &a) == 0);
  CHECK_ERROR(&a, 400, "bad_request", "nonce");
  answer_free(&a);
  snprintf(body, sizeof(body), "{\"nonce\": \"%s\"}", n32);
  CHECK(http_call(port, "POST", "/v1/attest", body, &a) == 0);
  CHECK_ERROR(&a, 503, "internal", NULL);
  answer_free(&a);

  snprintf(body, sizeof(body), "{\"token_id\": \"%s\", \"csr\": \"-----BEGIN\", \"mac\": \"%s\"}",
           "0123456789ABCDEF0123456789abcdef", mac);
  CHECK(http_call(port, "POST", "/v1/enroll", body, &a) == 0);
  CHECK_ERROR(&a, 400, "bad_request", "token_id");
  answer_free(&a);
  snprintf(body, sizeof(body), "{\"token_id\": \"%s\", \"csr\": \"-----BEGIN\"}", "0123456789abcdef0123456789abcdef");
  CHECK(http_call(port, "POST", "/v1/enroll", body, &a) == 0);
  CHECK_ERROR(&a, 400, "bad_request", "mac");
  answer_free(&a);
  snprintf(body, sizeof(body), "{\"token_id\": \"%s\", \"csr\": [], \"mac\": \"%s\"}",
           "0123456789abcdef0123456789abcdef", mac);
  CHECK(http_call(port, "POST", "/v1/enroll", body, &a) == 0);
  CHECK_ERROR(&a, 400, "bad_request", "csr");
  answer_free(&a);
  snprintf(body, sizeof(body), "{\"token_id\": \"%s\", \"csr\": \"-----BEGIN\", \"mac\": \"%s\"}",
           "0123456789abcdef0123456789abcdef", mac);
  CHECK(http_call(port, "POST", "/v1/enroll", body, &a) == 0);
  CHECK_ERROR(&a, 500, "hsm_error", NULL); /* passed the checks; no CA here */
  answer_free(&a);
  free(n31);
  free(n32);
  free(mac);
}

static void test_body_caps(uint16_t small_port, uint16_t real_port) {
  struct answer a;
  char extra[256], *body, *chunked;
  size_t clen;

  /* Declared over the cap: refused before any body byte is sent. */
  snprintf(extra, sizeof(extra), "Content-Type: application/json\r\nContent-Length: %u\r\n", SMALL_CAP + 1);
  CHECK(http_raw(small_port, "POST", "/v1/session", extra, NULL, 0, &a) == 0);
  CHECK_ERROR(&a, 413, "too_large", NULL);
  answer_free(&a);
  snprintf(extra, sizeof(extra), "Content-Length: %u\r\n", CDR_MAX_HTTP_BODY + 1u);
  CHECK(http_raw(real_port, "POST", "/v1/request", extra, NULL, 0, &a) == 0);
  CHECK_ERROR(&a, 413, "too_large", NULL);
  answer_free(&a);
  CHECK(http_raw(real_port, "POST", "/v1/request", "Content-Length: 99999999999999999999999\r\n", NULL, 0, &a) == 0);
  CHECK(a.status == 413 || a.status == 400); /* MHD may refuse the number itself */
  answer_free(&a);

  /* Chunked (no Content-Length): the cap is enforced while reading. */
  chunked = make_chunked(SMALL_CAP + 1, ' ', &clen);
  CHECK(http_raw(small_port, "POST", "/v1/session", "Transfer-Encoding: chunked\r\n", chunked, clen, &a) == 0);
  CHECK_ERROR(&a, 413, "too_large", NULL);
  answer_free(&a);
  free(chunked);

  /* Exactly at the cap is accepted: a valid attest body padded with
   * spaces reaches the (missing) enclave. */
  char *n32 = b64_of(32, 3);
  body = malloc(SMALL_CAP + 1);
  int n = snprintf(body, SMALL_CAP + 1, "{\"nonce\": \"%s\"}", n32);
  memset(body + n, ' ', SMALL_CAP - (size_t)n);
  body[SMALL_CAP] = '\0';
  CHECK(http_call(small_port, "POST", "/v1/attest", body, &a) == 0);
  CHECK_ERROR(&a, 503, "internal", NULL);
  answer_free(&a);
  /* One more byte is not. */
  char *body2 = malloc(SMALL_CAP + 2);
  memcpy(body2, body, SMALL_CAP);
  body2[SMALL_CAP] = ' ';
  body2[SMALL_CAP + 1] = '\0';
  CHECK(http_call(small_port, "POST", "/v1/attest", body2, &a) == 0);
  CHECK_ERROR(&a, 413, "too_large", NULL);
  answer_free(&a);
  free(body);
  free(body2);
  free(n32);
}

/* ---------------------------------------------------------------- */
/* Injected handlers: the reply plumbing                             */
/* ---------------------------------------------------------------- */

static int h_echo(void *ctx, const struct http_request *rq, struct http_reply *rep) {
  unsigned long sum = 0;
  for (size_t i = 0; i < rq->body_len; i++)
    sum = sum * 31 + rq->body[i];
  rep->body = json_pack("{s:I, s:b, s:I}", "len", (json_int_t)rq->body_len, "nul", rq->body[rq->body_len] == 0, "sum",
                        (json_int_t)(sum & 0xFFFFFFF));
  return 0;
}

static int h_io(void *ctx, const struct http_request *rq, struct http_reply *rep) {
  return http_reply_fail(rep, CDR_ERR_IO, "disk on fire at /secret/path");
}

static int h_nomem(void *ctx, const struct http_request *rq, struct http_reply *rep) { return CDR_ERR_NOMEM; }

static int h_teapot(void *ctx, const struct http_request *rq, struct http_reply *rep) {
  rep->status = 422;
  rep->body = json_pack("{s:s}", "status", "failed");
  return 0;
}

static int h_replay(void *ctx, const struct http_request *rq, struct http_reply *rep) {
  return http_reply_fail(rep, CDR_ERR_REPLAY, "seq %d already seen", 3);
}

static int h_nobody(void *ctx, const struct http_request *rq, struct http_reply *rep) { return 0; }

static void test_injected(void) {
  static const struct http_route routes[] = {
      {"POST", "/t/echo", h_echo},     {"GET", "/t/io", h_io},         {"GET", "/t/nomem", h_nomem},
      {"GET", "/t/teapot", h_teapot},  {"GET", "/t/replay", h_replay}, {"GET", "/t/nobody", h_nobody},
      {"PUT", "/t/echo", h_echo},
  };
  struct http_server_opts o = {.host = "127.0.0.1", .port = 0, .max_body = 1u << 20, .threads = 2};
  struct http_server *srv = NULL;
  struct answer a;
  char *chunked;
  size_t clen;

  CHECK_RC(http_server_start(&srv, &o, routes, sizeof(routes) / sizeof(routes[0]), NULL), 0);
  if (srv == NULL)
    return;
  uint16_t port = http_server_port(srv);

  /* A chunked body arrives whole, NUL-terminated. */
  chunked = make_chunked(300000, 'x', &clen);
  CHECK(http_raw(port, "POST", "/t/echo", "Transfer-Encoding: chunked\r\n", chunked, clen, &a) == 0);
  CHECK(a.status == 200);
  unsigned long sum = 0;
  for (int i = 0; i < 300000; i++)
    sum = sum * 31 + 'x';
  CHECK(json_integer_value(json_object_get(a.json, "len")) == 300000);
  CHECK(json_is_true(json_object_get(a.json, "nul")));
  CHECK(json_integer_value(json_object_get(a.json, "sum")) == (json_int_t)(sum & 0xFFFFFFF));
  answer_free(&a);
  free(chunked);

  CHECK(http_call(port, "POST", "/t/echo", NULL, &a) == 0);
  CHECK(a.status == 200 && json_integer_value(json_object_get(a.json, "len")) == 0);
  CHECK(json_is_true(json_object_get(a.json, "nul")));
  answer_free(&a);

  /* Two methods on a path: both listed in Allow. */
  CHECK(http_call(port, "GET", "/t/echo", NULL, &a) == 0);
  CHECK_ERROR(&a, 405, "method_not_allowed", NULL);
  CHECK(a.head != NULL && strcasestr(a.head, "\r\nAllow: POST, PUT\r\n") != NULL);
  answer_free(&a);

  /* Codes outside the API's list answer as internal, with no detail. */
  CHECK(http_call(port, "GET", "/t/io", NULL, &a) == 0);
  CHECK_ERROR(&a, 500, "internal", NULL);
  CHECK(a.body != NULL && strstr(a.body, "/secret/path") == NULL);
  answer_free(&a);
  CHECK(http_call(port, "GET", "/t/nomem", NULL, &a) == 0);
  CHECK_ERROR(&a, 503, "busy", NULL);
  answer_free(&a);
  CHECK(http_call(port, "GET", "/t/replay", NULL, &a) == 0);
  CHECK_ERROR(&a, 409, "replayed", NULL);
  CHECK_STR(json_string_value(json_object_get(a.json, "message")), "seq 3 already seen");
  answer_free(&a);
  CHECK(http_call(port, "GET", "/t/teapot", NULL, &a) == 0);
  CHECK(a.status == 422);
  CHECK_STR(json_string_value(json_object_get(a.json, "status")), "failed");
  answer_free(&a);
  CHECK(http_call(port, "GET", "/t/nobody", NULL, &a) == 0);
  CHECK_ERROR(&a, 500, "internal", NULL);
  answer_free(&a);

  http_server_stop(srv);
  /* Stopped means stopped. */
  CHECK(connect_local(port) < 0);
}

int main(void) {
  struct cdr_room room;
  struct host_ctx *h = NULL;
  struct http_server *small = NULL, *real = NULL;
  const struct http_route *routes;
  size_t nroutes;

  signal(SIGPIPE, SIG_IGN);
  cdr_log_init("test_http", getenv("TEST_VERBOSE") ? CDR_LOG_DEBUG : CDR_LOG_WARN);
  memset(&room, 0, sizeof(room));
  snprintf(room.room_id, sizeof(room.room_id), "00112233445566778899aabbccddeeff");
  room.name = "Test room";
  room.attestation = "sim";
  room.ca_cert = make_ca_cert();
  CHECK(room.ca_cert != NULL);

  CHECK_RC(host_ctx_new(&h, &room, NULL, NULL), 0);
  routes = host_routes(&nroutes);
  CHECK(nroutes == 8);
  struct http_server_opts small_opts = {.host = "127.0.0.1", .port = 0, .max_body = SMALL_CAP, .threads = 0};
  struct http_server_opts real_opts = {.host = "127.0.0.1", .port = 0, .max_body = 0, .threads = 0};
  CHECK_RC(http_server_start(&small, &small_opts, routes, nroutes, h), 0);
  CHECK_RC(http_server_start(&real, &real_opts, routes, nroutes, h), 0);
  if (small != NULL && real != NULL && h != NULL) {
    CHECK(http_server_port(small) != 0 && http_server_port(real) != 0);
    test_routing(http_server_port(small), &room);
    test_bad_json(http_server_port(small));
    test_session_fields(http_server_port(small));
    test_request_fields(http_server_port(small));
    test_attest_enroll_fields(http_server_port(small));
    test_body_caps(http_server_port(small), http_server_port(real));
    test_field_caps(http_server_port(real));
  }
  http_server_stop(small);
  http_server_stop(real);
  test_injected();

  /* A bad listen address fails cleanly. */
  struct http_server *bad = NULL;
  struct http_server_opts bad_opts = {.host = "no.such.host.invalid", .port = 0};
  CHECK(http_server_start(&bad, &bad_opts, routes, nroutes, h) != 0);
  CHECK(bad == NULL);

  host_ctx_free(h);
  X509_free(room.ca_cert);
  return test_summary("test_http");
}
