/*
 * tdx_collateral.c - reading Intel's TDX collateral (TCB info version 3
 * with id "TDX", QE identity version 2 with id "TD_QE") once its
 * signature has been checked by verify_tdx.c, and matching the
 * platform's TCB against it.  JSON through jansson only.
 *
 * TCB level matching (the rule of Intel's PCS TCB info documentation):
 * tcbLevels are ordered from the highest TCB down; the platform's level
 * is the first whose sixteen sgxtcbcomponents are each <= the PCK
 * certificate's component of the same index, whose pcesvn is <= the PCK
 * certificate's, and whose sixteen tdxtcbcomponents are each <= the byte
 * of the TD report's tee_tcb_svn of the same index.  The comparison is
 * per component, never lexicographic.  No matching level means the
 * platform is below every level Intel lists: the status is "Unknown".
 *
 * Every value read from the JSON is type- and range-checked; anything
 * out of shape is CDR_ERR_ATTEST_MALFORMED.  Strings returned borrow
 * from the json_t they came from.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/util.h"
#include "tdx_internal.h"

static int digits(const char *s, size_t n, int *v) {
  int x = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    x = x * 10 + (s[i] - '0');
  }
  *v = x;
  return 0;
}

int tdx_parse_time(const char *s, int64_t *t) {
  struct tm tm, back;
  int y, mo, d, h, mi, se;
  time_t tt;

  /* YYYY-MM-DDTHH:MM:SSZ, exactly 20 characters. */
  if (s == NULL || strlen(s) != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
      s[16] != ':' || s[19] != 'Z')
    return CDR_ERR_ATTEST_MALFORMED;
  if (digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) || digits(s + 11, 2, &h) ||
      digits(s + 14, 2, &mi) || digits(s + 17, 2, &se))
    return CDR_ERR_ATTEST_MALFORMED;
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 59)
    return CDR_ERR_ATTEST_MALFORMED;
  memset(&tm, 0, sizeof(tm));
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = se;
  tt = timegm(&tm);
  /* timegm normalises 02-30 to 03-02: refuse dates that do not exist. */
  if (tt == (time_t)-1 || gmtime_r(&tt, &back) == NULL || back.tm_mday != d || back.tm_mon != mo - 1)
    return CDR_ERR_ATTEST_MALFORMED;
  *t = (int64_t)tt;
  return 0;
}

int tdx_json_hex(const json_t *obj, const char *key, uint8_t *out, size_t n) {
  const json_t *v = json_object_get(obj, key);
  if (!json_is_string(v) || json_string_length(v) != 2 * n || cdr_hex_decode(out, n, json_string_value(v)) != 0)
    return CDR_ERR_ATTEST_MALFORMED;
  return 0;
}

int tdx_json_window(const json_t *obj, int64_t at, const char *what, char *why, size_t whylen) {
  int64_t issue, next;
  if (tdx_parse_time(json_string_value(json_object_get(obj, "issueDate")), &issue) != 0 ||
      tdx_parse_time(json_string_value(json_object_get(obj, "nextUpdate")), &next) != 0) {
    snprintf(why, whylen, "%s: issueDate or nextUpdate missing or not YYYY-MM-DDTHH:MM:SSZ", what);
    return CDR_ERR_ATTEST_MALFORMED;
  }
  if (at < issue || at > next) {
    char a[32], b[32];
    cdr_time_format(a, sizeof(a), issue);
    cdr_time_format(b, sizeof(b), next);
    snprintf(why, whylen, "%s valid from %s to %s only", what, a, b);
    return CDR_ERR_ATTEST_CERT_TIME;
  }
  return 0;
}

/* An integer member in [0, max]. */
static int json_uint(const json_t *obj, const char *key, json_int_t max, unsigned *out) {
  const json_t *v = json_object_get(obj, key);
  json_int_t x;
  if (!json_is_integer(v) || (x = json_integer_value(v)) < 0 || x > max)
    return CDR_ERR_ATTEST_MALFORMED;
  *out = (unsigned)x;
  return 0;
}

/* The sixteen svn values of a component array. */
static int components(const json_t *tcb, const char *key, unsigned svn[16]) {
  const json_t *arr = json_object_get(tcb, key);
  if (!json_is_array(arr) || json_array_size(arr) != 16)
    return CDR_ERR_ATTEST_MALFORMED;
  for (size_t i = 0; i < 16; i++) {
    const json_t *c = json_array_get(arr, i);
    if (!json_is_object(c) || json_uint(c, "svn", 255, &svn[i]) != 0)
      return CDR_ERR_ATTEST_MALFORMED;
  }
  return 0;
}

int tdx_tcb_level(const json_t *tcb_info, const struct tdx_pck_ext *pck, const uint8_t tee_tcb_svn[16],
                  const char **status, char *why, size_t whylen) {
  const json_t *levels = json_object_get(tcb_info, "tcbLevels");
  unsigned sgx[16], tdx[16], pcesvn;

  *status = NULL;
  if (!json_is_array(levels) || json_array_size(levels) == 0) {
    snprintf(why, whylen, "TCB info has no tcbLevels");
    return CDR_ERR_ATTEST_MALFORMED;
  }
  /* Every level is checked for shape, also those after the match. */
  for (size_t i = 0; i < json_array_size(levels); i++) {
    const json_t *lvl = json_array_get(levels, i), *tcb = json_object_get(lvl, "tcb");
    const char *st = json_string_value(json_object_get(lvl, "tcbStatus"));
    int ok = 1;
    if (!json_is_object(tcb) || st == NULL || components(tcb, "sgxtcbcomponents", sgx) != 0 ||
        components(tcb, "tdxtcbcomponents", tdx) != 0 || json_uint(tcb, "pcesvn", 65535, &pcesvn) != 0) {
      snprintf(why, whylen, "TCB info: tcbLevels[%zu] does not parse", i);
      *status = NULL;
      return CDR_ERR_ATTEST_MALFORMED;
    }
    for (size_t k = 0; k < 16; k++)
      if (sgx[k] > pck->comp[k] || tdx[k] > tee_tcb_svn[k])
        ok = 0;
    if (pcesvn > pck->pcesvn)
      ok = 0;
    if (ok && *status == NULL)
      *status = st;
  }
  if (*status == NULL)
    *status = "Unknown";
  return 0;
}

int tdx_isvsvn_level(const json_t *levels, unsigned isvsvn, const char **status, char *why, size_t whylen) {
  unsigned n;
  *status = NULL;
  if (!json_is_array(levels) || json_array_size(levels) == 0) {
    snprintf(why, whylen, "no tcbLevels");
    return CDR_ERR_ATTEST_MALFORMED;
  }
  for (size_t i = 0; i < json_array_size(levels); i++) {
    const json_t *lvl = json_array_get(levels, i);
    const char *st = json_string_value(json_object_get(lvl, "tcbStatus"));
    if (st == NULL || json_uint(json_object_get(lvl, "tcb"), "isvsvn", 65535, &n) != 0) {
      snprintf(why, whylen, "tcbLevels[%zu] does not parse", i);
      *status = NULL;
      return CDR_ERR_ATTEST_MALFORMED;
    }
    if (n <= isvsvn && *status == NULL)
      *status = st;
  }
  return 0;
}

int tdx_status_accepted(const char *list, const char *status) {
  size_t sl = strlen(status);
  const char *p = list;

  if (list == NULL || sl == 0)
    return 0;
  while (*p != '\0') {
    const char *end = strchr(p, ',');
    size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
    const char *a = p, *b = p + n;
    while (a < b && (*a == ' ' || *a == '\t'))
      a++;
    while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
      b--;
    if ((size_t)(b - a) == sl && memcmp(a, status, sl) == 0)
      return 1;
    if (end == NULL)
      break;
    p = end + 1;
  }
  return 0;
}
