/*
 * userkey_pkcs11.c - a user key in a PKCS#11 token (userkey.h), named by
 * an RFC 7512 URI and loaded through libp11's OpenSSL engine as an
 * EVP_PKEY whose operations run in the token.
 *
 * The URI's attributes that are ours to act on, in its path or its
 * query (libp11 reads both), are taken out before libp11 sees it: module-path (which libp11 refuses; it becomes
 * the engine's MODULE_PATH), pin-source and pin-value (libp11 would keep
 * a file's line end in the PIN, and its error messages print the URI it
 * was given).  The PIN goes to the engine by its PIN control, our copy
 * is wiped, and the engine keeps its own for the token session (libp11
 * wipes it when the engine is released).
 *
 * No prompt: the engine gets a UI method that answers nothing, so a
 * token that wants a PIN nobody gave fails at once, with or without a
 * terminal, as CDR_ERR_PKCS11_PIN_NEEDED.  Failures are told apart by
 * the errors libp11 queues: the module's CKR_PIN_* codes (a refused or
 * locked PIN), "object not found" (no token or key matches), a UI error
 * (a PIN was needed).
 */
#define OPENSSL_SUPPRESS_DEPRECATED /* ENGINE: Debian 12 has no pkcs11 provider */
#include <openssl/crypto.h>
#include <openssl/engine.h>
#include <openssl/err.h>
#include <openssl/ui.h>
#include <stdlib.h>
#include <string.h>

#include "userkey.h"
#include "userkey_int.h"

#define P11_ENGINE_ID "pkcs11"
/* PKCS#11 return values (pkcs11t.h) that mean the PIN was not taken. */
#define P11_CKR_PIN_FIRST 0xa0 /* CKR_PIN_INCORRECT */
#define P11_CKR_PIN_LAST 0xa4  /* CKR_PIN_LOCKED (INVALID, LEN_RANGE, EXPIRED between) */

/* The engine, initialised once and kept for the process (its keys refer
 * to its token sessions), and the UI method that never prompts. */
static ENGINE *p11_engine;
static UI_METHOD *p11_no_prompt;

/* The parts of a pkcs11: URI. */
struct p11_uri {
  char *engine_uri;  /* for libp11: without module-path, pin-source, pin-value (in either part) */
  char *profile_uri; /* for a profile: without pin-value (in either part) */
  char *module;      /* module-path, or NULL */
  char *pin_source;  /* pin-source, or NULL */
  char *pin_value;   /* pin-value (secure heap), or NULL */
  int had_pin_value;
};

static void p11_uri_clear(struct p11_uri *u) {
  free(u->engine_uri);
  free(u->profile_uri);
  free(u->module);
  free(u->pin_source);
  if (u->pin_value != NULL)
    OPENSSL_secure_clear_free(u->pin_value, strlen(u->pin_value) + 1);
  memset(u, 0, sizeof(*u));
}

static int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Percent-decode p[0..n) into a new string (secure heap when secure). */
static int pct_decode(const char *p, size_t n, int secure, char **out) {
  char *s = secure ? OPENSSL_secure_malloc(n + 1) : malloc(n + 1);
  size_t i, k = 0;
  if (s == NULL)
    return CDR_ERR_NOMEM;
  for (i = 0; i < n; i++) {
    int hi, lo;
    if (p[i] != '%') {
      s[k++] = p[i];
      continue;
    }
    if (i + 2 >= n) { /* a '%' without two digits after it */
      k = 0;
      break;
    }
    hi = hexval(p[i + 1]);
    lo = hexval(p[i + 2]);
    if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
      k = 0;
      break;
    }
    s[k++] = (char)(hi * 16 + lo);
    i += 2;
  }
  s[k] = '\0';
  if (k == 0) {
    if (secure)
      OPENSSL_secure_clear_free(s, n + 1);
    else
      free(s);
    return CDR_ERR_ARG;
  }
  *out = s;
  return 0;
}

/* Append p[0..n) to the string *dst of length *len. */
static int append(char **dst, size_t *len, const char *p, size_t n) {
  char *d = realloc(*dst, *len + n + 1);
  if (d == NULL)
    return CDR_ERR_NOMEM;
  memcpy(d + *len, p, n);
  *len += n;
  d[*len] = '\0';
  *dst = d;
  return 0;
}

/* Keep one attribute a[0..n) in a URI: first before the first of its
 * part, sep before the others ("" and ";" in the path, "?" and "&" in
 * the query). */
static int keep_attr(char **dst, size_t *len, int *nattrs, const char *a, size_t n, const char *first, const char *sep) {
  const char *s = *nattrs == 0 ? first : sep;
  int r = append(dst, len, s, strlen(s));
  if (r == 0)
    r = append(dst, len, a, n);
  (*nattrs)++;
  return r;
}

/* The two URIs being rebuilt, and how many attributes each part of them
 * has so far. */
struct p11_build {
  size_t elen, flen;
  int ne, nf;
};

/* Take the attribute a[0..n) of the path (in_query 0) or the query:
 * pin-value into u->pin_value only, pin-source and module-path into u
 * and the profile URI, the rest into both URIs.  libp11 reads pin-value
 * and pin-source in either part, so both parts are treated alike. */
static int p11_take_attr(struct p11_uri *u, struct p11_build *b, const char *a, size_t n, int in_query) {
  const char *eq = memchr(a, '=', n), *first = in_query ? "?" : "", *sep = in_query ? "&" : ";";
  int r;

  if (eq == NULL || eq == a)
    return CDR_ERR_ARG;
#define ATTR_IS(name) ((size_t)(eq - a) == sizeof(name) - 1 && memcmp(a, name, sizeof(name) - 1) == 0)
  if (ATTR_IS("pin-value")) {
    u->had_pin_value = 1;
    if (u->pin_value != NULL) { /* the first one is used, as by libp11 */
      char *check = NULL;       /* but a malformed one is still refused */
      r = pct_decode(eq + 1, (size_t)(a + n - eq - 1), 1, &check);
      if (check != NULL)
        OPENSSL_secure_clear_free(check, strlen(check) + 1);
      return r;
    }
    return pct_decode(eq + 1, (size_t)(a + n - eq - 1), 1, &u->pin_value);
  }
  if ((r = keep_attr(&u->profile_uri, &b->flen, &b->nf, a, n, first, sep)) != 0)
    return r;
  if (ATTR_IS("module-path"))
    return u->module == NULL ? pct_decode(eq + 1, (size_t)(a + n - eq - 1), 0, &u->module) : 0;
  if (ATTR_IS("pin-source"))
    return u->pin_source == NULL ? pct_decode(eq + 1, (size_t)(a + n - eq - 1), 0, &u->pin_source) : 0;
#undef ATTR_IS
  return keep_attr(&u->engine_uri, &b->elen, &b->ne, a, n, first, sep);
}

/* Split uri (which starts with "pkcs11:") into *u: path attributes are
 * joined by ';', query attributes (after '?') by '&'. */
static int p11_uri_parse(const char *uri, struct p11_uri *u) {
  static const char scheme[] = "pkcs11:";
  const char *q = strchr(uri, '?'), *a, *end, *pend;
  struct p11_build b;
  int r = 0;

  memset(u, 0, sizeof(*u));
  memset(&b, 0, sizeof(b));
  if (strncmp(uri, scheme, sizeof(scheme) - 1) != 0)
    return CDR_ERR_ARG;
  pend = q != NULL ? q : uri + strlen(uri);
  if ((r = append(&u->engine_uri, &b.elen, scheme, sizeof(scheme) - 1)) != 0 ||
      (r = append(&u->profile_uri, &b.flen, scheme, sizeof(scheme) - 1)) != 0)
    goto out;
  for (a = uri + sizeof(scheme) - 1; a < pend && r == 0; a = end + 1) {
    if ((end = memchr(a, ';', (size_t)(pend - a))) == NULL)
      end = pend;
    r = p11_take_attr(u, &b, a, (size_t)(end - a), 0);
  }
  /* a new part: the query's first attribute gets '?' */
  b.ne = b.nf = 0;
  for (a = q != NULL ? q + 1 : NULL; a != NULL && *a != '\0' && r == 0; a = *end ? end + 1 : end) {
    if ((end = strchr(a, '&')) == NULL)
      end = a + strlen(a);
    r = p11_take_attr(u, &b, a, (size_t)(end - a), 1);
  }
out:
  if (r != 0)
    p11_uri_clear(u);
  return r;
}

int cdr_pkcs11_uri_without_pin(const char *uri, char **out, int *dropped_pin) {
  struct p11_uri u;
  int r;
  if ((r = p11_uri_parse(uri, &u)) != 0)
    return r;
  *out = u.profile_uri;
  *dropped_pin = u.had_pin_value;
  u.profile_uri = NULL;
  p11_uri_clear(&u);
  return 0;
}

/* The PIN: --pin's source, else the URI's pin-source, else its
 * pin-value; *pin NULL when there is none. */
static int p11_pin(const char *pin_spec, struct p11_uri *u, char **pin) {
  char *spec;
  const char *path;
  int r;

  *pin = NULL;
  if (pin_spec != NULL)
    return cdr_secret_read(pin_spec, pin);
  if (u->pin_source != NULL) {
    path = u->pin_source;
    if (strncmp(path, "file://", 7) == 0)
      path += 7;
    else if (strncmp(path, "file:", 5) == 0)
      path += 5;
    if ((spec = malloc(strlen(path) + 6)) == NULL)
      return CDR_ERR_NOMEM;
    memcpy(spec, "file:", 5);
    memcpy(spec + 5, path, strlen(path) + 1);
    r = cdr_secret_read(spec, pin);
    free(spec);
    return r;
  }
  *pin = u->pin_value;
  u->pin_value = NULL;
  return 0;
}

static int ui_answer_nothing(UI *ui, UI_STRING *uis) {
  (void)ui;
  (void)uis;
  return 0;
}

/* The engine, loaded and initialised at the first call (with module as
 * its MODULE_PATH when given). */
static int p11_engine_get(const char *module, ENGINE **out) {
  ENGINE *e;
  if (p11_no_prompt == NULL) {
    if ((p11_no_prompt = UI_create_method("cdr: no PIN prompt")) == NULL)
      return CDR_ERR_NOMEM;
    (void)UI_method_set_reader(p11_no_prompt, ui_answer_nothing);
  }
  if (p11_engine == NULL) {
    if ((e = ENGINE_by_id(P11_ENGINE_ID)) == NULL)
      return CDR_ERR_PKCS11_UNAVAILABLE;
    if ((module != NULL && ENGINE_ctrl_cmd_string(e, "MODULE_PATH", module, 0) != 1) || ENGINE_init(e) != 1) {
      ENGINE_free(e);
      return CDR_ERR_PKCS11_UNAVAILABLE;
    }
    p11_engine = e; /* keeps its structural and functional references */
  }
  *out = p11_engine;
  return 0;
}

/* Why the engine handed out no key, from the errors it queued. */
static int p11_load_error(void) {
  unsigned long e;
  int pin_refused = 0, pin_needed = 0, not_found = 0;
  while ((e = ERR_get_error()) != 0) {
    const char *lib = ERR_lib_error_string(e), *why = ERR_reason_error_string(e);
    int reason = ERR_GET_REASON(e);
    if (lib != NULL && strcmp(lib, "PKCS#11 module") == 0 && reason >= P11_CKR_PIN_FIRST && reason <= P11_CKR_PIN_LAST)
      pin_refused = 1;
    else if (ERR_GET_LIB(e) == ERR_LIB_UI)
      pin_needed = 1;
    else if (why != NULL && strcmp(why, "object not found") == 0)
      not_found = 1;
  }
  if (pin_refused)
    return CDR_ERR_PKCS11_PIN;
  if (pin_needed)
    return CDR_ERR_PKCS11_PIN_NEEDED;
  return not_found ? CDR_ERR_PKCS11_NO_KEY : CDR_ERR_PKCS11_UNAVAILABLE;
}

int cdr_pkcs11_key_load(const char *uri, const char *pin_spec, int want_private, EVP_PKEY **out) {
  struct p11_uri u;
  ENGINE *e;
  char *pin = NULL;
  int r;

  *out = NULL;
  if ((r = p11_uri_parse(uri, &u)) != 0)
    return r;
  if (want_private && (r = p11_pin(pin_spec, &u, &pin)) != 0) {
    r = r == CDR_ERR_NOMEM ? r : CDR_ERR_SECRET_SOURCE;
    goto out;
  }
  if ((r = p11_engine_get(u.module, &e)) != 0)
    goto out;
  ERR_clear_error();
  if (pin != NULL && ENGINE_ctrl_cmd_string(e, "PIN", pin, 0) != 1) {
    r = CDR_ERR_PKCS11_UNAVAILABLE;
    goto out;
  }
  *out = want_private ? ENGINE_load_private_key(e, u.engine_uri, p11_no_prompt, NULL)
                      : ENGINE_load_public_key(e, u.engine_uri, p11_no_prompt, NULL);
  r = *out != NULL ? 0 : p11_load_error();
out:
  ERR_clear_error();
  if (pin != NULL)
    OPENSSL_secure_clear_free(pin, strlen(pin) + 1);
  p11_uri_clear(&u);
  return r;
}
