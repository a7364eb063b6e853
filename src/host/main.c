/*
 * main.c - cdrd, the untrusted host of a data room.
 *
 *   cdrd --room ROOM [--listen HOST:PORT] [--enclave PATH] [--ready-file PATH]
 *        [--enclave-vsock CID:PORT | --enclave-unix PATH] [--tsm-root DIR]
 *        [--user NAME] [--tls-name NAME]... [--tls-cert FILE --tls-key FILE]
 *        [--insecure-http]
 *
 * Opens the room and its CA (the PKCS#11 token; PIN from CDR_HSM_PIN or
 * ROOM/hsm/user-pin), starts cdr-enclave on a socketpair, serves the
 * HTTP API of docs/PROTOCOL.md section 4 over TLS (host/tls.h), and runs until SIGINT/SIGTERM
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
#include <getopt.h>
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
#include "common/util.h"
#include "host/http.h"
#include "host/privdrop.h"
#include "host/tls.h"
#include "host/routes.h"
#include "host/enclave_state.h"
#include "ipc/messages.h"
#include "host/store.h"
#include "ipc/channel.h"
#include "host/enclave_link.h"
#include "room/room.h"

#define CDRD_DEFAULT_LISTEN "127.0.0.1:8443"
#define CDRD_ENCLAVE_NAME "cdr-enclave"
#define CDRD_POLL_MS 200
#define CDRD_URL_MAX 320

static void usage(FILE *f) {
  fprintf(f, "usage: cdrd --room ROOM [--listen HOST:PORT] [--enclave PATH] [--ready-file PATH]\n"
             "            [--enclave-vsock CID:PORT | --enclave-unix PATH] [--tsm-root DIR]\n"
             "            [--user NAME] [--tls-name NAME]... [--tls-cert FILE --tls-key FILE]\n"
             "            [--insecure-http]\n"
             "\n"
             "Serve the data room in ROOM over HTTPS (docs/PROTOCOL.md).\n"
             "\n"
             "  --room ROOM         the room folder (made by `cdr room init`)\n"
             "  --listen HOST:PORT  address to listen on (default " CDRD_DEFAULT_LISTEN
             "; port 0 picks a free one;\n"
             "                      IPv6 as [ADDR]:PORT)\n"
             "  --enclave PATH      the cdr-enclave executable (default: beside cdrd)\n"
             "  --ready-file PATH   once accepting, write the URL and a newline to PATH\n"
             "  --enclave-vsock CID:PORT  do not start the enclave: connect to the one\n"
             "                      listening there (an AWS Nitro enclave started with\n"
             "                      cdr-enclave --vsock-port PORT; see docs/ATTESTATION.md)\n"
             "  --enclave-unix PATH the same on an AF_UNIX socket (cdr-enclave --listen-unix)\n"
             "  --tsm-root DIR      the started enclave's configfs-tsm directory (tests)\n"
             "  --user NAME         when started as root: the user to run as (default: the\n"
             "                      owner of ROOM; a room that root owns keeps cdrd root)\n"
             "  --tls-name NAME     a DNS name or IP address clients use, for the server\n"
             "                      certificate the room CA issues (repeatable; default:\n"
             "                      the --listen host); key in ROOM/tls/server.key\n"
             "  --tls-cert FILE     serve this PEM certificate (chain) instead, with\n"
             "  --tls-key FILE      this unencrypted PEM key\n"
             "  --insecure-http     plain HTTP, only on a loopback --listen address\n"
             "  --help              show this text\n"
             "\n"
             "The token PIN comes from CDR_HSM_PIN, or ROOM/hsm/user-pin for the\n"
             "embedded SoftHSM2 token.  cdrd stops on SIGINT or SIGTERM (exit 0) and\n"
             "when the enclave dies (exit 1).\n");
}

/* Split "HOST:PORT" or "[V6]:PORT" into host (malloc'd) and port. */
static int parse_listen(const char *s, char **host, uint16_t *port) {
  const char *colon, *h = s, *hend;
  unsigned long p = 0;

  if (s[0] == '[') {
    h = s + 1;
    if ((hend = strchr(h, ']')) == NULL || hend[1] != ':')
      return CDR_ERR_ARG;
    colon = hend + 1;
  } else {
    if ((colon = strrchr(s, ':')) == NULL)
      return CDR_ERR_ARG;
    hend = colon;
    if (memchr(s, ':', (size_t)(colon - s)) != NULL) /* bare IPv6 needs brackets */
      return CDR_ERR_ARG;
  }
  if (hend == h || colon[1] == '\0' || strlen(colon + 1) > 5)
    return CDR_ERR_ARG;
  for (const char *d = colon + 1; *d; d++) {
    if (*d < '0' || *d > '9')
      return CDR_ERR_ARG;
    p = p * 10 + (unsigned long)(*d - '0');
  }
  if (p > 65535)
    return CDR_ERR_ARG;
  if ((*host = strndup(h, (size_t)(hend - h))) == NULL)
    return CDR_ERR_NOMEM;
  *port = (uint16_t)p;
  return 0;
}

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
};

/* Deliver ROOM/crl.pem to the enclave if it changed since last time.
 * 0 when there is nothing to do or it was delivered; an error when the
 * enclave refused it (at start that stops the server). */
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
  if (sb.st_mtim.tv_sec == w->mtime.tv_sec && sb.st_mtim.tv_nsec == w->mtime.tv_nsec && sb.st_size == w->size &&
      sb.st_ino == w->ino)
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
  if ((r = enclave_set_crl(link, der, (size_t)n, &number, &ended, &msg)) != 0) {
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
  if (sb.st_mtim.tv_sec == w->mtime.tv_sec && sb.st_mtim.tv_nsec == w->mtime.tv_nsec && sb.st_size == w->size &&
      sb.st_ino == w->ino)
    return;
  w->mtime = sb.st_mtim;
  w->size = sb.st_size;
  w->ino = sb.st_ino;
  if ((r = cdr_file_read(w->path, &doc, &len, CDR_CONTRACT_MAX_BYTES)) != 0 || len == 0) {
    log_error("cannot read the contract proposal %s: %s", w->path, r ? cdr_err_describe(r) : "empty");
    free(doc);
    return;
  }
  if ((r = enclave_propose(link, doc, len, &version, hash, &voided, &msg)) != 0) {
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

/* Wait for SIGINT/SIGTERM (0) or the enclave's death (1), delivering
 * ROOM/crl.pem and ROOM/proposal.json to the enclave whenever they change
 * and warning (once a day) when the TLS certificate nears its end. */
static int serve_until_stopped(const sigset_t *stop, struct enclave_link *link, struct crl_watch *crl,
                               struct crl_watch *prop, struct host_tls *tls) {
  const struct timespec tick = {.tv_sec = 0, .tv_nsec = CDRD_POLL_MS * 1000000L};
  for (;;) {
    (void)crl_deliver_if_changed(crl, link);
    proposal_deliver_if_changed(prop, link);
    host_tls_warn_expiry(tls, cdr_now());
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

/* The command line. */
struct cdrd_args {
  const char *room_dir, *enclave_arg, *ready_file, *tsm_root, *user_arg;
  char *host; /* malloc'd, from --listen */
  uint16_t port;
  struct ipc_channel_addr connect_addr;
  int connect_set; /* --enclave-vsock or --enclave-unix given */
  struct host_tls_opts tls;
};

/* Parse argv into *a.  -1: go on; else the status main exits with (0
 * after --help, 2 on a usage error, which is printed). */
static int cdrd_parse_args(int argc, char **argv, struct cdrd_args *a) {
  static const struct option opts[] = {{"room", required_argument, NULL, 'r'},
                                       {"listen", required_argument, NULL, 'l'},
                                       {"enclave", required_argument, NULL, 'e'},
                                       {"enclave-vsock", required_argument, NULL, 'V'},
                                       {"enclave-unix", required_argument, NULL, 'U'},
                                       {"tsm-root", required_argument, NULL, 'T'},
                                       {"user", required_argument, NULL, 'u'},
                                       {"ready-file", required_argument, NULL, 'R'},
                                       {"tls-name", required_argument, NULL, 'N'},
                                       {"tls-cert", required_argument, NULL, 'C'},
                                       {"tls-key", required_argument, NULL, 'K'},
                                       {"insecure-http", no_argument, NULL, 'I'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *listen_arg = CDRD_DEFAULT_LISTEN;
  int c;

  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'r': a->room_dir = optarg; break;
    case 'l': listen_arg = optarg; break;
    case 'e': a->enclave_arg = optarg; break;
    case 'V':
      if (a->connect_set++ || ipc_channel_vsock(&a->connect_addr, optarg) != 0) {
        fprintf(stderr, "cdrd: --enclave-vsock wants CID:PORT (and no --enclave-unix)\n");
        return 2;
      }
      break;
    case 'U':
      if (a->connect_set++ || ipc_channel_unix(&a->connect_addr, optarg) != 0) {
        fprintf(stderr, "cdrd: --enclave-unix wants a socket path of at most 107 bytes (and no --enclave-vsock)\n");
        return 2;
      }
      break;
    case 'T': a->tsm_root = optarg; break;
    case 'u': a->user_arg = optarg; break;
    case 'R': a->ready_file = optarg; break;
    case 'N':
      if (a->tls.nnames >= HOST_TLS_MAX_NAMES) {
        fprintf(stderr, "cdrd: at most %d --tls-name\n", HOST_TLS_MAX_NAMES);
        return 2;
      }
      a->tls.names[a->tls.nnames++] = optarg;
      break;
    case 'C': a->tls.cert_file = optarg; break;
    case 'K': a->tls.key_file = optarg; break;
    case 'I': a->tls.insecure_http = 1; break;
    case 'h': usage(stdout); return 0;
    default: usage(stderr); return 2;
    }
  }
  if (optind != argc || a->room_dir == NULL) {
    usage(stderr);
    return 2;
  }
  if (parse_listen(listen_arg, &a->host, &a->port) != 0) {
    fprintf(stderr, "cdrd: --listen wants HOST:PORT (or [IPV6]:PORT), got \"%s\"\n", listen_arg);
    return 2;
  }
  if (host_tls_check_args(&a->tls, a->host) != 0)
    return 2;
  return -1;
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
  char *crl_path, *prop_path;
  struct host_ctx *hctx;
  struct http_server *srv;
  struct host_tls *tls; /* NULL: plain HTTP (--insecure-http) */
};

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
static int cdrd_open_room(struct cdrd *d, const struct cdrd_args *a) {
  int r;

  if (a->enclave_arg != NULL) {
    if ((d->enclave_path = strdup(a->enclave_arg)) == NULL)
      return CDR_ERR_NOMEM;
  } else if ((r = default_enclave_path(&d->enclave_path)) != 0) {
    log_error("cannot locate %s beside cdrd; use --enclave PATH", CDRD_ENCLAVE_NAME);
    return r;
  }
  /* Root goes before anything of the room is opened (privdrop.h). */
  if ((r = privdrop_plan(&d->priv, a->user_arg, a->room_dir)) != 0 || (r = privdrop_begin(&d->priv)) != 0)
    return r;
  if ((r = cdr_room_open(a->room_dir, &d->room)) != 0) {
    log_error("cannot open the room %s: %s", a->room_dir, cdr_err_describe(r));
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

/* Start (or connect to) the enclave, load its state and deliver the
 * room's CRL: a refused one stops the server.  Errors are logged. */
static int cdrd_start_enclave(struct cdrd *d, const struct cdrd_args *a) {
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
    log_error("cannot start the enclave %s: %s", a->connect_set ? a->connect_addr.text : d->enclave_path,
              cdr_err_describe(r));
    return r;
  }
  if ((r = host_state_load(d->room, d->store, d->link)) != 0)
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
  if ((d->propw.path = d->prop_path = cdr_path_join(d->room->dir, "proposal.json")) == NULL)
    return CDR_ERR_NOMEM;
  struct stat psb;
  if (stat(d->propw.path, &psb) == 0) {
    d->propw.mtime = psb.st_mtim;
    d->propw.size = psb.st_size;
    d->propw.ino = psb.st_ino;
  }
  return 0;
}

/* Prepare the handlers, listen (root is given up for good once the
 * socket is bound), log the URL and write the ready file.  Errors are
 * logged. */
static int cdrd_listen(struct cdrd *d, const struct cdrd_args *a) {
  struct http_server_opts hopts;
  const struct http_route *routes;
  char url[CDRD_URL_MAX], line[CDRD_URL_MAX + 1];
  size_t nroutes;
  int r;

  if ((r = host_ctx_new(&d->hctx, d->room, d->ca, d->link)) != 0) {
    log_error("cannot prepare the request handlers: %s", cdr_err_describe(r));
    return r;
  }
  memset(&hopts, 0, sizeof(hopts));
  hopts.host = a->host;
  hopts.port = a->port;
  if (d->tls != NULL) {
    hopts.tls_cert_pem = d->tls->cert_pem;
    hopts.tls_key_pem = d->tls->key_pem;
    hopts.tls_priorities = HOST_TLS_PRIORITIES;
  }
  routes = host_routes(&nroutes);
  if ((r = privdrop_before_listen(&d->priv, a->port)) != 0 ||
      (r = http_server_start(&d->srv, &hopts, routes, nroutes, d->hctx)) != 0 || (r = privdrop_finish(&d->priv)) != 0)
    return r;
  r = snprintf(url, sizeof(url), strchr(a->host, ':') ? "%s://[%s]:%u" : "%s://%s:%u", d->tls ? "https" : "http",
               a->host, (unsigned)http_server_port(d->srv));
  if (r < 0 || (size_t)r >= sizeof(url)) {
    log_error("listen address too long");
    return CDR_ERR_ARG;
  }
  log_info("room %s (%s)", d->room->room_id, d->room->name ? d->room->name : "");
  log_info("listening on %s", url);
  if (a->ready_file != NULL) {
    r = snprintf(line, sizeof(line), "%s\n", url);
    if (r < 0 || (size_t)r >= sizeof(line) || cdr_file_write(a->ready_file, line, (size_t)r, 0644, 0) != 0) {
      log_error("cannot write the ready file %s", a->ready_file);
      return CDR_ERR_IO;
    }
  }
  return 0;
}

/* Release everything in *d.  Order: no new requests, then no enclave,
 * then no token session. */
static void cdrd_teardown(struct cdrd *d) {
  http_server_stop(d->srv);
  host_tls_free(d->tls);
  host_ctx_free(d->hctx);
  enclave_link_stop(d->link);
  if (d->ca != NULL)
    cdr_ca_close(d->ca);
  OPENSSL_free(d->ca_der);
  free(d->sealed_id);
  free(d->crl_path);
  free(d->prop_path);
  host_store_close(d->store);
  cdr_room_free(d->room);
  free(d->enclave_path);
}

int main(int argc, char **argv) {
  struct cdrd_args args;
  struct cdrd d;
  sigset_t stop;
  int status = 1;

  memset(&args, 0, sizeof(args));
  memset(&d, 0, sizeof(d));
  cdr_log_init("cdrd", CDR_LOG_INFO);
  if ((status = cdrd_parse_args(argc, argv, &args)) >= 0) {
    free(args.host);
    return status;
  }
  status = 1;
  /* TLS credentials before the enclave: a bad certificate stops at once. */
  if (cdrd_signals(&stop) == 0 && cdrd_open_room(&d, &args) == 0 &&
      host_tls_prepare(d.room, d.ca, &args.tls, args.host, &d.tls) == 0 && cdrd_start_enclave(&d, &args) == 0 &&
      cdrd_listen(&d, &args) == 0)
    status = serve_until_stopped(&stop, d.link, &d.crlw, &d.propw, d.tls);
  cdrd_teardown(&d);
  free(args.host);
  if (status == 0)
    log_info("stopped");
  return status;
}
