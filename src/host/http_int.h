/*
 * http_int.h - what the two files of cdrd's HTTP server share (http.h
 * has the contracts its users see):
 *
 *   http.c         requests: routes, bodies, answers, MHD's access and
 *                  completion callbacks, starting and stopping.
 *   http_limits.c  connections: counting them in all and per address,
 *                  refusing or evicting past the limits, and the reaper
 *                  thread that enforces the header and body deadlines.
 *
 * http.c calls into http_limits.c and never the other way.
 *
 * Locking: the fields of struct http_link below `next`, the link list,
 * `counted`, `counts` and `stopping` are read and written under
 * srv->lock only.  The rest of struct http_server is set before the
 * daemon starts and only read afterwards, except body_charged (atomic).
 */
#ifndef CDR_HOST_HTTP_INT_H
#define CDR_HOST_HTTP_INT_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "http.h"

enum http_phase {
  HTTP_PHASE_HEADERS, /* waiting for a request's headers */
  HTTP_PHASE_BODY,    /* receiving its body */
  HTTP_PHASE_ANSWER   /* the handler runs or the answer is being sent */
};

enum http_refusal { HTTP_ADMITTED, HTTP_REFUSED_SERVER, HTTP_REFUSED_ADDRESS };

/* One TCP connection, MHD's socket context.  Fields below `next` are
 * read and written under srv->lock only. */
struct http_link {
  struct http_link *prev, *next;
  int fd;
  uint8_t ip[16]; /* the client address (IPv4: 4 bytes) */
  size_t ip_len;
  enum http_refusal refused;
  int counted;         /* counts toward srv->counted and the address's limit */
  enum http_phase phase;
  int64_t since_ms;    /* when the phase (or the body's window) began */
  uint64_t body_bytes; /* body bytes of this window, in HTTP_PHASE_BODY */
  int kept_alive;      /* it has answered a request already */
  int answered;        /* an answer was written on the socket directly */
  int cut;             /* and the socket is shut down both ways */
};

/* What the limits did since the reaper's last log line. */
struct http_reaper_counts {
  unsigned long refused_server, refused_address, evicted_idle, header_timeouts, body_timeouts;
};

struct http_server {
  struct MHD_Daemon *daemon;
  const struct http_route *routes;
  size_t nroutes;
  void *ctx;
  size_t max_body;
  size_t body_budget;
  atomic_size_t body_charged; /* bytes of body buffers allocated now */
  atomic_uint_fast64_t in_flight; /* requests begun and not completed */
  http_observe_fn observe;
  void *observe_ctx;
  const int *api_errors; /* opts->api_errors, n_api_errors of them */
  size_t n_api_errors;
  struct http_route fallback; /* {"GET", "", opts->get_fallback}; handler NULL: none */
  void *fallback_ctx;
  uint16_t port;
  struct sockaddr_storage addr;
  int tls; /* HTTPS: nothing may be written on a raw socket */

  pthread_mutex_t lock; /* the links, the counts, `stopping` */
  pthread_cond_t wake;  /* the reaper's sleep; signalled to stop it */
  int lock_ready, reaper_running, stopping;
  pthread_t reaper;
  struct http_link *links;
  size_t counted; /* links with counted set */
  struct http_reaper_counts counts;
  int64_t counts_since_ms;
};

/* Milliseconds on the monotonic clock. */
int64_t http_now_ms(void);

/* The sentence a refused connection is answered with (a constant). */
const char *http_refusal_message(enum http_refusal why);

/* MHD's notify-connection callback (cls: the server).  Started: track
 * the connection in a new link and count it, or, past the limits, close
 * an idle kept-alive one to make room or mark the new one refused.
 * Closed: unlink and free the link. */
void http_on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                        enum MHD_ConnectionNotificationCode code);

/* Write an error answer on the socket directly (never under TLS, where
 * the socket carries GnuTLS records that only MHD's thread may write:
 * there the connection is only shut down, and the client sees it
 * closed), then shut the socket
 * down for writing (a FIN after the answer) or, with both, for reading
 * too (MHD then sees the end of the stream and closes).  srv->lock held;
 * the connection is in a phase where MHD writes nothing.  message is a
 * constant sentence: it is not JSON-escaped.  A link is answered at most
 * once (l->answered). */
void http_link_answer(struct http_server *srv, struct http_link *l, int status, int err, const char *message,
                      int both);

/* The reaper thread (arg: the server): every HTTP_REAPER_PERIOD_MS it
 * cuts the connections past their deadlines, until srv->stopping is set
 * under srv->lock and srv->wake signalled. */
void *http_reaper_main(void *arg);

#endif
