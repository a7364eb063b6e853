/*
 * pagevfs.h - an in-memory SQLite VFS whose databases are shared by every
 * connection that opens the same name, held in page-size blocks
 * (docs/ARCHITECTURE.md, "Concurrency": several SQLite connections to one
 * in-memory database).
 *
 * Why not SQLite's own: memdb keeps a database in one allocation that
 * grows by realloc (capped below 2 GiB, and the wiping allocator moves it
 * by copy), and a shared cache serialises every step on the shared
 * b-tree's mutex.  Here a database is an array of PAGEVFS_BLOCK-byte
 * blocks that never move once allocated, so:
 *   - readers map pages (xFetch/xUnfetch; a connection enables it with
 *     PRAGMA mmap_size) instead of copying them into their page caches;
 *   - growth allocates one block at a time (and the small array of block
 *     pointers), never a contiguous copy of the database.
 * Blocks come from sqlite3_malloc (in the enclave: wipe_alloc.c's wiping
 * allocator, under SQLite's heap limit) and are wiped here too before
 * they are freed, whatever allocator is installed.
 *
 * Locking follows memdb's rules, with counters under the store's mutex:
 * any number of SHARED locks; one RESERVED/PENDING at a time; EXCLUSIVE
 * only when no other connection holds SHARED (SQLITE_BUSY otherwise, no
 * waiting).  SQLite's pager writes to the file only under EXCLUSIVE, so
 * no reader ever reads a block being written; the enclave's room gate
 * additionally keeps writers and readers apart, so BUSY never happens
 * there.  No WAL (no xShm*), and only main databases open here: journals
 * must be kept in memory (PRAGMA journal_mode = MEMORY) and temporary
 * files too (temp_store = MEMORY); anything else is refused
 * (SQLITE_CANTOPEN), so nothing can reach a file.
 *
 * A store lives from the first open of its name to the last close, then
 * every block is wiped and freed.
 */
#ifndef CDR_PAGEVFS_H
#define CDR_PAGEVFS_H

#include <stdint.h>

#include "common/err.h"

/* The VFS's name, for sqlite3_open_v2's zVfs. */
#define PAGEVFS_NAME "cdr-pages"
/* Block size: SQLite's default page size, which the engine keeps. */
#define PAGEVFS_BLOCK 4096u
/* Longest store name (a main database's file name). */
#define PAGEVFS_MAX_NAME 63u

/* Register the VFS (not as the default); idempotent and thread-safe.
 * 0 or CDR_ERR_INTERNAL. */
int pagevfs_register(void) CDR_WUR;

/* What a store holds now: its size in bytes, its blocks, the SHARED
 * locks held, whether a connection holds RESERVED or more, and the pages
 * mapped (xFetch not yet xUnfetch'd). */
struct pagevfs_stats {
  uint64_t size;
  uint64_t blocks;
  unsigned readers;
  unsigned writer;
  unsigned mapped;
};
/* Stats of the store called name: 0, or CDR_ERR_NOT_FOUND if no
 * connection has it open. */
int pagevfs_stats(const char *name, struct pagevfs_stats *out) CDR_WUR;
/* Blocks held by every store in the process. */
uint64_t pagevfs_blocks_total(void);

#endif
