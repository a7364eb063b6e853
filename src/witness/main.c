/*
 * main.c - cdr-witness (`cdr witness serve`): options, the witness key,
 * the state folder, the HTTP server, and a clean stop on SIGINT/SIGTERM.
 *
 * The key W is a P-256 key in a PEM file: --key KEY (which must exist),
 * or DIR/witness.key, made at the first start (0600).  Its fingerprint,
 * SHA-256 of its SPKI DER, is what a room contract names; it is printed
 * at every start so that the operator can confirm it to the room's
 * members out of band.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "crypto/crypto.h"
#include "host/http.h"
#include "host/tls.h"
#include "witness.h"

struct args {
  const char *listen, *state, *key, *ready_file, *tls_cert, *tls_key;
  int allow_sim, insecure_http;
};

static void usage(FILE *f) {
  fprintf(f,
          "Usage: cdr witness serve --listen HOST:PORT --state DIR [--key KEY] [OPTIONS]\n\n"
          "Run a history witness for CDR rooms (docs/ARCHITECTURE.md, \"Witnesses\").\n"
          "An organisation runs it apart from the room's operator.  For each room it\n"
          "was joined to it keeps the latest audit head it countersigned, with the\n"
          "enclave's own signature on it, durably under DIR; it countersigns only\n"
          "heads that the room's attested enclave signed and that extend the one it\n"
          "holds, and answers \"latest head\" questions with a signature over the\n"
          "asker's nonce.  A room joins with its contract chain (verified here, from\n"
          "version 1) and the enclave's attestation evidence.\n\n"
          "Options:\n"
          "  -l, --listen HOST:PORT  address to serve on (port 0: any free port)\n"
          "  -s, --state DIR         the witness's state: DIR/rooms/ROOM.json, and\n"
          "                          DIR/witness.key unless --key is given\n"
          "  -k, --key KEY           the witness's P-256 key (PEM); default\n"
          "                          DIR/witness.key, made at the first start\n"
          "  --allow-sim             join rooms whose contract names the sim platform\n"
          "                          (tests and demos: sim proves nothing against the\n"
          "                          room's operator)\n"
          "  --tls-cert FILE         serve HTTPS with this certificate (PEM)...\n"
          "  --tls-key FILE          ...and its key (PEM, unencrypted)\n"
          "  --insecure-http         plain HTTP, only on a loopback address (tests, or\n"
          "                          a TLS proxy in front)\n"
          "  --ready-file FILE       write the URL to FILE once listening\n"
          "  -h, --help              this help\n\n"
          "At start it prints the key's fingerprint (\"witness key sha256: HEX\"): the\n"
          "key_sha256 a room contract names for this witness.  Routes:\n"
          "GET /v1/witness/key, POST /v1/witness/countersign, POST /v1/witness/latest\n"
          "(docs/PROTOCOL.md section 9).\n");
}

static int parse_args(int argc, char **argv, struct args *a) {
  enum { O_ALLOW_SIM = 1000, O_TLS_CERT, O_TLS_KEY, O_INSECURE, O_READY };
  static const struct option opts[] = {{"listen", required_argument, NULL, 'l'},
                                       {"state", required_argument, NULL, 's'},
                                       {"key", required_argument, NULL, 'k'},
                                       {"allow-sim", no_argument, NULL, O_ALLOW_SIM},
                                       {"tls-cert", required_argument, NULL, O_TLS_CERT},
                                       {"tls-key", required_argument, NULL, O_TLS_KEY},
                                       {"insecure-http", no_argument, NULL, O_INSECURE},
                                       {"ready-file", required_argument, NULL, O_READY},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  int c;
  memset(a, 0, sizeof(*a));
  while ((c = getopt_long(argc, argv, "l:s:k:h", opts, NULL)) != -1) {
    switch (c) {
    case 'l': a->listen = optarg; break;
    case 's': a->state = optarg; break;
    case 'k': a->key = optarg; break;
    case O_ALLOW_SIM: a->allow_sim = 1; break;
    case O_TLS_CERT: a->tls_cert = optarg; break;
    case O_TLS_KEY: a->tls_key = optarg; break;
    case O_INSECURE: a->insecure_http = 1; break;
    case O_READY: a->ready_file = optarg; break;
    case 'h': usage(stdout); exit(0);
    default: usage(stderr); return 2;
    }
  }
  if (optind != argc || a->listen == NULL || a->state == NULL) {
    fprintf(stderr, "cdr witness serve: --listen and --state are required\n");
    return 2;
  }
  if (!a->insecure_http && (a->tls_cert == NULL || a->tls_key == NULL)) {
    fprintf(stderr, "cdr witness serve: give --tls-cert and --tls-key, or --insecure-http on a loopback address\n");
    return 2;
  }
  return 0;
}

/* HOST:PORT or [V6]:PORT into host (malloc'd) and port. */
static int parse_listen(const char *s, char **host, uint16_t *port) {
  const char *colon = strrchr(s, ':'), *h = s;
  size_t hlen;
  char *end = NULL;
  unsigned long p;
  if (colon == NULL || colon == s)
    return -1;
  hlen = (size_t)(colon - s);
  if (s[0] == '[') {
    if (hlen < 3 || s[hlen - 1] != ']')
      return -1;
    h = s + 1;
    hlen -= 2;
  }
  errno = 0;
  p = strtoul(colon + 1, &end, 10);
  if (errno != 0 || end == colon + 1 || *end != '\0' || p > 65535)
    return -1;
  if ((*host = strndup(h, hlen)) == NULL)
    return -1;
  *port = (uint16_t)p;
  return 0;
}

static int is_loopback(const char *h) {
  struct in_addr a4;
  struct in6_addr a6;
  if (strcmp(h, "localhost") == 0)
    return 1;
  if (inet_pton(AF_INET, h, &a4) == 1)
    return (ntohl(a4.s_addr) >> 24) == 127;
  return inet_pton(AF_INET6, h, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

/* The witness key: --key, or DIR/witness.key (made when missing). */
static int load_key(struct witness *w, const struct args *a) {
  char path[4096];
  uint8_t *spki = NULL;
  size_t spki_len = 0;
  int r;
  if (a->key != NULL) {
    if ((r = cdr_key_load_pem(a->key, &w->key)) != 0) {
      fprintf(stderr, "cdr witness serve: cannot read the key %s\n", a->key);
      return r;
    }
  } else {
    snprintf(path, sizeof(path), "%s/witness.key", a->state);
    if (access(path, F_OK) == 0) {
      if ((r = cdr_key_load_pem(path, &w->key)) != 0) {
        fprintf(stderr, "cdr witness serve: cannot read the key %s\n", path);
        return r;
      }
    } else if ((r = cdr_ec_p256_generate(&w->key)) != 0 || (r = cdr_key_save_pem(path, w->key)) != 0) {
      fprintf(stderr, "cdr witness serve: cannot make the key %s\n", path);
      return r;
    }
  }
  if (EVP_PKEY_get_base_id(w->key) != EVP_PKEY_EC || cdr_key_check_user_type(w->key) != 0) {
    fprintf(stderr, "cdr witness serve: the witness key must be an EC P-256 key\n");
    return CDR_ERR_KEY_UNSUPPORTED;
  }
  if ((r = cdr_pubkey_to_der(w->key, &spki, &spki_len)) != 0)
    return r;
  if ((r = cdr_sha256(w->key_sha256, spki, spki_len)) == 0)
    r = cdr_b64_encode(&w->spki_b64, spki, spki_len);
  OPENSSL_free(spki);
  return r;
}

static int read_text(const char *path, char **out) {
  uint8_t *d = NULL;
  size_t n = 0;
  if (cdr_file_read(path, &d, &n, 1024 * 1024) != 0)
    return -1;
  if ((*out = malloc(n + 1)) == NULL) {
    free(d);
    return -1;
  }
  memcpy(*out, d, n);
  (*out)[n] = '\0';
  OPENSSL_cleanse(d, n);
  free(d);
  return 0;
}

static int serve(struct witness *w, const struct args *a, const char *host, uint16_t port) {
  struct http_server_opts o;
  struct http_server *srv = NULL;
  const struct http_route *routes;
  size_t nroutes;
  char *cert = NULL, *key = NULL, fp[65], url[300];
  int r = 1;

  memset(&o, 0, sizeof(o));
  if (!a->insecure_http) {
    if (read_text(a->tls_cert, &cert) != 0 || read_text(a->tls_key, &key) != 0) {
      fprintf(stderr, "cdr witness serve: cannot read --tls-cert or --tls-key\n");
      goto out;
    }
    o.tls_cert_pem = cert;
    o.tls_key_pem = key;
    o.tls_priorities = HOST_TLS_PRIORITIES;
  }
  o.host = host;
  o.port = port;
  o.max_body = WITNESS_MAX_BODY;
  o.threads = 2;
  routes = witness_routes(&nroutes);
  o.api_errors = witness_api_errors(&o.n_api_errors);
  /* SIGINT and SIGTERM blocked in every thread (MHD's inherit the mask),
   * and taken by sigwait below: a signal cannot land in a worker. */
  sigset_t stop;
  int sig = 0;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, NULL);
  if (http_server_start(&srv, &o, routes, nroutes, w) != 0) {
    fprintf(stderr, "cdr witness serve: cannot listen on %s\n", a->listen);
    goto out;
  }
  cdr_hex_encode(fp, w->key_sha256, 32);
  snprintf(url, sizeof(url), "%s://%s%s%s:%u", a->insecure_http ? "http" : "https", strchr(host, ':') ? "[" : "",
           host, strchr(host, ':') ? "]" : "", (unsigned)http_server_port(srv));
  printf("witness key sha256: %s\nlistening on %s\n", fp, url);
  fflush(stdout);
  if (a->ready_file != NULL) {
    char line[320];
    int n = snprintf(line, sizeof(line), "%s\n", url);
    if (cdr_file_write(a->ready_file, line, (size_t)n, 0644, 0) != 0)
      log_error("cannot write the ready file %s", a->ready_file);
  }
  while (sigwait(&stop, &sig) != 0)
    ;
  log_info("witness: stopping (signal %d)", sig);
  http_server_stop(srv);
  r = 0;
out:
  if (key != NULL)
    OPENSSL_cleanse(key, strlen(key));
  free(key);
  free(cert);
  return r;
}

int main(int argc, char **argv) {
  struct args a;
  struct witness w;
  char *host = NULL, rooms[4096];
  uint16_t port = 0;
  int r;

  cdr_log_init("cdr-witness", CDR_LOG_INFO);
  if ((r = parse_args(argc, argv, &a)) != 0)
    return r;
  if (parse_listen(a.listen, &host, &port) != 0) {
    fprintf(stderr, "cdr witness serve: --listen wants HOST:PORT (or [IPV6]:PORT): %s\n", a.listen);
    return 2;
  }
  if (a.insecure_http && !is_loopback(host)) {
    fprintf(stderr, "cdr witness serve: --insecure-http only on a loopback address, not %s\n", host);
    free(host);
    return 2;
  }
  memset(&w, 0, sizeof(w));
  umask(077);
  snprintf(rooms, sizeof(rooms), "%s/rooms", a.state);
  if (cdr_mkdir_p(rooms, 0700) != 0) {
    fprintf(stderr, "cdr witness serve: cannot make %s: %s\n", rooms, strerror(errno));
    free(host);
    return 1;
  }
  if (load_key(&w, &a) != 0 || (w.state_dir = strdup(a.state)) == NULL ||
      pthread_mutex_init(&w.lock, NULL) != 0) {
    EVP_PKEY_free(w.key);
    free(w.spki_b64);
    free(w.state_dir);
    free(host);
    return 1;
  }
  w.allow_sim = a.allow_sim;
  signal(SIGPIPE, SIG_IGN);
  r = serve(&w, &a, host, port);
  pthread_mutex_destroy(&w.lock);
  EVP_PKEY_free(w.key);
  free(w.spki_b64);
  free(w.state_dir);
  free(host);
  return r;
}
