/*
 * test_json_get.c - the typed JSON readers (common/json_get.h) and the
 * small shared checks beside them (cdr_hex_lower_ok, cdr_ascii_casecmp):
 * each reader's success, and each of its refusals by its own code.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/json_get.h"
#include "common/util.h"
#include "testlib.h"

static json_t *parse(const char *text) {
  json_error_t e;
  json_t *j = json_loads(text, JSON_ALLOW_NUL, &e);
  if (j == NULL)
    fprintf(stderr, "bad fixture JSON: %s\n", e.text);
  return j;
}

static void test_strings(void) {
  json_t *o = parse("{\"s\":\"abc\",\"nul\":\"a\\u0000b\",\"n\":5,\"e\":\"\"}");
  const char *s = NULL;
  size_t len = 0;
  CHECK_RC(cdr_json_get_str(o, "s", 3, &s, &len), 0);
  CHECK_STR(s, "abc");
  CHECK(len == 3);
  CHECK_RC(cdr_json_get_str(o, "s", 2, &s, &len), CDR_ERR_TOO_LARGE);
  CHECK_RC(cdr_json_get_str(o, "missing", 9, &s, &len), CDR_ERR_NOT_FOUND);
  CHECK_RC(cdr_json_get_str(o, "n", 9, &s, &len), CDR_ERR_BAD_JSON);
  CHECK_RC(cdr_json_get_str(o, "nul", 9, &s, &len), 0);
  CHECK(len == 3);
  s = "untouched";
  CHECK_RC(cdr_json_get_cstr(o, "nul", 9, &s), CDR_ERR_ARG);
  CHECK_STR(s, "untouched"); /* a refusal writes no out-parameter */
  CHECK_RC(cdr_json_get_cstr(o, "e", 0, &s), 0);
  CHECK_STR(s, "");
  CHECK_STR(cdr_json_get_cstr_opt(o, "s"), "abc");
  CHECK(cdr_json_get_cstr_opt(o, "nul") == NULL);
  CHECK(cdr_json_get_cstr_opt(o, "n") == NULL);
  CHECK(cdr_json_get_cstr_opt(o, "missing") == NULL);
  json_decref(o);
}

static void test_numbers_and_bools(void) {
  json_t *o = parse("{\"u\":42,\"neg\":-1,\"f\":1.5,\"s\":\"7\",\"t\":true,\"no\":false,\"z\":null}");
  uint64_t v = 9;
  int b = 7;
  CHECK_RC(cdr_json_get_u64(o, "u", &v), 0);
  CHECK(v == 42);
  v = 9;
  CHECK_RC(cdr_json_get_u64(o, "neg", &v), CDR_ERR_ARG);
  CHECK_RC(cdr_json_get_u64(o, "f", &v), CDR_ERR_BAD_JSON);
  CHECK_RC(cdr_json_get_u64(o, "s", &v), CDR_ERR_BAD_JSON);
  CHECK_RC(cdr_json_get_u64(o, "missing", &v), CDR_ERR_NOT_FOUND);
  CHECK(v == 9);
  CHECK_RC(cdr_json_get_bool(o, "t", 0, &b), 0);
  CHECK(b == 1);
  CHECK_RC(cdr_json_get_bool(o, "no", 1, &b), 0);
  CHECK(b == 0);
  CHECK_RC(cdr_json_get_bool(o, "missing", 1, &b), 0);
  CHECK(b == 1);
  CHECK_RC(cdr_json_get_bool(o, "z", 1, &b), CDR_ERR_BAD_JSON);
  CHECK_RC(cdr_json_get_bool(o, "u", 1, &b), CDR_ERR_BAD_JSON);
  json_decref(o);
}

static void test_b64_and_hex(void) {
  /* "AAEC" is 00 01 02; "AAE=" is 00 01. */
  json_t *o = parse("{\"b\":\"AAEC\",\"short\":\"AAE=\",\"bad\":\"AA*C\",\"url\":\"-_-_\",\"nul\":\"AA\\u0000C\","
                    "\"h\":\"00ff10\",\"H\":\"00FF10\",\"hodd\":\"00ff1\",\"hbad\":\"00fg10\",\"n\":1}");
  uint8_t *d = NULL, out[3] = {9, 9, 9};
  size_t len = 0;
  CHECK_RC(cdr_json_get_b64(o, "b", 3, &d, &len), 0);
  CHECK(len == 3 && d != NULL && d[0] == 0 && d[1] == 1 && d[2] == 2);
  free(d);
  d = NULL;
  CHECK_RC(cdr_json_get_b64(o, "b", 2, &d, &len), CDR_ERR_TOO_LARGE);
  CHECK(d == NULL);
  CHECK_RC(cdr_json_get_b64(o, "bad", 3, &d, &len), CDR_ERR_ARG);
  CHECK_RC(cdr_json_get_b64(o, "url", 3, &d, &len), CDR_ERR_ARG);
  CHECK_RC(cdr_json_get_b64(o, "nul", 3, &d, &len), CDR_ERR_ARG);
  CHECK_RC(cdr_json_get_b64(o, "n", 3, &d, &len), CDR_ERR_BAD_JSON);
  CHECK_RC(cdr_json_get_b64(o, "missing", 3, &d, &len), CDR_ERR_NOT_FOUND);
  CHECK_RC(cdr_json_get_b64_exact(o, "b", out, 3), 0);
  CHECK(out[0] == 0 && out[1] == 1 && out[2] == 2);
  CHECK_RC(cdr_json_get_b64_exact(o, "short", out, 3), CDR_ERR_ARG);
  CHECK_RC(cdr_json_get_b64_exact(o, "b", out, 2), CDR_ERR_ARG);
  memset(out, 9, sizeof(out));
  CHECK_RC(cdr_json_get_hex_exact(o, "h", out, 3), 0);
  CHECK(out[0] == 0x00 && out[1] == 0xff && out[2] == 0x10);
  CHECK_RC(cdr_json_get_hex_exact(o, "H", out, 3), CDR_ERR_ARG); /* lower case only */
  CHECK_RC(cdr_json_get_hex_exact(o, "hodd", out, 3), CDR_ERR_ARG);
  CHECK_RC(cdr_json_get_hex_exact(o, "hbad", out, 3), CDR_ERR_ARG);
  CHECK_RC(cdr_json_get_hex_exact(o, "h", out, 2), CDR_ERR_ARG);
  CHECK_RC(cdr_json_get_hex_exact(o, "h", out, 4), CDR_ERR_ARG);
  CHECK_RC(cdr_json_get_hex_exact(o, "missing", out, 3), CDR_ERR_NOT_FOUND);
  json_decref(o);
}

static void test_small_checks(void) {
  CHECK(cdr_hex_lower_ok("0123456789abcdef", 16));
  CHECK(!cdr_hex_lower_ok("0123456789abcdeF", 16));
  CHECK(!cdr_hex_lower_ok("01g3", 4));
  CHECK(cdr_hex_lower_ok("01g3", 2)); /* only the len bytes count */
  CHECK(!cdr_hex_lower_ok("", 0));
  CHECK(!cdr_hex_lower_ok("ab\0d", 4));
  CHECK(cdr_ascii_casecmp("Hospital", "hOSPITAL") == 0);
  CHECK(cdr_ascii_casecmp("rowid", "ROWID") == 0);
  CHECK(cdr_ascii_casecmp("a", "b") < 0);
  CHECK(cdr_ascii_casecmp("b", "A") > 0);
  CHECK(cdr_ascii_casecmp("ab", "a") > 0);
  /* ASCII only: the byte 0xC4 is no upper case of 0xE4, whatever the locale */
  CHECK(cdr_ascii_casecmp("\xC4", "\xE4") != 0);
}

int main(void) {
  test_strings();
  test_numbers_and_bools();
  test_b64_and_hex();
  test_small_checks();
  return test_summary("json_get");
}
