/*
 * dispatch.c - the enclave's dispatch table (OpenSSH monitor style).
 *
 * Each row names a request type, the states in which it is legal, and
 * its handler.  IPC_INIT is legal once, in state INIT; then IPC_LOAD once
 * and IPC_LOAD_DONE, which makes the enclave READY; the client-facing
 * requests are legal only then, and so are the table chunks LOAD asked
 * for, which load in the background (enclave_load.c).  (The
 * storage exchange inside a request is not dispatched here: the handler
 * waits for IPC_STORED itself, see store_client.c.)  A frame of
 * any other type, or in the wrong state, is a protocol violation: the
 * host is compromised or broken, and the enclave exits rather than
 * guess.
 */
#include "common/log.h"
#include "enclave.h"
#include "enclave_reply.h"
#include "gate.h"
#include "ipc/ipc.h"

typedef int (*enclave_handler)(struct enclave *, struct cdr_buf *, uint32_t *, struct cdr_buf *);

enum dispatch_gate { GATE_NONE, GATE_READ, GATE_WRITE };

struct dispatch_row {
  uint32_t type;
  unsigned states; /* bit mask of enum enclave_state */
  unsigned lanes;  /* bit mask of enum enclave_lane_kind */
  enum dispatch_gate gate;
  enclave_handler handler;
};

#define CTL ENCLAVE_LANE_CONTROL
#define WRK ENCLAVE_LANE_WORK

static const struct dispatch_row dispatch_table[] = {
    {IPC_INIT, ENCLAVE_STATE_INIT, CTL, GATE_NONE, enclave_handle_init},
    {IPC_LOAD, ENCLAVE_STATE_INITIALISED, CTL, GATE_NONE, enclave_handle_load},
    {IPC_LOAD_DONE, ENCLAVE_STATE_LOADING, CTL, GATE_NONE, enclave_handle_load_done},
    /* the tables, after LOAD_DONE while the room serves: a change */
    {IPC_LOAD_CHUNK, ENCLAVE_STATE_READY, WRK, GATE_WRITE, enclave_handle_load_chunk},
    {IPC_ATTEST, ENCLAVE_STATE_READY, CTL, GATE_READ, enclave_handle_attest}, /* binds the active contract */
    {IPC_OPEN, ENCLAVE_STATE_READY, CTL, GATE_READ, enclave_handle_open},
    {IPC_REQUEST, ENCLAVE_STATE_READY, WRK, GATE_NONE, enclave_handle_request},
    {IPC_CRL, ENCLAVE_STATE_READY, WRK, GATE_WRITE, enclave_handle_crl},
    {IPC_PROPOSE, ENCLAVE_STATE_READY, WRK, GATE_WRITE, enclave_handle_propose},
    {IPC_LIMITS, ENCLAVE_STATE_READY, WRK, GATE_WRITE, enclave_handle_limits},
    /* The upgrade handoff (upgrade.c): HELLO and ACCEPT to the new build,
     * OFFER to the running one, which writes its audit entry. */
    {IPC_UPGRADE_HELLO, ENCLAVE_STATE_INIT, CTL, GATE_NONE, enclave_handle_upgrade_hello},
    {IPC_UPGRADE_OFFER, ENCLAVE_STATE_READY, WRK, GATE_WRITE, enclave_handle_upgrade_offer},
    {IPC_UPGRADE_ACCEPT, ENCLAVE_STATE_UPGRADING, CTL, GATE_NONE, enclave_handle_upgrade_accept},
};

/* Nothing is served, and nothing committed, before the witnesses
 * confirmed the history (witness_start.h): a session open, a request, and
 * every change a host or member can ask of the room (a CRL, a contract
 * proposal, limits, a handoff of its root) gets the start check's
 * verdict (history_rollback, witness_unavailable) instead. */
static int needs_witnessed_history(uint32_t type) {
  return type == IPC_OPEN || type == IPC_REQUEST || type == IPC_CRL || type == IPC_PROPOSE || type == IPC_LIMITS ||
         type == IPC_UPGRADE_OFFER;
}

int enclave_dispatch(struct enclave *e, uint32_t type, struct cdr_buf *payload, uint32_t *reply_type,
                     struct cdr_buf *reply) {
  return enclave_dispatch_lane(e, e->nworkers > 0 ? ENCLAVE_LANE_CONTROL : ENCLAVE_LANE_ANY, type, payload,
                               reply_type, reply);
}

int enclave_dispatch_lane(struct enclave *e, unsigned lane, uint32_t type, struct cdr_buf *payload,
                          uint32_t *reply_type, struct cdr_buf *reply) {
  for (size_t i = 0; i < sizeof(dispatch_table) / sizeof(dispatch_table[0]); i++) {
    const struct dispatch_row *row = &dispatch_table[i];
    if (row->type != type)
      continue;
    if (!(row->states & (unsigned)e->state)) {
      log_error("protocol violation: %s is not allowed in state %d", ipc_msg_name(type), (int)e->state);
      return CDR_ERR_ARG;
    }
    if (!(row->lanes & lane)) {
      log_error("protocol violation: %s is not allowed on this lane", ipc_msg_name(type));
      return CDR_ERR_ARG;
    }
    if (row->gate == GATE_READ)
      gate_read_enter(e);
    else if (row->gate == GATE_WRITE)
      gate_write_enter(e);
    int r;
    char why[768];
    if (needs_witnessed_history(type) && (r = enclave_witness_serving(e, why, sizeof(why))) != 0)
      r = enclave_reply_error(reply, reply_type, r, why);
    else
      r = row->handler(e, payload, reply_type, reply);
    if (row->gate != GATE_NONE)
      gate_leave(e);
    /* Durable, then witnessed, then answered (witness_start.h): an answer
     * whose entries a quorum has not countersigned in time is withheld. */
    if (r == 0 && type != IPC_ATTEST && (row->states & ENCLAVE_STATE_READY) &&
        witness_answer_wait(e) != 0)
      r = enclave_reply_error(reply, reply_type, CDR_ERR_WITNESS_UNAVAILABLE,
                              "witness_unavailable: fewer than a quorum of the room's witnesses countersigned the "
                              "history that holds this answer; it is withheld (its entry stays in the log)");
    if (r != 0)
      log_error("protocol violation: malformed %s (%s)", ipc_msg_name(type), cdr_err_code(r));
    return r;
  }
  log_error("protocol violation: unknown message type %u", type);
  return CDR_ERR_ARG;
}
