/*
 * evidence_input.c - what `cdr attest --evidence` reads besides options:
 * a saved piece of attestation evidence in whichever encoding the user
 * kept it (raw binary, hex, base64), and RFC 3339 times for --at.
 *
 * Encoding detection, in this order: a file with any byte that is not
 * printable ASCII or whitespace is binary and taken as is (every
 * supported evidence format has zero or high bytes early on); otherwise,
 * with all whitespace removed, text that is only hex digits (after an
 * optional 0x) is hex, and anything else must be strict standard base64.
 * Hex wins the rare tie (a base64 text made only of hex digits), which
 * real evidence, a kilobyte or more of base64, does not produce.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "common/limits.h"
#include "common/util.h"

/* Evidence files hold at most CDR_MAX_EVIDENCE bytes, as hex with
 * whitespace at most about twice that again. */
#define EVIDENCE_FILE_MAX (4u * CDR_MAX_EVIDENCE)

static int is_space(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }
static int is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

int cli_decode_evidence(const uint8_t *in, size_t n, uint8_t **out, size_t *outlen, const char **format) {
  char *text = NULL;
  const char *t;
  size_t tn = 0, i;
  int binary = 0, allhex = 1, r;

  *out = NULL;
  *outlen = 0;
  if (n == 0)
    return CDR_ERR_ARG;
  for (i = 0; i < n && !binary; i++)
    binary = !(is_space(in[i]) || (in[i] >= 0x20 && in[i] < 0x7f));
  if (binary) {
    if (n > CDR_MAX_EVIDENCE)
      return CDR_ERR_TOO_LARGE;
    if ((*out = malloc(n)) == NULL)
      return CDR_ERR_NOMEM;
    memcpy(*out, in, n);
    *outlen = n;
    *format = "binary";
    return 0;
  }

  if ((text = malloc(n + 1)) == NULL)
    return CDR_ERR_NOMEM;
  for (i = 0; i < n; i++)
    if (!is_space(in[i]))
      text[tn++] = (char)in[i];
  text[tn] = '\0';
  t = text;
  if (tn >= 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X')) {
    t += 2;
    tn -= 2;
  } else {
    for (i = 0; i < tn && allhex; i++)
      allhex = is_hex(t[i]);
    if (!allhex) {
      r = cdr_b64_decode(out, outlen, t, CDR_MAX_EVIDENCE);
      if (r == 0)
        *format = "base64";
      goto out;
    }
  }
  /* Hex (with or without 0x). */
  r = CDR_ERR_ARG;
  if (tn == 0 || tn % 2 != 0)
    goto out;
  r = CDR_ERR_TOO_LARGE;
  if (tn / 2 > CDR_MAX_EVIDENCE)
    goto out;
  r = CDR_ERR_NOMEM;
  if ((*out = malloc(tn / 2)) == NULL)
    goto out;
  if ((r = cdr_hex_decode(*out, tn / 2, t)) != 0) {
    free(*out);
    *out = NULL;
    goto out;
  }
  *outlen = tn / 2;
  *format = "hex";
out:
  free(text);
  return r;
}

int cli_read_evidence(const char *path, uint8_t **out, size_t *len, const char **format) {
  uint8_t *raw = NULL;
  size_t rawlen = 0;
  int r;

  if ((r = cdr_file_read(path, &raw, &rawlen, EVIDENCE_FILE_MAX)) != 0)
    return r;
  r = cli_decode_evidence(raw, rawlen, out, len, format);
  free(raw);
  return r;
}

/* n decimal digits at s; -1 if any is not a digit. */
static int dec(const char *s, int n) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

int cli_parse_rfc3339(const char *s, int64_t *t) {
  static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0, leap;
  const char *p;

  /* YYYY-MM-DDTHH:MM:SS: 19 characters, checked before any is read. */
  if (strnlen(s, 20) < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      s[13] != ':' || s[16] != ':')
    return CDR_ERR_ARG;
  y = dec(s, 4);
  mo = dec(s + 5, 2);
  d = dec(s + 8, 2);
  h = dec(s + 11, 2);
  mi = dec(s + 14, 2);
  sec = dec(s + 17, 2);
  if (y < 0 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60)
    return CDR_ERR_ARG;
  leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (d > mdays[mo - 1] + (mo == 2 && leap))
    return CDR_ERR_ARG;
  p = s + 19;
  if (*p == '.') { /* fractional seconds: at least one digit, truncated */
    p++;
    if (*p < '0' || *p > '9')
      return CDR_ERR_ARG;
    while (*p >= '0' && *p <= '9')
      p++;
  }
  if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
    sign = 0;
  } else if ((*p == '+' || *p == '-') && strnlen(p, 7) == 6 && p[3] == ':') {
    sign = *p == '+' ? 1 : -1;
    oh = dec(p + 1, 2);
    om = dec(p + 4, 2);
    if (oh < 0 || oh > 23 || om < 0 || om > 59)
      return CDR_ERR_ARG;
  } else {
    return CDR_ERR_ARG;
  }
  *t = days_from_civil(y, mo, d) * 86400 + (int64_t)h * 3600 + mi * 60 + sec - sign * ((int64_t)oh * 3600 + om * 60);
  return 0;
}
