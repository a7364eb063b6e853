/*
 * main.c - cdrd, the untrusted host of a data room.
 *
 *   cdrd [ROOM] [--config FILE] [--listen HOST:PORT] [...]   (config.h)
 *
 * Opens the room and its CA (the PKCS#11 token; PIN from CDR_HSM_PIN or
 * ROOM/hsm/user-pin), loads or issues its TLS credentials (host/tls.h),
 * listens over HTTPS (and, plain HTTP, on --metrics-listen), then starts
 * cdr-enclave on a socketpair and has it check its sealed state: until
 * it has, only /v1/health, /v1/ready, /v1/openapi.json and /metrics
 * answer, every other route 503 room_loading (PROTOCOL 4.2).  Then it
 * serves the HTTP API of docs/PROTOCOL.md section 4, while the sealed
 * tables load in the background (table_loader.h), until SIGINT/SIGTERM
 * (exit 0) or until the enclave dies (exit 1): without the enclave the
 * room can do nothing, and a supervisor should restart both together.
 *
 * Signals: SIGINT and SIGTERM are blocked before any thread exists, so
 * every thread (MHD's, the token library's) inherits the mask and the
 * main thread alone takes them with sigtimedwait.  SIGPIPE is ignored:
 * a peer that goes away shows up as EPIPE on that socket only.
 *
 * Started as root, cdrd becomes --user NAME (default: the owner of ROOM)
 * before it opens anything of the room, so the enclave it starts never
 * has root either, and gives root up for good once the listening socket
 * is bound (privdrop.h).
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/limits.h"
#include "common/log.h"
#include "common/room_limits.h"
#include "common/util.h"
#include "host/config.h"
#include "host/console_files.h"
#include "host/http.h"
#include "host/metrics.h"
#include "host/progress.h"
#include "host/privdrop.h"
#include "host/table_loader.h"
#include "host/tls.h"
#include "host/routes.h"
#include "host/enclave_state.h"
#include "ipc/messages.h"
#include "host/store.h"
#include "ipc/channel.h"
#include "host/enclave_link.h"
#include "host/upgrade.h"
#include "room/room.h"

#define CDRD_ENCLAVE_NAME "cdr-enclave"
#define CDRD_POLL_MS 200
#define CDRD_URL_MAX 320

/* dirname(/proc/self/exe) + "/cdr-enclave", malloc'd. */
static int default_enclave_path(char **out) {
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  char *slash;

  if (n <= 0 || (size_t)n >= sizeof(self) - 1)
    return CDR_ERR_IO;
  self[n] = '\0';
  if ((slash = strrchr(self, '/')) == NULL)
    return CDR_ERR_IO;
  *slash = '\0';
  if ((*out = cdr_path_join(self[0] ? self : "/", CDRD_ENCLAVE_NAME)) == NULL)
    return CDR_ERR_NOMEM;
  return 0;
}

/* ROOM/crl.pem, as last delivered: a change of any of these redelivers. */
struct crl_watch {
  const char *path;
  struct timespec mtime;
  off_t size;
  ino_t ino;
  int retry; /* refused for the witness verdict: offered again each tick */
};

/* Unchanged since last delivered (and not to be retried)?  A changed file
 * is judged afresh. */
static int watch_same(struct crl_watch *w, const struct stat *sb) {
  int same = sb->st_mtim.tv_sec == w->mtime.tv_sec && sb->st_mtim.tv_nsec == w->mtime.tv_nsec &&
             sb->st_size == w->size && sb->st_ino == w->ino;
  if (!same)
    w->retry = 0;
  return same && !w->retry;
}

/* The enclave takes no change before its witnesses confirmed the room's
 * history (dispatch.c): such a refusal took nothing, so the file is
 * offered again each tick until it is taken, and logged once.  1 if r is
 * one. */
static int watch_witness_refused(struct crl_watch *w, int r, const char *what, const char *msg) {
  if (r != CDR_ERR_HISTORY_ROLLBACK && r != CDR_ERR_WITNESS_UNAVAILABLE) {
    w->retry = 0;
    return 0;
  }
  if (!w->retry)
    log_error("the enclave takes no %s before its witnesses confirm the room's history (%s); offered again until "
              "it does", what, msg != NULL ? msg : cdr_err_code(r));
  w->retry = 1;
  return 1;
}

/* Deliver ROOM/crl.pem to the enclave if it changed since last time.
 * 0 when there is nothing to do, it was delivered, or the enclave waits
 * for its witnesses (offered again); an error when the enclave refused it
 * (at start that stops the server). */
static int crl_deliver_if_changed(struct crl_watch *w, struct enclave_link *link) {
  struct stat sb;
  uint8_t *pem = NULL;
  size_t len = 0;
  X509_CRL *crl = NULL;
  unsigned char *der = NULL;
  char *msg = NULL;
  uint64_t number = 0;
  uint32_t ended = 0;
  int r, n;
  if (stat(w->path, &sb) != 0)
    return 0; /* no CRL: nothing is revoked */
  if (watch_same(w, &sb))
    return 0;
  /* The PEM of a CRL the enclave can take (IPC_CRL_MAX of DER): base64
   * and its line breaks stay under twice the DER. */
  if ((r = cdr_file_read(w->path, &pem, &len, 2u * IPC_CRL_MAX)) != 0) {
    log_error("cannot read %s: %s", w->path, cdr_err_describe(r));
    return r;
  }
  BIO *b = BIO_new_mem_buf(pem, (int)len);
  crl = b ? PEM_read_bio_X509_CRL(b, NULL, NULL, NULL) : NULL;
  BIO_free(b);
  if (crl == NULL || (n = i2d_X509_CRL(crl, &der)) <= 0) {
    log_error("%s is not a PEM CRL", w->path);
    r = CDR_ERR_ARG;
    goto out;
  }
  r = enclave_set_crl(link, der, (size_t)n, &number, &ended, &msg);
  if (watch_witness_refused(w, r, w->path, msg)) {
    r = 0; /* not refused: not yet taken (a room in that state serves nothing) */
    goto out;
  }
  if (r != 0) {
    log_error("the enclave refused %s: %s%s%s", w->path, cdr_err_code(r), msg ? ": " : "", msg ? msg : "");
    goto out;
  }
  log_info("revocation list number %llu delivered; %u open sessions ended", (unsigned long long)number, ended);
out:
  /* Remember the file even when refused, so a bad file is reported once. */
  w->mtime = sb.st_mtim;
  w->size = sb.st_size;
  w->ino = sb.st_ino;
  free(msg);
  OPENSSL_free(der);
  X509_CRL_free(crl);
  free(pem);
  return r;
}

/* Hand ROOM/proposal.json (`cdr room propose`) to the enclave if it
 * changed since last time.  A proposal needs no trust: the enclave checks
 * it and only members' signatures make it count; a refusal is logged and
 * the server goes on.  The same document again changes nothing. */
static void proposal_deliver_if_changed(struct crl_watch *w, struct enclave_link *link) {
  struct stat sb;
  uint8_t *doc = NULL, hash[32];
  size_t len = 0;
  char *msg = NULL, hex[65];
  uint64_t version = 0;
  uint32_t voided = 0;
  int r;
  if (w->path == NULL || stat(w->path, &sb) != 0)
    return;
  if (watch_same(w, &sb))
    return;
  w->mtime = sb.st_mtim;
  w->size = sb.st_size;
  w->ino = sb.st_ino;
  if ((r = cdr_file_read(w->path, &doc, &len, CDR_CONTRACT_MAX_BYTES)) != 0 || len == 0) {
    log_error("cannot read the contract proposal %s: %s", w->path, r ? cdr_err_describe(r) : "empty");
    free(doc);
    return;
  }
  r = enclave_propose(link, doc, len, &version, hash, &voided, &msg);
  if (watch_witness_refused(w, r, w->path, msg)) {
    /* logged once; offered again */
  } else if (r != 0) {
    log_error("the enclave refused the contract proposal %s: %s%s%s", w->path, cdr_err_code(r), msg ? ": " : "",
              msg ? msg : "");
  } else {
    cdr_hex_encode(hex, hash, 32);
    log_info("contract version %llu (%s) is pending; %u signatures voided; members sign it with `cdr contract sign`",
             (unsigned long long)version, hex, voided);
  }
  free(msg);
  free(doc);
}

/* Hand ROOM/limits.json (`cdr room limits`) to the enclave if it
 * changed since last time (and at start): the room's limits, which the
 * enclave seals and shows to every member.  A file that does not parse
 * or holds a value out of bounds is logged and not sent. */
static void limits_deliver_if_changed(struct crl_watch *w, struct enclave_link *link) {
  struct cdr_room_limits l;
  struct stat sb;
  json_error_t jerr;
  json_t *o;
  char why[256] = "", *msg = NULL;
  int r, changed = 0;
  if (w->path == NULL || stat(w->path, &sb) != 0)
    return;
  if (watch_same(w, &sb))
    return;
  w->mtime = sb.st_mtim;
  w->size = sb.st_size;
  w->ino = sb.st_ino;
  if ((o = json_load_file(w->path, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
    log_error("the room's limits %s are not JSON (line %d: %s); not applied", w->path, jerr.line, jerr.text);
    return;
  }
  r = cdr_room_limits_from_json(o, &l, why, sizeof(why));
  json_decref(o);
  if (r != 0) {
    log_error("the room's limits %s are refused: %s; not applied", w->path, why);
    return;
  }
  r = enclave_set_limits(link, &l, &changed, &msg);
  if (watch_witness_refused(w, r, w->path, msg)) {
    /* logged once; offered again */
  } else if (r != 0)
    log_error("the enclave refused the room's limits %s: %s%s%s", w->path, cdr_err_code(r), msg ? ": " : "",
              msg ? msg : "");
  else if (changed)
    log_info("the room's limits from %s are in force", w->path);
  free(msg);
}

/* Everything a running cdrd holds; cdrd_teardown releases it. */
struct cdrd {
  struct privdrop priv;
  char *enclave_path;
  struct cdr_room *room;
  struct cdr_ca *ca;
  uint8_t room_id[CDR_ROOM_ID_BYTES];
  uint8_t *ca_der, *sealed_id;
  size_t ca_len, sealed_id_len;
  struct host_store *store;
  struct enclave_link *link;
  struct crl_watch crlw, propw;
  struct crl_watch limw;
  char *crl_path, *prop_path, *lim_path;
  struct host_ctx *hctx;
  struct http_server *srv, *metrics_srv;
  struct host_tls *tls; /* NULL: plain HTTP (--insecure-http) */
  struct host_progress progress;
  struct host_loader loader; /* the tables, loading while the room serves */
  struct host_metrics *metrics;
  struct host_console *console; /* the web console's files, or NULL */
  char url[CDRD_URL_MAX];
  const char *ready_file; /* --ready-file, written once every table is in */
};

/* The background load has ended: the room is ready.  Phase READY, the
 * log line, and only now the ready file (--ready-file: "ready to serve
 * everything", which tests and supervisors wait for).  0 or
 * CDR_ERR_IO. */
static int cdrd_ready(struct cdrd *d) {
  char line[CDRD_URL_MAX + 1];
  int r;
  host_loader_stop(&d->loader); /* done: this joins the thread */
  host_progress_set_phase(&d->progress, HOST_PHASE_READY);
  log_info("ready: the room serves requests on %s, every table loaded", d->url);
  if (d->ready_file == NULL)
    return 0;
  r = snprintf(line, sizeof(line), "%s\n", d->url);
  if (r < 0 || (size_t)r >= sizeof(line) || cdr_file_write(d->ready_file, line, (size_t)r, 0644, 0) != 0) {
    log_error("cannot write the ready file %s", d->ready_file);
    return CDR_ERR_IO;
  }
  return 0;
}

/* Wait for SIGINT/SIGTERM (0) or the enclave's death (1), delivering
 * ROOM/crl.pem and ROOM/proposal.json to the enclave whenever they change,
 * warning (once a day) when the TLS certificate nears its end, and
 * declaring the room ready once its tables have loaded. */
static int serve_until_stopped(const sigset_t *stop, struct cdrd *d) {
  const struct timespec tick = {.tv_sec = 0, .tv_nsec = CDRD_POLL_MS * 1000000L};
  struct enclave_link *link = d->link;
  for (;;) {
    (void)crl_deliver_if_changed(&d->crlw, link);
    proposal_deliver_if_changed(&d->propw, link);
    limits_deliver_if_changed(&d->limw, link);
    host_tls_warn_expiry(d->tls, cdr_now());
    if (host_progress_phase(&d->progress) == HOST_PHASE_LOADING && host_loader_done(&d->loader) &&
        !d->loader.failed && cdrd_ready(d) != 0)
      return 1;
    int sig = sigtimedwait(stop, NULL, &tick);
    if (sig == SIGINT || sig == SIGTERM) {
      log_info("%s received; shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
      return 0;
    }
    if (sig < 0 && errno != EAGAIN && errno != EINTR) {
      log_error("sigtimedwait: %s", strerror(errno));
      return 1;
    }
    if (!enclave_link_alive(link)) {
      log_error("the enclave (pid %d) is gone; shutting down", (int)enclave_link_pid(link));
      return 1;
    }
  }
}

/* Block SIGINT/SIGTERM and ignore SIGPIPE, before any thread exists (see
 * the top of the file); seed jansson's hash once.  *stop: the signals
 * the main thread waits for. */
static int cdrd_signals(sigset_t *stop) {
  struct sigaction ign;

  sigemptyset(stop);
  sigaddset(stop, SIGINT);
  sigaddset(stop, SIGTERM);
  if (pthread_sigmask(SIG_BLOCK, stop, NULL) != 0) {
    log_error("cannot block SIGINT/SIGTERM");
    return CDR_ERR_INTERNAL;
  }
  json_object_seed(0); /* jansson's hash seed, once, before any thread */
  memset(&ign, 0, sizeof(ign));
  ign.sa_handler = SIG_IGN;
  (void)sigaction(SIGPIPE, &ign, NULL);
  return 0;
}

/* Drop root (privdrop.h), then open the room, its CA in the token and
 * host.db, and read what the enclave is started with.  Errors are
 * logged. */
static int cdrd_open_room(struct cdrd *d, const struct cdrd_config *a) {
  int r;

  if (a->enclave != NULL) {
    if ((d->enclave_path = strdup(a->enclave)) == NULL)
      return CDR_ERR_NOMEM;
  } else if ((r = default_enclave_path(&d->enclave_path)) != 0) {
    log_error("cannot locate %s beside cdrd; use --enclave PATH", CDRD_ENCLAVE_NAME);
    return r;
  }
  /* Root goes before anything of the room is opened (privdrop.h). */
  if ((r = privdrop_plan(&d->priv, a->user, a->room)) != 0 || (r = privdrop_begin(&d->priv)) != 0)
    return r;
  if ((r = cdr_room_open(a->room, &d->room)) != 0) {
    log_error("cannot open the room %s: %s", a->room, cdr_err_describe(r));
    if (d->priv.active)
      log_error("cdrd runs as user %s: the room folder and everything in it must be that user's", d->priv.name);
    return r;
  }
  if ((r = cdr_hex_decode(d->room_id, sizeof(d->room_id), d->room->room_id)) != 0 ||
      (r = cdr_cert_to_der(d->room->ca_cert, &d->ca_der, &d->ca_len)) != 0) {
    log_error("the room's id or CA certificate is malformed");
    return r;
  }
  if ((r = cdr_ca_open(d->room, &d->ca)) != 0) {
    log_error("cannot open the room CA in the token: %s", cdr_err_describe(r));
    return r;
  }
  /* Logged in: the PIN is no longer needed in this process's environment. */
  char *pin = getenv("CDR_HSM_PIN");
  if (pin != NULL) {
    OPENSSL_cleanse(pin, strlen(pin));
    unsetenv("CDR_HSM_PIN");
  }
  if ((r = host_store_open(d->room->dir, &d->store)) != 0 ||
      (r = host_state_sealed_identity(d->store, &d->sealed_id, &d->sealed_id_len)) != 0)
    return r;
  return 0;
}

/* The enclave refused the room's CA certificate (IPC_INIT or IPC_LOAD
 * answered ca_mismatch, its reason with both fingerprints logged just
 * before): the one line that tells the operator what to do. */
static int cdrd_ca_refused(const struct cdrd *d) {
  log_error("refusing to serve %s: its sealed state belongs to another CA than %s/ca.crt; put back the room's own "
            "CA certificate (ROOM/ca.crt) and token (ROOM/hsm and its PIN) and start again; a new CA can only be "
            "accepted through a contract version the members sign",
            d->room->dir, d->room->dir);
  return CDR_ERR_CA_MISMATCH;
}

/* Start (or connect to) the enclave, have it check its state and deliver
 * the room's CRL (a refused one stops the server) and limits, then start
 * serving (phase LOADING) and loading the tables in the background.  The
 * listener is up already; serve_until_stopped makes the phase READY and
 * writes the ready file once the tables are in.  Errors are logged. */
static int cdrd_start_enclave(struct cdrd *d, const struct cdrd_config *a) {
  struct enclave_link_opts lopts;
  int r;

  memset(&lopts, 0, sizeof(lopts));
  lopts.enclave_path = d->enclave_path;
  lopts.room_dir = d->room->dir;
  lopts.attestation = d->room->attestation;
  lopts.tsm_root = a->tsm_root;
  lopts.connect = a->connect_set ? &a->connect_addr : NULL;
  if ((r = enclave_link_start_ex(&d->link, &lopts, d->room_id, d->ca_der, d->ca_len, d->sealed_id,
                                 d->sealed_id_len)) != 0) {
    if (r == CDR_ERR_CA_MISMATCH)
      return cdrd_ca_refused(d);
    if (r == CDR_ERR_SEALED_ELSEWHERE) {
      log_error("refusing to serve %s with %s: its sealed state belongs to another cdr-enclave build (the "
                "enclave's reason is above; nothing was read, changed or deleted); start it with that build "
                "(--enclave PATH), or hand it to this one from that one (--upgrade-to PATH)",
                d->room->dir, d->enclave_path != NULL ? d->enclave_path : "this enclave");
      return r;
    }
    log_error("cannot start the enclave %s: %s", a->connect_set ? a->connect_addr.text : d->enclave_path,
              cdr_err_describe(r));
    return r;
  }
  privdrop_memlock_restore(&d->priv);
  host_metrics_set_enclave_pid(d->metrics, enclave_link_pid(d->link));
  if ((r = host_state_load(d->room, d->store, d->link, &d->progress, &d->loader)) != 0)
    return r == CDR_ERR_CA_MISMATCH ? cdrd_ca_refused(d) : r;
  /* The room's CRL before any request: a refused one stops the server. */
  if ((d->crlw.path = d->crl_path = cdr_path_join(d->room->dir, "crl.pem")) == NULL ||
      (r = crl_deliver_if_changed(&d->crlw, d->link)) != 0) {
    log_error("refusing to serve without the room's revocation list");
    return r ? r : CDR_ERR_NOMEM;
  }
  /* A proposal already there is not handed over again: at a restart it
   * would replace whatever was proposed since (through the secure
   * channel) and void its signatures.  Only a new one counts. */
  if ((d->propw.path = d->prop_path = cdr_path_join(d->room->dir, "proposal.json")) == NULL ||
      (d->limw.path = d->lim_path = cdr_path_join(d->room->dir, "limits.json")) == NULL)
    return CDR_ERR_NOMEM;
  /* The room's limits, before any request (the same values again change
   * nothing; the sealed ones stand if the file is gone). */
  limits_deliver_if_changed(&d->limw, d->link);
  struct stat psb;
  if (stat(d->propw.path, &psb) == 0) {
    d->propw.mtime = psb.st_mtim;
    d->propw.size = psb.st_size;
    d->propw.ino = psb.st_ino;
  }
  host_ctx_set_link(d->hctx, d->link);
  host_metrics_set_link(d->metrics, d->link);
  /* The room serves from here; its tables load behind (table_loader.h). */
  host_progress_set_phase(&d->progress, HOST_PHASE_LOADING);
  log_info("serving on %s while the room's tables load", d->url);
  d->ready_file = a->ready_file;
  return host_loader_start(&d->loader, d->link);
}

/* "SCHEME://HOST:PORT" (IPv6 in brackets) into out. */
static int cdrd_url(char *out, size_t n, const char *scheme, const char *host, uint16_t port) {
  int r = snprintf(out, n, strchr(host, ':') ? "%s://[%s]:%u" : "%s://%s:%u", scheme, host, (unsigned)port);
  if (r < 0 || (size_t)r >= n) {
    log_error("listen address too long");
    return CDR_ERR_ARG;
  }
  return 0;
}

/* The metrics listener (--metrics-listen), its own MHD daemon with one
 * route; its requests are not counted.  Plain HTTP, never TLS: it is
 * loopback-only unless --metrics-allow-remote (see config.c). */
static int cdrd_listen_metrics(struct cdrd *d, const struct cdrd_config *a) {
  struct http_server_opts mopts;
  const struct http_route *mroutes;
  char murl[CDRD_URL_MAX];
  size_t nm;
  int r;

  memset(&mopts, 0, sizeof(mopts));
  mopts.host = a->metrics_host;
  mopts.port = a->metrics_port;
  mopts.threads = 2; /* MHD ignores a pool of 1, with a warning */
  mroutes = host_metrics_routes(&nm);
  if ((r = http_server_start(&d->metrics_srv, &mopts, mroutes, nm, d->metrics)) != 0)
    return r;
  if ((r = cdrd_url(murl, sizeof(murl), "http", a->metrics_host, http_server_port(d->metrics_srv))) != 0)
    return r;
  log_info("metrics on %s/metrics", murl);
  return 0;
}

/* The web console's files (--console DIR, or beside cdrd when there;
 * "none": not served).  A named folder that cannot be read stops cdrd; a
 * default one that cannot is skipped with a warning. */
static int cdrd_load_console(struct cdrd *d, const struct cdrd_config *a) {
  char why[512];
  char *dir = NULL;
  int r = 0;

  if (a->console != NULL && strcmp(a->console, "none") == 0)
    return 0;
  if (a->console == NULL && (dir = host_console_default_dir()) == NULL)
    return 0;
  if ((r = host_console_load(dir ? dir : a->console, &d->console, why, sizeof(why))) != 0) {
    if (dir == NULL)
      log_error("--console: %s", why);
    else
      log_warn("not serving the web console: %s", why);
    r = dir == NULL ? r : 0;
  } else {
    log_info("serving the web console's %zu files at / (the operator's copy: members use `cdr console`)",
             host_console_count(d->console));
  }
  free(dir);
  return r;
}

/* Prepare the handlers and the metrics, and listen before the enclave
 * loads (root is given up for good once the sockets are bound): health,
 * ready, openapi and metrics answer from now on, the API over TLS with
 * d->tls (prepared before: host_tls_prepare).  Errors are logged. */
static int cdrd_listen(struct cdrd *d, const struct cdrd_config *a) {
  struct http_server_opts hopts;
  const struct http_route *routes;
  size_t nroutes;
  uint16_t low;
  int r;

  host_progress_init(&d->progress);
  routes = host_routes(&nroutes);
  if ((r = host_metrics_new(&d->metrics, routes, nroutes, d->room->dir, &d->progress)) != 0 ||
      (r = host_ctx_new(&d->hctx, d->room, d->ca, NULL)) != 0) {
    log_error("cannot prepare the request handlers: %s", cdr_err_describe(r));
    return r;
  }
  host_ctx_set_progress(d->hctx, &d->progress, d->metrics);
  if ((r = cdrd_load_console(d, a)) != 0)
    return r;
  memset(&hopts, 0, sizeof(hopts));
  if (d->console != NULL) {
    hopts.get_fallback = host_console_serve;
    hopts.get_fallback_ctx = d->console;
  }
  hopts.host = a->host;
  hopts.port = a->port;
  hopts.threads = (unsigned)a->http_threads;
  hopts.max_body = (size_t)a->http_max_body;
  hopts.observe = host_metrics_observe;
  hopts.observe_ctx = d->metrics;
  if (d->tls != NULL) {
    hopts.tls_cert_pem = d->tls->cert_pem;
    hopts.tls_key_pem = d->tls->key_pem;
    hopts.tls_priorities = HOST_TLS_PRIORITIES;
  }
  /* Root comes back for a port below 1024, the API's or the metrics'. */
  low = a->port;
  if (!(low > 0 && low < 1024) && a->metrics_set && a->metrics_port > 0 && a->metrics_port < 1024)
    low = a->metrics_port;
  if ((r = privdrop_before_listen(&d->priv, low)) != 0 ||
      (r = http_server_start(&d->srv, &hopts, routes, nroutes, d->hctx)) != 0 ||
      (a->metrics_set && (r = cdrd_listen_metrics(d, a)) != 0) || (r = privdrop_finish(&d->priv)) != 0)
    return r;
  host_metrics_set_server(d->metrics, d->srv);
  if ((r = cdrd_url(d->url, sizeof(d->url), d->tls ? "https" : "http", a->host, http_server_port(d->srv))) != 0)
    return r;
  log_info("room %s (%s)", d->room->room_id, d->room->name ? d->room->name : "");
  log_info("listening on %s (loading the room)", d->url);
  return 0;
}

/* Release everything in *d.  Order: no new requests, then no enclave,
 * then no token session. */
static void cdrd_teardown(struct cdrd *d) {
  http_server_stop(d->metrics_srv);
  http_server_stop(d->srv);
  host_loader_stop(&d->loader); /* after its current chunk */
  host_tls_free(d->tls);
  host_ctx_free(d->hctx);
  host_console_free(d->console);
  host_metrics_free(d->metrics);
  enclave_link_stop(d->link);
  if (d->ca != NULL)
    cdr_ca_close(d->ca);
  OPENSSL_free(d->ca_der);
  free(d->sealed_id);
  free(d->crl_path);
  free(d->prop_path);
  free(d->lim_path);
  host_store_close(d->store);
  cdr_room_free(d->room);
  free(d->enclave_path);
}

/* --upgrade-to: the room is READY; hand it to the new build and exit
 * (0 when the new build holds it, 1 when refused: nothing changed). */
static int cdrd_upgrade(struct cdrd *d, const struct cdrd_config *a) {
  struct host_upgrade_args u;
  memset(&u, 0, sizeof(u));
  u.running = d->link;
  u.next.enclave_path = a->upgrade_to;
  u.next.room_dir = d->room->dir;
  u.next.attestation = d->room->attestation;
  u.next.tsm_root = a->tsm_root;
  u.next.upgrade_hello = 1;
  u.room_id = d->room_id;
  u.ca_der = d->ca_der;
  u.ca_len = d->ca_len;
  u.store = d->store;
  return host_upgrade(&u) == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
  struct cdrd_config args;
  struct cdrd d;
  sigset_t stop;
  int status = 1;

  memset(&args, 0, sizeof(args));
  memset(&d, 0, sizeof(d));
  cdr_log_init("cdrd", CDR_LOG_INFO);
  if ((status = cdrd_config_parse(&args, argc, argv)) >= 0) {
    cdrd_config_free(&args);
    return status;
  }
  cdr_log_init("cdrd", args.level);
  status = 1;
  /* TLS credentials before the listener (which starts before the
   * enclave): a bad certificate stops at once. */
  if (cdrd_signals(&stop) == 0 && cdrd_open_room(&d, &args) == 0 &&
      host_tls_prepare(d.room, d.ca, &args.tls, args.host, &d.tls) == 0 && cdrd_listen(&d, &args) == 0) {
    if (cdrd_start_enclave(&d, &args) == 0)
      status = args.upgrade_to != NULL ? cdrd_upgrade(&d, &args) : serve_until_stopped(&stop, &d);
    else
      host_progress_set_phase(&d.progress, HOST_PHASE_FAILED);
  }
  cdrd_teardown(&d);
  cdrd_config_free(&args);
  if (status == 0)
    log_info("stopped");
  return status;
}
