/*
 * json_get.c - typed readers of JSON members (json_get.h).
 */
#include "json_get.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

int cdr_json_get_str(const json_t *o, const char *key, size_t maxlen, const char **s, size_t *len) {
  json_t *v = json_object_get(o, key);
  if (v == NULL)
    return CDR_ERR_NOT_FOUND;
  if (!json_is_string(v))
    return CDR_ERR_BAD_JSON;
  if (json_string_length(v) > maxlen)
    return CDR_ERR_TOO_LARGE;
  *s = json_string_value(v);
  *len = json_string_length(v);
  return 0;
}

int cdr_json_get_cstr(const json_t *o, const char *key, size_t maxlen, const char **s) {
  const char *v;
  size_t len;
  int r;
  if ((r = cdr_json_get_str(o, key, maxlen, &v, &len)) != 0)
    return r;
  if (strlen(v) != len)
    return CDR_ERR_ARG;
  *s = v;
  return 0;
}

const char *cdr_json_get_cstr_opt(const json_t *o, const char *key) {
  const char *s;
  return cdr_json_get_cstr(o, key, SIZE_MAX, &s) == 0 ? s : NULL;
}

int cdr_json_get_u64(const json_t *o, const char *key, uint64_t *v) {
  json_t *j = json_object_get(o, key);
  if (j == NULL)
    return CDR_ERR_NOT_FOUND;
  if (!json_is_integer(j))
    return CDR_ERR_BAD_JSON;
  if (json_integer_value(j) < 0)
    return CDR_ERR_ARG;
  *v = (uint64_t)json_integer_value(j);
  return 0;
}

int cdr_json_get_bool(const json_t *o, const char *key, int dflt, int *v) {
  json_t *b = json_object_get(o, key);
  if (b == NULL) {
    *v = dflt;
    return 0;
  }
  if (!json_is_boolean(b))
    return CDR_ERR_BAD_JSON;
  *v = json_is_true(b);
  return 0;
}

int cdr_json_get_b64(const json_t *o, const char *key, size_t max, uint8_t **out, size_t *len) {
  const char *s;
  int r;
  /* Standard base64 is 4 characters per 3 bytes, padded. */
  size_t smax = max > (SIZE_MAX - 2) / 4 * 3 ? SIZE_MAX : (max + 2) / 3 * 4;
  if ((r = cdr_json_get_cstr(o, key, smax, &s)) != 0)
    return r;
  return cdr_b64_decode(out, len, s, max);
}

int cdr_json_get_b64_exact(const json_t *o, const char *key, uint8_t *out, size_t n) {
  uint8_t *d = NULL;
  size_t len = 0;
  int r = cdr_json_get_b64(o, key, n, &d, &len);
  if (r == CDR_ERR_TOO_LARGE)
    return CDR_ERR_ARG;
  if (r != 0)
    return r;
  if (len == n)
    memcpy(out, d, n);
  else
    r = CDR_ERR_ARG;
  OPENSSL_clear_free(d, len);
  return r;
}

int cdr_json_get_hex_exact(const json_t *o, const char *key, uint8_t *out, size_t n) {
  const char *s;
  int r;
  if (n > SIZE_MAX / 2)
    return CDR_ERR_ARG;
  if ((r = cdr_json_get_cstr(o, key, 2 * n, &s)) == CDR_ERR_TOO_LARGE)
    return CDR_ERR_ARG;
  if (r != 0)
    return r;
  if (strlen(s) != 2 * n || !cdr_hex_lower_ok(s, 2 * n))
    return CDR_ERR_ARG;
  return cdr_hex_decode(out, n, s);
}

int cdr_json_set_b64(json_t *o, const char *key, const uint8_t *p, size_t n) {
  char *s = NULL;
  int r = cdr_b64_encode(&s, p, n);
  if (r == 0 && json_object_set_new(o, key, json_string(s)) != 0)
    r = CDR_ERR_NOMEM;
  free(s);
  return r;
}

int cdr_json_set_hex(json_t *o, const char *key, const uint8_t *p, size_t n) {
  char hex[2 * 64 + 1];
  if (n > 64)
    return CDR_ERR_ARG;
  cdr_hex_encode(hex, p, n);
  return json_object_set_new(o, key, json_string(hex)) == 0 ? 0 : CDR_ERR_NOMEM;
}
