/*
 * enclave_state.c - cdrd's side of the enclave's sealed state at start:
 * the sealed identity handed over in IPC_INIT, the checks and
 * bookkeeping of the room's platform, the store operations the enclave
 * asks for, and the LOAD handshake; see enclave_state.h.
 */
#include "enclave_state.h"

#include "contract_cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/limits.h"
#include "common/log.h"
#include "common/util.h"
#include "ipc/messages.h"

/* The enclave must attest with the platform room.json names ("auto":
 * any hardware one).  Not a security check (clients verify attestation
 * themselves): it stops an operator's mistake, such as a connected
 * enclave started with another --attestation, before users see it. */
static int check_platform(const struct cdr_room *room, const char *platform) {
  const char *want = room->attestation ? room->attestation : "sim";
  if (strcmp(want, "auto") == 0 ? strcmp(platform, "sim") != 0 : strcmp(want, platform) == 0)
    return 0;
  log_error("the enclave attests with %s, but the room is set up for %s attestation (room.json)", platform, want);
  return CDR_ERR_ARG;
}

/* The enclave's identity key, sealed by the enclave, from an earlier
 * start (NULL/0 before the first). */
int host_state_sealed_identity(struct host_store *st, uint8_t **blob, size_t *len) {
  uint64_t size;
  size_t got = 0;
  int r = host_store_size(st, "identity", &size);
  *blob = NULL;
  *len = 0;
  if (r == CDR_ERR_NOT_FOUND)
    return 0;
  if (r == 0 && size > IPC_SEALED_IDENTITY_MAX)
    r = CDR_ERR_TOO_LARGE;
  if (r == 0 && (*blob = malloc(size ? size : 1)) == NULL)
    r = CDR_ERR_NOMEM;
  if (r == 0 && (r = host_store_read(st, "identity", 0, *blob, (size_t)size, &got)) == 0 && got != size)
    r = CDR_ERR_IO;
  if (r != 0)
    log_error("cannot read state/identity.sealed: %s", cdr_err_describe(r));
  *len = got;
  return r;
}

/* Count (*n) the objects an earlier run left in the store, removing
 * each if `remove`. */
static int previous_run(struct host_store *st, int remove, size_t *n) {
  static const char *const singles[] = {"identity", "manifest", "audit"};
  char(*ids)[33] = NULL, name[64];
  size_t nids = 0;
  uint64_t size;
  int r = 0;
  *n = 0;
  for (size_t i = 0; i < sizeof(singles) / sizeof(singles[0]) && r == 0; i++) {
    if ((r = host_store_size(st, singles[i], &size)) == CDR_ERR_NOT_FOUND) {
      r = 0;
      continue;
    }
    if (r == 0 && (!remove || (r = host_store_delete(st, singles[i])) == 0))
      (*n)++;
  }
  if (r == 0 && (r = host_store_list_tables(st, &ids, &nids)) == 0)
    for (size_t i = 0; i < nids && r == 0; i++) {
      snprintf(name, sizeof(name), "tables/%s", ids[i]);
      if (!remove || (r = host_store_delete(st, name)) == 0)
        (*n)++;
    }
  free(ids);
  return r;
}

#define PLATFORM_MARK "platform" /* ROOM/state/platform: who sealed the state */

/* The platform of the enclave that sealed what the store holds, as the
 * host recorded it at that enclave's start ("" if unrecorded). */
static void state_platform(const char *room_dir, char out[IPC_PLATFORM_MAX + 1]) {
  char *path = NULL, *dir = cdr_path_join(room_dir, "state");
  uint8_t *data = NULL;
  size_t len = 0;
  out[0] = '\0';
  if (dir != NULL && (path = cdr_path_join(dir, PLATFORM_MARK)) != NULL && cdr_file_read(path, &data, &len, IPC_PLATFORM_MAX) == 0) {
    memcpy(out, data, len);
    out[len] = '\0';
    out[strcspn(out, "\n")] = '\0';
  }
  free(data);
  free(path);
  free(dir);
}

/* On a platform whose enclave keeps no state (cdr_platform_keeps_state:
 * tdx, nitro), what an earlier run sealed can never be opened again: the
 * enclave made a new identity.  Remove the earlier run's objects so that
 * the new run starts from an empty store (its audit log from entry 0) -
 * but only when the note (record_platform) says that run was one of the
 * same kind.  State sealed on a platform that keeps it (an `auto` room
 * moved, or room.json edited), and state with no note at all (which no
 * run of these platforms leaves: host_state_load notes them before it
 * stores anything), is refused instead: it may still open where it was
 * made.  Host bookkeeping only: the enclave never tries to open an
 * earlier run's state on these platforms. */
static int prepare_state(const struct cdr_room *room, struct host_store *st, const char *platform) {
  char before[IPC_PLATFORM_MAX + 1];
  size_t n = 0;
  int r;
  if (cdr_platform_keeps_state(platform))
    return 0;
  state_platform(room->dir, before);
  if ((r = previous_run(st, 0, &n)) != 0) {
    log_error("cannot list the earlier run's sealed state in state/: %s", cdr_err_describe(r));
    return r;
  }
  if (n > 0 && (before[0] == '\0' || cdr_platform_keeps_state(before))) {
    log_error("state/ holds sealed state of %s%s enclave, which this %s enclave can never open and would have "
              "to delete; refusing to (move %s/state aside to start this room empty)",
              before[0] != '\0' ? "a " : "an unrecorded ", before[0] != '\0' ? before : "earlier", platform,
              room->dir);
    return CDR_ERR_ARG;
  }
  if (n > 0 && (r = previous_run(st, 1, &n)) != 0) {
    log_error("cannot remove the earlier run's sealed state from state/: %s", cdr_err_describe(r));
    return r;
  }
  if (n > 0)
    log_info("%s keeps no state across enclave restarts: removed the earlier run's %zu sealed object(s), which "
             "no enclave can open again; the room starts empty",
             platform, n);
  return 0;
}

/* Note the platform whose enclave just loaded (or made) the state, once
 * it has: a start that failed must not relabel state it could not open.
 * (On a platform that keeps no state, host_state_load notes it as soon
 * as the earlier run's state is gone: all that is stored after that is
 * this run's.) */
static int record_platform(const struct cdr_room *room, const char *platform) {
  char before[IPC_PLATFORM_MAX + 1], *dir = NULL, *path = NULL;
  int r;
  state_platform(room->dir, before);
  if (strcmp(before, platform) == 0)
    return 0;
  r = CDR_ERR_NOMEM;
  if ((dir = cdr_path_join(room->dir, "state")) != NULL && (path = cdr_path_join(dir, PLATFORM_MARK)) != NULL &&
      (r = cdr_file_write(path, platform, strlen(platform), 0600, 0)) != 0)
    log_error("cannot record the platform in %s: %s", path, cdr_err_describe(r));
  free(path);
  free(dir);
  return r;
}

/* Store a newly made sealed identity before serving anything with it. */
static int store_sealed_identity(struct host_store *st, const struct enclave_identity *id) {
  int r;
  if (id->new_sealed_identity == NULL)
    return 0;
  if ((r = host_store_put(st, "identity", id->new_sealed_identity, id->new_sealed_identity_len)) != 0)
    log_error("cannot store the enclave's sealed identity in state/: %s", cdr_err_describe(r));
  return r;
}

/* The enclave's storage operations, applied to the state store. */
static int store_apply(void *ctx, uint8_t op, const char *name, const uint8_t *data, size_t len) {
  struct host_store *st = ctx;
  switch (op) {
  case IPC_STORE_PUT: return host_store_put(st, name, data, len);
  case IPC_STORE_APPEND: return host_store_append(st, name, data, len);
  case IPC_STORE_DELETE: return host_store_delete(st, name);
  case IPC_STORE_APPEND_LAZY: return host_store_append_lazy(st, name, data, len);
  case IPC_STORE_SYNC: return host_store_sync(st, name);
  case IPC_STORE_TRUNCATE: {
    uint64_t size = 0;
    for (size_t i = 0; i < 8 && len == 8; i++)
      size = size << 8 | data[i];
    return len == 8 ? host_store_truncate(st, name, size) : CDR_ERR_ARG;
  }
  default: return CDR_ERR_ARG;
  }
}

/* The enclave's reads of what it stored: its audit log and the pages
 * of paged results. */
static int store_fetch(void *ctx, const char *name, uint64_t offset, uint8_t *buf, size_t max, size_t *got) {
  if (strcmp(name, "audit") != 0 && !host_store_is_page(name))
    return CDR_ERR_NOT_FOUND;
  return host_store_read(ctx, name, offset, buf, max, got);
}

/* Read the manifest and hand it over (IPC_LOAD): *wanted and *nwanted
 * are the table files it names. */
static int load_manifest(struct enclave_link *link, struct host_store *st, char (**wanted)[33], size_t *nwanted) {
  uint8_t *manifest = NULL;
  uint64_t size = 0;
  size_t got = 0;
  int r = host_store_size(st, "manifest", &size);
  if (r == 0 && size > CDR_IPC_MAX_FRAME - 1024)
    r = CDR_ERR_TOO_LARGE;
  if (r == 0 && (manifest = malloc(size ? size : 1)) == NULL)
    r = CDR_ERR_NOMEM;
  if (r == 0 && (r = host_store_read(st, "manifest", 0, manifest, (size_t)size, &got)) == 0 && got != size)
    r = CDR_ERR_IO;
  if (r == CDR_ERR_NOT_FOUND)
    r = 0;
  if (r != 0)
    log_error("cannot read state/manifest.sealed: %s", cdr_err_describe(r));
  else
    r = enclave_load_open(link, manifest, got, wanted, nwanted);
  free(manifest);
  return r;
}

/* Remove table files that no manifest names (left by a crash between a
 * table's write and its manifest's rename): only once the enclave has
 * accepted the manifest that names the others, and before any request
 * can write a new one. */
static void remove_unnamed(struct host_store *st, const char (*wanted)[33], size_t nwanted) {
  char(*files)[33] = NULL;
  size_t nfiles = 0;
  if (host_store_list_tables(st, &files, &nfiles) != 0)
    return;
  for (size_t i = 0; i < nfiles; i++) {
    int keep = 0;
    for (size_t k = 0; k < nwanted && !keep; k++)
      keep = strcmp(files[i], wanted[k]) == 0;
    if (!keep) {
      char name[64];
      snprintf(name, sizeof(name), "tables/%s", files[i]);
      log_info("removing sealed table file %s: no manifest names it", files[i]);
      if (host_store_delete(st, name) != 0)
        log_warn("cannot remove %s", name);
    }
  }
  free(files);
}

int host_state_load(const struct cdr_room *room, struct host_store *st, struct enclave_link *link,
                    struct host_progress *progress, struct host_loader *loader) {
  const char *platform = enclave_link_identity(link)->platform;
  int r;
  if ((r = check_platform(room, platform)) != 0 || (r = prepare_state(room, st, platform)) != 0 ||
      (!cdr_platform_keeps_state(platform) && (r = record_platform(room, platform)) != 0))
    return r;
  enclave_link_set_store(link, store_apply, store_fetch, st);
  {
    static struct host_contract_cache cache; /* one room per cdrd */
    const struct enclave_identity *id = enclave_link_identity(link);
    cache.room_dir = room->dir;
    snprintf(cache.platform, sizeof(cache.platform), "%s", id->platform);
    if (id->measurement_len * 2 < sizeof(cache.measurement))
      cdr_hex_encode(cache.measurement, id->measurement, id->measurement_len);
    enclave_link_set_contract(link, host_contract_cache_write, &cache);
  }
  char(*wanted)[33] = NULL;
  size_t nwanted = 0;
  if ((r = load_manifest(link, st, &wanted, &nwanted)) == 0 &&
      (r = host_loader_plan(loader, st, (const char(*)[33])wanted, nwanted, progress)) == 0 &&
      (r = enclave_load_done(link)) == 0)
    remove_unnamed(st, (const char(*)[33])wanted, nwanted);
  free(wanted);
  if (r != 0) {
    log_error("the enclave could not load the room's sealed state");
    return r;
  }
  /* The identity made (or re-sealed) at this INIT is stored only once the
   * enclave has accepted the room's state: a start it refused (a manifest
   * of another CA, state/identity.sealed withheld) leaves state/ as it
   * was, so that putting back the room's own CA and identity starts it
   * again.  Still before anything is served. */
  if ((r = store_sealed_identity(st, enclave_link_identity(link))) != 0)
    return r;
  return record_platform(room, platform);
}
