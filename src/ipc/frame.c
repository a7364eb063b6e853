/*
 * frame.c - length-prefixed frames over a stream socket; see ipc.h.
 */
#include <errno.h>
#include <unistd.h>

#include "common/util.h"
#include "ipc.h"

const char *ipc_msg_name(uint32_t type) {
  static const char *names[] = {"?",        "INIT",      "INIT_OK",   "ATTEST",   "ATTEST_OK", "OPEN",
                                "OPEN_OK",  "REQUEST",   "RESPONSE",  "ERROR",    "STORE",     "STORED",
                                "LOAD",     "LOAD_WANT", "LOAD_CHUNK", "LOAD_ACK", "LOAD_DONE", "CRL",       "CRL_OK",
                                "FETCH",    "FETCHED",   "STORE_NOWAIT", "PROPOSE", "PROPOSE_OK",
                                "LIMITS",   "LIMITS_OK", "CONTRACT_NOTICE", "UPGRADE_HELLO", "UPGRADE_HELLO_OK",
                                "UPGRADE_OFFER", "UPGRADE_KEYS", "UPGRADE_ACCEPT", "UPGRADE_DONE", "WITNESS",
                                "WITNESS_ANSWERS"};
  return type <= IPC_MSG_MAX ? names[type] : "?";
}

int ipc_frame_write(int fd, uint32_t type, const struct cdr_buf *payload) {
  size_t n = payload ? cdr_buf_avail(payload) : 0;
  uint8_t hdr[8];
  int r;
  if (n > UINT32_MAX)
    return CDR_ERR_TOO_LARGE;
  for (int i = 0; i < 4; i++) {
    hdr[i] = (uint8_t)(type >> (24 - 8 * i));
    hdr[4 + i] = (uint8_t)((uint32_t)n >> (24 - 8 * i));
  }
  if ((r = cdr_write_full(fd, hdr, sizeof(hdr))) != 0)
    return r;
  return n ? cdr_write_full(fd, cdr_buf_ptr(payload), n) : 0;
}

int ipc_frame_read(int fd, uint32_t *type, struct cdr_buf *payload, uint32_t max_len) {
  uint8_t hdr[8];
  int r;
  cdr_buf_free(payload);
  if ((r = cdr_read_full(fd, hdr, sizeof(hdr))) != 0)
    return r;
  uint32_t t = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
  uint32_t n = (uint32_t)hdr[4] << 24 | (uint32_t)hdr[5] << 16 | (uint32_t)hdr[6] << 8 | hdr[7];
  if (n > max_len || n > payload->max)
    return CDR_ERR_TOO_LARGE;
  if (n > 0) {
    if ((r = cdr_buf_reserve(payload, n)) != 0)
      return r;
    if ((r = cdr_read_full(fd, payload->d, n)) != 0)
      return r;
    payload->len = n;
  }
  *type = t;
  return 0;
}
