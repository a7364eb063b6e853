/*
 * utf8.c - strict UTF-8 validation (utf8.h), one byte at a time so that
 * streamed input needs no buffering.
 */
#include "utf8.h"

int cdr_utf8_step(struct cdr_utf8_state *u, uint8_t c) {
  if (u->need > 0) {
    if (c < u->lo || c > u->hi)
      return 0;
    u->need--;
    u->lo = 0x80;
    u->hi = 0xBF;
    return 1;
  }
  if (c < 0x80)
    return 1;
  u->lo = 0x80;
  u->hi = 0xBF;
  if (c < 0xC2) /* continuation byte, or C0/C1 (overlong) */
    return 0;
  if (c < 0xE0) {
    u->need = 1;
  } else if (c < 0xF0) {
    u->need = 2;
    if (c == 0xE0)
      u->lo = 0xA0; /* overlong */
    else if (c == 0xED)
      u->hi = 0x9F; /* surrogates */
  } else if (c < 0xF5) {
    u->need = 3;
    if (c == 0xF0)
      u->lo = 0x90; /* overlong */
    else if (c == 0xF4)
      u->hi = 0x8F; /* above U+10FFFF */
  } else {
    return 0;
  }
  return 1;
}

int cdr_utf8_valid(const uint8_t *s, size_t n) {
  struct cdr_utf8_state u = CDR_UTF8_INIT;
  for (size_t i = 0; i < n; i++)
    if (!cdr_utf8_step(&u, s[i]))
      return 0;
  return u.need == 0;
}
