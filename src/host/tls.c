/*
 * tls.c - cdrd's TLS credentials: the checks of the command line, the
 * certificate the room CA issues through the token (and its file key),
 * or the operator's own, and the warning before it ends.  See tls.h.
 *
 * Invariants: the private key PEM is read into memory only to hand it to
 * libmicrohttpd, and wiped when freed; a key file cdrd makes is created
 * with mode 0600 and never overwritten; nothing here touches the CA key
 * except through cdr_ca_issue_server (which signs in the token).
 */
#include "tls.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "crypto/crypto.h"
#include "crypto/x509.h"

#define TLS_PEM_MAX (64u * 1024u)
#define TLS_DAY_S 86400

int host_tls_is_loopback(const char *host) {
  struct in_addr a4;
  struct in6_addr a6;

  if (host == NULL)
    return 0;
  if (strcmp(host, "localhost") == 0)
    return 1;
  if (inet_pton(AF_INET, host, &a4) == 1)
    return (ntohl(a4.s_addr) >> 24) == 127;
  if (inet_pton(AF_INET6, host, &a6) == 1)
    return IN6_IS_ADDR_LOOPBACK(&a6);
  return 0;
}

static int tls_is_wildcard(const char *host) {
  return strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0 || strcmp(host, "*") == 0;
}

int host_tls_check_args(const struct host_tls_opts *o, const char *listen_host) {
  if (o->insecure_http) {
    if (o->nnames > 0 || o->cert_file != NULL || o->key_file != NULL) {
      fprintf(stderr, "cdrd: --insecure-http serves no TLS: drop --tls-name, --tls-cert and --tls-key\n");
      return CDR_ERR_ARG;
    }
    if (!host_tls_is_loopback(listen_host)) {
      fprintf(stderr,
              "cdrd: --insecure-http is refused on %s: plain HTTP is only allowed on a loopback address "
              "(127.0.0.1, ::1, localhost)\n",
              listen_host);
      return CDR_ERR_ARG;
    }
    return 0;
  }
  if ((o->cert_file == NULL) != (o->key_file == NULL)) {
    fprintf(stderr, "cdrd: --tls-cert and --tls-key go together\n");
    return CDR_ERR_ARG;
  }
  if (o->cert_file != NULL && o->nnames > 0) {
    fprintf(stderr, "cdrd: --tls-name is for a certificate the room CA issues; not with --tls-cert\n");
    return CDR_ERR_ARG;
  }
  for (size_t i = 0; i < o->nnames; i++)
    if (cdr_tls_name_check(o->names[i]) != 0) {
      fprintf(stderr, "cdrd: --tls-name \"%s\" is neither an IP address nor a DNS name\n", o->names[i]);
      return CDR_ERR_ARG;
    }
  if (o->cert_file == NULL && o->nnames == 0 && (tls_is_wildcard(listen_host) || cdr_tls_name_check(listen_host))) {
    fprintf(stderr, "cdrd: listening on %s: say which names clients use with --tls-name NAME (repeatable)\n",
            listen_host);
    return CDR_ERR_ARG;
  }
  return 0;
}

/* Seconds from now until the certificate's notAfter (negative: past). */
static int64_t tls_seconds_left(X509 *x) {
  int days = 0, secs = 0;
  if (ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)) != 1)
    return -1;
  return (int64_t)days * TLS_DAY_S + secs;
}

/* A passphrase callback that gives none: an encrypted key fails instead
 * of prompting on a terminal cdrd may not have. */
static int tls_no_passphrase(char *buf, int size, int rwflag, void *u) {
  (void)buf, (void)size, (void)rwflag, (void)u;
  return 0;
}

/* Parse key_pem and the first certificate of cert_pem; check they
 * belong together.  *leaf is the caller's. */
static int tls_parse_pair(const char *cert_pem, size_t cert_len, const char *key_pem, size_t key_len, X509 **leaf,
                          const char *what) {
  BIO *b = NULL;
  EVP_PKEY *k = NULL;
  int r = CDR_ERR_ARG;

  *leaf = NULL;
  if ((b = BIO_new_mem_buf(cert_pem, (int)cert_len)) == NULL || (*leaf = PEM_read_bio_X509(b, NULL, NULL, NULL)) == NULL) {
    log_error("%s: no PEM certificate", what);
    goto out;
  }
  BIO_free(b);
  if ((b = BIO_new_mem_buf(key_pem, (int)key_len)) == NULL ||
      (k = PEM_read_bio_PrivateKey(b, NULL, tls_no_passphrase, NULL)) == NULL) {
    log_error("%s: the key is not an unencrypted PEM private key", what);
    goto out;
  }
  if (X509_check_private_key(*leaf, k) != 1) {
    log_error("%s: the key does not belong to the certificate", what);
    goto out;
  }
  r = 0;
out:
  ERR_clear_error();
  if (r != 0) {
    X509_free(*leaf);
    *leaf = NULL;
  }
  EVP_PKEY_free(k);
  BIO_free(b);
  return r;
}

/* (b): the operator's --tls-cert and --tls-key. */
static int tls_load_operator(const struct host_tls_opts *o, struct host_tls *t) {
  uint8_t *cert = NULL, *key = NULL;
  size_t cert_len = 0, key_len = 0;
  X509 *leaf = NULL;
  int r;

  if ((r = cdr_file_read(o->cert_file, &cert, &cert_len, TLS_PEM_MAX)) != 0) {
    log_error("cannot read --tls-cert %s: %s", o->cert_file, cdr_err_describe(r));
    return r;
  }
  if ((r = cdr_file_read(o->key_file, &key, &key_len, TLS_PEM_MAX)) != 0) {
    log_error("cannot read --tls-key %s: %s", o->key_file, cdr_err_describe(r));
    free(cert);
    return r;
  }
  if ((r = tls_parse_pair((char *)cert, cert_len, (char *)key, key_len, &leaf, o->cert_file)) != 0) {
    OPENSSL_cleanse(key, key_len);
    free(key);
    free(cert);
    return r;
  }
  t->cert_pem = (char *)cert;
  t->key_pem = (char *)key;
  t->key_len = key_len;
  t->not_after = cdr_now() + tls_seconds_left(leaf);
  log_info("TLS: serving the certificate of %s", o->cert_file);
  X509_free(leaf);
  return 0;
}

/* Does the room-issued certificate x still do: signed by the room CA,
 * for key, naming exactly these names, with more than the renewal
 * window left? */
static int tls_cert_still_good(X509 *x, EVP_PKEY *key, const struct cdr_room *room, const char *const *names,
                               size_t n) {
  GENERAL_NAMES *san = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
  int ok = san != NULL && (size_t)sk_GENERAL_NAME_num(san) == n && X509_verify(x, X509_get0_pubkey(room->ca_cert)) == 1 &&
           X509_check_private_key(x, key) == 1 && tls_seconds_left(x) > (int64_t)HOST_TLS_RENEW_DAYS * TLS_DAY_S;
  unsigned char ip[16];

  for (size_t i = 0; ok && i < n; i++) {
    if (inet_pton(AF_INET, names[i], ip) == 1 || inet_pton(AF_INET6, names[i], ip) == 1)
      ok = X509_check_ip_asc(x, names[i], 0) == 1;
    else
      ok = X509_check_host(x, names[i], 0, X509_CHECK_FLAG_NO_WILDCARDS, NULL) == 1;
  }
  GENERAL_NAMES_free(san);
  ERR_clear_error();
  return ok;
}

/* ROOM/tls/server.key: load it, or make it (P-256, mode 0600). */
static int tls_file_key(const char *path, EVP_PKEY **key) {
  int r = cdr_key_load_pem(path, key);
  if (r != CDR_ERR_NOT_FOUND)
    return r;
  if ((r = cdr_key_generate(key, "ec", 0)) != 0 || (r = cdr_key_save_pem(path, *key)) != 0)
    return r;
  log_info("TLS: made a new server key %s", path);
  return 0;
}

/* (a): the certificate the room CA issues for the names. */
static int tls_room_issued(const struct cdr_room *room, struct cdr_ca *ca, const char *const *names, size_t n,
                           struct host_tls *t) {
  char *dir = cdr_path_join(room->dir, "tls"), *kpath = NULL, *cpath = NULL, *pem = NULL;
  EVP_PKEY *key = NULL;
  X509 *x = NULL;
  uint8_t *kbuf = NULL;
  size_t klen = 0;
  int r = CDR_ERR_NOMEM;

  if (dir == NULL || (kpath = cdr_path_join(dir, "server.key")) == NULL ||
      (cpath = cdr_path_join(dir, "server.crt")) == NULL)
    goto out;
  if ((r = cdr_mkdir_p(dir, 0700)) != 0 || (r = tls_file_key(kpath, &key)) != 0) {
    log_error("TLS: cannot read or make the server key %s: %s", kpath, cdr_err_describe(r));
    goto out;
  }
  if (cdr_cert_load_pem(cpath, &x) != 0 || !tls_cert_still_good(x, key, room, names, n)) {
    X509_free(x);
    x = NULL;
    if ((r = cdr_ca_issue_server(ca, room, key, names, n, (int64_t)HOST_TLS_VALIDITY_DAYS * TLS_DAY_S, &x)) != 0) {
      log_error("TLS: the room CA could not issue the server certificate: %s", cdr_err_describe(r));
      goto out;
    }
    if ((r = cdr_cert_to_pem(x, &pem)) != 0 || (r = cdr_file_write(cpath, pem, strlen(pem), 0644, 0)) != 0) {
      log_error("TLS: cannot write %s", cpath);
      goto out;
    }
    log_info("TLS: the room CA issued a server certificate for %s%s (%d days)", names[0], n > 1 ? " and more" : "",
             HOST_TLS_VALIDITY_DAYS);
  } else if ((r = cdr_cert_to_pem(x, &pem)) != 0) {
    goto out;
  }
  if ((r = cdr_file_read(kpath, &kbuf, &klen, TLS_PEM_MAX)) != 0)
    goto out;
  t->cert_pem = pem;
  t->key_pem = (char *)kbuf;
  t->key_len = klen;
  t->not_after = cdr_now() + tls_seconds_left(x);
  t->issued = 1;
  pem = NULL;
  r = 0;
out:
  free(pem);
  X509_free(x);
  EVP_PKEY_free(key);
  free(cpath);
  free(kpath);
  free(dir);
  return r;
}

int host_tls_prepare(const struct cdr_room *room, struct cdr_ca *ca, const struct host_tls_opts *o,
                     const char *listen_host, struct host_tls **out) {
  struct host_tls *t;
  const char *deflt[1] = {listen_host};
  int r;

  *out = NULL;
  if (o->insecure_http) {
    log_warn("serving plain HTTP on loopback (--insecure-http): for tests and a TLS proxy in front only");
    return 0;
  }
  if ((t = calloc(1, sizeof(*t))) == NULL)
    return CDR_ERR_NOMEM;
  if (o->cert_file != NULL)
    r = tls_load_operator(o, t);
  else if (o->nnames > 0)
    r = tls_room_issued(room, ca, o->names, o->nnames, t);
  else
    r = tls_room_issued(room, ca, deflt, 1, t);
  if (r != 0) {
    host_tls_free(t);
    return r;
  }
  host_tls_warn_expiry(t, cdr_now());
  *out = t;
  return 0;
}

void host_tls_warn_expiry(struct host_tls *t, int64_t now) {
  if (t == NULL || now - t->warned_at < TLS_DAY_S)
    return;
  int64_t left = t->not_after - now;
  if (left > (int64_t)HOST_TLS_RENEW_DAYS * TLS_DAY_S)
    return;
  t->warned_at = now;
  if (left <= 0)
    log_warn("TLS: the server certificate has EXPIRED; clients refuse it: %s", t->issued
             ? "restart cdrd to have the room CA issue a new one"
             : "put a new certificate in place of --tls-cert and restart cdrd");
  else
    log_warn("TLS: the server certificate ends in %lld days: %s", (long long)(left / TLS_DAY_S), t->issued
             ? "restart cdrd and the room CA issues a new one"
             : "put a new certificate in place of --tls-cert and restart cdrd");
}

void host_tls_free(struct host_tls *t) {
  if (t == NULL)
    return;
  if (t->key_pem != NULL) {
    OPENSSL_cleanse(t->key_pem, t->key_len);
    free(t->key_pem);
  }
  free(t->cert_pem);
  free(t);
}
