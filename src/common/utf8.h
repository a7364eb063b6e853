/*
 * utf8.h - the strict UTF-8 validator every text CDR accepts goes
 * through: CSV data, table and column names, SQL text, and values the
 * engine renders as JSON strings.
 *
 * Strict means RFC 3629: no overlong forms, no surrogates (U+D800..
 * U+DFFF), nothing above U+10FFFF, no stray continuation bytes, no
 * truncated sequence at the end.  NUL (U+0000) is well-formed here;
 * callers that need C strings check for it themselves.
 */
#ifndef CDR_UTF8_H
#define CDR_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* A validator's state between bytes, for input that arrives in pieces
 * (the CSV parser).  Start from CDR_UTF8_INIT. */
struct cdr_utf8_state {
  unsigned need;  /* continuation bytes still expected */
  uint8_t lo, hi; /* range allowed for the next continuation byte */
};
#define CDR_UTF8_INIT {0, 0x80, 0xBF}

/* Feed one byte: 1 if the input is still well-formed, 0 if not.  The
 * input ends well-formed only when u->need is 0 after its last byte. */
int cdr_utf8_step(struct cdr_utf8_state *u, uint8_t c);

/* 1 if s[0..n) is well-formed UTF-8 in the strict sense above, else 0. */
int cdr_utf8_valid(const uint8_t *s, size_t n);

#endif
