/*
 * fuzz_ipc_frames.c - what a compromised host can send the enclave.
 *
 * Input: one mode byte, then (modes 0 and 1) the byte stream the host
 * writes into the enclave's socket (frames: u32be type, u32be length,
 * payload), or (mode 2) a decoder selector and one payload.
 *
 *   mode 0  a fresh enclave in state INIT, served exactly as
 *           src/enclave/main.c serves it: read a frame, dispatch, write
 *           the reply, until the enclave would exit (bad frame, protocol
 *           violation, EOF).  Seeds start with INIT (fixture room CA),
 *           LOAD and LOAD_DONE.
 *   mode 1  the same after the harness has taken the enclave through
 *           INIT, LOAD and LOAD_DONE with the fixture room and injected
 *           two sessions with fixed ids and keys (the provider's and the
 *           analyst's), so that seeds can carry REQUEST frames, signed by
 *           the fixture users, that the enclave accepts, decrypts and
 *           runs, and the IPC_STORED answers to the storage rounds that
 *           uploads make.
 *   mode 2  the IPC payload decoders of src/ipc/messages.c directly
 *           (selector % 7 below 0x80: the session and storage codecs;
 *           (selector - 0x80) % 14 from 0x80: the start, load,
 *           revocation, fetch and contract proposal codecs).
 *
 * The enclave talks over one socket (e->ipc_fd), both for its replies
 * and for the storage exchange inside a request; a helper thread plays
 * the host: it writes the input into the other end, then shuts it for
 * writing, and collects everything the enclave writes.
 *
 * Invariants besides "no crash, no sanitizer report": every frame the
 * enclave writes is a reply or storage type and decodes exactly with the
 * host's decoders; a payload decoder that succeeds consumed its whole
 * payload and re-encodes to the same bytes.
 *
 * The enclave is set up, made ready and released by enclave_fixture.c
 * (the real enclave_free; /proc/self/exe served from memory).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/limits.h"
#include "enclave/enclave.h"
#include "enclave_fixture.h"
#include "fuzzlib.h"
#include "ipc/ipc.h"
#include "ipc/messages.h"

/* A frame longer than the input cannot complete, so a cap below
 * CDR_IPC_MAX_FRAME changes no outcome (the enclave exits either way)
 * and spares allocating and wiping 64 MiB for a forged length. */
#define FUZZ_FRAME_MAX (4u * CDR_MiB)
/* What the host side keeps of the enclave's output, to check it. */
#define FUZZ_OUTPUT_MAX (16u * CDR_MiB)

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  fuzz_quiet();
  fx_init();
  return 0;
}

/* ---- the host end of the socket ---- */

struct host_end {
  int fd;
  const uint8_t *in;
  size_t in_len;
  uint8_t *out;
  size_t out_len;
  int out_truncated;
};

static void *host_main(void *arg) {
  struct host_end *h = arg;
  size_t off = 0;
  int writing = 1;
  static uint8_t buf[65536];
  if (h->in_len == 0) {
    (void)shutdown(h->fd, SHUT_WR);
    writing = 0;
  }
  for (;;) {
    struct pollfd pfd = {h->fd, (short)(POLLIN | (writing ? POLLOUT : 0)), 0};
    if (poll(&pfd, 1, -1) < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    if (writing && (pfd.revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t k = send(h->fd, h->in + off, h->in_len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (k > 0)
        off += (size_t)k;
      else if (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        writing = 0; /* the enclave is gone */
      if (writing && off == h->in_len) {
        (void)shutdown(h->fd, SHUT_WR);
        writing = 0;
      }
    }
    if (pfd.revents & (POLLIN | POLLERR | POLLHUP)) {
      ssize_t k = recv(h->fd, buf, sizeof(buf), MSG_DONTWAIT);
      if (k == 0)
        break; /* the enclave closed its end */
      if (k < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
          continue;
        break;
      }
      if (h->out_len + (size_t)k > FUZZ_OUTPUT_MAX) {
        h->out_truncated = 1;
        continue;
      }
      uint8_t *n = realloc(h->out, h->out_len + (size_t)k);
      FUZZ_CHECK(n != NULL);
      memcpy(n + h->out_len, buf, (size_t)k);
      h->out = n;
      h->out_len += (size_t)k;
    }
  }
  return NULL;
}

/* ---- checking what the enclave wrote ---- */

static void check_output_frame(uint32_t type, struct cdr_buf *b) {
  switch (type) {
  case IPC_ERROR: {
    int err = 0;
    char *msg = NULL;
    FUZZ_CHECK(ipc_get_error(b, &err, &msg) == 0 && err < 0);
    free(msg);
    return;
  }
  case IPC_INIT_OK: {
    struct ipc_init_ok m;
    FUZZ_CHECK(ipc_get_init_ok(b, &m) == 0);
    return;
  }
  case IPC_ATTEST_OK: {
    struct ipc_attest_ok m;
    FUZZ_CHECK(ipc_get_attest_ok(b, &m) == 0);
    return;
  }
  case IPC_OPEN_OK: {
    struct cdr_open_resp p;
    FUZZ_CHECK(ipc_get_open_ok(b, &p) == 0);
    return;
  }
  case IPC_RESPONSE: {
    struct cdr_response_env r;
    FUZZ_CHECK(ipc_get_response(b, &r) == 0);
    return;
  }
  case IPC_STORE:
  case IPC_STORE_NOWAIT: {
    uint32_t n = 0;
    struct ipc_store_item it;
    FUZZ_CHECK(ipc_get_store_count(b, &n) == 0);
    for (uint32_t i = 0; i < n; i++)
      FUZZ_CHECK(ipc_get_store_item(b, &it) == 0);
    break;
  }
  case IPC_FETCH: {
    char name[IPC_OBJECT_NAME_MAX + 1];
    uint64_t offset = 0;
    uint32_t max = 0;
    FUZZ_CHECK(ipc_get_fetch(b, name, &offset, &max) == 0);
    FUZZ_CHECK(strcmp(name, "audit") == 0); /* the one object the enclave reads back */
    return;
  }
  case IPC_LOAD_WANT: {
    char(*ids)[IPC_TABLE_ID_LEN + 1] = NULL;
    uint32_t n = 0;
    FUZZ_CHECK(ipc_get_load_want(b, &ids, &n) == 0);
    free(ids);
    return;
  }
  case IPC_CRL_OK: {
    uint64_t number = 0;
    uint32_t ended = 0;
    FUZZ_CHECK(ipc_get_crl_ok(b, &number, &ended) == 0);
    return;
  }
  case IPC_LIMITS_OK: {
    int changed = 0;
    FUZZ_CHECK(ipc_get_limits_ok(b, &changed) == 0);
    return;
  }
  case IPC_LOAD_ACK: {
    int ok = 0;
    char *msg = NULL;
    FUZZ_CHECK(ipc_get_status(b, &ok, &msg) == 0);
    free(msg);
    return;
  }
  case IPC_WITNESS: { /* a witness round (a room whose contract names witnesses) */
    struct ipc_witness_round m;
    FUZZ_CHECK(ipc_get_witness(b, &m) == 0);
    ipc_witness_round_free(&m);
    return;
  }
  default:
    fprintf(stderr, "the enclave wrote a frame of type %u\n", type);
    FUZZ_CHECK(!"the enclave wrote a frame that is no reply");
  }
  FUZZ_CHECK(cdr_buf_expect_end(b) == 0);
}

static void check_output(const struct host_end *h) {
  struct cdr_buf all;
  if (h->out_truncated)
    return;
  cdr_buf_view(&all, h->out, h->out_len);
  while (cdr_buf_avail(&all) > 0) {
    uint32_t type = 0;
    const uint8_t *p;
    size_t n;
    struct cdr_buf b;
    FUZZ_CHECK(cdr_buf_get_u32(&all, &type) == 0);
    FUZZ_CHECK(cdr_buf_get_lp(&all, &p, &n, CDR_IPC_MAX_FRAME) == 0); /* u32 length || payload */
    cdr_buf_view(&b, p, n);
    check_output_frame(type, &b);
  }
}

/* main.c's loop, over a socket whose other end replays data. */
static void serve(struct enclave *e, const uint8_t *data, size_t size) {
  int sv[2];
  pthread_t th;
  struct host_end h = {.in = data, .in_len = size};
  struct cdr_buf in, out;

  FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  h.fd = sv[1];
  e->ipc_fd = sv[0];
  FUZZ_CHECK(pthread_create(&th, NULL, host_main, &h) == 0);
  cdr_buf_init(&in, FUZZ_FRAME_MAX, 0);
  cdr_buf_init(&out, FUZZ_FRAME_MAX, 0);
  for (;;) {
    uint32_t type = 0, rt = 0;
    if (ipc_frame_read(sv[0], &type, &in, FUZZ_FRAME_MAX) != 0)
      break;
    cdr_buf_free(&out);
    if (enclave_dispatch(e, type, &in, &rt, &out) != 0 || e->fatal)
      break;
    cdr_buf_free(&in);
    if (ipc_frame_write(sv[0], rt, &out) != 0)
      break;
  }
  cdr_buf_free(&in);
  cdr_buf_free(&out);
  (void)close(sv[0]);
  e->ipc_fd = -1;
  FUZZ_CHECK(pthread_join(th, NULL) == 0);
  (void)close(sv[1]);
  check_output(&h);
  free(h.out);
}

/* ---- the decoders, directly ---- */

static void check_reencode(const uint8_t *data, size_t size, const struct cdr_buf *enc) {
  FUZZ_CHECK(cdr_buf_avail(enc) == size && memcmp(cdr_buf_ptr(enc), data, size) == 0);
}

static void decode(uint8_t which, const uint8_t *data, size_t size) {
  struct cdr_buf b, enc;
  cdr_buf_view(&b, data, size);
  cdr_buf_init(&enc, FUZZ_FRAME_MAX, 0);
  switch (which % 7) {
  case 0: {
    struct cdr_open_req q;
    if (ipc_get_open(&b, &q) == 0) {
      FUZZ_CHECK(ipc_put_open(&enc, &q) == 0);
      check_reencode(data, size, &enc);
    }
    break;
  }
  case 1: {
    struct cdr_open_resp p;
    if (ipc_get_open_ok(&b, &p) == 0) {
      FUZZ_CHECK(ipc_put_open_ok(&enc, &p) == 0);
      check_reencode(data, size, &enc);
    }
    break;
  }
  case 2: {
    struct cdr_request_env r;
    if (ipc_get_request(&b, &r) == 0) {
      FUZZ_CHECK(ipc_put_request(&enc, &r) == 0);
      check_reencode(data, size, &enc);
    }
    break;
  }
  case 3: {
    struct cdr_response_env r;
    if (ipc_get_response(&b, &r) == 0) {
      FUZZ_CHECK(ipc_put_response(&enc, &r) == 0);
      check_reencode(data, size, &enc);
    }
    break;
  }
  case 4: {
    int err = 0;
    char *msg = NULL;
    if (ipc_get_error(&b, &err, &msg) == 0)
      FUZZ_CHECK(err < 0 && msg != NULL && strlen(msg) <= CDR_MAX_ERROR_MSG);
    /* ipc_get_error may leave *message set when it fails (trailing
     * bytes); its caller frees it either way (host/enclave_call.c). */
    free(msg);
    break;
  }
  case 5: {
    int ok = -1;
    char *msg = NULL;
    if (ipc_get_status(&b, &ok, &msg) == 0) {
      FUZZ_CHECK(ok == 0 || ok == 1);
      free(msg);
    }
    break;
  }
  default: {
    uint32_t n = 0;
    struct ipc_store_item it;
    if (cdr_buf_get_u32(&b, &n) == 0)
      for (uint32_t i = 0; i < n && i < IPC_STORE_MAX_OPS; i++) {
        if (ipc_get_store_item(&b, &it) != 0)
          break;
        FUZZ_CHECK(it.name != NULL && strlen(it.name) < sizeof(it.namebuf));
        FUZZ_CHECK(it.len == 0 || (it.data >= data && it.data + it.len <= data + size));
      }
    break;
  }
  }
  cdr_buf_free(&enc);
}

/* The start, load, revocation and fetch codecs (selector >= 0x80): what
 * decodes re-encodes to the same bytes. */
static void decode_more(uint8_t which, const uint8_t *data, size_t size) {
  struct cdr_buf b, enc;
  const uint8_t *p;
  size_t n;
  cdr_buf_view(&b, data, size);
  cdr_buf_init(&enc, FUZZ_FRAME_MAX, 0);
  switch (which % 14) {
  case 0: {
    struct ipc_init m;
    if (ipc_get_init(&b, &m) == 0) {
      FUZZ_CHECK(ipc_put_init(&enc, &m) == 0);
      check_reencode(data, size, &enc);
    }
    break;
  }
  case 1: {
    struct ipc_init_ok m;
    if (ipc_get_init_ok(&b, &m) == 0) {
      FUZZ_CHECK(m.identity_spki_len > 0 && m.measurement_len > 0 && m.platform[0] != '\0');
      FUZZ_CHECK(ipc_put_init_ok(&enc, &m) == 0);
      check_reencode(data, size, &enc);
    }
    break;
  }
  case 2: {
    uint8_t nonce[CDR_NONCE_LEN];
    if (ipc_get_attest(&b, nonce) == 0) {
      FUZZ_CHECK(ipc_put_attest(&enc, nonce) == 0);
      check_reencode(data, size, &enc);
    }
    break;
  }
  case 3: {
    struct ipc_attest_ok m;
    if (ipc_get_attest_ok(&b, &m) == 0) {
      FUZZ_CHECK(m.ncerts <= IPC_ATTEST_MAX_CERTS);
      FUZZ_CHECK(ipc_put_attest_ok(&enc, &m) == 0);
      check_reencode(data, size, &enc);
    }
    break;
  }
  case 4:
    if (ipc_get_load(&b, &p, &n) == 0) {
      FUZZ_CHECK(ipc_put_load(&enc, p, n) == 0);
      check_reencode(data, size, &enc);
    }
    break;
  case 5: {
    char(*ids)[IPC_TABLE_ID_LEN + 1] = NULL;
    uint32_t count = 0;
    if (ipc_get_load_want(&b, &ids, &count) == 0) {
      FUZZ_CHECK(ipc_put_load_want_count(&enc, count) == 0);
      for (uint32_t i = 0; i < count; i++)
        FUZZ_CHECK(ipc_put_table_id(&enc, ids[i]) == 0);
      check_reencode(data, size, &enc);
    }
    free(ids);
    break;
  }
  case 6: {
    struct ipc_load_chunk m;
    if (ipc_get_load_chunk(&b, &m) == 0) {
      FUZZ_CHECK(m.last <= 1 && strlen(m.id) == IPC_TABLE_ID_LEN);
      FUZZ_CHECK(ipc_put_load_chunk(&enc, &m) == 0);
      check_reencode(data, size, &enc);
    }
    break;
  }
  case 7:
    if (ipc_get_load_done(&b) == 0)
      FUZZ_CHECK(size == 0);
    break;
  case 8:
    if (ipc_get_crl(&b, &p, &n) == 0) {
      FUZZ_CHECK(ipc_put_crl(&enc, p, n) == 0);
      check_reencode(data, size, &enc);
    }
    break;
  case 9: {
    uint64_t number;
    uint32_t ended;
    if (ipc_get_crl_ok(&b, &number, &ended) == 0) {
      FUZZ_CHECK(ipc_put_crl_ok(&enc, number, ended) == 0);
      check_reencode(data, size, &enc);
    }
    break;
  }
  case 10: {
    char name[IPC_OBJECT_NAME_MAX + 1];
    uint64_t offset;
    uint32_t max;
    if (ipc_get_fetch(&b, name, &offset, &max) == 0) {
      FUZZ_CHECK(max >= 1 && max <= IPC_FETCH_MAX);
      FUZZ_CHECK(ipc_put_fetch(&enc, name, offset, max) == 0);
      check_reencode(data, size, &enc);
    }
    break;
  }
  case 12:
    if (ipc_get_propose(&b, &p, &n) == 0) {
      FUZZ_CHECK(n >= 1 && n <= CDR_CONTRACT_MAX_BYTES);
      FUZZ_CHECK(ipc_put_propose(&enc, p, n) == 0);
      check_reencode(data, size, &enc);
    }
    break;
  case 13: {
    uint64_t version;
    uint8_t hash[32];
    uint32_t voided;
    if (ipc_get_propose_ok(&b, &version, hash, &voided) == 0) {
      FUZZ_CHECK(ipc_put_propose_ok(&enc, version, hash, voided) == 0);
      check_reencode(data, size, &enc);
    }
    break;
  }
  default: {
    int found = -1;
    if (ipc_get_fetched(&b, IPC_FETCH_MAX, &found, &p, &n) == 0) {
      FUZZ_CHECK(found == 1 || n == 0);
      FUZZ_CHECK(ipc_put_fetched(&enc, found, p, n) == 0);
      check_reencode(data, size, &enc);
    }
    break;
  }
  }
  cdr_buf_free(&enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  uint8_t mode = data[0] % 3;
  if (mode == 2) {
    if (size >= 2 && data[1] >= 0x80)
      decode_more((uint8_t)(data[1] - 0x80), data + 2, size - 2);
    else if (size >= 2)
      decode(data[1], data + 2, size - 2);
    return 0;
  }
  struct enclave *e = fx_enclave_new();
  if (mode == 1)
    fx_enclave_ready(e);
  serve(e, data + 1, size - 1);
  fx_enclave_free(e);
  return 0;
}
