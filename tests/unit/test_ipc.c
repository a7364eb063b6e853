/*
 * test_ipc.c - unit tests for src/ipc: framing (frame.c), the payload
 * codecs (messages.c) and the host's enclave stubs (enclave_link.c).
 *
 * The stubs are tested against a fake enclave: this same executable,
 * started by enclave_link_start as `test_ipc --room MODE --ipc-fd 3`
 * (the "room" argument selects the fake's behaviour).  The fake answers
 * with canned replies, and on request misbehaves (garbage frame, dying,
 * ignoring EOF) so that the link's failure handling is exercised.
 */
#include <errno.h>
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

static int fake_enclave_main(const char *mode) {
  const int fd = 3;
  struct cdr_buf in, out;
  uint32_t type;
  int r;

  cdr_buf_init(&in, CDR_IPC_MAX_FRAME, 0);
  cdr_buf_init(&out, CDR_IPC_MAX_FRAME, 0);
  for (;;) {
    if ((r = ipc_frame_read(fd, &type, &in, CDR_IPC_MAX_FRAME)) != 0) {
      if (strcmp(mode, "hang") == 0)
        sleep(30); /* ignore EOF: the host must kill us */
      return r == CDR_ERR_IO ? 0 : 1;
    }
    if (type == IPC_INIT) {
      uint8_t room_id[CDR_ROOM_ID_BYTES];
      const uint8_t *ca, *sealed;
      size_t ca_len, sealed_len;
      if (cdr_buf_get_lp_exact(&in, room_id, sizeof(room_id)) != 0 ||
          cdr_buf_get_lp(&in, &ca, &ca_len, CDR_MAX_CERT_DER) != 0 ||
          cdr_buf_get_lp(&in, &sealed, &sealed_len, 4096) != 0 || cdr_buf_expect_end(&in) != 0 ||
          memcmp(room_id, FAKE_ROOM_ID, sizeof(room_id)) != 0 || ca_len != sizeof(FAKE_CA) ||
          memcmp(ca, FAKE_CA, ca_len) != 0)
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
      memset(meas, 0xAB, sizeof(meas));
      if (cdr_buf_put_lp(&out, FAKE_SPKI, sizeof(FAKE_SPKI)) != 0 || cdr_buf_put_lp(&out, meas, sizeof(meas)) != 0 ||
          cdr_buf_put_lpstr(&out, "sim") != 0 || cdr_buf_put_lp(&out, "SEALED", 6) != 0)
        return 1;
      (void)fake_reply(fd, IPC_INIT_OK, &out);
    } else if (type == IPC_ATTEST) {
      uint8_t nonce[CDR_NONCE_LEN];
      if (cdr_buf_get_lp_exact(&in, nonce, sizeof(nonce)) != 0 || cdr_buf_expect_end(&in) != 0)
        return 1;
      uint32_t ncerts = nonce[0] == 0xEE ? 9 : 2; /* 9 is over the link's cap */
      if (cdr_buf_put_lpstr(&out, "sim") != 0 || cdr_buf_put_lp(&out, nonce, sizeof(nonce)) != 0 ||
          cdr_buf_put_u32(&out, ncerts) != 0)
        return 1;
      for (uint32_t i = 0; i < ncerts; i++)
        if (cdr_buf_put_lpstr(&out, i % 2 ? "cert-bb" : "cert-a") != 0)
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
    return fake_enclave_main(argv[2]);

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
  test_link_normal();
  test_link_failures();
  return test_summary("test_ipc");
}
