/*
 * abuse.c - abusive clients against a live cdrd, over raw sockets bound
 * to a chosen loopback address (127.0.0.2, ...), so that the server sees
 * them as other hosts than the legitimate client on 127.0.0.1.
 *
 *   abuse slow URL ADDR COUNT SECONDS MODE
 *       COUNT connections that never finish a request: MODE "headers"
 *       sends header lines one byte a second (slowloris), "idle" sends
 *       nothing, "body" sends complete headers then a declared 1 MB body
 *       one byte a second.  Watches them for SECONDS at most.
 *   abuse conns URL HOLD SECONDS PROBE_ADDR PROBES ADDR...
 *       HOLD connections from each ADDR that send the start of a request
 *       and no more (they count against the connection limits until the
 *       header deadline), then PROBES connections from PROBE_ADDR each
 *       sending a whole GET /v1/health; prints the probes' answers
 *       ("probe: ..."), then "holding", then watches the held ones for
 *       SECONDS at most (until the server has ended them all).
 *   abuse huge URL ADDR MODE
 *       MODE "length": POST /v1/request declaring a 100 GB
 *       Content-Length, then sending body bytes until answered.
 *       MODE "chunked": the same body chunked (no length), 64 KiB chunks,
 *       at most 1 GiB.
 *   abuse bigreq URL ADDR BYTES
 *       one well-formed POST /v1/request whose ciphertext has BYTES bytes
 *       (under a session that does not exist): the host parses and
 *       decodes it in full before the enclave refuses it.
 *   abuse sessions URL CA KEY CERT ADDR COUNT THREADS
 *       opens a real session (and queries SELECT 1 in it), then replays
 *       one signed session-open request COUNT times from THREADS threads
 *       (a flood that costs the attacker nothing per request: each
 *       replay makes the enclave create, seal and sign a new session),
 *       then uses the first session again and prints its outcome.
 *
 * Output: one "result: status=S code=C count=N" line per distinct
 * answer (status 0 = the server closed without answering), plus
 * mode-specific lines; exit 0 unless the tool itself failed (the
 * integration test judges the results).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "client/client.h"
#include "common/util.h"

static char g_host[64];
static int g_port;

/* ---- tallies of answers ---- */

#define TALLY_MAX 32
struct tally {
  pthread_mutex_t lock;
  struct {
    int status;
    char code[48];
    char message[160];
    unsigned long count;
  } e[TALLY_MAX];
  int n;
};
static struct tally g_tally = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void tally_add(int status, const char *code, const char *message) {
  pthread_mutex_lock(&g_tally.lock);
  int i;
  for (i = 0; i < g_tally.n; i++)
    if (g_tally.e[i].status == status && strcmp(g_tally.e[i].code, code) == 0 &&
        strcmp(g_tally.e[i].message, message) == 0)
      break;
  if (i == g_tally.n && g_tally.n < TALLY_MAX) {
    g_tally.e[i].status = status;
    snprintf(g_tally.e[i].code, sizeof(g_tally.e[i].code), "%s", code);
    snprintf(g_tally.e[i].message, sizeof(g_tally.e[i].message), "%s", message);
    g_tally.e[i].count = 0;
    g_tally.n++;
  }
  if (i < TALLY_MAX)
    g_tally.e[i].count++;
  pthread_mutex_unlock(&g_tally.lock);
}

/* Print the tally, each line starting with `what`, and empty it. */
static void tally_print_as(const char *what) {
  pthread_mutex_lock(&g_tally.lock);
  for (int i = 0; i < g_tally.n; i++)
    printf("%s: status=%d code=%s count=%lu message=%s\n", what, g_tally.e[i].status,
           g_tally.e[i].code[0] ? g_tally.e[i].code : "-", g_tally.e[i].count, g_tally.e[i].message);
  g_tally.n = 0;
  pthread_mutex_unlock(&g_tally.lock);
  fflush(stdout);
}

static void tally_print(void) { tally_print_as("result"); }

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- raw HTTP ---- */

static int parse_url(const char *url) {
  const char *p = strncmp(url, "http://", 7) == 0 ? url + 7 : NULL, *colon;
  if (p == NULL || (colon = strrchr(p, ':')) == NULL || (size_t)(colon - p) >= sizeof(g_host))
    return -1;
  memcpy(g_host, p, (size_t)(colon - p));
  g_host[colon - p] = '\0';
  g_port = (int)strtol(colon + 1, NULL, 10);
  return g_port > 0 ? 0 : -1;
}

/* A blocking TCP connection to the server from local address addr. */
static int conn_open(const char *addr) {
  struct sockaddr_in local, remote;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  memset(&local, 0, sizeof(local));
  local.sin_family = AF_INET;
  memset(&remote, 0, sizeof(remote));
  remote.sin_family = AF_INET;
  remote.sin_port = htons((uint16_t)g_port);
  if (inet_pton(AF_INET, addr, &local.sin_addr) != 1 || inet_pton(AF_INET, g_host, &remote.sin_addr) != 1 ||
      bind(fd, (struct sockaddr *)&local, sizeof(local)) != 0 ||
      connect(fd, (struct sockaddr *)&remote, sizeof(remote)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
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

/* An answer read so far: complete when the headers and Content-Length
 * bytes of body are in. */
struct answer {
  char buf[8192];
  size_t len;
  int status;
  int done, closed;
};

/* Parse a complete answer in a: status, and the JSON error body's
 * code and message (empty if none). */
static void answer_parse(const struct answer *a, int *status, char *code, size_t codelen, char *msg, size_t msglen) {
  const char *body = strstr(a->buf, "\r\n\r\n");
  json_t *j;
  *status = 0;
  code[0] = msg[0] = '\0';
  if (strncmp(a->buf, "HTTP/1.", 7) != 0 || a->len < 12)
    return;
  *status = (int)strtol(a->buf + 9, NULL, 10);
  if (body != NULL && (j = json_loads(body + 4, JSON_DISABLE_EOF_CHECK, NULL)) != NULL) {
    const char *c = json_string_value(json_object_get(j, "error"));
    const char *m = json_string_value(json_object_get(j, "message"));
    snprintf(code, codelen, "%s", c ? c : "");
    snprintf(msg, msglen, "%s", m ? m : "");
    json_decref(j);
  }
}

/* Is the answer in a complete (headers plus Content-Length)? */
static int answer_complete(const struct answer *a) {
  const char *end = strstr(a->buf, "\r\n\r\n"), *cl;
  if (end == NULL)
    return 0;
  cl = strcasestr(a->buf, "\r\nContent-Length:");
  if (cl == NULL || cl > end)
    return 1;
  return a->len >= (size_t)(end + 4 - a->buf) + (size_t)strtoul(cl + 17, NULL, 10);
}

/* Read what is available (non-blocking use: call when poll says so). */
static void answer_read(int fd, struct answer *a) {
  for (;;) {
    if (a->len + 1 >= sizeof(a->buf)) {
      a->done = 1;
      return;
    }
    ssize_t k = recv(fd, a->buf + a->len, sizeof(a->buf) - 1 - a->len, MSG_DONTWAIT);
    if (k > 0) {
      a->len += (size_t)k;
      a->buf[a->len] = '\0';
      if (answer_complete(a)) {
        a->done = 1;
        return;
      }
      continue;
    }
    if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
      return;
    a->closed = 1; /* EOF or reset */
    return;
  }
}

/* Read one whole answer within timeout seconds (blocking use). */
static int answer_wait(int fd, struct answer *a, double timeout) {
  double end = now_s() + timeout;
  while (!a->done && !a->closed && now_s() < end) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 200) > 0)
      answer_read(fd, a);
  }
  return a->done ? 0 : -1;
}

static void answer_tally(const struct answer *a) {
  int status;
  char code[48], msg[160];
  answer_parse(a, &status, code, sizeof(code), msg, sizeof(msg));
  tally_add(a->done || a->len > 0 ? status : 0, code, a->done || a->len > 0 ? msg : "closed without an answer");
}

/* ---- slow: connections that never finish ---- */

static int cmd_slow(const char *addr, int count, double seconds, const char *mode) {
  int *fds = calloc((size_t)count, sizeof(int));
  size_t *sent = calloc((size_t)count, sizeof(size_t));
  struct answer *ans = calloc((size_t)count, sizeof(struct answer));
  char head[256];
  int opened = 0, body = strcmp(mode, "body") == 0, idle = strcmp(mode, "idle") == 0;
  double start, last_byte = 0, first_end = -1, last_end = -1;

  if (fds == NULL || sent == NULL || ans == NULL)
    return 2;
  if (!body && !idle && strcmp(mode, "headers") != 0) {
    fprintf(stderr, "abuse slow: MODE is headers, idle or body\n");
    return 2;
  }
  /* "body" sends its headers whole: only the body trickles. */
  snprintf(head, sizeof(head),
           "POST /v1/attest HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n",
           g_host);
  for (int i = 0; i < count; i++) {
    if ((fds[i] = conn_open(addr)) < 0) {
      fprintf(stderr, "abuse slow: connection %d: %s\n", i, strerror(errno));
      break;
    }
    opened++;
    if (body && send_all(fds[i], head, strlen(head)) != 0)
      ans[i].closed = 1;
  }
  printf("slow: opened %d connections from %s (%s)\n", opened, addr, mode);
  fflush(stdout);
  start = now_s();
  while (now_s() - start < seconds) {
    int open = 0;
    double t = now_s();
    int tick = t - last_byte >= 1.0;
    if (tick)
      last_byte = t;
    for (int i = 0; i < opened; i++) {
      if (ans[i].closed || ans[i].done)
        continue;
      open++;
      if (tick && !idle) {
        /* slowloris: "POST ... \r\nX-a: b\r\n" forever, one byte a second. */
        static const char lines[] = "POST /v1/attest HTTP/1.1\r\nHost: x\r\nX-Slow: 0123456789\r\n";
        char b = body ? ' ' : lines[sent[i] < 26 ? sent[i] : 26 + (sent[i] - 26) % (sizeof(lines) - 1 - 26)];
        if (send(fds[i], &b, 1, MSG_NOSIGNAL | MSG_DONTWAIT) == 1)
          sent[i]++;
      }
      answer_read(fds[i], &ans[i]);
      if (ans[i].closed || ans[i].done) {
        double at = now_s() - start;
        if (first_end < 0)
          first_end = at;
        last_end = at;
      }
    }
    if (open == 0)
      break;
    usleep(100000);
  }
  int still = 0;
  for (int i = 0; i < opened; i++) {
    if (!ans[i].closed && !ans[i].done)
      still++;
    else
      answer_tally(&ans[i]);
    close(fds[i]);
  }
  tally_print();
  printf("slow: ended by the server %d, still open %d; first ended after %.1f s, last after %.1f s\n",
         opened - still, still, first_end, last_end);
  free(fds);
  free(sent);
  free(ans);
  return 0;
}

/* ---- conns: the connection limits ---- */

static int cmd_conns(int hold, double seconds, const char *probe_addr, int probes, char **addrs, int naddrs) {
  int total = hold * naddrs, opened = 0;
  int *fds = calloc((size_t)total, sizeof(int));
  struct answer *ans = calloc((size_t)total, sizeof(struct answer));
  char start[256], req[256];

  if (fds == NULL || ans == NULL)
    return 2;
  /* Held: the start of a request, so that the server counts them as
   * busy connections (an idle kept-alive one it would close for room). */
  snprintf(start, sizeof(start), "GET /v1/health HTTP/1.1\r\nHost: %s\r\n", g_host);
  snprintf(req, sizeof(req), "GET /v1/health HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", g_host);
  for (int a = 0; a < naddrs; a++)
    for (int i = 0; i < hold; i++) {
      if ((fds[opened] = conn_open(addrs[a])) < 0) {
        fprintf(stderr, "abuse conns: connection from %s: %s\n", addrs[a], strerror(errno));
        continue;
      }
      if (send_all(fds[opened], start, strlen(start)) != 0)
        ans[opened].closed = 1;
      opened++;
    }
  usleep(1000000); /* the server accepts and counts them all */
  for (int i = 0; i < probes; i++) {
    struct answer a;
    int fd = conn_open(probe_addr);
    memset(&a, 0, sizeof(a));
    if (fd >= 0 && send_all(fd, req, strlen(req)) == 0)
      (void)answer_wait(fd, &a, 20.0);
    if (fd >= 0)
      close(fd);
    answer_tally(&a);
  }
  tally_print_as("probe");
  printf("holding %d connections\n", opened);
  fflush(stdout);
  /* Watch the held ones until the server ends them (header deadline). */
  double t0 = now_s();
  int open = opened;
  while (open > 0 && now_s() - t0 < seconds) {
    open = 0;
    for (int i = 0; i < opened; i++) {
      if (ans[i].closed || ans[i].done)
        continue;
      answer_read(fds[i], &ans[i]);
      if (!ans[i].closed && !ans[i].done)
        open++;
    }
    usleep(100000);
  }
  for (int i = 0; i < opened; i++) {
    if (ans[i].closed || ans[i].done)
      answer_tally(&ans[i]);
    close(fds[i]);
  }
  tally_print();
  printf("conns: %d of %d still open after %.1f s\n", open, opened, now_s() - t0);
  free(fds);
  free(ans);
  return 0;
}

/* ---- huge: a body without end ---- */

static int cmd_huge(const char *addr, const char *mode) {
  static char chunk[64 * 1024];
  char head[512];
  struct answer a;
  int chunked = strcmp(mode, "chunked") == 0, fd;
  unsigned long long sent = 0, limit = 1ull << 30;
  double start = now_s();

  if (!chunked && strcmp(mode, "length") != 0) {
    fprintf(stderr, "abuse huge: MODE is length or chunked\n");
    return 2;
  }
  memset(&a, 0, sizeof(a));
  memset(chunk, ' ', sizeof(chunk));
  if ((fd = conn_open(addr)) < 0) {
    fprintf(stderr, "abuse huge: cannot connect: %s\n", strerror(errno));
    return 2;
  }
  snprintf(head, sizeof(head), "POST /v1/request HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n%s\r\n",
           g_host, chunked ? "Transfer-Encoding: chunked\r\n" : "Content-Length: 107374182400\r\n");
  if (send_all(fd, head, strlen(head)) != 0) {
    close(fd);
    return 2;
  }
  (void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  while (!a.done && !a.closed && sent < limit && now_s() - start < 120) {
    struct pollfd p = {fd, POLLIN | POLLOUT, 0};
    if (poll(&p, 1, 500) <= 0)
      continue;
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      answer_read(fd, &a);
      continue;
    }
    if (p.revents & POLLOUT) {
      char frame[64 * 1024 + 16];
      size_t n = sizeof(chunk);
      const void *out = chunk;
      if (chunked) {
        int h = snprintf(frame, sizeof(frame), "%zx\r\n", n);
        memcpy(frame + h, chunk, n);
        memcpy(frame + h + n, "\r\n", 2);
        out = frame;
        n += (size_t)h + 2;
      }
      ssize_t k = send(fd, out, n, MSG_NOSIGNAL);
      if (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        /* The server stopped reading; its answer may still be there. */
        (void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
        (void)answer_wait(fd, &a, 5.0);
        break;
      }
      if (k > 0)
        sent += (unsigned long long)k;
      /* A partial frame would desynchronise chunking: finish it. */
      if (k > 0 && (size_t)k < n && send_all(fd, (const char *)out + k, n - (size_t)k) == 0)
        sent += n - (size_t)k;
    }
  }
  close(fd);
  answer_tally(&a);
  tally_print();
  printf("huge: %s: sent %llu body bytes before the server answered or closed (%.1f s)\n", mode, sent,
         now_s() - start);
  return 0;
}

/* ---- bigreq: one large well-formed request ---- */

static int cmd_bigreq(const char *addr, size_t bytes) {
  uint8_t sid[CDR_SESSION_ID_LEN] = {0}, sig[64] = {0};
  uint8_t *ct = calloc(bytes ? bytes : 1, 1);
  char *ct64 = NULL, *sid64 = NULL, *sig64 = NULL, *body = NULL, head[256];
  struct answer a;
  int fd, r = 2;
  size_t blen;

  memset(&a, 0, sizeof(a));
  if (ct == NULL || cdr_b64_encode(&ct64, ct, bytes) != 0 || cdr_b64_encode(&sid64, sid, sizeof(sid)) != 0 ||
      cdr_b64_encode(&sig64, sig, sizeof(sig)) != 0)
    goto out;
  blen = strlen(ct64) + 256;
  if ((body = malloc(blen)) == NULL)
    goto out;
  blen = (size_t)snprintf(body, blen,
                          "{\"session_id\":\"%s\",\"seq\":1,\"timestamp\":%lld,\"ciphertext\":\"%s\","
                          "\"signature\":\"%s\"}",
                          sid64, (long long)time(NULL), ct64, sig64);
  snprintf(head, sizeof(head),
           "POST /v1/request HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
           "Connection: close\r\n\r\n",
           g_host, blen);
  if ((fd = conn_open(addr)) < 0)
    goto out;
  if (send_all(fd, head, strlen(head)) != 0 || send_all(fd, body, blen) != 0)
    fprintf(stderr, "abuse bigreq: the server stopped reading\n");
  (void)answer_wait(fd, &a, 120.0);
  close(fd);
  answer_tally(&a);
  tally_print();
  printf("bigreq: %zu bytes of ciphertext in a %zu-byte body\n", bytes, blen);
  r = 0;
out:
  free(ct);
  free(ct64);
  free(sid64);
  free(sig64);
  free(body);
  return r;
}

/* ---- sessions: a flood of replayed session setups ---- */

struct flood {
  const char *addr;
  const char *body;
  size_t len;
  atomic_long left;
};

static void *flood_thread(void *arg) {
  struct flood *f = arg;
  char head[256];
  int fd = -1;

  snprintf(head, sizeof(head),
           "POST /v1/session HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
           g_host, f->len);
  while (atomic_fetch_sub(&f->left, 1) > 0) {
    struct answer a;
    memset(&a, 0, sizeof(a));
    if (fd < 0 && (fd = conn_open(f->addr)) < 0) {
      tally_add(0, "", "cannot connect");
      usleep(100000);
      continue;
    }
    if (send_all(fd, head, strlen(head)) != 0 || send_all(fd, f->body, f->len) != 0 ||
        answer_wait(fd, &a, 60.0) != 0 || strcasestr(a.buf, "\r\nConnection: close") != NULL) {
      close(fd); /* the next request opens a new connection */
      fd = -1;
    }
    answer_tally(&a);
  }
  if (fd >= 0)
    close(fd);
  return NULL;
}

static int cmd_sessions(const char *url, const char *ca, const char *key, const char *cert, const char *addr,
                        long count, int threads) {
  struct cdr_client *c = NULL;
  struct cdr_attestation att;
  struct cdr_session *first = NULL;
  struct cdr_open_pending pend;
  struct flood f;
  pthread_t *tids = calloc((size_t)threads, sizeof(pthread_t));
  char *body = NULL;
  json_t *res = NULL;
  int r, started = 0;
  double t0;

  memset(&att, 0, sizeof(att));
  memset(&pend, 0, sizeof(pend));
  if (tids == NULL || cdr_client_new(&c, url) != 0 || cdr_client_set_ca_file(c, ca) != 0 ||
      cdr_client_load_user(c, key, cert) != 0) {
    fprintf(stderr, "abuse sessions: cannot set up the client\n");
    return 2;
  }
  cdr_client_allow_sim(c, 1);
  if ((r = cdr_client_attest(c, &att)) != 0 || (r = cdr_session_open(c, &att, &first)) != 0 ||
      (r = cdr_client_query(c, first, "SELECT 1", &res)) != 0) {
    fprintf(stderr, "abuse sessions: the first session failed: %s %s\n", cdr_err_code(r), c->detail);
    return 2;
  }
  json_decref(res);
  res = NULL;
  printf("sessions: the first session works\n");
  if ((r = cdr_session_open_build(c, 0, &pend, &body)) != 0) {
    fprintf(stderr, "abuse sessions: cannot build the session-open request\n");
    return 2;
  }
  f.addr = addr;
  f.body = body;
  f.len = strlen(body);
  atomic_init(&f.left, count);
  t0 = now_s();
  for (int i = 0; i < threads; i++)
    if (pthread_create(&tids[i], NULL, flood_thread, &f) == 0)
      started++;
  for (int i = 0; i < started; i++)
    pthread_join(tids[i], NULL);
  tally_print();
  printf("sessions: %ld replayed session setups from %d threads in %.1f s\n", count, started, now_s() - t0);
  r = cdr_client_query(c, first, "SELECT 1", &res);
  json_decref(res);
  printf("sessions: the first session afterwards: %s\n",
         r == 0 ? "ok" : (c->remote_code[0] ? c->remote_code : cdr_err_code(r)));
  free(body);
  free(tids);
  cdr_open_pending_clear(&pend);
  cdr_session_free(first);
  cdr_attestation_clear(&att);
  cdr_client_free(c);
  return 0;
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc >= 3 && parse_url(argv[2]) != 0) {
    fprintf(stderr, "abuse: URL must be http://IPV4:PORT\n");
    return 2;
  }
  if (argc == 7 && strcmp(argv[1], "slow") == 0)
    return cmd_slow(argv[3], (int)strtol(argv[4], NULL, 10), strtod(argv[5], NULL), argv[6]);
  if (argc >= 8 && strcmp(argv[1], "conns") == 0)
    return cmd_conns((int)strtol(argv[3], NULL, 10), strtod(argv[4], NULL), argv[5], (int)strtol(argv[6], NULL, 10),
                     argv + 7, argc - 7);
  if (argc == 5 && strcmp(argv[1], "huge") == 0)
    return cmd_huge(argv[3], argv[4]);
  if (argc == 5 && strcmp(argv[1], "bigreq") == 0)
    return cmd_bigreq(argv[3], (size_t)strtoull(argv[4], NULL, 10));
  if (argc == 9 && strcmp(argv[1], "sessions") == 0)
    return cmd_sessions(argv[2], argv[3], argv[4], argv[5], argv[6], strtol(argv[7], NULL, 10),
                        (int)strtol(argv[8], NULL, 10));
  fprintf(stderr, "usage: abuse slow URL ADDR COUNT SECONDS headers|idle|body\n"
                  "       abuse conns URL HOLD SECONDS PROBE_ADDR PROBES ADDR...\n"
                  "       abuse huge URL ADDR length|chunked\n"
                  "       abuse bigreq URL ADDR BYTES\n"
                  "       abuse sessions URL CA KEY CERT ADDR COUNT THREADS\n");
  return 2;
}
