/*
 * secret.c - passphrases and PINs from a source spec (userkey.h):
 * "env:VAR" or "file:PATH", as openssl's -passin takes them, so that no
 * secret is ever a literal on a command line (where `ps` shows it).
 *
 * Contract: the secret lands in OpenSSL's secure heap (locked, kept out
 * of core dumps when cdr_crypto_init_secure_heap succeeded) and every
 * intermediate copy is wiped.  A file yields its first line without the
 * line end; it is read whole (up to CDR_SECRET_MAX + 2 bytes) so that a
 * longer one is refused rather than cut.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "userkey.h"

/* Copy n bytes of p (no NUL among them) into a new secure string. */
static int secret_dup(const char *p, size_t n, char **out) {
  char *s;
  if (n == 0 || n > CDR_SECRET_MAX || memchr(p, '\0', n) != NULL)
    return CDR_ERR_ARG;
  if ((s = OPENSSL_secure_malloc(n + 1)) == NULL)
    return CDR_ERR_NOMEM;
  memcpy(s, p, n);
  s[n] = '\0';
  *out = s;
  return 0;
}

/* The first line of the file at path. */
static int secret_from_file(const char *path, char **out) {
  char buf[CDR_SECRET_MAX + 2];
  size_t n = 0;
  ssize_t got;
  int fd = open(path, O_RDONLY | O_CLOEXEC), r;

  if (fd < 0)
    return errno == ENOENT ? CDR_ERR_NOT_FOUND : CDR_ERR_IO;
  while (n < sizeof(buf) && (got = read(fd, buf + n, sizeof(buf) - n)) != 0) {
    if (got < 0) {
      if (errno == EINTR)
        continue;
      close(fd);
      OPENSSL_cleanse(buf, sizeof(buf));
      return CDR_ERR_IO;
    }
    n += (size_t)got;
  }
  close(fd);
  {
    char *nl = memchr(buf, '\n', n);
    size_t len = nl != NULL ? (size_t)(nl - buf) : n;
    if (nl == NULL && n == sizeof(buf))
      r = CDR_ERR_ARG; /* no line end within the cap: too long */
    else
      r = secret_dup(buf, len > 0 && buf[len - 1] == '\r' ? len - 1 : len, out);
  }
  OPENSSL_cleanse(buf, sizeof(buf));
  return r;
}

int cdr_secret_read(const char *spec, char **out) {
  *out = NULL;
  if (spec == NULL)
    return CDR_ERR_ARG;
  if (strncmp(spec, "env:", 4) == 0) {
    const char *v = spec[4] != '\0' ? getenv(spec + 4) : NULL;
    if (v == NULL)
      return CDR_ERR_NOT_FOUND;
    return secret_dup(v, strlen(v), out);
  }
  if (strncmp(spec, "file:", 5) == 0 && spec[5] != '\0')
    return secret_from_file(spec + 5, out);
  return CDR_ERR_ARG;
}

void cdr_secret_free(char *s) {
  if (s != NULL)
    OPENSSL_secure_clear_free(s, strlen(s) + 1);
}
