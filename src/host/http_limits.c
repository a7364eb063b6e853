/*
 * http_limits.c - the connection limits and deadlines of cdrd's HTTP
 * server (limits in http.h; shared state and contracts in http_int.h).
 *
 * Life of a connection (MHD's notify-connection callback):
 *   accepted   a struct http_link records its socket, client address and
 *              phase.  Past CDR_HTTP_MAX_CONNECTIONS counted connections,
 *              or CDR_HTTP_MAX_CONNECTIONS_PER_IP from its address, the
 *              oldest idle kept-alive connection (in all, or of that
 *              address) is closed to make room; if there is none, the new
 *              one is refused: its request is answered 503 busy (the
 *              reaper answers for it if no request comes within a grace
 *              period) and it is closed.  A connection stops counting
 *              once it is shut down.  MHD's own limits sit above ours as
 *              a backstop; past those MHD closes without a word.
 *   closed     the link is unlinked and freed.  MHD notifies before it
 *              closes the socket, so under srv->lock a linked link's fd
 *              is always the connection's own.
 *
 * Deadlines (the reaper, every HTTP_REAPER_PERIOD_MS): a connection
 * waiting for request headers gets CDR_HTTP_HEADER_TIMEOUT_S from its
 * accept or its previous answer; a request body must bring
 * CDR_HTTP_BODY_MIN_RATE bytes a second over every window of
 * CDR_HTTP_BODY_WINDOW_S (per window, so that a fast start earns no
 * credit for a long stall).  Past either, the reaper writes a 408 answer
 * on the socket itself (nothing else writes to it in those phases; a
 * kept-alive connection between requests is closed without one; under
 * TLS never: a plaintext answer there would be a protocol error, and a
 * GnuTLS record can only come from MHD's thread, so the connection is
 * only shut down) and
 * shuts the socket down; MHD then sees the end of the stream and closes.
 * While a handler runs or an answer is sent, only MHD's idle timeout
 * (CDR_HTTP_IDLE_TIMEOUT_S without any traffic) applies.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "http_int.h"

/* A refused connection has this long to send the request we answer. */
#define HTTP_REFUSED_GRACE_MS 2000
#define HTTP_REAPER_PERIOD_MS 500
/* The reaper logs what it did at most this often (a flood must not
 * become a flood of log lines). */
#define HTTP_REAPER_LOG_MS 10000

int64_t http_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *http_refusal_message(enum http_refusal why) {
  return why == HTTP_REFUSED_SERVER ? "the server has too many connections; retry later"
                                    : "too many connections from your address; retry later";
}

/* The client address of a connection into l->ip. */
static void http_link_address(struct http_link *l, struct MHD_Connection *conn) {
  const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  const struct sockaddr *sa = ci != NULL ? ci->client_addr : NULL;

  if (sa != NULL && sa->sa_family == AF_INET) {
    memcpy(l->ip, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
    l->ip_len = 4;
  } else if (sa != NULL && sa->sa_family == AF_INET6) {
    memcpy(l->ip, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
    l->ip_len = 16;
  }
}

static int http_same_ip(const struct http_link *a, const struct http_link *b) {
  return a->ip_len != 0 && a->ip_len == b->ip_len && memcmp(a->ip, b->ip, a->ip_len) == 0;
}

/* Counted connections from l's address (srv->lock held). */
static size_t http_same_address(const struct http_server *srv, const struct http_link *l) {
  size_t n = 0;
  for (const struct http_link *x = srv->links; x != NULL; x = x->next)
    if (x->counted && http_same_ip(x, l))
      n++;
  return n;
}

/* l no longer counts toward the limits (srv->lock held). */
static void http_link_uncount(struct http_server *srv, struct http_link *l) {
  if (l->counted) {
    l->counted = 0;
    srv->counted--;
  }
}

/* Close the oldest idle kept-alive connection, of like's address if
 * like is not NULL, without a word (a client reusing it just then
 * retries on a new one).  1 if there was one.  srv->lock held.  A client
 * that opens a connection per request leaves such connections behind
 * until the thread that owns them notices the close. */
static int http_evict_idle(struct http_server *srv, const struct http_link *like) {
  struct http_link *oldest = NULL;

  for (struct http_link *x = srv->links; x != NULL; x = x->next)
    if (x->counted && !x->cut && x->kept_alive && x->phase == HTTP_PHASE_HEADERS &&
        (like == NULL || http_same_ip(x, like)) && (oldest == NULL || x->since_ms < oldest->since_ms))
      oldest = x;
  if (oldest == NULL)
    return 0;
  if (oldest->fd >= 0)
    (void)shutdown(oldest->fd, SHUT_RDWR);
  oldest->answered = oldest->cut = 1;
  http_link_uncount(srv, oldest);
  srv->counts.evicted_idle++;
  return 1;
}

void http_on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                        enum MHD_ConnectionNotificationCode code) {
  struct http_server *srv = cls;
  struct http_link *l = *socket_context;
  const union MHD_ConnectionInfo *ci;

  if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
    if (l == NULL)
      return;
    pthread_mutex_lock(&srv->lock);
    if (l->prev != NULL)
      l->prev->next = l->next;
    else
      srv->links = l->next;
    if (l->next != NULL)
      l->next->prev = l->prev;
    http_link_uncount(srv, l);
    pthread_mutex_unlock(&srv->lock);
    free(l);
    *socket_context = NULL;
    return;
  }
  /* Out of memory: the connection goes untracked (no count, no
   * deadline); MHD's own limits and idle timeout still hold. */
  if ((l = calloc(1, sizeof(*l))) == NULL)
    return;
  ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
  l->fd = ci != NULL ? ci->connect_fd : -1;
  http_link_address(l, conn);
  l->phase = HTTP_PHASE_HEADERS;
  l->since_ms = http_now_ms();
  pthread_mutex_lock(&srv->lock);
  if (srv->counted >= CDR_HTTP_MAX_CONNECTIONS && !http_evict_idle(srv, NULL)) {
    l->refused = HTTP_REFUSED_SERVER;
    srv->counts.refused_server++;
  } else if (http_same_address(srv, l) >= CDR_HTTP_MAX_CONNECTIONS_PER_IP && !http_evict_idle(srv, l)) {
    l->refused = HTTP_REFUSED_ADDRESS;
    srv->counts.refused_address++;
  } else {
    l->counted = 1;
    srv->counted++;
  }
  l->next = srv->links;
  if (srv->links != NULL)
    srv->links->prev = l;
  srv->links = l;
  pthread_mutex_unlock(&srv->lock);
  *socket_context = l;
}

/* (Contract in http_int.h.) */
void http_link_answer(struct http_server *srv, struct http_link *l, int status, int err, const char *message,
                      int both) {
  char body[256], text[512];
  const char *reason = status == 408 ? "Request Timeout" : status == 413 ? "Content Too Large" : "Service Unavailable";
  int bn, tn;

  if (!l->answered) {
    bn = snprintf(body, sizeof(body), "{\"error\":\"%s\",\"message\":\"%s\"}", cdr_err_code(err), message);
    tn = snprintf(text, sizeof(text),
                  "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n"
                  "X-Content-Type-Options: nosniff\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s",
                  status, reason, bn, body);
    if (!srv->tls && l->fd >= 0 && tn > 0 && (size_t)tn < sizeof(text))
      (void)send(l->fd, text, (size_t)tn, MSG_DONTWAIT | MSG_NOSIGNAL);
    l->answered = 1;
  }
  if (l->fd >= 0)
    (void)shutdown(l->fd, both ? SHUT_RDWR : SHUT_WR);
  if (both) {
    l->cut = 1;
    http_link_uncount(srv, l);
  }
}

static void http_link_cut(struct http_server *srv, struct http_link *l, int status, int err, const char *message) {
  http_link_answer(srv, l, status, err, message, 1);
}

/* One pass over the connections (srv->lock held). */
static void http_reap(struct http_server *srv, int64_t now) {
  char msg[128];

  for (struct http_link *l = srv->links; l != NULL; l = l->next) {
    if (l->cut || l->phase == HTTP_PHASE_ANSWER)
      continue;
    /* (A link answered already is only shut down when overdue.) */
    if (l->phase == HTTP_PHASE_HEADERS && l->refused != HTTP_ADMITTED) {
      if (now - l->since_ms > HTTP_REFUSED_GRACE_MS)
        http_link_cut(srv, l, 503, CDR_ERR_BUSY, http_refusal_message(l->refused));
    } else if (l->phase == HTTP_PHASE_HEADERS) {
      if (now - l->since_ms > (int64_t)CDR_HTTP_HEADER_TIMEOUT_S * 1000) {
        /* A kept-alive connection is closed without a word: a client
         * that reuses it just then would take a 408 for the answer to
         * the request it is sending. */
        snprintf(msg, sizeof(msg), "no complete request headers within %u seconds", CDR_HTTP_HEADER_TIMEOUT_S);
        l->answered = l->answered || l->kept_alive;
        http_link_cut(srv, l, 408, CDR_ERR_REQUEST_TIMEOUT, msg);
        srv->counts.header_timeouts++;
      }
    } else if (now - l->since_ms >= (int64_t)CDR_HTTP_BODY_WINDOW_S * 1000) {
      /* The end of a window of the body: enough bytes, or cut. */
      if (l->body_bytes < (uint64_t)(now - l->since_ms) * CDR_HTTP_BODY_MIN_RATE / 1000) {
        snprintf(msg, sizeof(msg), "the request body arrives slower than %u bytes a second", CDR_HTTP_BODY_MIN_RATE);
        http_link_cut(srv, l, 408, CDR_ERR_REQUEST_TIMEOUT, msg);
        srv->counts.body_timeouts++;
      } else {
        l->since_ms = now;
        l->body_bytes = 0;
      }
    }
  }
  if (now - srv->counts_since_ms >= HTTP_REAPER_LOG_MS) {
    struct http_reaper_counts *k = &srv->counts;
    if (k->refused_server + k->refused_address + k->header_timeouts + k->body_timeouts > 0)
      log_warn("connections in the last %d s: %lu refused (server full), %lu refused (per-address limit), "
               "%lu idle ones closed to make room, %lu closed for slow headers, %lu for a slow body",
               HTTP_REAPER_LOG_MS / 1000, k->refused_server, k->refused_address, k->evicted_idle,
               k->header_timeouts, k->body_timeouts);
    memset(k, 0, sizeof(*k));
    srv->counts_since_ms = now;
  }
}

void *http_reaper_main(void *arg) {
  struct http_server *srv = arg;
  struct timespec until;

  pthread_mutex_lock(&srv->lock);
  while (!srv->stopping) {
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_nsec += (long)HTTP_REAPER_PERIOD_MS * 1000000L;
    until.tv_sec += until.tv_nsec / 1000000000L;
    until.tv_nsec %= 1000000000L;
    (void)pthread_cond_timedwait(&srv->wake, &srv->lock, &until);
    if (!srv->stopping)
      http_reap(srv, http_now_ms());
  }
  pthread_mutex_unlock(&srv->lock);
  return NULL;
}
