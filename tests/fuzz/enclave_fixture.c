/*
 * enclave_fixture.c - an in-process enclave for the harnesses; see
 * enclave_fixture.h.
 */
#include "enclave_fixture.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/limits.h"
#include "crypto/contract.h"
#include "crypto/crypto.h"
#include "enclave/contract_state.h"
#include "enclave/session.h"
#include "enclave/wipe_alloc.h"
#include "fuzzlib.h"
#include "ipc/ipc.h"
#include "ipc/messages.h"

/* ---- the fopen seam ---- */

FILE *__real_fopen(const char *path, const char *mode);
FILE *__wrap_fopen(const char *path, const char *mode);

static const char fake_exe[] = "cdr-enclave under fuzzing: a fixed executable image";

FILE *__wrap_fopen(const char *path, const char *mode) {
  if (strcmp(path, "/proc/self/exe") == 0)
    return fmemopen((void *)(uintptr_t)fake_exe, sizeof(fake_exe) - 1, "r");
  return __real_fopen(path, mode);
}

void fx_init(void) {
  FUZZ_CHECK(wipe_alloc_install(256u * CDR_MiB) == 0);
  signal(SIGPIPE, SIG_IGN);
  (void)fuzz_pki();
  (void)fuzz_room_dir();
}

struct enclave *fx_enclave_new(void) {
  struct enclave *e = calloc(1, sizeof(*e));
  FUZZ_CHECK(e != NULL);
  e->state = ENCLAVE_STATE_INIT;
  e->room_dir = fuzz_room_dir();
  e->ipc_fd = -1;
  e->now = fuzz_now;
  return e;
}

void fx_enclave_free(struct enclave *e) {
  enclave_free(e);
  free(e);
}

static void inject_session(struct enclave *e, uint8_t id_byte, EVP_PKEY *key, const char *name, enum cdr_role role,
                           const uint8_t fp[32]) {
  struct session *s = session_new();
  FUZZ_CHECK(s != NULL);
  fuzz_fill(s->id, sizeof(s->id), id_byte);
  FUZZ_CHECK(EVP_PKEY_up_ref(key) == 1);
  s->user_key = key;
  FUZZ_CHECK(cdr_pubkey_to_der(key, &s->user_spki, &s->user_spki_len) == 0);
  FUZZ_CHECK(cdr_sha256(s->key_fp, s->user_spki, s->user_spki_len) == 0);
  snprintf(s->name, sizeof(s->name), "%s", name);
  s->role = role;
  memcpy(s->cert_fp, fp, 32);
  s->expires_at = fuzz_now() + FUZZ_SESSION_LIFETIME;
  fuzz_session_keys(&s->keys);
  FUZZ_CHECK(session_table_insert(&e->sessions, s, fuzz_now()) == 0);
}

static void dispatch_ok(struct enclave *e, uint32_t type, struct cdr_buf *in, uint32_t want_reply) {
  struct cdr_buf out;
  uint32_t rt = 0;
  cdr_buf_init(&out, CDR_IPC_MAX_FRAME, 0);
  FUZZ_CHECK(enclave_dispatch(e, type, in, &rt, &out) == 0);
  FUZZ_CHECK(rt == want_reply);
  cdr_buf_free(&out);
  cdr_buf_free(in);
}

static int member_cmp(const void *a, const void *b) {
  return memcmp(((const struct cdr_contract_member *)a)->key_sha256, ((const struct cdr_contract_member *)b)->key_sha256,
                32);
}

/* An active contract version 1 listing the four fuzz_who users under
 * their names and roles (a room serves nothing else before one,
 * PROTOCOL 8.9), put in place as the sealed state would load it: a
 * chain of one version, without signatures (the load does not check
 * them; the harnesses test what members do, not the activation). */
static void contract_activate(struct enclave *e) {
  static const unsigned roles[4] = {CDR_CONTRACT_ROLE_PROVIDER, CDR_CONTRACT_ROLE_ANALYST, CDR_CONTRACT_ROLE_PROVIDER,
                                    CDR_CONTRACT_ROLE_AUDITOR};
  struct cdr_contract c;
  struct engine_principal p;
  struct cdr_buf b, view;
  uint8_t *doc = NULL;
  size_t len = 0;
  char why[CDR_CONTRACT_WHY_LEN] = "";
  memset(&c, 0, sizeof(c));
  FUZZ_CHECK(cdr_contract_alloc(&c, 4, 0) == 0);
  memcpy(c.room_id, e->room_id, sizeof(c.room_id));
  c.room_name = strdup("fuzz room");
  c.version = 1;
  memcpy(c.ca_sha256, e->ca_fp, sizeof(c.ca_sha256));
  snprintf(c.platform, sizeof(c.platform), "sim");
  c.n_measurements = 1;
  memset(c.measurements[0], 0x42, 32);
  snprintf(c.governance, sizeof(c.governance), "%s", CDR_CONTRACT_GOVERNANCE);
  for (int i = 0; i < 4; i++) {
    fuzz_principal((enum fuzz_who)i, &p);
    memcpy(c.members[i].key_sha256, p.key_fp, 32);
    c.members[i].name = strdup(p.name);
    c.members[i].roles = roles[i];
    FUZZ_CHECK(c.members[i].name != NULL);
  }
  qsort(c.members, 4, sizeof(c.members[0]), member_cmp);
  FUZZ_CHECK(c.room_name != NULL && cdr_contract_encode(&c, &doc, &len, why, sizeof(why)) == 0);
  cdr_buf_init(&b, CDR_MiB, 0);
  FUZZ_CHECK(cdr_buf_put_u32(&b, 1) == 0 && cdr_buf_put_lp(&b, doc, len) == 0 && cdr_buf_put_u32(&b, 0) == 0 &&
             cdr_buf_put_u8(&b, 0) == 0);
  contract_state_free(&e->contract);
  cdr_buf_view(&view, b.d, b.len);
  FUZZ_CHECK(contract_state_decode(&view, &e->contract) == 0 && contract_state_current(&e->contract) != NULL);
  cdr_buf_free(&b);
  free(doc);
  cdr_contract_free(&c);
}

void fx_enclave_ready(struct enclave *e) {
  const struct fuzz_pki *k = fuzz_pki();
  struct cdr_buf in;
  struct ipc_init init;
  memset(&init, 0, sizeof(init));
  memcpy(init.room_id, k->room_id, sizeof(init.room_id));
  init.ca_der = k->ca_der;
  init.ca_len = k->ca_der_len;
  cdr_buf_init(&in, CDR_IPC_MAX_FRAME, 0);
  FUZZ_CHECK(ipc_put_init(&in, &init) == 0);
  dispatch_ok(e, IPC_INIT, &in, IPC_INIT_OK);
  FUZZ_CHECK(ipc_put_load(&in, NULL, 0) == 0);
  dispatch_ok(e, IPC_LOAD, &in, IPC_LOAD_WANT);
  /* Loading ends by reading the (empty) audit log and logging the start. */
  struct fx_storage st;
  fx_storage_start(e, &st);
  dispatch_ok(e, IPC_LOAD_DONE, &in, IPC_LOAD_ACK);
  fx_storage_stop(e, &st);
  FUZZ_CHECK(e->state == ENCLAVE_STATE_READY);
  inject_session(e, FUZZ_BYTE_PROVIDER_SESSION, k->provider_key, "prov@fuzz.example", CDR_ROLE_PROVIDER,
                 k->provider_fp);
  inject_session(e, FUZZ_BYTE_ANALYST_SESSION, k->analyst_key, "ana@fuzz.example", CDR_ROLE_ANALYST, k->analyst_fp);
  contract_activate(e);
}

/* ---- a host that stores everything (and gives nothing back) ---- */

static void *storage_main(void *arg) {
  struct fx_storage *s = arg;
  struct cdr_buf in, out;
  uint32_t type;
  cdr_buf_init(&in, CDR_IPC_MAX_FRAME, 0);
  cdr_buf_init(&out, IPC_STATUS_MAX, 0);
  while (ipc_frame_read(s->fd, &type, &in, CDR_IPC_MAX_FRAME) == 0) {
    FUZZ_CHECK(type == IPC_STORE || type == IPC_STORE_NOWAIT || type == IPC_FETCH || type == IPC_CONTRACT_NOTICE);
    if (type == IPC_CONTRACT_NOTICE) { /* not answered; must decode exactly */
      struct ipc_contract_notice m;
      FUZZ_CHECK(ipc_get_contract_notice(&in, &m) == 0);
      continue;
    }
    if (type == IPC_STORE_NOWAIT) /* not answered */
      continue;
    cdr_buf_free(&out);
    if (type == IPC_FETCH) { /* nothing was kept: found 0, no bytes */
      FUZZ_CHECK(ipc_put_fetched(&out, 0, NULL, 0) == 0);
      if (ipc_frame_write(s->fd, IPC_FETCHED, &out) != 0)
        break;
      continue;
    }
    FUZZ_CHECK(ipc_put_status(&out, 1, "") == 0);
    if (ipc_frame_write(s->fd, IPC_STORED, &out) != 0)
      break;
  }
  cdr_buf_free(&in);
  cdr_buf_free(&out);
  return NULL;
}

void fx_storage_start(struct enclave *e, struct fx_storage *s) {
  int sv[2];
  FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  e->ipc_fd = sv[0];
  s->fd = sv[1];
  FUZZ_CHECK(pthread_create(&s->thread, NULL, storage_main, s) == 0);
}

void fx_storage_stop(struct enclave *e, struct fx_storage *s) {
  (void)close(e->ipc_fd);
  e->ipc_fd = -1;
  FUZZ_CHECK(pthread_join(s->thread, NULL) == 0);
  (void)close(s->fd);
}
