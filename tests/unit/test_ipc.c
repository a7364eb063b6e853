/*
 * test_ipc.c - unit tests for src/ipc: framing (frame.c), the payload
 * codecs (messages.c: for each, a round trip, every truncation, one byte
 * over each cap and a trailing byte) and the host's enclave link
 * (host/enclave_link.c, enclave_call.c, enclave_stubs.c).
 *
 * The stubs are tested against a fake enclave: this same executable,
 * started by enclave_link_start as `test_ipc --room MODE --ipc-fd 3`
 * (the "room" argument selects the fake's behaviour).  The fake answers
 * with canned replies, and on request misbehaves (garbage frame, dying,
 * ignoring EOF) so that the link's failure handling is exercised.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/limits.h"
#include "common/log.h"
#include "host/enclave_link.h"
#include "ipc/messages.h"
#include "testlib.h"

static const uint8_t FAKE_SPKI[] = "SPKI-DER";
static const uint8_t FAKE_CA[] = "CA-DER";
static const uint8_t FAKE_ROOM_ID[CDR_ROOM_ID_BYTES] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

/* ---------------------------------------------------------------- */
/* The fake enclave                                                  */
/* ---------------------------------------------------------------- */

static int fake_reply(int fd, uint32_t type, struct cdr_buf *out) {
  int r = ipc_frame_write(fd, type, out);
  cdr_buf_free(out);
  return r;
}

/* The fake serves every lane the link made (docs/ARCHITECTURE.md,
 * "Concurrency"): the control lane (fd 3) and, with --workers W, the
 * work lanes (fds 5 .. 4 + W; fd 4, the audit lane, stays silent), one
 * frame at a time from whichever is readable, each answered on its own. */
static int fake_next_lane(int workers) {
  struct pollfd p[1 + 16];
  int n = 0;
  p[n++] = (struct pollfd){.fd = 3, .events = POLLIN};
  for (int i = 0; i < workers && i < 16; i++)
    p[n++] = (struct pollfd){.fd = 5 + i, .events = POLLIN};
  while (poll(p, (nfds_t)n, -1) < 0)
    ;
  for (int i = 0; i < n; i++)
    if (p[i].revents != 0)
      return p[i].fd;
  return 3;
}

static int fake_enclave_main(const char *mode, int workers) {
  int fd = 3;
  struct cdr_buf in, out;
  uint32_t type;
  int r;

  cdr_buf_init(&in, CDR_IPC_MAX_FRAME, 0);
  cdr_buf_init(&out, CDR_IPC_MAX_FRAME, 0);
  for (;;) {
    fd = fake_next_lane(workers);
    if ((r = ipc_frame_read(fd, &type, &in, CDR_IPC_MAX_FRAME)) != 0) {
      if (strcmp(mode, "hang") == 0)
        sleep(30); /* ignore EOF: the host must kill us */
      return r == CDR_ERR_IO ? 0 : 1;
    }
    if (type == IPC_INIT) {
      struct ipc_init m;
      if (ipc_get_init(&in, &m) != 0 || memcmp(m.room_id, FAKE_ROOM_ID, sizeof(m.room_id)) != 0 ||
          m.ca_len != sizeof(FAKE_CA) || memcmp(m.ca_der, FAKE_CA, m.ca_len) != 0)
        return 1;
      if (strcmp(mode, "errinit") == 0) {
        if (ipc_put_error(&out, CDR_ERR_CERT_INVALID, "bad CA") != 0)
          return 1;
        (void)fake_reply(fd, IPC_ERROR, &out);
        continue;
      }
      if (strcmp(mode, "badinit") == 0) {
        (void)fake_reply(fd, IPC_ATTEST_OK, &out);
        continue;
      }
      uint8_t meas[CDR_MEASUREMENT_LEN];
      struct ipc_init_ok ok = {.identity_spki = FAKE_SPKI, .identity_spki_len = sizeof(FAKE_SPKI),
                               .measurement = meas, .measurement_len = sizeof(meas), .platform = "sim",
                               .new_sealed_identity = (const uint8_t *)"SEALED", .new_sealed_identity_len = 6};
      memset(meas, 0xAB, sizeof(meas));
      if (ipc_put_init_ok(&out, &ok) != 0)
        return 1;
      (void)fake_reply(fd, IPC_INIT_OK, &out);
    } else if (type == IPC_ATTEST) {
      uint8_t nonce[CDR_NONCE_LEN];
      if (ipc_get_attest(&in, nonce) != 0)
        return 1;
      /* By hand: 9 is over the cap, which ipc_put_attest_ok refuses. */
      uint32_t ncerts = nonce[0] == 0xEE ? 9 : 2;
      if (cdr_buf_put_lpstr(&out, "sim") != 0 || cdr_buf_put_lp(&out, nonce, sizeof(nonce)) != 0 ||
          cdr_buf_put_u32(&out, ncerts) != 0)
        return 1;
      for (uint32_t i = 0; i < ncerts; i++)
        if (cdr_buf_put_lpstr(&out, i % 2 ? "cert-bb" : "cert-a") != 0)
          return 1;
      uint8_t contract[32];
      memset(contract, 0xC7, sizeof(contract));
      if (cdr_buf_put_u64(&out, 2) != 0 || cdr_buf_put(&out, contract, sizeof(contract)) != 0)
        return 1;
      (void)fake_reply(fd, IPC_ATTEST_OK, &out);
    } else if (type == IPC_OPEN) {
      struct cdr_open_req q;
      struct cdr_open_resp p;
      if (ipc_get_open(&in, &q) != 0)
        return 1;
      if (q.timestamp == 1) {
        if (ipc_put_error(&out, CDR_ERR_CLOCK_SKEW, "timestamp out of window") != 0)
          return 1;
        (void)fake_reply(fd, IPC_ERROR, &out);
        continue;
      }
      memset(&p, 0, sizeof(p));
      memcpy(p.session_id, q.client_nonce, sizeof(p.session_id));
      p.expires_at = q.timestamp + 3600;
      p.kem = CDR_KEM_ECDH_P256;
      p.encap = q.client_share;
      p.encap_len = sizeof(q.client_share);
      p.sealed = (const uint8_t *)"sealed";
      p.sealed_len = 6;
      p.sig = q.sig;
      p.sig_len = q.sig_len;
      if (ipc_put_open_ok(&out, &p) != 0)
        return 1;
      (void)fake_reply(fd, IPC_OPEN_OK, &out);
    } else if (type == IPC_REQUEST) {
      struct cdr_request_env e;
      struct cdr_response_env p;
      if (ipc_get_request(&in, &e) != 0)
        return 1;
      if (e.seq == 99) { /* garbage: a type the host never expects */
        (void)fake_reply(fd, 42, &out);
        continue;
      }
      if (e.seq == 98)
        _exit(3);
      if (e.seq == 97) { /* an audit append not waited for, then the answer */
        struct cdr_buf st;
        cdr_buf_init(&st, 4096, 0);
        if (cdr_buf_put_u32(&st, 1) != 0 || ipc_put_store_item(&st, IPC_STORE_APPEND_LAZY, "audit", "entry", 5) != 0 ||
            ipc_frame_write(fd, IPC_STORE_NOWAIT, &st) != 0)
          return 1;
        cdr_buf_free(&st);
      }
      memset(&p, 0, sizeof(p));
      memcpy(p.session_id, e.session_id, sizeof(p.session_id));
      p.seq = e.seq;
      p.status = e.seq == 2 ? CDR_STATUS_FAILED : CDR_STATUS_OK;
      p.ct = e.ct;
      p.ct_len = e.ct_len;
      if (ipc_put_response(&out, &p) != 0)
        return 1;
      (void)fake_reply(fd, IPC_RESPONSE, &out);
    } else {
      return 1;
    }
  }
}

/* ---------------------------------------------------------------- */
/* Framing                                                           */
/* ---------------------------------------------------------------- */

static void test_frame_roundtrip(void) {
  int sv[2];
  struct cdr_buf out, in;
  uint32_t type = 0;

  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  cdr_buf_init(&out, 1024, 0);
  cdr_buf_init(&in, CDR_IPC_MAX_FRAME, 0);
  CHECK_RC(cdr_buf_put(&out, "hello, enclave", 14), 0);
  CHECK_RC(ipc_frame_write(sv[0], IPC_REQUEST, &out), 0);
  CHECK_RC(ipc_frame_read(sv[1], &type, &in, CDR_IPC_MAX_FRAME), 0);
  CHECK(type == IPC_REQUEST);
  CHECK(cdr_buf_avail(&in) == 14 && memcmp(cdr_buf_ptr(&in), "hello, enclave", 14) == 0);

  /* An empty payload is a valid frame. */
  CHECK_RC(ipc_frame_write(sv[0], IPC_ATTEST, NULL), 0);
  CHECK_RC(ipc_frame_read(sv[1], &type, &in, CDR_IPC_MAX_FRAME), 0);
  CHECK(type == IPC_ATTEST && cdr_buf_avail(&in) == 0);

  /* A frame over the caller's max_len is refused even if the buffer could hold it. */
  CHECK_RC(ipc_frame_write(sv[0], IPC_REQUEST, &out), 0);
  CHECK_RC(ipc_frame_read(sv[1], &type, &in, 10), CDR_ERR_TOO_LARGE);

  CHECK_STR(ipc_msg_name(IPC_OPEN_OK), "OPEN_OK");
  CHECK_STR(ipc_msg_name(1000), "?");
  cdr_buf_free(&out);
  cdr_buf_free(&in);
  close(sv[0]);
  close(sv[1]);
}

static void test_frame_giant_header(void) {
  int sv[2];
  struct cdr_buf in;
  uint32_t type = 0;
  /* type 7, length 0xFFFFFFF0, and no payload at all */
  const uint8_t hdr[8] = {0, 0, 0, 7, 0xFF, 0xFF, 0xFF, 0xF0};

  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  cdr_buf_init(&in, CDR_IPC_MAX_FRAME, 0);
  CHECK(write(sv[0], hdr, sizeof(hdr)) == (ssize_t)sizeof(hdr));
  CHECK_RC(ipc_frame_read(sv[1], &type, &in, CDR_IPC_MAX_FRAME), CDR_ERR_TOO_LARGE);
  CHECK(in.d == NULL && in.cap == 0); /* nothing was allocated */
  CHECK(type == 0);
  cdr_buf_free(&in);
  close(sv[0]);
  close(sv[1]);
}

static void test_frame_truncated(void) {
  int sv[2];
  struct cdr_buf in;
  uint32_t type = 0;
  const uint8_t frame[8 + 5] = {0, 0, 0, 7, 0, 0, 0, 10, 'a', 'b', 'c', 'd', 'e'};

  /* Header promises 10 bytes, 5 arrive, then EOF. */
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  cdr_buf_init(&in, CDR_IPC_MAX_FRAME, 0);
  CHECK(write(sv[0], frame, sizeof(frame)) == (ssize_t)sizeof(frame));
  close(sv[0]);
  CHECK_RC(ipc_frame_read(sv[1], &type, &in, CDR_IPC_MAX_FRAME), CDR_ERR_IO);
  cdr_buf_free(&in);
  close(sv[1]);

  /* Half a header, then EOF. */
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  CHECK(write(sv[0], frame, 3) == 3);
  close(sv[0]);
  CHECK_RC(ipc_frame_read(sv[1], &type, &in, CDR_IPC_MAX_FRAME), CDR_ERR_IO);
  cdr_buf_free(&in);
  close(sv[1]);

  /* Writing to a closed peer is CDR_ERR_IO (SIGPIPE is ignored in main). */
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  close(sv[1]);
  CHECK_RC(ipc_frame_write(sv[0], IPC_ATTEST, NULL), CDR_ERR_IO);
  close(sv[0]);
}

/* ---------------------------------------------------------------- */
/* Codecs                                                            */
/* ---------------------------------------------------------------- */

/* Encode with put, append `extra` bytes, decode with get into a view. */
#define ENCODE(buf, put, val) \
  do { \
    cdr_buf_init(&(buf), CDR_IPC_MAX_FRAME, 0); \
    CHECK_RC(put(&(buf), (val)), 0); \
  } while (0)

static void fill(uint8_t *p, size_t n, uint8_t seed) {
  for (size_t i = 0; i < n; i++)
    p[i] = (uint8_t)(seed + i);
}

/* A copy of enc with the u32 length at byte offset `at` replaced by len
 * and the field's bytes resized to match (so only that field is wrong). */
static void resize_field(struct cdr_buf *dst, const struct cdr_buf *enc, size_t at, uint32_t newlen) {
  const uint8_t *p = cdr_buf_ptr(enc);
  uint32_t oldlen = (uint32_t)p[at] << 24 | (uint32_t)p[at + 1] << 16 | (uint32_t)p[at + 2] << 8 | p[at + 3];
  uint8_t *filler = calloc(1, newlen ? newlen : 1);
  cdr_buf_init(dst, CDR_IPC_MAX_FRAME * 2u, 0);
  CHECK_RC(cdr_buf_put(dst, p, at), 0);
  CHECK_RC(cdr_buf_put_lp(dst, filler, newlen), 0);
  CHECK_RC(cdr_buf_put(dst, p + at + 4 + oldlen, cdr_buf_avail(enc) - at - 4 - oldlen), 0);
  free(filler);
}

static void test_codec_open(void) {
  uint8_t cert[300], spki[91], sig[72];
  struct cdr_open_req q, g;
  struct cdr_buf enc, view, bad;

  fill(cert, sizeof(cert), 1);
  fill(spki, sizeof(spki), 2);
  fill(sig, sizeof(sig), 3);
  memset(&q, 0, sizeof(q));
  q.version = 1;
  q.cert_der = cert;
  q.cert_len = sizeof(cert);
  q.user_spki = spki;
  q.user_spki_len = sizeof(spki);
  fill(q.client_share, sizeof(q.client_share), 4);
  fill(q.client_nonce, sizeof(q.client_nonce), 5);
  q.timestamp = 1700000000;
  q.sig = sig;
  q.sig_len = sizeof(sig);
  ENCODE(enc, ipc_put_open, &q);

  cdr_buf_view(&view, cdr_buf_ptr(&enc), cdr_buf_avail(&enc));
  CHECK_RC(ipc_get_open(&view, &g), 0);
  CHECK(g.version == 1 && g.timestamp == 1700000000);
  CHECK(g.cert_len == sizeof(cert) && memcmp(g.cert_der, cert, sizeof(cert)) == 0);
  CHECK(g.user_spki_len == sizeof(spki) && memcmp(g.user_spki, spki, sizeof(spki)) == 0);
  CHECK(memcmp(g.client_share, q.client_share, sizeof(q.client_share)) == 0);
  CHECK(memcmp(g.client_nonce, q.client_nonce, sizeof(q.client_nonce)) == 0);
  CHECK(g.sig_len == sizeof(sig) && memcmp(g.sig, sig, sizeof(sig)) == 0);

  /* Trailing byte. */
  cdr_buf_init(&bad, CDR_IPC_MAX_FRAME, 0);
  CHECK_RC(cdr_buf_put(&bad, cdr_buf_ptr(&enc), cdr_buf_avail(&enc)), 0);
  CHECK_RC(cdr_buf_put_u8(&bad, 0), 0);
  CHECK_RC(ipc_get_open(&bad, &g), CDR_ERR_TRUNCATED);
  cdr_buf_free(&bad);

  /* Truncated by one byte. */
  cdr_buf_view(&view, cdr_buf_ptr(&enc), cdr_buf_avail(&enc) - 1);
  CHECK_RC(ipc_get_open(&view, &g), CDR_ERR_TRUNCATED);

  /* Offsets: cert at 0, spki at 4+300, share at +4+91, nonce at +4+65. */
  size_t at_share = 4 + sizeof(cert) + 4 + sizeof(spki);
  size_t at_nonce = at_share + 4 + CDR_P256_POINT_LEN;
  resize_field(&bad, &enc, at_share, CDR_P256_POINT_LEN - 1);
  CHECK_RC(ipc_get_open(&bad, &g), CDR_ERR_TRUNCATED);
  cdr_buf_free(&bad);
  resize_field(&bad, &enc, at_nonce, CDR_NONCE_LEN - 1);
  CHECK_RC(ipc_get_open(&bad, &g), CDR_ERR_TRUNCATED);
  cdr_buf_free(&bad);
  /* A fixed field that is too long is refused by the cap (buf.h). */
  resize_field(&bad, &enc, at_nonce, CDR_NONCE_LEN + 1);
  CHECK_RC(ipc_get_open(&bad, &g), CDR_ERR_TOO_LARGE);
  cdr_buf_free(&bad);
  /* Oversized lp: a certificate one byte over the cap. */
  resize_field(&bad, &enc, 0, CDR_MAX_CERT_DER + 1);
  CHECK_RC(ipc_get_open(&bad, &g), CDR_ERR_TOO_LARGE);
  cdr_buf_free(&bad);
  /* ... and at the cap it is accepted. */
  resize_field(&bad, &enc, 0, CDR_MAX_CERT_DER);
  CHECK_RC(ipc_get_open(&bad, &g), 0);
  cdr_buf_free(&bad);
  cdr_buf_free(&enc);
}

static void test_codec_open_ok(void) {
  uint8_t encap[65], sealed[105], sig[70];
  struct cdr_open_resp p, g;
  struct cdr_buf enc, view, bad;

  fill(encap, sizeof(encap), 7);
  fill(sealed, sizeof(sealed), 8);
  fill(sig, sizeof(sig), 9);
  memset(&p, 0, sizeof(p));
  fill(p.session_id, sizeof(p.session_id), 10);
  p.expires_at = 1700003600;
  p.kem = CDR_KEM_RSA_OAEP_SHA256;
  p.encap = encap;
  p.encap_len = sizeof(encap);
  p.sealed = sealed;
  p.sealed_len = sizeof(sealed);
  p.sig = sig;
  p.sig_len = sizeof(sig);
  ENCODE(enc, ipc_put_open_ok, &p);

  cdr_buf_view(&view, cdr_buf_ptr(&enc), cdr_buf_avail(&enc));
  CHECK_RC(ipc_get_open_ok(&view, &g), 0);
  CHECK(memcmp(g.session_id, p.session_id, sizeof(p.session_id)) == 0);
  CHECK(g.expires_at == 1700003600 && g.kem == CDR_KEM_RSA_OAEP_SHA256);
  CHECK(g.encap_len == sizeof(encap) && memcmp(g.encap, encap, sizeof(encap)) == 0);
  CHECK(g.sealed_len == sizeof(sealed) && memcmp(g.sealed, sealed, sizeof(sealed)) == 0);
  CHECK(g.sig_len == sizeof(sig) && memcmp(g.sig, sig, sizeof(sig)) == 0);

  cdr_buf_init(&bad, CDR_IPC_MAX_FRAME, 0);
  CHECK_RC(cdr_buf_put(&bad, cdr_buf_ptr(&enc), cdr_buf_avail(&enc)), 0);
  CHECK_RC(cdr_buf_put_u8(&bad, 0), 0);
  CHECK_RC(ipc_get_open_ok(&bad, &g), CDR_ERR_TRUNCATED);
  cdr_buf_free(&bad);

  resize_field(&bad, &enc, 0, CDR_SESSION_ID_LEN - 1);
  CHECK_RC(ipc_get_open_ok(&bad, &g), CDR_ERR_TRUNCATED);
  cdr_buf_free(&bad);
  /* encap after session_id(4+16), expires_at(8), kem(1); cap 1024. */
  resize_field(&bad, &enc, 4 + CDR_SESSION_ID_LEN + 8 + 1, 1025);
  CHECK_RC(ipc_get_open_ok(&bad, &g), CDR_ERR_TOO_LARGE);
  cdr_buf_free(&bad);
  cdr_buf_free(&enc);
}

static void test_codec_request(void) {
  uint8_t ct[333], sig[64];
  struct cdr_request_env e, g;
  struct cdr_buf enc, view, bad;

  fill(ct, sizeof(ct), 11);
  fill(sig, sizeof(sig), 12);
  memset(&e, 0, sizeof(e));
  fill(e.session_id, sizeof(e.session_id), 13);
  e.seq = 42;
  e.timestamp = 1700000001;
  e.ct = ct;
  e.ct_len = sizeof(ct);
  e.sig = sig;
  e.sig_len = sizeof(sig);
  ENCODE(enc, ipc_put_request, &e);

  cdr_buf_view(&view, cdr_buf_ptr(&enc), cdr_buf_avail(&enc));
  CHECK_RC(ipc_get_request(&view, &g), 0);
  CHECK(memcmp(g.session_id, e.session_id, sizeof(e.session_id)) == 0);
  CHECK(g.seq == 42 && g.timestamp == 1700000001);
  CHECK(g.ct_len == sizeof(ct) && memcmp(g.ct, ct, sizeof(ct)) == 0);
  CHECK(g.sig_len == sizeof(sig) && memcmp(g.sig, sig, sizeof(sig)) == 0);

  cdr_buf_init(&bad, CDR_IPC_MAX_FRAME, 0);
  CHECK_RC(cdr_buf_put(&bad, cdr_buf_ptr(&enc), cdr_buf_avail(&enc)), 0);
  CHECK_RC(cdr_buf_put_u8(&bad, 0), 0);
  CHECK_RC(ipc_get_request(&bad, &g), CDR_ERR_TRUNCATED);
  cdr_buf_free(&bad);

  resize_field(&bad, &enc, 0, CDR_SESSION_ID_LEN + 1);
  CHECK_RC(ipc_get_request(&bad, &g), CDR_ERR_TOO_LARGE);
  cdr_buf_free(&bad);
  resize_field(&bad, &enc, 0, 0);
  CHECK_RC(ipc_get_request(&bad, &g), CDR_ERR_TRUNCATED);
  cdr_buf_free(&bad);
  /* sig after session_id(20), seq(8), ts(8), ct(4+333). */
  resize_field(&bad, &enc, 4 + CDR_SESSION_ID_LEN + 16 + 4 + sizeof(ct), CDR_MAX_SIGNATURE + 1);
  CHECK_RC(ipc_get_request(&bad, &g), CDR_ERR_TOO_LARGE);
  cdr_buf_free(&bad);
  cdr_buf_free(&enc);
}

static void test_codec_response(void) {
  uint8_t ct[50];
  struct cdr_response_env e, g;
  struct cdr_buf enc, view, bad;

  fill(ct, sizeof(ct), 14);
  memset(&e, 0, sizeof(e));
  fill(e.session_id, sizeof(e.session_id), 15);
  e.seq = 7;
  e.status = CDR_STATUS_FAILED;
  e.ct = ct;
  e.ct_len = sizeof(ct);
  ENCODE(enc, ipc_put_response, &e);

  cdr_buf_view(&view, cdr_buf_ptr(&enc), cdr_buf_avail(&enc));
  CHECK_RC(ipc_get_response(&view, &g), 0);
  CHECK(memcmp(g.session_id, e.session_id, sizeof(e.session_id)) == 0);
  CHECK(g.seq == 7 && g.status == CDR_STATUS_FAILED);
  CHECK(g.ct_len == sizeof(ct) && memcmp(g.ct, ct, sizeof(ct)) == 0);

  cdr_buf_init(&bad, CDR_IPC_MAX_FRAME, 0);
  CHECK_RC(cdr_buf_put(&bad, cdr_buf_ptr(&enc), cdr_buf_avail(&enc)), 0);
  CHECK_RC(cdr_buf_put_u8(&bad, 0), 0);
  CHECK_RC(ipc_get_response(&bad, &g), CDR_ERR_TRUNCATED);
  cdr_buf_free(&bad);

  resize_field(&bad, &enc, 0, CDR_SESSION_ID_LEN - 2);
  CHECK_RC(ipc_get_response(&bad, &g), CDR_ERR_TRUNCATED);
  cdr_buf_free(&bad);

  /* A status other than 0 or 1. */
  e.status = 2;
  cdr_buf_init(&bad, CDR_IPC_MAX_FRAME, 0);
  CHECK_RC(ipc_put_response(&bad, &e), 0);
  CHECK_RC(ipc_get_response(&bad, &g), CDR_ERR_TRUNCATED);
  cdr_buf_free(&bad);
  cdr_buf_free(&enc);
}

static void test_codec_error(void) {
  struct cdr_buf enc, bad;
  char *msg = NULL;
  int err = 0;
  char big[CDR_MAX_ERROR_MSG + 100];

  cdr_buf_init(&enc, CDR_IPC_MAX_FRAME, 0);
  CHECK_RC(ipc_put_error(&enc, CDR_ERR_REPLAY, "seq 3 was already accepted"), 0);
  CHECK_RC(ipc_get_error(&enc, &err, &msg), 0);
  CHECK_RC(err, CDR_ERR_REPLAY);
  CHECK_STR(msg, "seq 3 was already accepted");
  free(msg);
  msg = NULL;
  cdr_buf_free(&enc);

  /* The encoder caps the message at CDR_MAX_ERROR_MSG. */
  memset(big, 'x', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  CHECK_RC(ipc_put_error(&enc, CDR_ERR_SQL_ERROR, big), 0);
  CHECK_RC(ipc_get_error(&enc, &err, &msg), 0);
  CHECK(msg != NULL && strlen(msg) == CDR_MAX_ERROR_MSG);
  free(msg);
  msg = NULL;
  cdr_buf_free(&enc);

  /* Out-of-range and zero indexes become CDR_ERR_INTERNAL. */
  const uint32_t idx[] = {(uint32_t)CDR_ERR__COUNT, 0xFFFFFFFFu, 0};
  for (size_t i = 0; i < sizeof(idx) / sizeof(idx[0]); i++) {
    err = 12345;
    cdr_buf_init(&bad, 1024, 0);
    CHECK_RC(cdr_buf_put_u32(&bad, idx[i]), 0);
    CHECK_RC(cdr_buf_put_lpstr(&bad, "x"), 0);
    CHECK_RC(ipc_get_error(&bad, &err, &msg), 0);
    CHECK_RC(err, CDR_ERR_INTERNAL);
    free(msg);
    msg = NULL;
    cdr_buf_free(&bad);
  }
  /* The last valid index still maps to itself. */
  cdr_buf_init(&bad, 1024, 0);
  CHECK_RC(cdr_buf_put_u32(&bad, (uint32_t)CDR_ERR__COUNT - 1), 0);
  CHECK_RC(cdr_buf_put_lpstr(&bad, ""), 0);
  CHECK_RC(ipc_get_error(&bad, &err, &msg), 0);
  CHECK(err == -((int)CDR_ERR__COUNT - 1));
  free(msg);
  msg = NULL;
  cdr_buf_free(&bad);

  /* Trailing bytes, an embedded NUL, an oversized message. */
  cdr_buf_init(&bad, 4096, 0);
  CHECK_RC(ipc_put_error(&bad, CDR_ERR_BUSY, "busy"), 0);
  CHECK_RC(cdr_buf_put_u8(&bad, 1), 0);
  CHECK_RC(ipc_get_error(&bad, &err, &msg), CDR_ERR_TRUNCATED);
  free(msg);
  msg = NULL;
  cdr_buf_free(&bad);

  cdr_buf_init(&bad, 4096, 0);
  CHECK_RC(cdr_buf_put_u32(&bad, (uint32_t)-CDR_ERR_BUSY), 0);
  CHECK_RC(cdr_buf_put_lp(&bad, "a\0b", 3), 0);
  CHECK_RC(ipc_get_error(&bad, &err, &msg), CDR_ERR_TRUNCATED);
  CHECK(msg == NULL);
  cdr_buf_free(&bad);

  cdr_buf_init(&bad, 4096, 0);
  CHECK_RC(cdr_buf_put_u32(&bad, (uint32_t)-CDR_ERR_BUSY), 0);
  CHECK_RC(cdr_buf_put_lp(&bad, big, CDR_MAX_ERROR_MSG + 1), 0);
  CHECK_RC(ipc_get_error(&bad, &err, &msg), CDR_ERR_TOO_LARGE);
  CHECK(msg == NULL);
  cdr_buf_free(&bad);
}

/* ---- the codecs of the start, load, revocation and storage payloads ---- */

/* Each decoder as int f(buffer), for the checks every codec gets. */
typedef int (*decode_fn)(struct cdr_buf *b);

static int dec_init(struct cdr_buf *b) {
  struct ipc_init m;
  return ipc_get_init(b, &m);
}
static int dec_init_ok(struct cdr_buf *b) {
  struct ipc_init_ok m;
  return ipc_get_init_ok(b, &m);
}
static int dec_attest(struct cdr_buf *b) {
  uint8_t nonce[CDR_NONCE_LEN];
  return ipc_get_attest(b, nonce);
}
static int dec_attest_ok(struct cdr_buf *b) {
  struct ipc_attest_ok m;
  return ipc_get_attest_ok(b, &m);
}
static int dec_load(struct cdr_buf *b) {
  const uint8_t *p;
  size_t n;
  return ipc_get_load(b, &p, &n);
}
static int dec_load_want(struct cdr_buf *b) {
  char(*ids)[IPC_TABLE_ID_LEN + 1] = NULL;
  uint32_t n = 0;
  int r = ipc_get_load_want(b, &ids, &n);
  free(ids);
  return r;
}
static int dec_load_chunk(struct cdr_buf *b) {
  struct ipc_load_chunk m;
  return ipc_get_load_chunk(b, &m);
}
static int dec_crl(struct cdr_buf *b) {
  const uint8_t *p;
  size_t n;
  return ipc_get_crl(b, &p, &n);
}
static int dec_crl_ok(struct cdr_buf *b) {
  uint64_t number;
  uint32_t ended;
  return ipc_get_crl_ok(b, &number, &ended);
}
#define FETCH_MAX_TEST 100u
static int dec_fetched(struct cdr_buf *b) {
  const uint8_t *p;
  size_t n;
  int found;
  return ipc_get_fetched(b, FETCH_MAX_TEST, &found, &p, &n);
}

/* What every codec must do: enc decodes, and every shorter prefix of it,
 * and enc with one trailing byte, are refused with CDR_ERR_TRUNCATED. */
static void check_exact(const struct cdr_buf *enc, decode_fn dec) {
  struct cdr_buf view, bad;
  size_t n = cdr_buf_avail(enc);
  cdr_buf_view(&view, cdr_buf_ptr(enc), n);
  CHECK_RC(dec(&view), 0);
  for (size_t cut = 0; cut < n; cut++) {
    cdr_buf_view(&view, cdr_buf_ptr(enc), cut);
    CHECK_RC(dec(&view), CDR_ERR_TRUNCATED);
  }
  cdr_buf_init(&bad, n + 1, 0);
  CHECK_RC(cdr_buf_put(&bad, cdr_buf_ptr(enc), n), 0);
  CHECK_RC(cdr_buf_put_u8(&bad, 0), 0);
  CHECK_RC(dec(&bad), CDR_ERR_TRUNCATED);
  cdr_buf_free(&bad);
}

/* enc with the lp field at `at` resized to newlen decodes to want. */
static void check_field(const struct cdr_buf *enc, size_t at, uint32_t newlen, decode_fn dec, int want) {
  struct cdr_buf bad;
  resize_field(&bad, enc, at, newlen);
  CHECK_RC(dec(&bad), want);
  cdr_buf_free(&bad);
}

/* An lp field at `at` that announces cap + 1 bytes, with none of them
 * there: the cap is checked before the length is trusted. */
static void check_announced_over_cap(const struct cdr_buf *enc, size_t at, uint32_t cap, decode_fn dec) {
  struct cdr_buf bad;
  cdr_buf_init(&bad, CDR_IPC_MAX_FRAME, 0);
  CHECK_RC(cdr_buf_put(&bad, cdr_buf_ptr(enc), at), 0);
  CHECK_RC(cdr_buf_put_u32(&bad, cap + 1u), 0);
  CHECK_RC(dec(&bad), CDR_ERR_TOO_LARGE);
  cdr_buf_free(&bad);
}

static void test_codec_init(void) {
  uint8_t ca[200], sealed[77];
  struct ipc_init m, g;
  struct cdr_buf enc, view;

  memset(&m, 0, sizeof(m));
  fill(m.room_id, sizeof(m.room_id), 20);
  fill(ca, sizeof(ca), 21);
  fill(sealed, sizeof(sealed), 22);
  m.ca_der = ca;
  m.ca_len = sizeof(ca);
  m.sealed_identity = sealed;
  m.sealed_identity_len = sizeof(sealed);
  ENCODE(enc, ipc_put_init, &m);
  cdr_buf_view(&view, cdr_buf_ptr(&enc), cdr_buf_avail(&enc));
  CHECK_RC(ipc_get_init(&view, &g), 0);
  CHECK(memcmp(g.room_id, m.room_id, sizeof(m.room_id)) == 0);
  CHECK(g.ca_len == sizeof(ca) && memcmp(g.ca_der, ca, sizeof(ca)) == 0);
  CHECK(g.sealed_identity_len == sizeof(sealed) && memcmp(g.sealed_identity, sealed, sizeof(sealed)) == 0);
  check_exact(&enc, dec_init);

  size_t at_ca = 4 + CDR_ROOM_ID_BYTES, at_sealed = at_ca + 4 + sizeof(ca);
  check_field(&enc, 0, CDR_ROOM_ID_BYTES - 1, dec_init, CDR_ERR_TRUNCATED);
  check_field(&enc, 0, CDR_ROOM_ID_BYTES + 1, dec_init, CDR_ERR_TOO_LARGE);
  check_field(&enc, at_ca, CDR_MAX_CERT_DER + 1, dec_init, CDR_ERR_TOO_LARGE);
  check_field(&enc, at_ca, CDR_MAX_CERT_DER, dec_init, 0);
  check_field(&enc, at_sealed, IPC_SEALED_IDENTITY_MAX + 1, dec_init, CDR_ERR_TOO_LARGE);
  check_field(&enc, at_sealed, IPC_SEALED_IDENTITY_MAX, dec_init, 0);
  check_field(&enc, at_sealed, 0, dec_init, 0); /* a first start */
  cdr_buf_free(&enc);
}

static void test_codec_init_ok(void) {
  uint8_t spki[91], meas[48], sealed[100];
  struct ipc_init_ok m, g;
  struct cdr_buf enc, view, bad;

  memset(&m, 0, sizeof(m));
  fill(spki, sizeof(spki), 23);
  fill(meas, sizeof(meas), 24);
  fill(sealed, sizeof(sealed), 25);
  m.identity_spki = spki;
  m.identity_spki_len = sizeof(spki);
  m.measurement = meas;
  m.measurement_len = sizeof(meas);
  snprintf(m.platform, sizeof(m.platform), "nitro");
  m.new_sealed_identity = sealed;
  m.new_sealed_identity_len = sizeof(sealed);
  ENCODE(enc, ipc_put_init_ok, &m);
  cdr_buf_view(&view, cdr_buf_ptr(&enc), cdr_buf_avail(&enc));
  CHECK_RC(ipc_get_init_ok(&view, &g), 0);
  CHECK(g.identity_spki_len == sizeof(spki) && memcmp(g.identity_spki, spki, sizeof(spki)) == 0);
  CHECK(g.measurement_len == sizeof(meas) && memcmp(g.measurement, meas, sizeof(meas)) == 0);
  CHECK_STR(g.platform, "nitro");
  CHECK(g.new_sealed_identity_len == sizeof(sealed) && memcmp(g.new_sealed_identity, sealed, sizeof(sealed)) == 0);
  check_exact(&enc, dec_init_ok);

  size_t at_meas = 4 + sizeof(spki), at_platform = at_meas + 4 + sizeof(meas), at_sealed = at_platform + 4 + 5;
  check_field(&enc, 0, CDR_MAX_PUBKEY_DER + 1, dec_init_ok, CDR_ERR_TOO_LARGE);
  check_field(&enc, 0, 0, dec_init_ok, CDR_ERR_TRUNCATED); /* no identity key */
  check_field(&enc, at_meas, CDR_MEASUREMENT_MAX + 1, dec_init_ok, CDR_ERR_TOO_LARGE);
  check_field(&enc, at_meas, CDR_MEASUREMENT_MAX, dec_init_ok, 0);
  check_field(&enc, at_meas, 0, dec_init_ok, CDR_ERR_TRUNCATED);
  check_field(&enc, at_platform, IPC_PLATFORM_MAX + 1, dec_init_ok, CDR_ERR_TOO_LARGE);
  check_field(&enc, at_platform, 0, dec_init_ok, CDR_ERR_TRUNCATED);
  check_field(&enc, at_platform, 3, dec_init_ok, CDR_ERR_TRUNCATED); /* NUL bytes: not printable */
  check_field(&enc, at_sealed, IPC_SEALED_IDENTITY_MAX + 1, dec_init_ok, CDR_ERR_TOO_LARGE);
  check_field(&enc, at_sealed, 0, dec_init_ok, 0);
  /* A platform name at the cap is taken whole. */
  memset(m.platform, 'p', IPC_PLATFORM_MAX);
  m.platform[IPC_PLATFORM_MAX] = '\0';
  ENCODE(bad, ipc_put_init_ok, &m);
  CHECK_RC(ipc_get_init_ok(&bad, &g), 0);
  CHECK(strlen(g.platform) == IPC_PLATFORM_MAX);
  cdr_buf_free(&bad);
  /* ... and one with a space in it is not a platform name. */
  snprintf(m.platform, sizeof(m.platform), "s m");
  ENCODE(bad, ipc_put_init_ok, &m);
  CHECK_RC(ipc_get_init_ok(&bad, &g), CDR_ERR_TRUNCATED);
  cdr_buf_free(&bad);
  cdr_buf_free(&enc);
}

static void test_codec_attest(void) {
  uint8_t nonce[CDR_NONCE_LEN], got[CDR_NONCE_LEN];
  struct cdr_buf enc, view;

  fill(nonce, sizeof(nonce), 26);
  ENCODE(enc, ipc_put_attest, nonce);
  cdr_buf_view(&view, cdr_buf_ptr(&enc), cdr_buf_avail(&enc));
  CHECK_RC(ipc_get_attest(&view, got), 0);
  CHECK(memcmp(got, nonce, sizeof(nonce)) == 0);
  check_exact(&enc, dec_attest);
  check_field(&enc, 0, CDR_NONCE_LEN - 1, dec_attest, CDR_ERR_TRUNCATED);
  check_field(&enc, 0, CDR_NONCE_LEN + 1, dec_attest, CDR_ERR_TOO_LARGE);
  cdr_buf_free(&enc);
}

static void test_codec_attest_ok(void) {
  uint8_t evidence[300], c0[40], c1[41];
  struct ipc_attest_ok m, g;
  struct cdr_buf enc, view, bad;

  memset(&m, 0, sizeof(m));
  fill(evidence, sizeof(evidence), 27);
  fill(c0, sizeof(c0), 28);
  fill(c1, sizeof(c1), 29);
  snprintf(m.platform, sizeof(m.platform), "snp");
  m.evidence = evidence;
  m.evidence_len = sizeof(evidence);
  m.ncerts = 2;
  m.certs[0] = c0;
  m.cert_lens[0] = sizeof(c0);
  m.certs[1] = c1;
  m.cert_lens[1] = sizeof(c1);
  m.contract_version = 7;
  fill(m.contract_sha256, sizeof(m.contract_sha256), 30);
  ENCODE(enc, ipc_put_attest_ok, &m);
  cdr_buf_view(&view, cdr_buf_ptr(&enc), cdr_buf_avail(&enc));
  CHECK_RC(ipc_get_attest_ok(&view, &g), 0);
  CHECK_STR(g.platform, "snp");
  CHECK(g.contract_version == 7 && memcmp(g.contract_sha256, m.contract_sha256, 32) == 0);
  CHECK(g.evidence_len == sizeof(evidence) && memcmp(g.evidence, evidence, sizeof(evidence)) == 0);
  CHECK(g.ncerts == 2 && g.cert_lens[0] == sizeof(c0) && memcmp(g.certs[0], c0, sizeof(c0)) == 0);
  CHECK(g.cert_lens[1] == sizeof(c1) && memcmp(g.certs[1], c1, sizeof(c1)) == 0);
  check_exact(&enc, dec_attest_ok);

  size_t at_evidence = 4 + 3, at_ncerts = at_evidence + 4 + sizeof(evidence), at_c0 = at_ncerts + 4;
  check_field(&enc, 0, IPC_PLATFORM_MAX + 1, dec_attest_ok, CDR_ERR_TOO_LARGE);
  check_field(&enc, 0, 0, dec_attest_ok, CDR_ERR_TRUNCATED);
  check_field(&enc, at_evidence, IPC_EVIDENCE_MAX + 1, dec_attest_ok, CDR_ERR_TOO_LARGE);
  check_field(&enc, at_evidence, IPC_EVIDENCE_MAX, dec_attest_ok, 0);
  check_field(&enc, at_c0, CDR_MAX_CERT_DER + 1, dec_attest_ok, CDR_ERR_TOO_LARGE);
  check_field(&enc, at_c0, CDR_MAX_CERT_DER, dec_attest_ok, 0);
  check_field(&enc, at_c0, 0, dec_attest_ok, CDR_ERR_TRUNCATED); /* an empty certificate */
  /* One certificate over the count cap: refused by both sides. */
  cdr_buf_init(&bad, CDR_IPC_MAX_FRAME, 0);
  CHECK_RC(cdr_buf_put(&bad, cdr_buf_ptr(&enc), at_ncerts), 0);
  CHECK_RC(cdr_buf_put_u32(&bad, IPC_ATTEST_MAX_CERTS + 1), 0);
  for (uint32_t i = 0; i < IPC_ATTEST_MAX_CERTS + 1; i++)
    CHECK_RC(cdr_buf_put_lp(&bad, c0, sizeof(c0)), 0);
  CHECK_RC(ipc_get_attest_ok(&bad, &g), CDR_ERR_TOO_LARGE);
  cdr_buf_free(&bad);
  m.ncerts = IPC_ATTEST_MAX_CERTS + 1;
  cdr_buf_init(&bad, CDR_IPC_MAX_FRAME, 0);
  CHECK_RC(ipc_put_attest_ok(&bad, &m), CDR_ERR_TOO_LARGE);
  cdr_buf_free(&bad);
  /* No certificates at all (nitro's come inside the evidence). */
  m.ncerts = 0;
  ENCODE(bad, ipc_put_attest_ok, &m);
  check_exact(&bad, dec_attest_ok);
  cdr_buf_free(&bad);
  /* No contract yet: version 0 with the zero hash; a version without a
   * hash, or a hash without a version, is refused. */
  m.contract_version = 0;
  memset(m.contract_sha256, 0, sizeof(m.contract_sha256));
  ENCODE(bad, ipc_put_attest_ok, &m);
  check_exact(&bad, dec_attest_ok);
  cdr_buf_free(&bad);
  m.contract_version = 1;
  ENCODE(bad, ipc_put_attest_ok, &m);
  CHECK_RC(ipc_get_attest_ok(&bad, &g), CDR_ERR_TRUNCATED);
  cdr_buf_free(&bad);
  m.contract_version = 0;
  m.contract_sha256[5] = 1;
  ENCODE(bad, ipc_put_attest_ok, &m);
  CHECK_RC(ipc_get_attest_ok(&bad, &g), CDR_ERR_TRUNCATED);
  cdr_buf_free(&bad);
  cdr_buf_free(&enc);
}

/* IPC_CONTRACT_NOTICE: both versions round-trip; a version without its
 * document, or a number without a hash, is refused; "none" is all zero. */
static void test_codec_contract_notice(void) {
  static const uint8_t doc[] = "{\"type\":\"cdr-contract-1\"}";
  struct ipc_contract_notice m, g;
  struct cdr_buf enc, view;
  memset(&m, 0, sizeof(m));
  m.active.number = 3;
  fill(m.active.sha256, 32, 40);
  m.active.doc = doc;
  m.active.doc_len = sizeof(doc) - 1;
  m.pending_expires = 1700000000;
  ENCODE(enc, ipc_put_contract_notice, &m);
  cdr_buf_view(&view, cdr_buf_ptr(&enc), cdr_buf_avail(&enc));
  CHECK_RC(ipc_get_contract_notice(&view, &g), 0);
  CHECK(g.active.number == 3 && memcmp(g.active.sha256, m.active.sha256, 32) == 0 &&
        g.active.doc_len == m.active.doc_len && memcmp(g.active.doc, doc, m.active.doc_len) == 0);
  CHECK(g.pending.number == 0 && g.pending.doc_len == 0 && g.pending_expires == 1700000000);
  cdr_buf_free(&enc);
  m.pending.number = 4; /* a number without hash or document */
  ENCODE(enc, ipc_put_contract_notice, &m);
  cdr_buf_view(&view, cdr_buf_ptr(&enc), cdr_buf_avail(&enc));
  CHECK_RC(ipc_get_contract_notice(&view, &g), CDR_ERR_TRUNCATED);
  cdr_buf_free(&enc);
  m.pending.number = 0;
  m.active.doc_len = 0; /* a hash and number without the document */
  ENCODE(enc, ipc_put_contract_notice, &m);
  cdr_buf_view(&view, cdr_buf_ptr(&enc), cdr_buf_avail(&enc));
  CHECK_RC(ipc_get_contract_notice(&view, &g), CDR_ERR_TRUNCATED);
  cdr_buf_free(&enc);
}

static const char *const TABLE_IDS[] = {"0123456789abcdef0123456789abcdef", "ffffffffffffffffffffffffffffffff",
                                        "00000000000000000000000000000000"};

static void test_codec_load(void) {
  uint8_t manifest[500];
  const uint8_t *p;
  size_t n;
  struct cdr_buf enc, view, bad;
  char(*ids)[IPC_TABLE_ID_LEN + 1] = NULL;
  uint32_t count = 0;

  /* IPC_LOAD */
  fill(manifest, sizeof(manifest), 30);
  cdr_buf_init(&enc, CDR_IPC_MAX_FRAME, 0);
  CHECK_RC(ipc_put_load(&enc, manifest, sizeof(manifest)), 0);
  cdr_buf_view(&view, cdr_buf_ptr(&enc), cdr_buf_avail(&enc));
  CHECK_RC(ipc_get_load(&view, &p, &n), 0);
  CHECK(n == sizeof(manifest) && memcmp(p, manifest, n) == 0);
  check_exact(&enc, dec_load);
  check_field(&enc, 0, 0, dec_load, 0); /* no manifest yet */
  check_announced_over_cap(&enc, 0, IPC_MANIFEST_MAX, dec_load);
  cdr_buf_free(&enc);

  /* IPC_LOAD_WANT */
  cdr_buf_init(&enc, CDR_IPC_MAX_FRAME, 0);
  CHECK_RC(ipc_put_load_want_count(&enc, 3), 0);
  for (size_t i = 0; i < 3; i++)
    CHECK_RC(ipc_put_table_id(&enc, TABLE_IDS[i]), 0);
  cdr_buf_view(&view, cdr_buf_ptr(&enc), cdr_buf_avail(&enc));
  CHECK_RC(ipc_get_load_want(&view, &ids, &count), 0);
  CHECK(count == 3 && ids != NULL);
  for (size_t i = 0; ids != NULL && i < 3; i++)
    CHECK_STR(ids[i], TABLE_IDS[i]);
  free(ids);
  check_exact(&enc, dec_load_want);
  check_field(&enc, 4, IPC_TABLE_ID_LEN + 1, dec_load_want, CDR_ERR_TOO_LARGE);
  check_field(&enc, 4, IPC_TABLE_ID_LEN - 1, dec_load_want, CDR_ERR_TRUNCATED);
  cdr_buf_free(&enc);
  /* Not lowercase hex: the encoder and the decoder refuse it. */
  cdr_buf_init(&bad, 1024, 0);
  CHECK_RC(ipc_put_table_id(&bad, "0123456789ABCDEF0123456789abcdef"), CDR_ERR_ARG);
  CHECK_RC(ipc_put_table_id(&bad, "0123456789abcdef"), CDR_ERR_ARG);
  CHECK_RC(cdr_buf_put_u32(&bad, 1), 0);
  CHECK_RC(cdr_buf_put_lpstr(&bad, "0123456789abcdeg0123456789abcdef"), 0);
  CHECK_RC(dec_load_want(&bad), CDR_ERR_TRUNCATED);
  cdr_buf_free(&bad);
  /* The count: none is fine, one over the cap is refused by both sides,
   * and a count the payload cannot hold is refused before allocating. */
  cdr_buf_init(&bad, 1024, 0);
  CHECK_RC(ipc_put_load_want_count(&bad, 0), 0);
  check_exact(&bad, dec_load_want);
  cdr_buf_free(&bad);
  cdr_buf_init(&bad, 1024, 0);
  CHECK_RC(ipc_put_load_want_count(&bad, IPC_LOAD_MAX_TABLES + 1), CDR_ERR_TOO_LARGE);
  CHECK_RC(cdr_buf_put_u32(&bad, IPC_LOAD_MAX_TABLES + 1), 0);
  CHECK_RC(dec_load_want(&bad), CDR_ERR_TOO_LARGE);
  cdr_buf_free(&bad);
  cdr_buf_init(&bad, 1024, 0);
  CHECK_RC(cdr_buf_put_u32(&bad, IPC_LOAD_MAX_TABLES), 0);
  CHECK_RC(ipc_put_table_id(&bad, TABLE_IDS[0]), 0);
  CHECK_RC(dec_load_want(&bad), CDR_ERR_TRUNCATED);
  cdr_buf_free(&bad);

  /* IPC_LOAD_DONE: empty, and nothing else. */
  cdr_buf_init(&enc, 16, 0);
  CHECK_RC(ipc_put_load_done(&enc), 0);
  CHECK(cdr_buf_avail(&enc) == 0);
  check_exact(&enc, ipc_get_load_done);
  cdr_buf_free(&enc);
}

static void test_codec_load_chunk(void) {
  uint8_t data[1000];
  struct ipc_load_chunk m, g;
  struct cdr_buf enc, view, bad;

  memset(&m, 0, sizeof(m));
  fill(data, sizeof(data), 31);
  snprintf(m.id, sizeof(m.id), "%s", TABLE_IDS[0]);
  m.offset = 4u * CDR_MiB;
  m.data = data;
  m.len = sizeof(data);
  m.last = 1;
  ENCODE(enc, ipc_put_load_chunk, &m);
  cdr_buf_view(&view, cdr_buf_ptr(&enc), cdr_buf_avail(&enc));
  CHECK_RC(ipc_get_load_chunk(&view, &g), 0);
  CHECK_STR(g.id, TABLE_IDS[0]);
  CHECK(g.offset == 4u * CDR_MiB && g.last == 1);
  CHECK(g.len == sizeof(data) && memcmp(g.data, data, sizeof(data)) == 0);
  check_exact(&enc, dec_load_chunk);

  size_t at_data = 4 + IPC_TABLE_ID_LEN + 8;
  check_field(&enc, 0, IPC_TABLE_ID_LEN + 1, dec_load_chunk, CDR_ERR_TOO_LARGE);
  check_field(&enc, 0, IPC_TABLE_ID_LEN, dec_load_chunk, CDR_ERR_TRUNCATED); /* NUL bytes: not hex */
  check_field(&enc, at_data, IPC_LOAD_CHUNK_MAX + 1, dec_load_chunk, CDR_ERR_TOO_LARGE);
  check_field(&enc, at_data, IPC_LOAD_CHUNK_MAX, dec_load_chunk, 0);
  check_field(&enc, at_data, 0, dec_load_chunk, 0); /* an empty last chunk */
  /* last is 0 or 1. */
  m.last = 2;
  ENCODE(bad, ipc_put_load_chunk, &m);
  CHECK_RC(ipc_get_load_chunk(&bad, &g), CDR_ERR_TRUNCATED);
  cdr_buf_free(&bad);
  cdr_buf_free(&enc);
}

static void test_codec_crl(void) {
  uint8_t der[700];
  const uint8_t *p;
  size_t n;
  uint64_t number = 0;
  uint32_t ended = 0;
  struct cdr_buf enc, view;

  fill(der, sizeof(der), 32);
  cdr_buf_init(&enc, CDR_IPC_MAX_FRAME, 0);
  CHECK_RC(ipc_put_crl(&enc, der, sizeof(der)), 0);
  cdr_buf_view(&view, cdr_buf_ptr(&enc), cdr_buf_avail(&enc));
  CHECK_RC(ipc_get_crl(&view, &p, &n), 0);
  CHECK(n == sizeof(der) && memcmp(p, der, n) == 0);
  check_exact(&enc, dec_crl);
  check_field(&enc, 0, IPC_CRL_MAX + 1, dec_crl, CDR_ERR_TOO_LARGE);
  check_field(&enc, 0, IPC_CRL_MAX, dec_crl, 0);
  cdr_buf_free(&enc);

  cdr_buf_init(&enc, 64, 0);
  CHECK_RC(ipc_put_crl_ok(&enc, 0x0102030405060708ull, 77), 0);
  cdr_buf_view(&view, cdr_buf_ptr(&enc), cdr_buf_avail(&enc));
  CHECK_RC(ipc_get_crl_ok(&view, &number, &ended), 0);
  CHECK(number == 0x0102030405060708ull && ended == 77);
  check_exact(&enc, dec_crl_ok);
  cdr_buf_free(&enc);
}

static int dec_propose(struct cdr_buf *b) {
  const uint8_t *p;
  size_t n;
  return ipc_get_propose(b, &p, &n);
}
static int dec_propose_ok(struct cdr_buf *b) {
  uint64_t v;
  uint8_t h[32];
  uint32_t voided;
  return ipc_get_propose_ok(b, &v, h, &voided);
}

/* IPC_PROPOSE carries 1..CDR_CONTRACT_MAX_BYTES of document; PROPOSE_OK
 * the version, hash and voided count, exactly. */
static void test_codec_propose(void) {
  uint8_t doc[300], h[32], hb[32];
  const uint8_t *p;
  size_t n;
  uint64_t v = 0;
  uint32_t voided = 0;
  struct cdr_buf enc, view;
  fill(doc, sizeof(doc), 7);
  fill(h, sizeof(h), 9);
  cdr_buf_init(&enc, CDR_IPC_MAX_FRAME, 0);
  CHECK_RC(ipc_put_propose(&enc, doc, 0), CDR_ERR_TOO_LARGE);
  CHECK_RC(ipc_put_propose(&enc, doc, sizeof(doc)), 0);
  cdr_buf_view(&view, cdr_buf_ptr(&enc), cdr_buf_avail(&enc));
  CHECK_RC(ipc_get_propose(&view, &p, &n), 0);
  CHECK(n == sizeof(doc) && memcmp(p, doc, n) == 0);
  check_exact(&enc, dec_propose);
  check_field(&enc, 0, CDR_CONTRACT_MAX_BYTES + 1, dec_propose, CDR_ERR_TOO_LARGE);
  check_field(&enc, 0, 0, dec_propose, CDR_ERR_TRUNCATED);
  cdr_buf_free(&enc);
  cdr_buf_init(&enc, 64, 0);
  CHECK_RC(ipc_put_propose_ok(&enc, 3, h, 2), 0);
  cdr_buf_view(&view, cdr_buf_ptr(&enc), cdr_buf_avail(&enc));
  CHECK_RC(ipc_get_propose_ok(&view, &v, hb, &voided), 0);
  CHECK(v == 3 && memcmp(hb, h, 32) == 0 && voided == 2);
  check_exact(&enc, dec_propose_ok);
  cdr_buf_free(&enc);
}

static int dec_limits(struct cdr_buf *b) {
  struct cdr_room_limits l;
  return ipc_get_limits(b, &l);
}
static int dec_limits_ok(struct cdr_buf *b) {
  int changed;
  return ipc_get_limits_ok(b, &changed);
}

/* IPC_LIMITS carries five u64, each within its bounds (a value out of
 * them is a malformed frame, refused by the sender's encoder first);
 * LIMITS_OK one flag, 0 or 1. */
static void test_codec_limits(void) {
  struct cdr_room_limits l, got;
  struct cdr_buf enc, view, bad;
  int changed = -1;
  cdr_room_limits_default(&l);
  l.query_time_ms = 3000;
  l.member_queries = 2;
  cdr_buf_init(&enc, 256, 0);
  CHECK_RC(ipc_put_limits(&enc, &l), 0);
  CHECK(cdr_buf_avail(&enc) == 40);
  cdr_buf_view(&view, cdr_buf_ptr(&enc), cdr_buf_avail(&enc));
  CHECK_RC(ipc_get_limits(&view, &got), 0);
  CHECK(memcmp(&got, &l, sizeof(l)) == 0);
  check_exact(&enc, dec_limits);
  /* each value past its bound, on either side */
  for (size_t f = 0; f < 5; f++) {
    for (int side = 0; side < 2; side++) {
      uint8_t b[40];
      memcpy(b, cdr_buf_ptr(&enc), sizeof(b));
      memset(b + f * 8, side ? 0xff : 0x00, 8);
      cdr_buf_view(&bad, b, sizeof(b));
      CHECK_RC(dec_limits(&bad), CDR_ERR_TRUNCATED);
    }
  }
  cdr_buf_free(&enc);
  l.query_time_ms = CDR_MAX_QUERY_TIME_MS + 1;
  cdr_buf_init(&enc, 256, 0);
  CHECK_RC(ipc_put_limits(&enc, &l), CDR_ERR_ARG);
  cdr_buf_free(&enc);
  cdr_buf_init(&enc, 8, 0);
  CHECK_RC(ipc_put_limits_ok(&enc, 1), 0);
  cdr_buf_view(&view, cdr_buf_ptr(&enc), cdr_buf_avail(&enc));
  CHECK_RC(ipc_get_limits_ok(&view, &changed), 0);
  CHECK(changed == 1);
  check_exact(&enc, dec_limits_ok);
  cdr_buf_view(&bad, "\x02", 1);
  CHECK_RC(dec_limits_ok(&bad), CDR_ERR_TRUNCATED);
  cdr_buf_free(&enc);
}

static void test_codec_storage(void) {
  uint8_t data[FETCH_MAX_TEST];
  const uint8_t *p;
  size_t n;
  int found = -1;
  uint32_t nops = 0;
  struct ipc_store_item it;
  struct cdr_buf items, enc, view, bad;

  /* IPC_FETCHED: found with bytes, not found without. */
  fill(data, sizeof(data), 33);
  cdr_buf_init(&enc, 1024, 0);
  CHECK_RC(ipc_put_fetched(&enc, 1, data, sizeof(data)), 0);
  cdr_buf_view(&view, cdr_buf_ptr(&enc), cdr_buf_avail(&enc));
  CHECK_RC(ipc_get_fetched(&view, FETCH_MAX_TEST, &found, &p, &n), 0);
  CHECK(found == 1 && n == sizeof(data) && memcmp(p, data, n) == 0);
  check_exact(&enc, dec_fetched);
  /* More than the IPC_FETCH asked for. */
  cdr_buf_view(&view, cdr_buf_ptr(&enc), cdr_buf_avail(&enc));
  CHECK_RC(ipc_get_fetched(&view, FETCH_MAX_TEST - 1, &found, &p, &n), CDR_ERR_TOO_LARGE);
  check_field(&enc, 1, FETCH_MAX_TEST + 1, dec_fetched, CDR_ERR_TOO_LARGE);
  cdr_buf_free(&enc);
  cdr_buf_init(&enc, 1024, 0);
  CHECK_RC(ipc_put_fetched(&enc, 0, data, sizeof(data)), 0); /* not found: no bytes go */
  cdr_buf_view(&view, cdr_buf_ptr(&enc), cdr_buf_avail(&enc));
  CHECK_RC(ipc_get_fetched(&view, FETCH_MAX_TEST, &found, &p, &n), 0);
  CHECK(found == 0 && n == 0);
  check_exact(&enc, dec_fetched);
  cdr_buf_free(&enc);
  /* found is 0 or 1, and found 0 carries nothing. */
  for (int k = 0; k < 2; k++) {
    cdr_buf_init(&bad, 1024, 0);
    CHECK_RC(cdr_buf_put_u8(&bad, k == 0 ? 2 : 0), 0);
    CHECK_RC(cdr_buf_put_lp(&bad, data, 4), 0);
    CHECK_RC(dec_fetched(&bad), CDR_ERR_TRUNCATED);
    cdr_buf_free(&bad);
  }

  /* IPC_STORE: the count, then the items. */
  cdr_buf_init(&items, 1024, 0);
  CHECK_RC(ipc_put_store_item(&items, IPC_STORE_APPEND_LAZY, "audit", "entry", 5), 0);
  CHECK_RC(ipc_put_store_item(&items, IPC_STORE_SYNC, "audit", NULL, 0), 0);
  cdr_buf_init(&enc, 1024, 0);
  CHECK_RC(ipc_put_store(&enc, 2, &items), 0);
  CHECK_RC(ipc_get_store_count(&enc, &nops), 0);
  CHECK(nops == 2);
  CHECK_RC(ipc_get_store_item(&enc, &it), 0);
  CHECK(it.op == IPC_STORE_APPEND_LAZY && strcmp(it.name, "audit") == 0 && it.len == 5);
  CHECK_RC(ipc_get_store_item(&enc, &it), 0);
  CHECK(it.op == IPC_STORE_SYNC && it.len == 0);
  CHECK_RC(cdr_buf_expect_end(&enc), 0);
  cdr_buf_free(&enc);
  const uint32_t counts[] = {0, IPC_STORE_MAX_OPS + 1};
  for (size_t i = 0; i < 2; i++) {
    cdr_buf_init(&bad, 1024, 0);
    CHECK_RC(ipc_put_store(&bad, counts[i], &items), 0);
    CHECK_RC(ipc_get_store_count(&bad, &nops), CDR_ERR_TRUNCATED);
    cdr_buf_free(&bad);
  }
  cdr_buf_free(&items);
  /* An object name one byte over its cap. */
  cdr_buf_init(&bad, 1024, 0);
  char longname[IPC_OBJECT_NAME_MAX + 2];
  memset(longname, 'n', sizeof(longname) - 1);
  longname[sizeof(longname) - 1] = '\0';
  CHECK_RC(ipc_put_store_item(&bad, IPC_STORE_PUT, longname, "x", 1), 0);
  CHECK_RC(ipc_get_store_item(&bad, &it), CDR_ERR_TOO_LARGE);
  cdr_buf_free(&bad);
}

/* ---------------------------------------------------------------- */
/* The enclave link, against the fake enclave                        */
/* ---------------------------------------------------------------- */

static char self_exe[4096];

static int child_gone(pid_t pid) { return kill(pid, 0) == -1 && errno == ESRCH; }

/* A store function that records what it was asked (and may fail). */
struct nowait_seen {
  int fail, calls;
  uint8_t op;
  char name[16];
  size_t len;
};
static int nowait_store(void *ctx, uint8_t op, const char *name, const uint8_t *data, size_t len) {
  struct nowait_seen *s = ctx;
  s->calls++;
  s->op = op;
  snprintf(s->name, sizeof(s->name), "%s", name);
  s->len = len;
  return s->fail ? CDR_ERR_IO : 0;
}

static int link_start(struct enclave_link **l, const char *mode) {
  return enclave_link_start(l, self_exe, mode, FAKE_ROOM_ID, FAKE_CA, sizeof(FAKE_CA), NULL, 0);
}

static void make_open(struct cdr_open_req *q, uint64_t ts) {
  static const uint8_t cert[] = "certificate", spki[] = "spki", sig[] = "signature";
  memset(q, 0, sizeof(*q));
  q->version = 1;
  q->cert_der = cert;
  q->cert_len = sizeof(cert);
  q->user_spki = spki;
  q->user_spki_len = sizeof(spki);
  fill(q->client_share, sizeof(q->client_share), 0x40);
  fill(q->client_nonce, sizeof(q->client_nonce), 0x80);
  q->timestamp = ts;
  q->sig = sig;
  q->sig_len = sizeof(sig);
}

struct worker_arg {
  struct enclave_link *l;
  int id;
  int mismatches;
};

/* Many threads share one link: every reply must be the one to its own
 * request (the mutex keeps frames from interleaving). */
static void *link_worker(void *p) {
  struct worker_arg *a = p;
  for (int i = 0; i < 50; i++) {
    struct cdr_request_env e;
    struct cdr_response_env resp;
    struct cdr_buf reply;
    uint8_t ct[64];
    memset(&e, 0, sizeof(e));
    memset(ct, a->id, sizeof(ct));
    e.session_id[0] = (uint8_t)a->id;
    e.seq = 1000u * (uint64_t)(a->id + 1) + (uint64_t)i;
    e.ct = ct;
    e.ct_len = (size_t)(8 + a->id);
    e.sig = ct;
    e.sig_len = 1;
    if (enclave_request(a->l, &e, &resp, &reply, NULL) != 0 || resp.seq != e.seq ||
        resp.session_id[0] != (uint8_t)a->id || resp.ct_len != e.ct_len || resp.ct[0] != (uint8_t)a->id)
      a->mismatches++;
    cdr_buf_free(&reply);
  }
  return NULL;
}

static void test_link_normal(void) {
  struct enclave_link *l = NULL;
  struct enclave_attestation att;
  struct cdr_open_req q;
  struct cdr_open_resp p;
  struct cdr_request_env e;
  struct cdr_response_env resp;
  struct cdr_buf reply;
  uint8_t nonce[CDR_NONCE_LEN], ct[100];
  char *errmsg = NULL;

  CHECK_RC(link_start(&l, "normal"), 0);
  if (l == NULL)
    return;
  pid_t pid = enclave_link_pid(l);
  CHECK(pid > 0);
  CHECK(enclave_link_alive(l) == 1);
  const struct enclave_identity *id = enclave_link_identity(l);
  CHECK_STR(id->platform, "sim");
  CHECK(id->identity_spki_len == sizeof(FAKE_SPKI) && memcmp(id->identity_spki, FAKE_SPKI, sizeof(FAKE_SPKI)) == 0);
  CHECK(id->measurement[0] == 0xAB && id->measurement[CDR_MEASUREMENT_LEN - 1] == 0xAB);

  /* attest */
  fill(nonce, sizeof(nonce), 0x11);
  CHECK_RC(enclave_attest(l, nonce, &att, &errmsg), 0);
  CHECK_STR(att.platform, "sim");
  CHECK(att.evidence_len == sizeof(nonce) && memcmp(att.evidence, nonce, sizeof(nonce)) == 0);
  CHECK(att.contract_version == 2 && att.contract_sha256[0] == 0xC7 && att.contract_sha256[31] == 0xC7);
  CHECK(att.ncerts == 2);
  if (att.ncerts == 2) {
    CHECK(att.cert_lens[0] == 6 && memcmp(att.certs[0], "cert-a", 6) == 0);
    CHECK(att.cert_lens[1] == 7 && memcmp(att.certs[1], "cert-bb", 7) == 0);
  }
  enclave_attestation_free(&att);

  /* open: success, then an enclave refusal that keeps the link alive */
  make_open(&q, 1700000000);
  CHECK_RC(enclave_open_session(l, &q, &p, &reply, &errmsg), 0);
  CHECK(memcmp(p.session_id, q.client_nonce, CDR_SESSION_ID_LEN) == 0);
  CHECK(p.expires_at == 1700003600 && p.kem == CDR_KEM_ECDH_P256);
  CHECK(p.encap_len == CDR_P256_POINT_LEN && memcmp(p.encap, q.client_share, CDR_P256_POINT_LEN) == 0);
  CHECK(p.sealed_len == 6 && memcmp(p.sealed, "sealed", 6) == 0);
  CHECK(p.sig_len == q.sig_len && memcmp(p.sig, q.sig, q.sig_len) == 0);
  cdr_buf_free(&reply);

  make_open(&q, 1);
  CHECK_RC(enclave_open_session(l, &q, &p, &reply, &errmsg), CDR_ERR_CLOCK_SKEW);
  CHECK_STR(errmsg, "timestamp out of window");
  free(errmsg);
  errmsg = NULL;
  cdr_buf_free(&reply);
  CHECK(enclave_link_alive(l) == 1);

  /* A field over the enclave's cap is refused before it is sent (the
   * enclave would take it as a compromised host and exit). */
  make_open(&q, 1700000000);
  uint8_t *bigcert = calloc(1, CDR_MAX_CERT_DER + 1);
  q.cert_der = bigcert;
  q.cert_len = CDR_MAX_CERT_DER + 1;
  CHECK_RC(enclave_open_session(l, &q, &p, &reply, &errmsg), CDR_ERR_TOO_LARGE);
  cdr_buf_free(&reply);
  free(bigcert);
  CHECK(enclave_link_alive(l) == 1);
  /* The same for every request: a CRL over IPC_CRL_MAX never reaches the
   * enclave (this fake one would exit on any IPC_CRL). */
  {
    uint8_t *bigcrl = calloc(1, IPC_CRL_MAX + 1);
    uint64_t number = 0;
    uint32_t ended = 0;
    CHECK(bigcrl != NULL);
    if (bigcrl != NULL)
      CHECK_RC(enclave_set_crl(l, bigcrl, IPC_CRL_MAX + 1, &number, &ended, &errmsg), CDR_ERR_TOO_LARGE);
    free(bigcrl);
    CHECK(enclave_link_alive(l) == 1);
  }

  /* requests: ok and failed statuses */
  memset(&e, 0, sizeof(e));
  fill(e.session_id, sizeof(e.session_id), 0x21);
  fill(ct, sizeof(ct), 0x31);
  e.ct = ct;
  e.ct_len = sizeof(ct);
  e.sig = ct;
  e.sig_len = 10;
  e.seq = 1;
  CHECK_RC(enclave_request(l, &e, &resp, &reply, &errmsg), 0);
  CHECK(resp.seq == 1 && resp.status == CDR_STATUS_OK);
  CHECK(resp.ct_len == sizeof(ct) && memcmp(resp.ct, ct, sizeof(ct)) == 0);
  CHECK(memcmp(resp.session_id, e.session_id, CDR_SESSION_ID_LEN) == 0);
  cdr_buf_free(&reply);
  e.seq = 2;
  CHECK_RC(enclave_request(l, &e, &resp, &reply, &errmsg), 0);
  CHECK(resp.seq == 2 && resp.status == CDR_STATUS_FAILED);
  cdr_buf_free(&reply);

  /* concurrent callers */
  pthread_t th[4];
  struct worker_arg wa[4];
  for (int i = 0; i < 4; i++) {
    wa[i].l = l;
    wa[i].id = i;
    wa[i].mismatches = 0;
    CHECK(pthread_create(&th[i], NULL, link_worker, &wa[i]) == 0);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    CHECK(wa[i].mismatches == 0);
  }

  /* A reply of a type nobody expects kills the link for good. */
  e.seq = 99;
  CHECK_RC(enclave_request(l, &e, &resp, &reply, &errmsg), CDR_ERR_INTERNAL);
  cdr_buf_free(&reply);
  CHECK(enclave_link_alive(l) == 0);
  e.seq = 1;
  CHECK_RC(enclave_request(l, &e, &resp, &reply, &errmsg), CDR_ERR_INTERNAL);
  cdr_buf_free(&reply);
  CHECK_RC(enclave_attest(l, nonce, &att, &errmsg), CDR_ERR_INTERNAL);

  enclave_link_stop(l);
  CHECK(child_gone(pid));
}

static void test_link_failures(void) {
  struct enclave_link *l = NULL;
  struct enclave_attestation att;
  struct cdr_request_env e;
  struct cdr_response_env resp;
  struct cdr_buf reply;
  uint8_t nonce[CDR_NONCE_LEN];
  char *errmsg = NULL;
  struct timespec t0, t1;

  /* The enclave refuses IPC_INIT: its code comes back, nothing is left. */
  CHECK_RC(link_start(&l, "errinit"), CDR_ERR_CERT_INVALID);
  CHECK(l == NULL);
  /* The enclave answers IPC_INIT with the wrong type. */
  CHECK_RC(link_start(&l, "badinit"), CDR_ERR_INTERNAL);
  CHECK(l == NULL);
  /* The executable does not exist: the child's exec fails, EOF. */
  CHECK_RC(enclave_link_start(&l, "/nonexistent/cdr-enclave", "normal", FAKE_ROOM_ID, FAKE_CA, sizeof(FAKE_CA), NULL, 0),
           CDR_ERR_INTERNAL);
  CHECK(l == NULL);
  /* Bad arguments. */
  CHECK_RC(enclave_link_start(&l, self_exe, "normal", FAKE_ROOM_ID, FAKE_CA, 0, NULL, 0), CDR_ERR_ARG);

  /* Malformed IPC_ATTEST_OK (9 certificates, over the cap of 8). */
  CHECK_RC(link_start(&l, "normal"), 0);
  if (l != NULL) {
    memset(nonce, 0xEE, sizeof(nonce));
    CHECK_RC(enclave_attest(l, nonce, &att, &errmsg), CDR_ERR_INTERNAL);
    CHECK(att.ncerts == 0 && att.evidence == NULL);
    CHECK(enclave_link_alive(l) == 0);
    enclave_link_stop(l);
    l = NULL;
  }

  /* The enclave dies mid-request. */
  CHECK_RC(link_start(&l, "normal"), 0);
  if (l != NULL) {
    pid_t pid = enclave_link_pid(l);
    memset(&e, 0, sizeof(e));
    e.seq = 98;
    e.ct = nonce;
    e.ct_len = 4;
    e.sig = nonce;
    e.sig_len = 4;
    CHECK_RC(enclave_request(l, &e, &resp, &reply, &errmsg), CDR_ERR_INTERNAL);
    cdr_buf_free(&reply);
    CHECK(enclave_link_alive(l) == 0);
    enclave_link_stop(l);
    CHECK(child_gone(pid));
    l = NULL;
  }

  /* IPC_STORE_NOWAIT: applied before the answer is read, not answered;
   * a host that cannot apply it ends the link instead of going on. */
  for (int fail_store = 0; fail_store <= 1; fail_store++) {
    CHECK_RC(link_start(&l, "normal"), 0);
    if (l == NULL)
      continue;
    struct nowait_seen seen = {.fail = fail_store};
    enclave_link_set_store(l, nowait_store, NULL, &seen);
    memset(&e, 0, sizeof(e));
    e.seq = 97;
    e.ct = nonce;
    e.ct_len = 4;
    e.sig = nonce;
    e.sig_len = 4;
    CHECK_RC(enclave_request(l, &e, &resp, &reply, &errmsg), fail_store ? CDR_ERR_INTERNAL : 0);
    cdr_buf_free(&reply);
    CHECK(seen.calls == 1 && seen.op == IPC_STORE_APPEND_LAZY && strcmp(seen.name, "audit") == 0 && seen.len == 5);
    CHECK(enclave_link_alive(l) == !fail_store);
    if (!fail_store) { /* and the link goes on: nothing was left unread */
      e.seq = 3;
      CHECK_RC(enclave_request(l, &e, &resp, &reply, &errmsg), 0);
      CHECK(resp.seq == 3);
      cdr_buf_free(&reply);
    }
    enclave_link_stop(l);
    l = NULL;
  }

  /* alive() notices a child that exited without any call being made. */
  CHECK_RC(link_start(&l, "normal"), 0);
  if (l != NULL) {
    pid_t pid = enclave_link_pid(l);
    CHECK(kill(pid, SIGKILL) == 0);
    int alive = 1;
    for (int i = 0; i < 100 && alive; i++) {
      usleep(20000);
      alive = enclave_link_alive(l);
    }
    CHECK(alive == 0);
    enclave_link_stop(l);
    CHECK(child_gone(pid));
    l = NULL;
  }

  /* An enclave that ignores EOF is killed after the stop timeout. */
  CHECK_RC(link_start(&l, "hang"), 0);
  if (l != NULL) {
    pid_t pid = enclave_link_pid(l);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    enclave_link_stop(l);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    CHECK(s >= 4.5 && s < 9.0);
    CHECK(child_gone(pid));
  }
}

int main(int argc, char **argv) {
  if (argc == 5 && strcmp(argv[1], "--room") == 0 && strcmp(argv[3], "--ipc-fd") == 0 && strcmp(argv[4], "3") == 0)
    return fake_enclave_main(argv[2], 0);
  if (argc == 7 && strcmp(argv[1], "--room") == 0 && strcmp(argv[3], "--ipc-fd") == 0 && strcmp(argv[4], "3") == 0 &&
      strcmp(argv[5], "--workers") == 0)
    return fake_enclave_main(argv[2], (int)strtol(argv[6], NULL, 10));

  signal(SIGPIPE, SIG_IGN);
  cdr_log_init("test_ipc", (enum cdr_log_level)(CDR_LOG_ERROR + 1)); /* quiet: failures are expected here */
  ssize_t n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
  CHECK(n > 0);
  if (n > 0)
    self_exe[n] = '\0';

  test_frame_roundtrip();
  test_frame_giant_header();
  test_frame_truncated();
  test_codec_open();
  test_codec_open_ok();
  test_codec_request();
  test_codec_response();
  test_codec_error();
  test_codec_init();
  test_codec_init_ok();
  test_codec_attest();
  test_codec_attest_ok();
  test_codec_contract_notice();
  test_codec_load();
  test_codec_load_chunk();
  test_codec_crl();
  test_codec_propose();
  test_codec_limits();
  test_codec_storage();
  test_link_normal();
  test_link_failures();
  return test_summary("test_ipc");
}
