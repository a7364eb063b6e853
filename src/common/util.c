/*
 * util.c - see util.h.
 */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void cdr_hex_encode(char *out, const uint8_t *in, size_t n) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = digits[in[i] >> 4];
    out[2 * i + 1] = digits[in[i] & 15];
  }
  out[2 * n] = '\0';
}

static int hex_val(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int cdr_hex_decode(uint8_t *out, size_t n, const char *hex) {
  if (strlen(hex) != 2 * n)
    return CDR_ERR_ARG;
  for (size_t i = 0; i < n; i++) {
    int hi = hex_val(hex[2 * i]), lo = hex_val(hex[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return CDR_ERR_ARG;
    out[i] = (uint8_t)(hi << 4 | lo);
  }
  return 0;
}

int cdr_hex_lower_ok(const char *s, size_t len) {
  if (len == 0)
    return 0;
  for (size_t i = 0; i < len; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
      return 0;
  return 1;
}

static int ascii_lower(int c) { return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c; }

int cdr_ascii_casecmp(const char *a, const char *b) {
  for (;; a++, b++) {
    int x = ascii_lower((unsigned char)*a), y = ascii_lower((unsigned char)*b);
    if (x != y || x == 0)
      return x - y;
  }
}

int cdr_b64_encode(char **out, const uint8_t *in, size_t n) {
  if (n > (size_t)INT32_MAX / 4 * 3 - 3)
    return CDR_ERR_TOO_LARGE;
  size_t olen = (n + 2) / 3 * 4;
  char *o = malloc(olen + 1);
  if (o == NULL)
    return CDR_ERR_NOMEM;
  int w = EVP_EncodeBlock((unsigned char *)o, in, (int)n);
  if (w < 0 || (size_t)w != olen) {
    free(o);
    return CDR_ERR_CRYPTO;
  }
  o[olen] = '\0';
  *out = o;
  return 0;
}

static int b64_char_ok(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

int cdr_b64_decode(uint8_t **out, size_t *outlen, const char *in, size_t maxlen) {
  size_t n = strlen(in);
  if (n % 4 != 0)
    return CDR_ERR_ARG;
  size_t pad = 0;
  if (n >= 1 && in[n - 1] == '=') pad++;
  if (n >= 2 && in[n - 2] == '=') pad++;
  for (size_t i = 0; i < n - pad; i++)
    if (!b64_char_ok(in[i]))
      return CDR_ERR_ARG;
  size_t dlen = n / 4 * 3 - pad;
  if (dlen > maxlen)
    return CDR_ERR_TOO_LARGE;
  if (n > INT32_MAX)
    return CDR_ERR_TOO_LARGE;
  uint8_t *o = malloc(n / 4 * 3 + 1);
  if (o == NULL)
    return CDR_ERR_NOMEM;
  if (n > 0 && EVP_DecodeBlock(o, (const unsigned char *)in, (int)n) < 0) {
    free(o);
    return CDR_ERR_ARG;
  }
  *out = o;
  *outlen = dlen;
  return 0;
}

int cdr_b64url_encode(char **out, const uint8_t *in, size_t n) {
  char *s;
  int r = cdr_b64_encode(&s, in, n);
  if (r != 0)
    return r;
  for (char *p = s; *p; p++) {
    if (*p == '+') *p = '-';
    else if (*p == '/') *p = '_';
    else if (*p == '=') { *p = '\0'; break; }
  }
  *out = s;
  return 0;
}

int cdr_b64url_decode(uint8_t **out, size_t *outlen, const char *in, size_t maxlen) {
  size_t n = strlen(in);
  if (n % 4 == 1 || n > (size_t)INT32_MAX - 4)
    return CDR_ERR_ARG;
  char *s = malloc(n + 4);
  if (s == NULL)
    return CDR_ERR_NOMEM;
  size_t i;
  for (i = 0; i < n; i++) {
    char c = in[i];
    if (c == '-') c = '+';
    else if (c == '_') c = '/';
    else if (c == '+' || c == '/' || c == '=') { free(s); return CDR_ERR_ARG; }
    s[i] = c;
  }
  while (i % 4 != 0)
    s[i++] = '=';
  s[i] = '\0';
  int r = cdr_b64_decode(out, outlen, s, maxlen);
  free(s);
  return r;
}

static int file_read(const char *path, int flags, uint8_t **out, size_t *len, size_t maxlen) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | flags);
  if (fd < 0)
    return errno == ENOENT ? CDR_ERR_NOT_FOUND : CDR_ERR_IO;
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return CDR_ERR_IO;
  }
  if ((uint64_t)st.st_size > maxlen) {
    close(fd);
    return CDR_ERR_TOO_LARGE;
  }
  size_t want = (size_t)st.st_size;
  uint8_t *d = malloc(want + 1);
  if (d == NULL) {
    close(fd);
    return CDR_ERR_NOMEM;
  }
  size_t got = 0;
  while (got < want) {
    ssize_t k = read(fd, d + got, want - got);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      break;
    got += (size_t)k;
  }
  close(fd);
  if (got != want) {
    OPENSSL_clear_free(d, want + 1);
    return CDR_ERR_IO;
  }
  d[got] = '\0';
  *out = d;
  *len = got;
  return 0;
}

int cdr_file_read(const char *path, uint8_t **out, size_t *len, size_t maxlen) {
  return file_read(path, 0, out, len, maxlen);
}

int cdr_file_read_nofollow(const char *path, uint8_t **out, size_t *len, size_t maxlen) {
  return file_read(path, O_NOFOLLOW, out, len, maxlen);
}

int cdr_file_write(const char *path, const void *data, size_t len, int mode, int excl) {
  size_t plen = strlen(path);
  char *tmp = malloc(plen + 16);
  if (tmp == NULL)
    return CDR_ERR_NOMEM;
  snprintf(tmp, plen + 16, "%s.tmp.%d", path, (int)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) {
    free(tmp);
    return CDR_ERR_IO;
  }
  (void)fchmod(fd, (mode_t)mode); /* umask must not widen or narrow it */
  const uint8_t *p = data;
  size_t done = 0;
  while (done < len) {
    ssize_t k = write(fd, p + done, len - done);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      break;
    done += (size_t)k;
  }
  int ok = done == len && fsync(fd) == 0;
  ok = (close(fd) == 0) && ok;
  if (ok && excl) {
    /* link() fails if the target exists, which gives create-exclusive
     * semantics together with atomic appearance of the whole file. */
    ok = link(tmp, path) == 0;
    unlink(tmp);
  } else if (ok) {
    ok = rename(tmp, path) == 0;
  }
  if (!ok)
    unlink(tmp);
  free(tmp);
  return ok ? 0 : CDR_ERR_IO;
}

int cdr_mkdir_p(const char *path, int mode) {
  char *p = strdup(path);
  if (p == NULL)
    return CDR_ERR_NOMEM;
  for (char *s = p + 1; *s; s++) {
    if (*s != '/')
      continue;
    *s = '\0';
    if (mkdir(p, (mode_t)mode) != 0 && errno != EEXIST) {
      free(p);
      return CDR_ERR_IO;
    }
    *s = '/';
  }
  int r = (mkdir(p, (mode_t)mode) != 0 && errno != EEXIST) ? CDR_ERR_IO : 0;
  free(p);
  return r;
}

int cdr_parse_duration(const char *s, int64_t *seconds) {
  if (s == NULL || *s == '\0')
    return CDR_ERR_ARG;
  int64_t v = 0;
  const char *p = s;
  while (*p >= '0' && *p <= '9') {
    if (v > (INT64_MAX - 9) / 10)
      return CDR_ERR_ARG;
    v = v * 10 + (*p - '0');
    p++;
  }
  if (p == s)
    return CDR_ERR_ARG;
  int64_t mul;
  if (*p == '\0' || strcmp(p, "s") == 0) mul = 1;
  else if (strcmp(p, "m") == 0) mul = 60;
  else if (strcmp(p, "h") == 0) mul = 3600;
  else if (strcmp(p, "d") == 0) mul = 86400;
  else return CDR_ERR_ARG;
  if (v > INT64_MAX / mul)
    return CDR_ERR_ARG;
  *seconds = v * mul;
  return 0;
}

int64_t cdr_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec;
}

void cdr_time_format(char *out, size_t outlen, int64_t t) {
  time_t tt = (time_t)t;
  struct tm tm;
  gmtime_r(&tt, &tm);
  strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

char *cdr_path_join(const char *dir, const char *name) {
  size_t n = strlen(dir) + strlen(name) + 2;
  char *p = malloc(n);
  if (p != NULL)
    snprintf(p, n, "%s/%s", dir, name);
  return p;
}

int cdr_write_full(int fd, const void *buf, size_t n) {
  const uint8_t *p = buf;
  while (n > 0) {
    ssize_t k = write(fd, p, n);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      return CDR_ERR_IO;
    p += k;
    n -= (size_t)k;
  }
  return 0;
}

int cdr_read_full(int fd, void *buf, size_t n) {
  uint8_t *p = buf;
  while (n > 0) {
    ssize_t k = read(fd, p, n);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      return CDR_ERR_IO;
    p += k;
    n -= (size_t)k;
  }
  return 0;
}

int cdr_platform_keeps_state(const char *platform) {
  return platform != NULL && (strcmp(platform, "sim") == 0 || strcmp(platform, "snp") == 0);
}

void cdr_double_text(char out[CDR_DOUBLE_TEXT_LEN], double v) {
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(out, CDR_DOUBLE_TEXT_LEN, "%.*g", prec, v);
    if (strtod(out, NULL) == v)
      break;
  }
  if (strpbrk(out, ".eE") == NULL) {
    size_t n = strlen(out);
    if (n + 3 <= CDR_DOUBLE_TEXT_LEN)
      memcpy(out + n, ".0", 3);
  }
}

void cdr_str_wipe_free(char *s) {
  if (s == NULL)
    return;
  OPENSSL_cleanse(s, strlen(s));
  free(s);
}
