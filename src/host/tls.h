/*
 * tls.h - cdrd's TLS credentials (docs/PROTOCOL.md "Transport").
 *
 * cdrd serves HTTPS through libmicrohttpd (GnuTLS underneath), which
 * takes the key and certificate as PEM in memory.  They are either
 *   (a) issued by the room CA through the PKCS#11 token for the names
 *       given (--tls-name, repeatable; default: the listen host when it
 *       is an address or name, not a wildcard), with a key cdrd
 *       generates (EC P-256) and keeps in ROOM/tls/server.key, mode
 *       0600: never the token's CA key, which cannot leave the token.
 *       ROOM/tls/server.crt is reused across restarts while it is issued
 *       by the room's CA, certifies that key, covers every name and has
 *       more than HOST_TLS_RENEW_DAYS left; otherwise a new one is
 *       issued at start (renewal is a restart: see ARCHITECTURE.md);
 *   (b) the operator's own (--tls-cert FILE --tls-key FILE, PEM; the
 *       key unencrypted), checked to belong together.
 * Plain HTTP only with --insecure-http, and only on a loopback listen
 * address.
 */
#ifndef CDR_HOST_TLS_H
#define CDR_HOST_TLS_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "room/room.h"

/* A certificate issued by the room CA lives this long... */
#define HOST_TLS_VALIDITY_DAYS 90
/* ...and is renewed at a start, and warned about while running, within
 * this many days of its end. */
#define HOST_TLS_RENEW_DAYS 30
#define HOST_TLS_MAX_NAMES 16
/* TLS 1.2 and 1.3 only; ECDHE key exchange; AEAD ciphers only
 * (AES-GCM, ChaCha20-Poly1305); the server's order of preference. */
#define HOST_TLS_PRIORITIES                                                                                            \
  "SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305:"           \
  "-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:-SHA1:%SERVER_PRECEDENCE"

struct host_tls_opts {
  const char *names[HOST_TLS_MAX_NAMES]; /* --tls-name, in order */
  size_t nnames;
  const char *cert_file, *key_file; /* --tls-cert, --tls-key */
  int insecure_http;                /* --insecure-http */
};

struct host_tls {
  char *cert_pem; /* the certificate (chain) served, NUL-terminated */
  char *key_pem;  /* its private key, NUL-terminated; wiped when freed */
  size_t key_len;
  int64_t not_after; /* of the leaf, seconds since the epoch */
  int issued;        /* 1: issued by the room CA; 0: the operator's */
  int64_t warned_at; /* last expiry warning (host_tls_warn_expiry) */
};

/* Check the options against the listen host before anything is opened:
 * --insecure-http with neither --tls-* nor a non-loopback host, not
 * both --tls-name and --tls-cert, --tls-cert and --tls-key together.
 * 0 or CDR_ERR_ARG with the reason printed to stderr. */
int host_tls_check_args(const struct host_tls_opts *o, const char *listen_host) CDR_WUR;

/* 1 if host (a listen address) is a loopback address: 127.0.0.0/8, ::1,
 * or the name "localhost". */
int host_tls_is_loopback(const char *host);

/* Load or issue the credentials (see the top of the file).  listen_host
 * is the default name.  Nothing to do (*out NULL, 0) with
 * --insecure-http.  Errors are logged. */
int host_tls_prepare(const struct cdr_room *room, struct cdr_ca *ca, const struct host_tls_opts *o,
                     const char *listen_host, struct host_tls **out) CDR_WUR;
/* Log a warning when the certificate ends within HOST_TLS_RENEW_DAYS
 * (at most once a day; now in seconds since the epoch). */
void host_tls_warn_expiry(struct host_tls *t, int64_t now);
void host_tls_free(struct host_tls *t);

#endif
