/*
 * hsm_token.c - the raw PKCS#11 module and its token (see hsm.h and
 * hsm_int.h): the embedded SoftHSM2 configuration, loading and
 * unloading the module, finding a slot by token label, initialising a
 * token and logging in as the user.
 *
 * The raw face keeps one module handle, at most one session and the
 * login state of that session.  It calls the module's function list
 * directly; every CK_RV other than CKR_OK becomes CDR_ERR_HSM and one log
 * line naming the call and the CKR_ code (cdr_hsm_ck_fail).  Nothing
 * logged here contains a PIN.
 *
 * SoftHSM2 reads SOFTHSM2_CONF during C_Initialize, so the embedded
 * room's configuration must be in the environment before either face
 * loads the module (cdr_hsm_softhsm_use).
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "hsm_int.h"

static const char *ckr_name(CK_RV rv) {
  switch (rv) {
  case CKR_OK: return "CKR_OK";
  case CKR_HOST_MEMORY: return "CKR_HOST_MEMORY";
  case CKR_SLOT_ID_INVALID: return "CKR_SLOT_ID_INVALID";
  case CKR_GENERAL_ERROR: return "CKR_GENERAL_ERROR";
  case CKR_FUNCTION_FAILED: return "CKR_FUNCTION_FAILED";
  case CKR_ARGUMENTS_BAD: return "CKR_ARGUMENTS_BAD";
  case CKR_ATTRIBUTE_READ_ONLY: return "CKR_ATTRIBUTE_READ_ONLY";
  case CKR_ATTRIBUTE_SENSITIVE: return "CKR_ATTRIBUTE_SENSITIVE";
  case CKR_ATTRIBUTE_TYPE_INVALID: return "CKR_ATTRIBUTE_TYPE_INVALID";
  case CKR_ATTRIBUTE_VALUE_INVALID: return "CKR_ATTRIBUTE_VALUE_INVALID";
  case CKR_DEVICE_ERROR: return "CKR_DEVICE_ERROR";
  case CKR_DEVICE_MEMORY: return "CKR_DEVICE_MEMORY";
  case CKR_DEVICE_REMOVED: return "CKR_DEVICE_REMOVED";
  case CKR_DOMAIN_PARAMS_INVALID: return "CKR_DOMAIN_PARAMS_INVALID";
  case CKR_MECHANISM_INVALID: return "CKR_MECHANISM_INVALID";
  case CKR_OBJECT_HANDLE_INVALID: return "CKR_OBJECT_HANDLE_INVALID";
  case CKR_PIN_INCORRECT: return "CKR_PIN_INCORRECT";
  case CKR_PIN_INVALID: return "CKR_PIN_INVALID";
  case CKR_PIN_LEN_RANGE: return "CKR_PIN_LEN_RANGE";
  case CKR_PIN_LOCKED: return "CKR_PIN_LOCKED";
  case CKR_SESSION_HANDLE_INVALID: return "CKR_SESSION_HANDLE_INVALID";
  case CKR_SESSION_READ_ONLY: return "CKR_SESSION_READ_ONLY";
  case CKR_TEMPLATE_INCOMPLETE: return "CKR_TEMPLATE_INCOMPLETE";
  case CKR_TEMPLATE_INCONSISTENT: return "CKR_TEMPLATE_INCONSISTENT";
  case CKR_TOKEN_NOT_PRESENT: return "CKR_TOKEN_NOT_PRESENT";
  case CKR_TOKEN_NOT_RECOGNIZED: return "CKR_TOKEN_NOT_RECOGNIZED";
  case CKR_TOKEN_WRITE_PROTECTED: return "CKR_TOKEN_WRITE_PROTECTED";
  case CKR_USER_ALREADY_LOGGED_IN: return "CKR_USER_ALREADY_LOGGED_IN";
  case CKR_USER_NOT_LOGGED_IN: return "CKR_USER_NOT_LOGGED_IN";
  case CKR_USER_PIN_NOT_INITIALIZED: return "CKR_USER_PIN_NOT_INITIALIZED";
  case CKR_USER_TYPE_INVALID: return "CKR_USER_TYPE_INVALID";
  case CKR_BUFFER_TOO_SMALL: return "CKR_BUFFER_TOO_SMALL";
  case CKR_CRYPTOKI_NOT_INITIALIZED: return "CKR_CRYPTOKI_NOT_INITIALIZED";
  case CKR_CRYPTOKI_ALREADY_INITIALIZED: return "CKR_CRYPTOKI_ALREADY_INITIALIZED";
  default: return "CKR_(other)";
  }
}

int cdr_hsm_ck_fail(const char *call, CK_RV rv) {
  log_error("pkcs11: %s failed: %s (0x%lx)", call, ckr_name(rv), (unsigned long)rv);
  return CDR_ERR_HSM;
}

/* ------------------------------------------------------------------ */
/* embedded SoftHSM2                                                   */

int cdr_hsm_softhsm_write_conf(const char *hsm_dir) {
  char *tokens = NULL, *conf_path = NULL, *text = NULL;
  int r = CDR_ERR_NOMEM;

  if (hsm_dir == NULL || hsm_dir[0] != '/' || strchr(hsm_dir, '\n') != NULL)
    return CDR_ERR_ARG;
  if ((tokens = cdr_path_join(hsm_dir, "tokens")) == NULL ||
      (conf_path = cdr_path_join(hsm_dir, "softhsm2.conf")) == NULL)
    goto out;
  if (mkdir(tokens, 0700) != 0 && errno != EEXIST) {
    r = CDR_ERR_IO;
    goto out;
  }
  size_t cap = strlen(tokens) + 256;
  if ((text = malloc(cap)) == NULL)
    goto out;
  int w = snprintf(text, cap,
                   "# SoftHSM2 token store of this CDR room (written by cdr room init).\n"
                   "directories.tokendir = %s\n"
                   "objectstore.backend = file\n"
                   "log.level = ERROR\n"
                   "slots.removable = false\n",
                   tokens);
  if (w < 0 || (size_t)w >= cap) {
    r = CDR_ERR_INTERNAL;
    goto out;
  }
  r = cdr_file_write(conf_path, text, (size_t)w, 0600, 1);
out:
  free(tokens);
  free(conf_path);
  free(text);
  return r;
}

int cdr_hsm_softhsm_use(const char *hsm_dir) {
  char *conf_path;
  int r = 0;

  if (hsm_dir == NULL || hsm_dir[0] != '/')
    return CDR_ERR_ARG;
  if ((conf_path = cdr_path_join(hsm_dir, "softhsm2.conf")) == NULL)
    return CDR_ERR_NOMEM;
  if (access(conf_path, R_OK) != 0) {
    log_error("pkcs11: SoftHSM2 configuration %s is missing", conf_path);
    r = CDR_ERR_NOT_FOUND;
  } else if (setenv("SOFTHSM2_CONF", conf_path, 1) != 0) {
    r = CDR_ERR_NOMEM;
  }
  free(conf_path);
  return r;
}

/* ------------------------------------------------------------------ */
/* the raw module                                                      */

int cdr_hsm_load(struct cdr_hsm **out, const char *module_path) {
  struct cdr_hsm *h = NULL;
  CK_C_GetFunctionList getfl;
  CK_C_INITIALIZE_ARGS args;
  CK_RV rv;
  int r;

  *out = NULL;
  if (module_path == NULL || module_path[0] != '/')
    return CDR_ERR_ARG;
  if ((h = calloc(1, sizeof(*h))) == NULL)
    return CDR_ERR_NOMEM;
  if ((h->dl = dlopen(module_path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
    log_error("pkcs11: cannot load module %s: %s", module_path, dlerror());
    r = CDR_ERR_HSM;
    goto out;
  }
  /* POSIX blesses converting dlsym's void * to a function pointer. */
  *(void **)(&getfl) = dlsym(h->dl, "C_GetFunctionList");
  if (getfl == NULL) {
    log_error("pkcs11: %s has no C_GetFunctionList", module_path);
    r = CDR_ERR_HSM;
    goto out;
  }
  if ((rv = getfl(&h->fl)) != CKR_OK || h->fl == NULL) {
    r = cdr_hsm_ck_fail("C_GetFunctionList", rv);
    goto out;
  }
  memset(&args, 0, sizeof(args));
  args.flags = CKF_OS_LOCKING_OK;
  rv = h->fl->C_Initialize(&args);
  if (rv == CKR_OK) {
    h->initialised = 1;
  } else if (rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
    r = cdr_hsm_ck_fail("C_Initialize", rv);
    goto out;
  }
  *out = h;
  h = NULL;
  r = 0;
out:
  cdr_hsm_unload(h);
  return r;
}

/* Close the session (logging out first), if any. */
static void hsm_close_session(struct cdr_hsm *h) {
  if (h->have_session) {
    if (h->logged_in)
      (void)h->fl->C_Logout(h->session);
    (void)h->fl->C_CloseSession(h->session);
  }
  h->have_session = 0;
  h->logged_in = 0;
}

void cdr_hsm_unload(struct cdr_hsm *h) {
  if (h == NULL)
    return;
  if (h->fl != NULL) {
    hsm_close_session(h);
    if (h->initialised)
      (void)h->fl->C_Finalize(NULL);
  }
  if (h->dl != NULL)
    dlclose(h->dl);
  free(h);
}

/* Length of a blank-padded PKCS#11 string without its padding. */
static size_t padded_len(const unsigned char *s, size_t n) {
  while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\0'))
    n--;
  return n;
}

int cdr_hsm_token_label_ok(const char *label) {
  size_t n = label == NULL ? 0 : strlen(label);
  return n > 0 && n <= CDR_HSM_TOKEN_LABEL_MAX && label[n - 1] != ' ';
}

static int pin_ok(const char *pin) {
  size_t n = pin == NULL ? 0 : strlen(pin);
  return n >= CDR_HSM_PIN_MIN && n <= CDR_HSM_PIN_MAX;
}

/* The slot list (present tokens only), malloc'd into *slots. */
static int hsm_slot_list(struct cdr_hsm *h, CK_SLOT_ID **slots, CK_ULONG *n) {
  CK_SLOT_ID *list = NULL;
  CK_ULONG count = 0;
  CK_RV rv;

  *slots = NULL;
  *n = 0;
  for (int attempt = 0; attempt < 4; attempt++) {
    if ((rv = h->fl->C_GetSlotList(CK_TRUE, NULL, &count)) != CKR_OK)
      return cdr_hsm_ck_fail("C_GetSlotList", rv);
    if (count == 0)
      return 0;
    if (count > 4096)
      return CDR_ERR_HSM;
    free(list);
    if ((list = calloc(count, sizeof(*list))) == NULL)
      return CDR_ERR_NOMEM;
    rv = h->fl->C_GetSlotList(CK_TRUE, list, &count);
    if (rv == CKR_OK) {
      *slots = list;
      *n = count;
      return 0;
    }
    if (rv != CKR_BUFFER_TOO_SMALL)
      break;
  }
  free(list);
  return cdr_hsm_ck_fail("C_GetSlotList", rv);
}

/* Find the one initialised token labelled label (CDR_ERR_NOT_FOUND if
 * none, CDR_ERR_HSM if several), or with label NULL the first slot whose
 * token is not initialised. */
static int hsm_find_slot(struct cdr_hsm *h, const char *label, CK_SLOT_ID *slot) {
  CK_SLOT_ID *slots = NULL;
  CK_ULONG n = 0, found = 0;
  CK_TOKEN_INFO ti;
  CK_RV rv;
  int r;

  if ((r = hsm_slot_list(h, &slots, &n)) != 0)
    return r;
  for (CK_ULONG i = 0; i < n; i++) {
    if ((rv = h->fl->C_GetTokenInfo(slots[i], &ti)) != CKR_OK) {
      if (rv == CKR_TOKEN_NOT_PRESENT || rv == CKR_TOKEN_NOT_RECOGNIZED)
        continue;
      r = cdr_hsm_ck_fail("C_GetTokenInfo", rv);
      goto out;
    }
    int initialised = (ti.flags & CKF_TOKEN_INITIALIZED) != 0;
    if (label == NULL) {
      if (!initialised) {
        *slot = slots[i];
        found = 1;
        break;
      }
      continue;
    }
    size_t len = padded_len(ti.label, sizeof(ti.label));
    if (initialised && len == strlen(label) && memcmp(ti.label, label, len) == 0) {
      *slot = slots[i];
      found++;
    }
  }
  if (found == 0) {
    r = CDR_ERR_NOT_FOUND;
  } else if (found > 1) {
    log_error("pkcs11: %lu tokens are labelled \"%s\"", (unsigned long)found, label);
    r = CDR_ERR_HSM;
  } else {
    r = 0;
  }
out:
  free(slots);
  return r;
}

int cdr_hsm_init_token(struct cdr_hsm *h, const char *label, const char *so_pin, const char *user_pin) {
  CK_SLOT_ID slot;
  CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
  CK_UTF8CHAR padded[32];
  int have_session = 0, logged_in = 0;
  CK_RV rv;
  int r;

  if (!cdr_hsm_token_label_ok(label) || !pin_ok(so_pin) || !pin_ok(user_pin))
    return CDR_ERR_ARG;
  r = hsm_find_slot(h, label, &slot);
  if (r == 0) {
    log_error("pkcs11: a token labelled \"%s\" already exists", label);
    return CDR_ERR_HSM;
  }
  if (r != CDR_ERR_NOT_FOUND)
    return r;
  if ((r = hsm_find_slot(h, NULL, &slot)) != 0) {
    if (r == CDR_ERR_NOT_FOUND)
      log_error("pkcs11: no slot with an uninitialised token");
    return r == CDR_ERR_NOT_FOUND ? CDR_ERR_HSM : r;
  }
  memset(padded, ' ', sizeof(padded));
  memcpy(padded, label, strlen(label));
  if ((rv = h->fl->C_InitToken(slot, (CK_UTF8CHAR_PTR)so_pin, strlen(so_pin), padded)) != CKR_OK) {
    r = cdr_hsm_ck_fail("C_InitToken", rv);
    goto out;
  }
  /* SoftHSM2 moves a freshly initialised token to a new slot id; look
   * it up again by its label. */
  if ((r = hsm_find_slot(h, label, &slot)) != 0) {
    if (r == CDR_ERR_NOT_FOUND)
      log_error("pkcs11: the token just initialised is not visible");
    r = CDR_ERR_HSM;
    goto out;
  }
  if ((rv = h->fl->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s)) != CKR_OK) {
    r = cdr_hsm_ck_fail("C_OpenSession", rv);
    goto out;
  }
  have_session = 1;
  if ((rv = h->fl->C_Login(s, CKU_SO, (CK_UTF8CHAR_PTR)so_pin, strlen(so_pin))) != CKR_OK) {
    r = cdr_hsm_ck_fail("C_Login(SO)", rv);
    goto out;
  }
  logged_in = 1;
  if ((rv = h->fl->C_InitPIN(s, (CK_UTF8CHAR_PTR)user_pin, strlen(user_pin))) != CKR_OK) {
    r = cdr_hsm_ck_fail("C_InitPIN", rv);
    goto out;
  }
  r = 0;
out:
  if (logged_in)
    (void)h->fl->C_Logout(s);
  if (have_session)
    (void)h->fl->C_CloseSession(s);
  return r;
}

int cdr_hsm_login(struct cdr_hsm *h, const char *token_label, const char *user_pin) {
  CK_SLOT_ID slot;
  CK_RV rv;
  int r;

  if (!cdr_hsm_token_label_ok(token_label) || user_pin == NULL || strlen(user_pin) > CDR_HSM_PIN_MAX)
    return CDR_ERR_ARG;
  hsm_close_session(h);
  if ((r = hsm_find_slot(h, token_label, &slot)) != 0) {
    if (r == CDR_ERR_NOT_FOUND)
      log_error("pkcs11: no token labelled \"%s\"", token_label);
    return r;
  }
  if ((rv = h->fl->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h->session)) != CKR_OK)
    return cdr_hsm_ck_fail("C_OpenSession", rv);
  h->have_session = 1;
  rv = h->fl->C_Login(h->session, CKU_USER, (CK_UTF8CHAR_PTR)user_pin, strlen(user_pin));
  if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
    r = cdr_hsm_ck_fail("C_Login(user)", rv);
    hsm_close_session(h);
    return r;
  }
  h->logged_in = rv == CKR_OK;
  return 0;
}

