/*
 * test_csv.c - the CSV parser (records, quoting, line numbers, every
 * error), its chunk independence, the value classifiers and the type
 * inference.
 *
 * Each input is parsed whole and again in chunks of 1, 2 and 3 bytes;
 * all runs must agree, which checks that chunk boundaries inside quotes,
 * CRLF, UTF-8 sequences and the BOM change nothing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/limits.h"
#include "common/csv.h"
#include "common/utf8.h"
#include "testlib.h"

/* Records rendered as "<line>:<f1>|<f2>...\n". */
struct dump {
  char s[16384];
  size_t len;
  int stop_after; /* callback fails on this record index, if > 0 */
};

static int dump_record(void *arg, const struct csv_record *rec) {
  struct dump *d = arg;
  int n;
  if (d->stop_after > 0 && rec->index == (uint64_t)d->stop_after)
    return -99;
  n = snprintf(d->s + d->len, sizeof(d->s) - d->len, "%llu:", (unsigned long long)rec->line);
  d->len += (size_t)n;
  for (size_t i = 0; i < rec->nfields; i++) {
    if (strlen(rec->field[i]) != rec->len[i])
      return -98; /* a field must be NUL-terminated at its length */
    n = snprintf(d->s + d->len, sizeof(d->s) - d->len, "%s%s", i ? "|" : "", rec->field[i]);
    d->len += (size_t)n;
  }
  n = snprintf(d->s + d->len, sizeof(d->s) - d->len, "\n");
  d->len += (size_t)n;
  return 0;
}

/* Parse in chunks of `chunk` bytes (0: all at once).  Returns the code;
 * the dump or the error message goes to out. */
static int parse(const char *data, size_t len, size_t chunk, char *out, size_t outlen) {
  struct csv_parser *p = NULL;
  struct dump *d = calloc(1, sizeof(*d));
  int r;
  if (d == NULL)
    return CDR_ERR_NOMEM;
  if ((r = csv_parser_new(&p, dump_record, d)) != 0)
    goto out;
  if (chunk == 0) {
    r = csv_parser_feed(p, (const uint8_t *)data, len);
  } else {
    r = 0;
    for (size_t off = 0; off < len && r == 0; off += chunk)
      r = csv_parser_feed(p, (const uint8_t *)data + off, len - off < chunk ? len - off : chunk);
  }
  if (r == 0)
    r = csv_parser_finish(p);
  snprintf(out, outlen, "%s", r == CDR_ERR_CSV ? csv_parser_error(p) : d->s);
out:
  csv_parser_free(p);
  free(d);
  return r;
}

/* 1 if every chunking gives code want and output `expect` (exactly for
 * success, as a substring for an error). */
static int parses_as(const char *data, size_t len, int want, const char *expect) {
  static const size_t chunks[] = {0, 1, 2, 3};
  char out[16384];
  int ok = 1;
  for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
    int r = parse(data, len, chunks[i], out, sizeof(out));
    int good = r == want && (want == 0 ? strcmp(out, expect) == 0 : strstr(out, expect) != NULL);
    if (!good) {
      fprintf(stderr, "  chunk %zu: rc %d (want %d), got \"%s\", want \"%s\"\n", chunks[i], r, want, out, expect);
      ok = 0;
    }
  }
  return ok;
}

#define OK_CSV(lit, expect) CHECK(parses_as(lit, sizeof(lit) - 1, 0, expect))
#define BAD_CSV(lit, msg) CHECK(parses_as(lit, sizeof(lit) - 1, CDR_ERR_CSV, msg))

static void test_records(void) {
  OK_CSV("a,b\n1,2\n3,4\n", "1:a|b\n2:1|2\n3:3|4\n");
  OK_CSV("a,b\n1,2", "1:a|b\n2:1|2\n");                 /* no final newline */
  OK_CSV("a,b\r\n1,2\r\n", "1:a|b\n2:1|2\n");           /* CRLF */
  OK_CSV("a,b\r\n1,2", "1:a|b\n2:1|2\n");
  OK_CSV("a,b\n", "1:a|b\n");                           /* header only */
  OK_CSV("a,b", "1:a|b\n");
  OK_CSV("a,b,c\n,,\n1,,\n", "1:a|b|c\n2:||\n3:1||\n"); /* empty fields */
  OK_CSV("a,b\n1,\n", "1:a|b\n2:1|\n");                 /* trailing comma */
  /* Quoting: commas, doubled quotes, newlines (line numbers move on). */
  OK_CSV("name,note\n\"Smith, J\",\"said \"\"hi\"\"\"\n\"multi\nline\",x\n4,5\n",
         "1:name|note\n2:Smith, J|said \"hi\"\n3:multi\nline|x\n5:4|5\n");
  OK_CSV("a\n\"x\r\ny\"\r\n", "1:a\n2:x\r\ny\n");       /* CRLF inside quotes is data */
  OK_CSV("a,b\n\"\",x\n", "1:a|b\n2:|x\n");             /* quoted empty */
  OK_CSV("a\n\"\"\n", "1:a\n2:\n");                     /* a quoted empty line is a record */
  OK_CSV("\"a\"\"b\",c\n", "1:a\"b|c\n");
  OK_CSV("a\n\"\"\"\"\n", "1:a\n2:\"\n");
  /* BOM. */
  OK_CSV("\xEF\xBB\xBF" "a,b\n1,2\n", "1:a|b\n2:1|2\n");
  OK_CSV("\xEF\xBB\xBF\"a\",b\n", "1:a|b\n");
  OK_CSV("a,\xEF\xBB\xBF\n", "1:a|\xEF\xBB\xBF\n");     /* only at the start */
  /* Blank lines: dropped at the end, a NULL row in the middle. */
  OK_CSV("a\n1\n\n", "1:a\n2:1\n");
  OK_CSV("a\n1\n\n\n\r\n", "1:a\n2:1\n");
  OK_CSV("a\n1\n\n2\n", "1:a\n2:1\n3:\n4:2\n");
  OK_CSV("a\n\n\n2\n", "1:a\n2:\n3:\n4:2\n");
  /* UTF-8, including 4-byte sequences and the edges of the ranges. */
  OK_CSV("名前,é\n\xF0\x9F\x98\x80,\xF4\x8F\xBF\xBF\n", "1:名前|é\n2:\xF0\x9F\x98\x80|\xF4\x8F\xBF\xBF\n");
  OK_CSV("a\n\xED\x9F\xBF\xEE\x80\x80\n", "1:a\n2:\xED\x9F\xBF\xEE\x80\x80\n");
}

static void test_errors(void) {
  BAD_CSV("a,b,c\n1,2,3\n\"x\ny\",2,3\n1,2,3,4\n", "line 5: expected 3 fields, found 4");
  BAD_CSV("a,b\n1\n", "line 2: expected 2 fields, found 1");
  BAD_CSV("a,b\n1,2\n\n3,4\n", "line 3: expected 2 fields, found 1");
  BAD_CSV("a\n\"abc\n", "line 2: field 1: unterminated quoted field");
  BAD_CSV("a\r\n1\r\n\"x\r\n2\n", "line 3: field 1: unterminated quoted field");
  BAD_CSV("a,b\n1,x\"y\n", "line 2: field 2: quote character inside an unquoted field");
  BAD_CSV("a,b\n\"x\"y,1\n", "line 2: field 1: unexpected character after a closing quote");
  BAD_CSV("a,b\n\"x\" ,1\n", "line 2: field 1: unexpected character after a closing quote");
  BAD_CSV("a,b\r1,2\n", "line 1: carriage return not followed by a line feed");
  BAD_CSV("a,b\n1,2\r", "line 2: carriage return not followed by a line feed");
  BAD_CSV("", "line 1: no header row");
  BAD_CSV("\xEF\xBB\xBF", "line 1: no header row");
  BAD_CSV("\n\r\n", "line 1: no header row");
  BAD_CSV("a,,c\n", "line 1: column 2 has an empty name");
  BAD_CSV("\na\n", "line 1: column 1 has an empty name");
  BAD_CSV("x,\"\"\n", "line 1: column 2 has an empty name");
  BAD_CSV("id,Name,NAME\n", "line 1: columns 2 and 3 have the same name");
  BAD_CSV("a,b,\xC3\xA9,A\n", "line 1: columns 1 and 4 have the same name");
  /* Non-ASCII letters differ in case as far as SQLite is concerned. */
  OK_CSV("\xC3\xA9,\xC3\x89\n", "1:\xC3\xA9|\xC3\x89\n");

  /* Invalid UTF-8: overlongs, surrogates, > U+10FFFF, stray bytes. */
  BAD_CSV("a\n\xC0\x80\n", "line 2: invalid UTF-8");
  BAD_CSV("a\n\xC1\xBF\n", "line 2: invalid UTF-8");
  BAD_CSV("a\n\xE0\x80\x80\n", "line 2: invalid UTF-8");
  BAD_CSV("a\n\xE0\x9F\xBF\n", "line 2: invalid UTF-8");
  BAD_CSV("a\n\xED\xA0\x80\n", "line 2: invalid UTF-8");
  BAD_CSV("a\n\xF0\x8F\xBF\xBF\n", "line 2: invalid UTF-8");
  BAD_CSV("a\n\xF4\x90\x80\x80\n", "line 2: invalid UTF-8");
  BAD_CSV("a\n\xF5\x80\x80\x80\n", "line 2: invalid UTF-8");
  BAD_CSV("a\nx\x80y\n", "line 2: invalid UTF-8");
  BAD_CSV("a\n\xFF\n", "line 2: invalid UTF-8");
  BAD_CSV("a\n\xE2\x82,x\n", "line 2: invalid UTF-8");
  BAD_CSV("a\n1\n\xE2\x82", "line 3: invalid UTF-8 (truncated");
  BAD_CSV("\xEF\xBB" "a\n", "line 1: invalid UTF-8"); /* half a BOM */
  BAD_CSV("\xEF", "line 1: invalid UTF-8");
  BAD_CSV("a\nx\0y\n", "line 2: NUL byte");
  BAD_CSV("a\n\"x\0\"\n", "line 2: NUL byte");
}

static void test_limits(void) {
  /* CDR_MAX_COLUMNS columns are fine, one more is not. */
  size_t cap = CDR_MAX_COLUMNS * 8 + 64, n = 0;
  char *h = malloc(cap);
  char out[512];
  CHECK(h != NULL);
  if (h == NULL)
    return;
  for (unsigned i = 0; i < CDR_MAX_COLUMNS; i++)
    n += (size_t)snprintf(h + n, cap - n, "%sc%u", i ? "," : "", i);
  h[n++] = '\n';
  CHECK_RC(parse(h, n, 0, out, sizeof(out)), 0);
  memcpy(h + n - 1, ",cx\n", 4);
  n += 3;
  CHECK_RC(parse(h, n, 0, out, sizeof(out)), CDR_ERR_CSV);
  CHECK_CONTAINS(out, "line 1: more than 1000 columns");

  /* A data row with more than CDR_MAX_COLUMNS fields. */
  n = (size_t)snprintf(h, cap, "a\n");
  for (unsigned i = 0; i <= CDR_MAX_COLUMNS; i++)
    n += (size_t)snprintf(h + n, cap - n, "%sx", i ? "," : "");
  CHECK_RC(parse(h, n, 0, out, sizeof(out)), CDR_ERR_CSV);
  CHECK_CONTAINS(out, "line 2: expected 1 fields, found more than 1000");

  /* Column names up to CSV_MAX_NAME_LEN bytes. */
  memset(h, 'n', CSV_MAX_NAME_LEN);
  h[CSV_MAX_NAME_LEN] = '\n';
  CHECK_RC(parse(h, CSV_MAX_NAME_LEN + 1, 0, out, sizeof(out)), 0);
  memset(h, 'n', CSV_MAX_NAME_LEN + 1);
  h[CSV_MAX_NAME_LEN + 1] = '\n';
  CHECK_RC(parse(h, CSV_MAX_NAME_LEN + 2, 0, out, sizeof(out)), CDR_ERR_CSV);
  CHECK_CONTAINS(out, "line 1: the name of column 1 is longer than 256 bytes");
  free(h);
}

static void test_callback_and_sticky(void) {
  struct csv_parser *p = NULL;
  struct dump *d = calloc(1, sizeof(*d));
  static const char in[] = "a\n1\n2\n3\n";
  CHECK(d != NULL);
  if (d == NULL)
    return;
  d->stop_after = 2;
  CHECK_RC(csv_parser_new(&p, dump_record, d), 0);
  CHECK_RC(csv_parser_feed(p, (const uint8_t *)in, sizeof(in) - 1), -99);
  CHECK_STR(d->s, "1:a\n2:1\n");
  CHECK_RC(csv_parser_feed(p, (const uint8_t *)"4\n", 2), -99); /* sticky */
  CHECK_RC(csv_parser_finish(p), -99);
  csv_parser_free(p);

  /* A CSV error is sticky too, and the message stays. */
  p = NULL;
  memset(d, 0, sizeof(*d));
  CHECK_RC(csv_parser_new(&p, dump_record, d), 0);
  CHECK_RC(csv_parser_feed(p, (const uint8_t *)"a,b\n1\n", 6), CDR_ERR_CSV);
  CHECK_RC(csv_parser_feed(p, (const uint8_t *)"1,2\n", 4), CDR_ERR_CSV);
  CHECK_RC(csv_parser_finish(p), CDR_ERR_CSV);
  CHECK_CONTAINS(csv_parser_error(p), "line 2: expected 2 fields, found 1");
  CHECK_STR(d->s, "1:a|b\n");
  csv_parser_free(p);
  csv_parser_free(NULL);
  free(d);
}

static int int_is(const char *s, int64_t want) {
  int64_t v = 0;
  return csv_parse_int64(s, strlen(s), &v) == 0 && v == want;
}

static int int_rejects(const char *s) {
  int64_t v = 12345;
  return csv_parse_int64(s, strlen(s), &v) == -1 && v == 12345;
}

static int real_is(const char *s, double want) {
  double v = -1;
  return csv_parse_real(s, strlen(s), &v) == 0 && v == want;
}

static int real_rejects(const char *s) {
  double v = 0;
  return csv_parse_real(s, strlen(s), &v) == -1;
}

static void test_classifiers(void) {
  CHECK(int_is("0", 0));
  CHECK(int_is("-0", 0));
  CHECK(int_is("+5", 5));
  CHECK(int_is("-17", -17));
  CHECK(int_is("10", 10));
  CHECK(int_is("9223372036854775807", INT64_MAX));
  CHECK(int_is("-9223372036854775808", INT64_MIN));
  CHECK(int_rejects("9223372036854775808"));
  CHECK(int_rejects("-9223372036854775809"));
  CHECK(int_rejects("99999999999999999999"));
  CHECK(int_rejects(""));
  CHECK(int_rejects("-"));
  CHECK(int_rejects("+"));
  CHECK(int_rejects(" 1"));
  CHECK(int_rejects("1 "));
  CHECK(int_rejects("1.0"));
  CHECK(int_rejects("1e3"));
  CHECK(int_rejects("0x10"));
  CHECK(int_rejects("007"));
  CHECK(int_rejects("-01"));
  CHECK(int_rejects("--1"));

  CHECK(real_is("1.5", 1.5));
  CHECK(real_is("-2.25", -2.25));
  CHECK(real_is("1e3", 1000.0));
  CHECK(real_is("2.5E-1", 0.25));
  CHECK(real_is(".5", 0.5));
  CHECK(real_is("-.5", -0.5));
  CHECK(real_is("5.", 5.0));
  CHECK(real_is("0.5", 0.5));
  CHECK(real_is("0", 0.0));
  CHECK(real_is("42", 42.0));
  CHECK(real_is("1e-300", 1e-300));
  CHECK(real_rejects("0x10"));
  CHECK(real_rejects("0x1p3"));
  CHECK(real_rejects("inf"));
  CHECK(real_rejects("-inf"));
  CHECK(real_rejects("nan"));
  CHECK(real_rejects("infinity"));
  CHECK(real_rejects("1e999"));
  CHECK(real_rejects("-1e999"));
  CHECK(real_rejects(" 1.5"));
  CHECK(real_rejects("1.5 "));
  CHECK(real_rejects("1,5"));
  CHECK(real_rejects("1.5.1"));
  CHECK(real_rejects("e5"));
  CHECK(real_rejects("."));
  CHECK(real_rejects(""));
  CHECK(real_rejects("00.5"));
  CHECK(real_rejects("1-2"));

  CHECK(cdr_utf8_valid((const uint8_t *)"", 0));
  CHECK(cdr_utf8_valid((const uint8_t *)"a\0b", 3));
  CHECK(cdr_utf8_valid((const uint8_t *)"\xF0\x90\x80\x80", 4));
  CHECK(!cdr_utf8_valid((const uint8_t *)"\xF0\x90\x80", 3));
  CHECK(!cdr_utf8_valid((const uint8_t *)"\xED\xBF\xBF", 3));
  CHECK(!cdr_utf8_valid((const uint8_t *)"\xC2", 1));
}

static void test_inference(void) {
  static const char in[] = "i,r,t,m,e,z,big,neg,mix\n"
                           "1,1.5,abc,1,,007,9223372036854775807,-9223372036854775808,1\n"
                           "-2,2,x,y,,1,1,0,2.5\n"
                           ",,,,,,,,\n";
  static const enum csv_type want[] = {CSV_INTEGER, CSV_REAL, CSV_TEXT,    CSV_TEXT, CSV_TEXT,
                                       CSV_TEXT,    CSV_INTEGER, CSV_INTEGER, CSV_REAL};
  struct csv_schema s;
  char err[256];

  CHECK_RC(csv_schema_infer(&s, (const uint8_t *)in, sizeof(in) - 1, err, sizeof(err)), 0);
  CHECK(s.ncols == 9);
  CHECK(s.nrows == 3);
  for (size_t i = 0; i < s.ncols && i < 9; i++)
    CHECK(s.types[i] == want[i]);
  CHECK_STR(s.names[0], "i");
  CHECK_STR(s.names[8], "mix");
  csv_schema_free(&s);

  /* int64 overflow makes the column REAL, a non-number makes it TEXT. */
  static const char big[] = "a,b\n9223372036854775808,1\n1,inf\n";
  CHECK_RC(csv_schema_infer(&s, (const uint8_t *)big, sizeof(big) - 1, err, sizeof(err)), 0);
  CHECK(s.ncols == 2 && s.types[0] == CSV_REAL && s.types[1] == CSV_TEXT);
  csv_schema_free(&s);

  /* Header only: every column TEXT, no rows. */
  CHECK_RC(csv_schema_infer(&s, (const uint8_t *)"a,b\n", 4, err, sizeof(err)), 0);
  CHECK(s.ncols == 2 && s.nrows == 0 && s.types[0] == CSV_TEXT && s.types[1] == CSV_TEXT);
  csv_schema_free(&s);

  /* Errors come back with their message, and the schema is empty. */
  CHECK_RC(csv_schema_infer(&s, (const uint8_t *)"a,b\n1,2\n3\n", 10, err, sizeof(err)), CDR_ERR_CSV);
  CHECK_STR(err, "line 3: expected 2 fields, found 1");
  CHECK(s.ncols == 0 && s.names == NULL && s.types == NULL);

  CHECK_STR(csv_type_name(CSV_INTEGER), "INTEGER");
  CHECK_STR(csv_type_name(CSV_REAL), "REAL");
  CHECK_STR(csv_type_name(CSV_TEXT), "TEXT");
}

/* The streaming inference (the client's pass 1) gives what the one-shot
 * inference gives, for any chunking, and keeps its error message. */
static void test_streaming_inference(void) {
  static const char in[] = "\xEF\xBB\xBFid,name,score,note\n"
                           "1,\"Ann, \"\"A\"\"\",1.5,\"multi\nline\"\n"
                           "2,J\xC3\xBCrgen,2,\xF0\x9F\x98\x80\r\n"
                           "3,,,\n";
  struct csv_schema one, st;
  struct csv_infer *c;
  char err[256];
  CHECK_RC(csv_schema_infer(&one, (const uint8_t *)in, sizeof(in) - 1, err, sizeof(err)), 0);
  for (size_t chunk = 1; chunk <= sizeof(in); chunk++) {
    int r = 0;
    CHECK_RC(csv_infer_new(&c), 0);
    for (size_t off = 0; off < sizeof(in) - 1 && r == 0; off += chunk)
      r = csv_infer_feed(c, (const uint8_t *)in + off, sizeof(in) - 1 - off < chunk ? sizeof(in) - 1 - off : chunk);
    CHECK_RC(r, 0);
    CHECK_RC(csv_infer_finish(c, &st), 0);
    CHECK(st.ncols == one.ncols && st.nrows == one.nrows && st.nrows == 3);
    for (size_t i = 0; i < st.ncols && i < one.ncols; i++) {
      CHECK_STR(st.names[i], one.names[i]);
      CHECK(st.types[i] == one.types[i]);
    }
    csv_schema_free(&st);
    csv_infer_free(c);
  }
  CHECK(one.types[0] == CSV_INTEGER && one.types[1] == CSV_TEXT && one.types[2] == CSV_REAL &&
        one.types[3] == CSV_TEXT);
  CHECK_STR(one.names[0], "id"); /* the BOM is not part of the name */
  csv_schema_free(&one);

  /* An error is sticky and its message outlives the parser's state. */
  CHECK_RC(csv_infer_new(&c), 0);
  CHECK_RC(csv_infer_feed(c, (const uint8_t *)"a,b\n1,2\n", 8), 0);
  CHECK_RC(csv_infer_feed(c, (const uint8_t *)"3,4,5\n", 6), CDR_ERR_CSV);
  CHECK_RC(csv_infer_feed(c, (const uint8_t *)"6,7\n", 4), CDR_ERR_CSV);
  CHECK_RC(csv_infer_finish(c, &st), CDR_ERR_CSV);
  CHECK_STR(csv_infer_error(c), "line 3: expected 2 fields, found 3");
  CHECK(st.ncols == 0 && st.names == NULL);
  csv_infer_free(c);
  csv_infer_free(NULL);
}

/* Declared schemas: parsing --schema, checking, matching the header,
 * and which values fit which type. */
static void test_declared_schema(void) {
  struct csv_schema s, cp;
  char err[512];

  CHECK_RC(csv_schema_parse(&s, "id INTEGER, full name text ,score Real", err, sizeof(err)), 0);
  CHECK(s.ncols == 3);
  if (s.ncols == 3) {
    CHECK_STR(s.names[0], "id");
    CHECK_STR(s.names[1], "full name");
    CHECK_STR(s.names[2], "score");
    CHECK(s.types[0] == CSV_INTEGER && s.types[1] == CSV_TEXT && s.types[2] == CSV_REAL);
  }
  CHECK_RC(csv_schema_copy(&cp, &s), 0);
  CHECK(cp.ncols == 3 && cp.names[1] != s.names[1]);
  CHECK_STR(cp.names[1], "full name");
  csv_schema_free(&cp);

  /* The header matches without ASCII case; count and order matter. */
  {
    const char *h1[] = {"ID", "Full Name", "SCORE"}, *h2[] = {"id", "score", "full name"}, *h3[] = {"id", "full name"};
    size_t l1[] = {2, 9, 5}, l2[] = {2, 5, 9}, l3[] = {2, 9};
    struct csv_record r1 = {1, 0, 3, h1, l1}, r2 = {1, 0, 3, h2, l2}, r3 = {1, 0, 2, h3, l3};
    CHECK_RC(csv_schema_match_header(&s, &r1, err, sizeof(err)), 0);
    CHECK_RC(csv_schema_match_header(&s, &r2, err, sizeof(err)), CDR_ERR_CSV);
    CHECK_STR(err, "line 1: column 2 is \"score\" in the header but \"full name\" in the schema");
    CHECK_RC(csv_schema_match_header(&s, &r3, err, sizeof(err)), CDR_ERR_CSV);
    CHECK_STR(err, "line 1: the header has 2 columns but the schema names 3");
  }
  csv_schema_free(&s);

  /* Refusals, each with a sentence; nothing is left allocated. */
  static const struct {
    const char *spec, *msg;
  } bad[] = {
      {"", "entry 1 of the schema is empty"},
      {"a INTEGER,", "entry 2 of the schema is empty"},
      {"a", "entry 1 of the schema has no type"},
      {"a INT", "entry 1 of the schema: the type must be INTEGER, REAL or TEXT"},
      {"a TEXT, A REAL", "columns 1 and 2 of the schema have the same name"},
      {"a BLOB", "the type must be INTEGER, REAL or TEXT"},
      {"\xC3\x28 TEXT", "is not UTF-8"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    CHECK_RC(csv_schema_parse(&s, bad[i].spec, err, sizeof(err)), CDR_ERR_ARG);
    CHECK_CONTAINS(err, bad[i].msg);
    CHECK(s.ncols == 0 && s.names == NULL && s.types == NULL);
  }
  {
    /* CDR_MAX_COLUMNS + 1 entries */
    size_t n = (CDR_MAX_COLUMNS + 1) * 8;
    char *big = malloc(n + 1), *q = big;
    CHECK(big != NULL);
    for (unsigned k = 0; big != NULL && k <= CDR_MAX_COLUMNS; k++)
      q += snprintf(q, 9, "c%04u T,", k);
    if (big != NULL) {
      q[-1] = '\0';
      CHECK_RC(csv_schema_parse(&s, big, err, sizeof(err)), CDR_ERR_ARG);
      CHECK_CONTAINS(err, "1 to 1000 columns");
    }
    free(big);
  }

  enum csv_type t;
  CHECK(csv_type_parse("integer", &t) == 0 && t == CSV_INTEGER);
  CHECK(csv_type_parse("TEXT", &t) == 0 && t == CSV_TEXT);
  CHECK(csv_type_parse("INTEGERS", &t) == -1);
  CHECK(csv_value_fits(CSV_INTEGER, "42", 2));
  CHECK(csv_value_fits(CSV_INTEGER, "", 0)); /* NULL fits anything */
  CHECK(!csv_value_fits(CSV_INTEGER, "4.2", 3));
  CHECK(!csv_value_fits(CSV_INTEGER, "007", 3));
  CHECK(csv_value_fits(CSV_REAL, "42", 2));
  CHECK(csv_value_fits(CSV_REAL, "-1.5e3", 6));
  CHECK(!csv_value_fits(CSV_REAL, "nan", 3));
  CHECK(csv_value_fits(CSV_TEXT, "anything", 8));
}

int main(void) {
  test_records();
  test_errors();
  test_limits();
  test_callback_and_sticky();
  test_classifiers();
  test_inference();
  test_streaming_inference();
  test_declared_schema();
  return test_summary("test_csv");
}
