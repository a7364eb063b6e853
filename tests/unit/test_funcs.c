/*
 * test_funcs.c - the bounded SQL functions (src/enclave/engine_funcs.c)
 * return what SQLite's built-ins return, and stop at the deadline.
 *
 * Two connections: one with SQLite's own functions, one with ours
 * registered.  Every expression of a table of cases (NULLs, numbers,
 * blobs, UTF-8, LIKE's ESCAPE and ASCII case folding, GLOB's sets and
 * ranges, the length limits) and of a seeded random series over a small
 * alphabet of wildcards and multi-byte characters is evaluated on both;
 * the value (type and bytes) or the error message must be the same.
 */
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enclave/engine_funcs.h"
#include "testlib.h"

static sqlite3 *ref_db, *our_db;
static struct engine_budget budget;

/* "SELECT expr" on db: the value rendered as type:bytes, or ERR:message. */
static char *eval(sqlite3 *db, const char *expr) {
  sqlite3_stmt *st = NULL;
  char *sql = sqlite3_mprintf("SELECT %s", expr), *out = NULL;
  int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
  sqlite3_free(sql);
  if (rc != SQLITE_OK)
    return sqlite3_mprintf("PREPARE:%s", sqlite3_errmsg(db));
  rc = sqlite3_step(st);
  if (rc != SQLITE_ROW) {
    out = sqlite3_mprintf("ERR:%s", sqlite3_errmsg(db));
  } else {
    int t = sqlite3_column_type(st, 0);
    switch (t) {
    case SQLITE_INTEGER: out = sqlite3_mprintf("int:%lld", sqlite3_column_int64(st, 0)); break;
    case SQLITE_FLOAT: out = sqlite3_mprintf("real:%.17g", sqlite3_column_double(st, 0)); break;
    case SQLITE_NULL: out = sqlite3_mprintf("null"); break;
    default: {
      const unsigned char *p = t == SQLITE_BLOB ? sqlite3_column_blob(st, 0) : sqlite3_column_text(st, 0);
      int n = sqlite3_column_bytes(st, 0);
      sqlite3_str *s = sqlite3_str_new(NULL);
      sqlite3_str_appendf(s, "%s:%d:", t == SQLITE_BLOB ? "blob" : "text", n);
      for (int i = 0; i < n && i < 4096; i++)
        sqlite3_str_appendf(s, "%02x", p[i]);
      out = sqlite3_str_finish(s);
    }
    }
  }
  sqlite3_finalize(st);
  return out;
}

static int same(const char *expr) {
  char *a = eval(ref_db, expr), *b = eval(our_db, expr);
  int ok = a != NULL && b != NULL && strcmp(a, b) == 0;
  test_checks++;
  if (!ok) {
    test_failures++;
    fprintf(stderr, "differs: SELECT %s\n  sqlite: %s\n  ours:   %s\n", expr, a ? a : "(null)", b ? b : "(null)");
  }
  sqlite3_free(a);
  sqlite3_free(b);
  return ok;
}

static const char *const cases[] = {
    /* instr */
    "instr('hello','l')", "instr('hello','lo')", "instr('hello','')", "instr('','')", "instr('','a')",
    "instr(NULL,'a')", "instr('a',NULL)", "instr('hello','z')", "instr('héllo wörld','ö')",
    "instr('日本語テキスト','テ')", "instr('日本語','語')", "instr(x'00610062',x'62')", "instr(x'616263',x'63')",
    "instr(x'616263','c')", "instr('abc',x'63')", "instr(12345,34)", "instr(1.5,'.')", "instr('aaab','ab')",
    "instr('a'||char(0)||'b','b')", "instr('é', x'a9')", "instr(x'c3a9', x'a9')", "instr('aé', x'a9')",
    "instr('abcabc','cab')", "instr('ab','abc')", "instr('𝄞x𝄞y','y')", "instr(x'80ff61', 'a')",
    /* replace */
    "replace('hello','l','L')", "replace('hello','ll','')", "replace('hello','','x')", "replace(123,'','x')",
    "replace(NULL,'a','b')", "replace('a',NULL,'b')", "replace('a','a',NULL)", "replace('aaaa','aa','b')",
    "replace('aaa','a','bbb')", "replace('héllo','é','e')", "replace(x'616263','b','X')", "replace(12321,2,'x')",
    "replace('abc','abcd','x')", "replace('abc','abc','')", "replace('日本日本','本','x')", "replace('a'||char(0)||'a','a','b')",
    "replace('xyz',char(0)||'y','q')", "replace('ababab','aba','-')", "typeof(replace(1.5,'5','7'))",
    /* trim */
    "trim('  a b  ')", "ltrim('  a  ')", "rtrim('  a  ')", "trim('xxaxx','x')", "trim('xyaxy','yx')",
    "trim('aaa','a')", "trim('abc','')", "trim(NULL)", "trim('a',NULL)", "trim(123,'1')", "trim(x'2061',' ')",
    "trim('éaé','é')", "ltrim('日日本','日')", "rtrim('本日日','日')", "trim('ééa', x'c3')", "trim(x'c3a961c3', x'c3')",
    "trim('  ')", "rtrim('abcxx','x')", "ltrim('xxabc','xy')", "trim(12.5)", "typeof(trim(5))",
    /* LIKE */
    "'abc' LIKE 'abc'", "'abc' LIKE 'ABC'", "'ABC' LIKE 'a%'", "'abc' LIKE '%c'", "'abc' LIKE '_b_'",
    "'abc' LIKE 'a_'", "'abc' LIKE '%'", "'' LIKE '%'", "'' LIKE '_'", "'abc' LIKE ''", "NULL LIKE 'a'",
    "'a' LIKE NULL", "'a' LIKE 'a' ESCAPE NULL", "'a%c' LIKE 'a\\%c' ESCAPE '\\'", "'abc' LIKE 'a\\%c' ESCAPE '\\'",
    "'a_c' LIKE 'a\\_c' ESCAPE '\\'", "'abc' LIKE 'a\\_c' ESCAPE '\\'", "'a\\c' LIKE 'a\\\\c' ESCAPE '\\'",
    "'abc' LIKE 'abc\\' ESCAPE '\\'", "'a%' LIKE 'a%%' ESCAPE '%'", "'ab' LIKE 'a%%' ESCAPE '%'",
    "'a_' LIKE 'a__' ESCAPE '_'", "'ab' LIKE 'a__' ESCAPE '_'", "'abc' LIKE 'abc' ESCAPE 'ab'",
    "'abc' LIKE 'abc' ESCAPE ''", "'aéb' LIKE 'a_b'", "'aÉb' LIKE 'aéb'", "'ÀB' LIKE 'àb'", "'Zz' LIKE 'zZ'",
    "'aéb' LIKE 'a%b'", "'日本語' LIKE '%本%'", "'日本語' LIKE '_本_'", "'日本語' LIKE '%語'", "'x' LIKE 'x' ESCAPE 'é'",
    "'é' LIKE 'éé' ESCAPE 'é'", "'%' LIKE 'é%' ESCAPE 'é'", "'abcabc' LIKE '%b%c'", "'abcabd' LIKE '%b%c'",
    "'aaa' LIKE '%_%a'", "'ab' LIKE '%_%_%_'", "'abc' LIKE '%_c'", "'abc' LIKE 'a%%%c'", "x'616263' LIKE 'a%'",
    "123 LIKE '1%'", "1.5 LIKE '1._'", "'a'||char(0)||'b' LIKE 'a'", "'A' LIKE '[a]'", "'abcd' LIKE '%\\' ESCAPE '\\'",
    "like('%a', 'ba')", "like('a%', 'AB', '%')", "'@' LIKE '`'", "'[' LIKE '{'", "'Ā' LIKE '%'||char(128)",
    "'a' || char(128) LIKE '%'||char(128)", "'abc' LIKE x'616263'", "like(x'61', 'a')", "'xy' NOT LIKE 'x_'",
    /* GLOB */
    "'abc' GLOB 'abc'", "'abc' GLOB 'ABC'", "'abc' GLOB 'a*'", "'abc' GLOB '*c'", "'abc' GLOB 'a?c'",
    "'abc' GLOB '[a-c]bc'", "'dbc' GLOB '[a-c]bc'", "'abc' GLOB '[^a]bc'", "'bbc' GLOB '[^a]bc'", "']' GLOB '[]]'",
    "'a' GLOB '[]a]'", "'-' GLOB '[a-]'", "'b' GLOB '[a-]'", "'x' GLOB '[a'", "'abc' GLOB '*[c]'",
    "'abd' GLOB '*[c]'", "'é' GLOB '[é]'", "'é' GLOB '[a-z]'", "'ü' GLOB '[à-ÿ]'", "'abc' GLOB '*'", "'' GLOB '*'",
    "'' GLOB '?'", "'a*c' GLOB 'a[*]c'", "'abc' GLOB 'a[*]c'", "NULL GLOB '*'", "'a' GLOB NULL", "'日本' GLOB '日?'",
    "'x' GLOB '[]-z]'", "'abc' GLOB '**c'", "'ab' GLOB '*?*?*?'", "'abc' GLOB '*[a-c]*[a-c]'", "123 GLOB '1*'",
    "'[' GLOB '[[]'", "'^' GLOB '[^^]'", "'a' GLOB '[^^]'", "'abc' GLOB 'a[bx]*'",
    /* limits: an error message SQLite gives */
    "length(replace(zeroblob(1000),x'00','abcdefghijklmnop'))", "length(trim(printf('%.*c',2000,'a'),'a'))",
};

/* A seeded xorshift: the random series is the same at every run. */
static uint64_t rng = 0x9e3779b97f4a7c15ull;
static unsigned next_rand(unsigned n) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (unsigned)(rng % n);
}

/* A random SQL string literal over an alphabet of wildcards, sets,
 * cases and multi-byte characters. */
static void rand_literal(char *out, size_t cap) {
  static const char *const alpha[] = {"a", "b", "A", "B", "%", "_", "*", "?", "[", "]", "^", "-",
                                      "\\", "é", "É", "日", "x", "''", " "};
  size_t len = 1, n = next_rand(9);
  out[0] = '\'';
  for (size_t i = 0; i < n; i++) {
    const char *c = alpha[next_rand(sizeof(alpha) / sizeof(alpha[0]))];
    if (len + strlen(c) + 2 >= cap)
      break;
    memcpy(out + len, c, strlen(c));
    len += strlen(c);
  }
  out[len++] = '\'';
  out[len] = '\0';
}

static void random_series(void) {
  /* each form is "pre" A "mid" B "post" */
  static const char *const forms[][3] = {{"", " LIKE ", ""},         {"", " GLOB ", ""},
                                         {"like(", ", ", ", '\\')"}, {"instr(", ", ", ")"},
                                         {"replace(", ", ", ", 'Z')"}, {"trim(", ", ", ")"},
                                         {"ltrim(", ", ", ")"},        {"rtrim(", ", ", ")"}};
  char a[128], b[128], expr[400];
  int failed = 0;
  for (int i = 0; i < 20000 && failed < 10; i++) {
    rand_literal(a, sizeof(a));
    rand_literal(b, sizeof(b));
    unsigned f = next_rand(sizeof(forms) / sizeof(forms[0]));
    snprintf(expr, sizeof(expr), "%s%s%s%s%s", forms[f][0], a, forms[f][1], b, forms[f][2]);
    failed += !same(expr);
  }
}

/* A string that a pattern literal p ('...') probably matches: each
 * wildcard becomes 0..2 (or exactly one) random characters, a letter
 * may change case, the rest is copied; then LIKE, GLOB and like() with
 * ESCAPE compare on both.  (Independent random pairs rarely match.) */
static void matching_series(void) {
  static const char *const fill[] = {"a", "b", "A", "é", "É", "日", "x", "[", "%", "_"};
  char p[128], s[512], expr[700];
  int failed = 0;
  for (int i = 0; i < 20000 && failed < 10; i++) {
    size_t n = 1;
    rand_literal(p, sizeof(p));
    s[0] = '\'';
    for (size_t k = 1; p[k + 1] != '\0' && n + 12 < sizeof(s); k++) {
      char c = p[k];
      unsigned reps = (c == '%' || c == '*') ? next_rand(3) : (c == '_' || c == '?') ? 1 : 0;
      if (c == '%' || c == '*' || c == '_' || c == '?') {
        for (unsigned r = 0; r < reps; r++) {
          const char *f = fill[next_rand(sizeof(fill) / sizeof(fill[0]))];
          memcpy(s + n, f, strlen(f));
          n += strlen(f);
        }
        continue;
      }
      if (c == '\'' ) { /* a doubled quote stays doubled */
        s[n++] = c;
        s[n++] = p[++k];
        continue;
      }
      s[n++] = (c >= 'a' && c <= 'z' && next_rand(2)) ? (char)(c - 32) : c;
    }
    s[n++] = '\'';
    s[n] = '\0';
    unsigned f = next_rand(3);
    if (f == 0)
      snprintf(expr, sizeof(expr), "%s LIKE %s", s, p);
    else if (f == 1)
      snprintf(expr, sizeof(expr), "%s GLOB %s", s, p);
    else
      snprintf(expr, sizeof(expr), "like(%s, %s, '\\')", p, s);
    failed += !same(expr);
  }
}

/* Past the deadline a product-cost call fails instead of running for
 * minutes, and says so through the budget. */
static void deadline_stops_calls(void) {
  static const char *const heavy[] = {
      "instr(printf('%.*c',2200000,'a'), printf('%.*c',1100000,'a')||'b')",
      "replace(printf('%.*c',2200000,'a'), printf('%.*c',1100000,'a')||'b', 'x')",
      "trim(printf('%.*c',2000000,'a'), printf('%.*c',500000,'b')||'a')",
      "printf('%.*c',3000000,'a') LIKE '%'||printf('%.*c',4000,'a')||'b'",
      "printf('%.*c',3000000,'a') GLOB '*'||printf('%.*c',4000,'a')||'b'",
  };
  sqlite3_limit(our_db, SQLITE_LIMIT_LIKE_PATTERN_LENGTH, 50000);
  for (size_t i = 0; i < sizeof(heavy) / sizeof(heavy[0]); i++) {
    budget.timed_out = 0;
    budget.deadline_ns = engine_mono_ns() + 200000000u;
    char *r = eval(our_db, heavy[i]);
    CHECK_STR(r, "ERR:query exceeded its time limit");
    CHECK(budget.timed_out == 1);
    sqlite3_free(r);
  }
  budget.deadline_ns = 0;
  budget.timed_out = 0;
}

int main(void) {
  CHECK(sqlite3_open(":memory:", &ref_db) == SQLITE_OK);
  CHECK(sqlite3_open(":memory:", &our_db) == SQLITE_OK);
  CHECK(engine_funcs_register(our_db, &budget) == SQLITE_OK);
  /* small limits on both, so the limit paths are compared too */
  sqlite3_limit(ref_db, SQLITE_LIMIT_LENGTH, 10000);
  sqlite3_limit(our_db, SQLITE_LIMIT_LENGTH, 10000);
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    same(cases[i]);
  sqlite3_limit(ref_db, SQLITE_LIMIT_LIKE_PATTERN_LENGTH, 4);
  sqlite3_limit(our_db, SQLITE_LIMIT_LIKE_PATTERN_LENGTH, 4);
  same("'abcd' LIKE 'abcd'");
  same("'abcde' LIKE 'abcde'");
  sqlite3_limit(ref_db, SQLITE_LIMIT_LIKE_PATTERN_LENGTH, 50000);
  sqlite3_limit(our_db, SQLITE_LIMIT_LIKE_PATTERN_LENGTH, 50000);
  random_series();
  matching_series();
  sqlite3_limit(our_db, SQLITE_LIMIT_LENGTH, 8 * 1024 * 1024);
  deadline_stops_calls();
  sqlite3_close(ref_db);
  sqlite3_close(our_db);
  return test_summary("funcs");
}
