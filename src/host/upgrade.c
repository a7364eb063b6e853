/*
 * upgrade.c - cdrd --upgrade-to; see upgrade.h.
 *
 * The host moves bytes only: the new build's attested answer to the
 * running enclave, the running enclave's sealed keys to the new build,
 * and the new build's sealed identity to ROOM/state.  It can read none
 * of it (the root travels sealed to a key the new build made and
 * attested), and it cannot make the running enclave hand the root to a
 * build the room's active contract does not accept.
 */
#include "host/upgrade.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "host/enclave_state.h"
#include "ipc/messages.h"

/* The measurement the new build's answer names, in hex (for the log). */
static void hello_measurement(const struct cdr_buf *hello, char *hex) {
  struct cdr_buf v;
  struct ipc_upgrade_hello_ok m;
  hex[0] = '\0';
  cdr_buf_view(&v, cdr_buf_ptr(hello), cdr_buf_avail(hello));
  if (ipc_get_upgrade_hello_ok(&v, &m) == 0)
    cdr_hex_encode(hex, m.measurement, m.measurement_len);
}

int host_upgrade(const struct host_upgrade_args *a) {
  struct enclave_link *n = NULL;
  struct cdr_buf keys;
  uint8_t *blob = NULL, *out = NULL;
  size_t len = 0, out_len = 0;
  char *errmsg = NULL, hex[2 * CDR_MEASUREMENT_MAX + 1];
  int r;
  cdr_buf_init(&keys, CDR_IPC_MAX_FRAME, 0);
  if ((r = host_state_sealed_identity(a->store, &blob, &len)) != 0)
    goto out;
  if ((r = enclave_link_start_ex(&n, &a->next, a->room_id, a->ca_der, a->ca_len, blob, len)) != 0) {
    log_error("upgrade: the new enclave %s did not start for the handoff (%s)", a->next.enclave_path,
              cdr_err_code(r));
    goto out;
  }
  hello_measurement(enclave_link_hello(n), hex);
  log_info("upgrade: the new enclave %s reports measurement %s; asking the running enclave", a->next.enclave_path, hex);
  if ((r = enclave_upgrade_offer(a->running, enclave_link_hello(n), &keys, &errmsg)) != 0) {
    log_error("upgrade refused (%s): %s; nothing was changed", cdr_err_code(r), errmsg ? errmsg : cdr_err_describe(r));
    goto out;
  }
  if ((r = enclave_upgrade_accept(n, &keys, &out, &out_len, &errmsg)) != 0) {
    log_error("upgrade: the new enclave did not take the room over (%s): %s; nothing was changed", cdr_err_code(r),
              errmsg ? errmsg : cdr_err_describe(r));
    goto out;
  }
  if ((r = host_store_put(a->store, "identity", out, out_len)) != 0) {
    log_error("upgrade: cannot store the new sealed identity: %s", cdr_err_describe(r));
    goto out;
  }
  log_info("upgraded: the room's sealed state now belongs to measurement %s; serve it with --enclave %s", hex,
           a->next.enclave_path);
out:
  if (n != NULL)
    enclave_link_stop(n);
  free(errmsg);
  free(blob);
  free(out);
  cdr_buf_free(&keys);
  return r;
}
