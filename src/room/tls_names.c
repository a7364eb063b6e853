/*
 * tls_names.c - the names cdrd's TLS certificate may carry (room.h):
 * an IP literal becomes an iPAddress subjectAltName, anything else must
 * be a plain DNS name.  The names come from the operator's command line,
 * but they are spliced into an openssl.cnf-style extension value, so a
 * comma, colon or other punctuation that could add a second entry is
 * refused here rather than trusted.
 */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "room.h"

#define TLS_NAME_MAX 253
#define TLS_LABEL_MAX 63

static int tls_name_is_ip(const char *s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

int cdr_tls_name_check(const char *s) {
  size_t n, label = 0;

  if (s == NULL || (n = strlen(s)) == 0 || n > TLS_NAME_MAX)
    return CDR_ERR_ARG;
  if (tls_name_is_ip(s))
    return 0;
  if (strncmp(s, "*.", 2) == 0)
    s += 2;
  for (const char *p = s;; p++) {
    if (*p == '.' || *p == '\0') {
      /* A label: 1..63 characters, no hyphen at either end. */
      if (label == 0 || label > TLS_LABEL_MAX || p[-1] == '-' || p[-(ptrdiff_t)label] == '-')
        return CDR_ERR_ARG;
      if (*p == '\0')
        return 0;
      label = 0;
      continue;
    }
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-'))
      return CDR_ERR_ARG;
    label++;
  }
}

int cdr_tls_san_build(const char *const *names, size_t n, char **out) {
  size_t cap = 1, used = 0;
  char *s;

  *out = NULL;
  for (size_t i = 0; i < n; i++) {
    if (cdr_tls_name_check(names[i]) != 0)
      return CDR_ERR_ARG;
    cap += strlen(names[i]) + 5; /* "DNS:" or "IP:" and a comma */
  }
  if ((s = malloc(cap)) == NULL)
    return CDR_ERR_NOMEM;
  s[0] = '\0';
  for (size_t i = 0; i < n; i++) {
    int k = snprintf(s + used, cap - used, "%s%s:%s", i ? "," : "", tls_name_is_ip(names[i]) ? "IP" : "DNS",
                     names[i]);
    if (k < 0 || (size_t)k >= cap - used) {
      free(s);
      return CDR_ERR_INTERNAL;
    }
    used += (size_t)k;
  }
  *out = s;
  return 0;
}
