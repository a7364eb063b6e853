/*
 * contract_cache.c - the host's copy of the room contract the enclave
 * reports (IPC_CONTRACT_NOTICE): ROOM/contract.json, rewritten atomically
 * at each notice, for the operator's display (`cdr room members`).
 *
 * It is an untrusted cache: the enclave's word relayed and stored by the
 * host, which can change it at will.  Members never rely on it: they
 * read the contract through the secure channel and check the hash that
 * attestation binds.  The file says so itself ("note").
 *
 *   {"note": "...", "enclave": {"platform": "sim", "measurement": "<hex>"},
 *    "active":  {"version": n, "sha256": "<hex>", "document": "<canonical text>"} | null,
 *    "pending": {"version": n, "sha256": "<hex>", "document": "...", "expires": t} | null}
 */
#include "contract_cache.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "ipc/messages.h"

#define CACHE_NOTE                                                                                                    \
  "untrusted copy of the room contract as the enclave last reported it to this host; for display only: members "  \
  "check the contract through the secure channel and attestation"

static json_t *version_json(const struct ipc_contract_version *v) {
  char hex[65];
  if (v->number == 0)
    return json_null();
  cdr_hex_encode(hex, v->sha256, 32);
  return json_pack("{s:I,s:s,s:s%}", "version", (json_int_t)v->number, "sha256", hex, "document",
                   (const char *)v->doc, v->doc_len);
}

void host_contract_cache_write(void *ctx, const struct ipc_contract_notice *m) {
  const struct host_contract_cache *cc = ctx;
  const char *room_dir = cc->room_dir;
  json_t *j = json_pack("{s:s,s:{s:s,s:s},s:o,s:o}", "note", CACHE_NOTE, "enclave", "platform", cc->platform,
                        "measurement", cc->measurement, "active", version_json(&m->active), "pending",
                        version_json(&m->pending));
  char *text = NULL, *path = NULL;
  size_t n = strlen(room_dir) + sizeof("/contract.json");
  if (j != NULL && m->pending.number != 0)
    json_object_set_new(json_object_get(j, "pending"), "expires", json_integer((json_int_t)m->pending_expires));
  if (j == NULL || (text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS)) == NULL || (path = malloc(n)) == NULL) {
    log_warn("cannot keep the contract the enclave reported (out of memory)");
    goto out;
  }
  snprintf(path, n, "%s/contract.json", room_dir);
  if (cdr_file_write(path, text, strlen(text), 0644, 0) != 0)
    log_warn("cannot write %s", path);
  else
    log_info("room contract: active version %llu, pending version %llu (copy in %s)",
             (unsigned long long)m->active.number, (unsigned long long)m->pending.number, path);
out:
  free(path);
  free(text);
  json_decref(j);
}
