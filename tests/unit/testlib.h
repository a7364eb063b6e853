/*
 * testlib.h - a minimal assertion harness for the unit tests.
 * Each failed check prints file:line and the expression; the test's exit
 * status is non-zero if any check failed.  Tests end with
 * `return test_summary("name");`.
 */
#ifndef CDR_TESTLIB_H
#define CDR_TESTLIB_H

#include <stdio.h>
#include <string.h>

extern int test_checks, test_failures;

#define CHECK(cond)                                                         \
  do {                                                                      \
    test_checks++;                                                          \
    if (!(cond)) {                                                          \
      test_failures++;                                                      \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                       \
  } while (0)

/* Expect expr to return exactly the error code want (0 for success). */
#define CHECK_RC(expr, want)                                                \
  do {                                                                      \
    int rc_ = (expr);                                                       \
    test_checks++;                                                          \
    if (rc_ != (want)) {                                                    \
      test_failures++;                                                      \
      fprintf(stderr, "%s:%d: %s returned %d (%s), want %d (%s)\n", __FILE__, __LINE__, #expr, rc_, \
              cdr_err_code(rc_), (int)(want), cdr_err_code(want));          \
    }                                                                       \
  } while (0)

#define CHECK_STR(a, b)                                                     \
  do {                                                                      \
    const char *a_ = (a), *b_ = (b);                                        \
    test_checks++;                                                          \
    if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0) {                  \
      test_failures++;                                                      \
      fprintf(stderr, "%s:%d: \"%s\" != \"%s\"\n", __FILE__, __LINE__, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); \
    }                                                                       \
  } while (0)

/* Substring check, for error messages. */
#define CHECK_CONTAINS(hay, needle)                                         \
  do {                                                                      \
    const char *h_ = (hay), *n_ = (needle);                                 \
    test_checks++;                                                          \
    if (h_ == NULL || strstr(h_, n_) == NULL) {                             \
      test_failures++;                                                      \
      fprintf(stderr, "%s:%d: \"%s\" does not contain \"%s\"\n", __FILE__, __LINE__, h_ ? h_ : "(null)", n_); \
    }                                                                       \
  } while (0)

int test_summary(const char *name);

/* A NUL-terminated copy of n bytes that need not be terminated (a
 * cdr_buf's contents); NULL when out of memory.  Not strndup: it may look
 * at byte n, past the end of a buffer filled to the last byte. */
char *test_copy_text(const void *p, size_t n);

#endif
