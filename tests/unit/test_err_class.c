/*
 * test_err_class.c - every cdr_err has a class (common/err_class.h), and
 * docs/CLI.md lists each with its exit status; the shortest round-trip
 * form of reals that `cdr` prints (client/render.h).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/render.h"
#include "common/err.h"
#include "common/err_class.h"
#include "testlib.h"

static void test_every_code_has_a_class(void) {
  CHECK(cdr_err_class(CDR_OK) == CDR_CLASS_OK);
  /* A row left out in the middle of the table would be 0 (ok). */
  for (int i = 1; i < CDR_ERR__COUNT; i++) {
    int c = cdr_err_class(-i);
    if (c < CDR_CLASS_FAILURE || c > CDR_CLASS_LOCAL)
      fprintf(stderr, "error code %s has no class\n", cdr_err_code(-i));
    CHECK(c >= CDR_CLASS_FAILURE && c <= CDR_CLASS_LOCAL);
  }
  CHECK(cdr_err_class(-CDR_ERR__COUNT) == CDR_CLASS_FAILURE);
  CHECK(cdr_err_class(5) == CDR_CLASS_FAILURE);
  /* a representative of each class */
  CHECK(cdr_err_class(CDR_ERR_ARG) == CDR_CLASS_USAGE);
  CHECK(cdr_err_class(CDR_ERR_SQL_DENIED) == CDR_CLASS_REFUSED);
  CHECK(cdr_err_class(CDR_ERR_NETWORK) == CDR_CLASS_NETWORK);
  CHECK(cdr_err_class(CDR_ERR_ATTEST_MEASUREMENT) == CDR_CLASS_VERIFY);
  CHECK(cdr_err_class(CDR_ERR_AUDIT_ROLLBACK) == CDR_CLASS_VERIFY);
  CHECK(cdr_err_class(CDR_ERR_NOT_FOUND) == CDR_CLASS_LOCAL);
  CHECK(cdr_err_class(CDR_ERR_INTERNAL) == CDR_CLASS_FAILURE);
  /* whatever the room sent is a refusal */
  CHECK(cdr_err_class_from(CDR_ERR_NOT_FOUND, 1) == CDR_CLASS_REFUSED);
  CHECK(cdr_err_class_from(CDR_ERR_NOT_FOUND, 0) == CDR_CLASS_LOCAL);
  CHECK(cdr_err_class_from(CDR_OK, 1) == CDR_CLASS_OK);
  CHECK_STR(cdr_err_class_name(CDR_CLASS_VERIFY), "verification");
}

/* docs/CLI.md lists every code with the status err_class.c gives it. */
static void test_docs_table(void) {
  const char *src = getenv("CDR_SOURCE_DIR");
  char path[4096], row[256];
  char *doc = NULL;
  size_t len = 0;
  FILE *f;
  snprintf(path, sizeof(path), "%s/docs/CLI.md", src ? src : ".");
  f = fopen(path, "r");
  CHECK(f != NULL);
  if (f == NULL)
    return;
  doc = calloc(1, 1 << 20);
  CHECK(doc != NULL);
  if (doc != NULL)
    len = fread(doc, 1, (1 << 20) - 1, f);
  fclose(f);
  CHECK(len > 0);
  for (int i = 0; doc != NULL && i < CDR_ERR__COUNT; i++) {
    snprintf(row, sizeof(row), "| `%s` | %d | %s |", cdr_err_code(-i), cdr_err_class(-i),
             cdr_err_class_name(cdr_err_class(-i)));
    if (strstr(doc, row) == NULL)
      fprintf(stderr, "docs/CLI.md lacks the row %s\n", row);
    CHECK(strstr(doc, row) != NULL);
  }
  free(doc);
}

static void check_real(double d, const char *want) {
  json_t *v = json_real(d);
  char *text = NULL;
  size_t len = 0;
  FILE *m = open_memstream(&text, &len);
  CHECK(m != NULL && v != NULL);
  if (m == NULL || v == NULL)
    return;
  CHECK(cdr_render_json_value(m, v, 0) == 0);
  fclose(m);
  CHECK(len > 0 && text[len - 1] == '\n');
  if (len > 0)
    text[len - 1] = '\0';
  CHECK_STR(text, want);
  CHECK(strtod(text, NULL) == d);
  free(text);
  CHECK(cdr_value_text(&text, v, 1) == 0);
  CHECK_STR(text, want); /* the table's and CSV's text is the same */
  free(text);
  json_decref(v);
}

static void test_shortest_reals(void) {
  check_real(4865.1, "4865.1");
  check_real(0.1 + 0.2, "0.30000000000000004");
  check_real(1.0 / 3, "0.3333333333333333");
  check_real(2.0, "2.0");
  check_real(-0.5, "-0.5");
  check_real(1e301, "1e301");
  check_real(1e-7, "1e-7");
  check_real(1.5e-300, "1.5e-300");
  check_real(123456789012345680.0, "1.2345678901234568e17");
  CHECK(cdr_real_precision(4865.1) == 5);
  CHECK(cdr_real_precision(0.1 + 0.2) == 17);
}

static void test_nested_json(void) {
  json_t *o = json_pack("{s:[f,s,n,i], s:{s:f}}", "rows", 4865.1, "a\"b\xc3\xa9", (json_int_t)7, "x", "y", 0.1);
  char *text = NULL;
  size_t len = 0;
  FILE *m = open_memstream(&text, &len);
  CHECK(o != NULL && m != NULL);
  CHECK(cdr_render_json_value(m, o, JSON_ENSURE_ASCII) == 0);
  fclose(m);
  CHECK_STR(text, "{\"rows\":[4865.1,\"a\\\"b\\u00E9\",null,7],\"x\":{\"y\":0.1}}\n");
  free(text);
  json_decref(o);
}

int main(void) {
  test_every_code_has_a_class();
  test_docs_table();
  test_shortest_reals();
  test_nested_json();
  return test_summary("err_class");
}
