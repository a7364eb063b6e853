/*
 * store.h - the host's durable store of sealed enclave state, under
 * ROOM/state/ (docs/design/persistence.md).
 *
 * The host cannot read what it stores; its job is durability and order.
 * Object names come from the enclave and are checked here: only
 * "identity" (file identity.sealed), "manifest" (manifest.sealed), "audit"
 * (audit.sealed: the enclave's log of sealed records) and
 * "tables/<32 lower-case hex>" (tables/<id>.sealed) and
 * "cursors/<40 lower-case hex>" (cursors/<id>.sealed: a page of a paged
 * result, emptied at every open) exist, so no name can reach outside the
 * store.  Every operation but host_store_append_lazy is durable when it
 * returns: data fsync'd, and for creations, renames and deletions the
 * directory fsync'd too (a page's lazy append syncs nothing).
 */
#ifndef CDR_HOST_STORE_H
#define CDR_HOST_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

struct host_store;

/* Open (creating state/, state/tables/ and state/cursors/ with mode
 * 0700; every file in state/cursors/ is removed) the store of
 * the room at room_dir, and hold an exclusive lock on state/ until
 * host_store_close: CDR_ERR_BUSY if another process holds it. */
int host_store_open(const char *room_dir, struct host_store **out) CDR_WUR;
void host_store_close(struct host_store *st);

/* 1 if name is a valid object name (see above), else 0. */
int host_store_name_ok(const char *name);
/* 1 if name is a valid page of a paged result ("cursors/..."), else 0. */
int host_store_is_page(const char *name);

/* Replace the object atomically (temp file, fsync, rename, dir fsync). */
int host_store_put(struct host_store *st, const char *name, const void *data, size_t len) CDR_WUR;
/* Append to the object, creating it if absent; fsync'd. */
int host_store_append(struct host_store *st, const char *name, const void *data, size_t len) CDR_WUR;
/* Append without waiting for the disk: the bytes are in the file (a
 * crash of either process keeps them; a power loss may not) until
 * host_store_sync.  A creation is durable (directory fsync'd). */
int host_store_append_lazy(struct host_store *st, const char *name, const void *data, size_t len) CDR_WUR;
/* fdatasync the object: every earlier lazy append is durable. */
int host_store_sync(struct host_store *st, const char *name) CDR_WUR;
/* Cut the object to size bytes and fsync it: the recovery of a torn last
 * audit record.  CDR_ERR_ARG if size is past its end (it never grows),
 * CDR_ERR_NOT_FOUND if it does not exist. */
int host_store_truncate(struct host_store *st, const char *name, uint64_t size) CDR_WUR;
/* Remove the object; absent is not an error. */
int host_store_delete(struct host_store *st, const char *name) CDR_WUR;
/* Read up to max bytes of the object starting at offset into buf;
 * *got is 0 at the end.  CDR_ERR_NOT_FOUND if it does not exist. */
int host_store_read(struct host_store *st, const char *name, uint64_t offset, uint8_t *buf, size_t max,
                    size_t *got) CDR_WUR;
/* Size of the object, CDR_ERR_NOT_FOUND if absent. */
int host_store_size(struct host_store *st, const char *name, uint64_t *size) CDR_WUR;
/* The table ids present (malloc'd array of 33-byte strings). */
int host_store_list_tables(struct host_store *st, char (**ids)[33], size_t *n) CDR_WUR;

#endif
