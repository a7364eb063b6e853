/*
 * pagevfs.c - the shared in-memory VFS of pagevfs.h.
 *
 * Files are "stores" in one process-wide list, found by name: a main
 * database and its rollback journal ("<name>-journal", which SQLite
 * creates, writes, and deletes at commit).  A store is freed (every block
 * wiped) once nothing has it open and it is deleted; a main database
 * counts as deleted when its last connection closes, so a room's tables
 * last exactly as long as its connections.
 *
 * The journal lives here, not in memory per connection (journal_mode
 * MEMORY), because of what happens when a write fails half-way (a block
 * cannot be allocated under SQLite's heap limit): the pager enters its
 * error state and gives its journal up; a journal kept in a connection's
 * memory is then lost with the database half-written, while a journal
 * here stays "on disk" and is hot: the next transaction on any
 * connection plays it back, exactly as SQLite recovers a file database.
 * Rewriting existing blocks never allocates, so the playback cannot fail
 * for want of memory.
 *
 * Concurrency: a store's mutex guards its lock counters, its size, its
 * block array and the bytes of its blocks for xRead and xWrite.  A page
 * handed out by xFetch is read by SQLite without the mutex while its
 * connection holds SHARED; the pager writes only under EXCLUSIVE, which
 * is refused while another connection holds SHARED, and the lock calls
 * take the mutex, so such a read never meets a write.  Blocks never move
 * while mapped: a shrinking truncate keeps mapped blocks (their bytes
 * past the new end wiped) until the store is freed.
 */
#include "pagevfs.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <sqlite3.h>
#include <string.h>

#define JOURNAL_SUFFIX "-journal"
#define MAX_PATH (PAGEVFS_MAX_NAME + sizeof(JOURNAL_SUFFIX))

struct pv_store {
  char name[MAX_PATH + 1];
  pthread_mutex_t lock;
  unsigned refs;      /* open files */
  int linked;         /* findable by name (not yet deleted) */
  int is_main;        /* a main database: unlinked by its last close */
  sqlite3_int64 size; /* bytes */
  unsigned char **blk; /* blk[i] holds bytes [i * PAGEVFS_BLOCK, (i + 1) * PAGEVFS_BLOCK) */
  size_t nblk, capblk;
  unsigned nrd;  /* connections holding SHARED or more */
  unsigned nwr;  /* 0 or 1: a connection holding RESERVED or more */
  unsigned nmap; /* pages fetched, not yet unfetched */
  struct pv_store *next;
};

struct pv_file {
  sqlite3_file base;
  struct pv_store *st;
  int elock;
  sqlite3_int64 mmap_max; /* PRAGMA mmap_size: xFetch maps pages below it */
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pv_store *registry;
static pthread_mutex_t count_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t blocks_total; /* every store's blocks, under count_lock */
static sqlite3_vfs *base_vfs; /* randomness, sleep and time come from the default VFS */

static void pv_count(int64_t delta) {
  pthread_mutex_lock(&count_lock);
  blocks_total = (uint64_t)((int64_t)blocks_total + delta);
  pthread_mutex_unlock(&count_lock);
}

uint64_t pagevfs_blocks_total(void) {
  pthread_mutex_lock(&count_lock);
  uint64_t n = blocks_total;
  pthread_mutex_unlock(&count_lock);
  return n;
}

/* ---- blocks (store lock held) ---- */

static void block_free(unsigned char *b) {
  if (b == NULL)
    return;
  OPENSSL_cleanse(b, PAGEVFS_BLOCK);
  sqlite3_free(b);
  pv_count(-1);
}

/* Make the store hold blocks for `bytes` bytes (it never shrinks here).
 * New blocks are zero.  SQLITE_OK or SQLITE_IOERR_NOMEM, with the blocks
 * made so far kept (they are zero and past the size). */
static int store_reserve(struct pv_store *s, sqlite3_int64 bytes) {
  size_t want = (size_t)((bytes + PAGEVFS_BLOCK - 1) / PAGEVFS_BLOCK);
  if (want > s->capblk) {
    size_t cap = s->capblk < 64 ? 64 : s->capblk;
    while (cap < want)
      cap *= 2;
    unsigned char **a = sqlite3_malloc64((sqlite3_uint64)cap * sizeof(*a));
    if (a == NULL)
      return SQLITE_IOERR_NOMEM;
    if (s->nblk > 0)
      memcpy(a, s->blk, s->nblk * sizeof(*a));
    sqlite3_free(s->blk); /* pointers only */
    s->blk = a;
    s->capblk = cap;
  }
  while (s->nblk < want) {
    unsigned char *b = sqlite3_malloc64(PAGEVFS_BLOCK);
    if (b == NULL)
      return SQLITE_IOERR_NOMEM;
    memset(b, 0, PAGEVFS_BLOCK);
    s->blk[s->nblk++] = b;
    pv_count(1);
  }
  return SQLITE_OK;
}

static void store_free(struct pv_store *s) {
  for (size_t i = 0; i < s->nblk; i++)
    block_free(s->blk[i]);
  sqlite3_free(s->blk);
  pthread_mutex_destroy(&s->lock);
  OPENSSL_cleanse(s, sizeof(*s));
  sqlite3_free(s);
}

/* ---- the registry (registry_lock held) ---- */

static struct pv_store *registry_find(const char *name) {
  for (struct pv_store *s = registry; s != NULL; s = s->next)
    if (s->linked && strcmp(s->name, name) == 0)
      return s;
  return NULL;
}

static void registry_unlink(struct pv_store *s) {
  for (struct pv_store **pp = &registry; *pp != NULL; pp = &(*pp)->next)
    if (*pp == s) {
      *pp = s->next;
      break;
    }
  s->linked = 0;
}

/* ---- file methods ---- */

static int pv_close(sqlite3_file *f) {
  struct pv_file *pf = (struct pv_file *)f;
  struct pv_store *s = pf->st, *journal = NULL;
  int gone;
  pthread_mutex_lock(&registry_lock);
  gone = --s->refs == 0 && (s->is_main || !s->linked);
  if (gone && s->linked) {
    char jname[MAX_PATH + 1];
    registry_unlink(s);
    /* a main database's leftover journal goes with it */
    if (strlen(s->name) + sizeof(JOURNAL_SUFFIX) <= sizeof(jname)) {
      memcpy(jname, s->name, strlen(s->name));
      memcpy(jname + strlen(s->name), JOURNAL_SUFFIX, sizeof(JOURNAL_SUFFIX));
      if ((journal = registry_find(jname)) != NULL && journal->refs == 0)
        registry_unlink(journal);
      else
        journal = NULL;
    }
  }
  pthread_mutex_unlock(&registry_lock);
  if (gone)
    store_free(s);
  if (journal != NULL)
    store_free(journal);
  pf->st = NULL;
  return SQLITE_OK;
}

/* Copy n bytes at off between the store and buf (to the store if w). */
static void store_copy(struct pv_store *s, sqlite3_int64 off, unsigned char *buf, size_t n, int w) {
  while (n > 0) {
    size_t i = (size_t)(off / PAGEVFS_BLOCK), at = (size_t)(off % PAGEVFS_BLOCK);
    size_t k = PAGEVFS_BLOCK - at < n ? PAGEVFS_BLOCK - at : n;
    if (w)
      memcpy(s->blk[i] + at, buf, k);
    else
      memcpy(buf, s->blk[i] + at, k);
    buf += k;
    off += (sqlite3_int64)k;
    n -= k;
  }
}

static int pv_read(sqlite3_file *f, void *buf, int amt, sqlite3_int64 off) {
  struct pv_store *s = ((struct pv_file *)f)->st;
  int rc = SQLITE_OK;
  if (amt < 0 || off < 0)
    return SQLITE_IOERR_READ;
  pthread_mutex_lock(&s->lock);
  size_t have = off >= s->size ? 0 : (size_t)(s->size - off) < (size_t)amt ? (size_t)(s->size - off) : (size_t)amt;
  store_copy(s, off, buf, have, 0);
  if (have < (size_t)amt) {
    memset((unsigned char *)buf + have, 0, (size_t)amt - have);
    rc = SQLITE_IOERR_SHORT_READ;
  }
  pthread_mutex_unlock(&s->lock);
  return rc;
}

static int pv_write(sqlite3_file *f, const void *buf, int amt, sqlite3_int64 off) {
  struct pv_store *s = ((struct pv_file *)f)->st;
  int rc;
  if (amt < 0 || off < 0 || off > INT64_MAX - amt)
    return SQLITE_IOERR_WRITE;
  pthread_mutex_lock(&s->lock);
  if ((rc = store_reserve(s, off + amt)) == SQLITE_OK) {
    store_copy(s, off, (unsigned char *)(uintptr_t)buf, (size_t)amt, 1);
    if (off + amt > s->size)
      s->size = off + amt;
  }
  pthread_mutex_unlock(&s->lock);
  return rc;
}

static int pv_truncate(sqlite3_file *f, sqlite3_int64 size) {
  struct pv_store *s = ((struct pv_file *)f)->st;
  int rc = SQLITE_OK;
  if (size < 0)
    return SQLITE_IOERR_TRUNCATE;
  pthread_mutex_lock(&s->lock);
  if (size > s->size) {
    rc = store_reserve(s, size); /* new blocks are zero */
    if (rc == SQLITE_OK)
      s->size = size;
  } else {
    size_t keep = (size_t)((size + PAGEVFS_BLOCK - 1) / PAGEVFS_BLOCK);
    if (size % PAGEVFS_BLOCK != 0) /* the tail of the last block: nothing of the old data stays */
      OPENSSL_cleanse(s->blk[keep - 1] + size % PAGEVFS_BLOCK, PAGEVFS_BLOCK - (size_t)(size % PAGEVFS_BLOCK));
    if (s->nmap == 0) {
      while (s->nblk > keep)
        block_free(s->blk[--s->nblk]);
    } else {
      for (size_t i = keep; i < s->nblk; i++)
        OPENSSL_cleanse(s->blk[i], PAGEVFS_BLOCK);
    }
    s->size = size;
  }
  pthread_mutex_unlock(&s->lock);
  return rc;
}

static int pv_sync(sqlite3_file *f, int flags) {
  (void)f;
  (void)flags;
  return SQLITE_OK;
}

static int pv_file_size(sqlite3_file *f, sqlite3_int64 *size) {
  struct pv_store *s = ((struct pv_file *)f)->st;
  pthread_mutex_lock(&s->lock);
  *size = s->size;
  pthread_mutex_unlock(&s->lock);
  return SQLITE_OK;
}

/* memdb's rules (see pagevfs.h). */
static int pv_lock(sqlite3_file *f, int want) {
  struct pv_file *pf = (struct pv_file *)f;
  struct pv_store *s = pf->st;
  int rc = SQLITE_OK;
  if (want <= pf->elock)
    return SQLITE_OK;
  pthread_mutex_lock(&s->lock);
  if (want == SQLITE_LOCK_SHARED) {
    if (s->nwr > 0)
      rc = SQLITE_BUSY;
    else
      s->nrd++;
  } else if (want == SQLITE_LOCK_RESERVED || want == SQLITE_LOCK_PENDING) {
    if (pf->elock == SQLITE_LOCK_SHARED) {
      if (s->nwr > 0)
        rc = SQLITE_BUSY;
      else
        s->nwr = 1;
    }
  } else { /* EXCLUSIVE, from SHARED or more */
    if (s->nrd > 1)
      rc = SQLITE_BUSY;
    else if (pf->elock == SQLITE_LOCK_SHARED) {
      if (s->nwr > 0)
        rc = SQLITE_BUSY;
      else
        s->nwr = 1;
    }
  }
  if (rc == SQLITE_OK)
    pf->elock = want;
  pthread_mutex_unlock(&s->lock);
  return rc;
}

static int pv_unlock(sqlite3_file *f, int want) {
  struct pv_file *pf = (struct pv_file *)f;
  struct pv_store *s = pf->st;
  if (want >= pf->elock)
    return SQLITE_OK;
  pthread_mutex_lock(&s->lock);
  if (pf->elock > SQLITE_LOCK_SHARED)
    s->nwr--;
  if (want == SQLITE_LOCK_NONE)
    s->nrd--;
  pf->elock = want;
  pthread_mutex_unlock(&s->lock);
  return SQLITE_OK;
}

static int pv_check_reserved(sqlite3_file *f, int *out) {
  struct pv_store *s = ((struct pv_file *)f)->st;
  pthread_mutex_lock(&s->lock);
  *out = s->nwr > 0;
  pthread_mutex_unlock(&s->lock);
  return SQLITE_OK;
}

static int pv_file_control(sqlite3_file *f, int op, void *arg) {
  struct pv_file *pf = (struct pv_file *)f;
  struct pv_store *s = pf->st;
  sqlite3_int64 v;
  int rc;
  switch (op) {
  case SQLITE_FCNTL_VFSNAME:
    *(char **)arg = sqlite3_mprintf("%s", PAGEVFS_NAME);
    return SQLITE_OK;
  case SQLITE_FCNTL_MMAP_SIZE: /* as the unix VFS: out the old limit, a new one if not negative */
    v = *(sqlite3_int64 *)arg;
    *(sqlite3_int64 *)arg = pf->mmap_max;
    if (v >= 0)
      pf->mmap_max = v;
    return SQLITE_OK;
  case SQLITE_FCNTL_SIZE_HINT:
    /* The pager gives the size before it writes a list of pages: make
     * the blocks now, so that those writes only copy. */
    pthread_mutex_lock(&s->lock);
    rc = store_reserve(s, *(sqlite3_int64 *)arg);
    pthread_mutex_unlock(&s->lock);
    return rc;
  default:
    return SQLITE_NOTFOUND;
  }
}

static int pv_sector_size(sqlite3_file *f) {
  (void)f;
  return (int)PAGEVFS_BLOCK;
}

static int pv_device(sqlite3_file *f) {
  (void)f;
  /* Not SQLITE_IOCAP_ATOMIC: the journal must always be written. */
  return SQLITE_IOCAP_POWERSAFE_OVERWRITE | SQLITE_IOCAP_SAFE_APPEND | SQLITE_IOCAP_SEQUENTIAL;
}

/* A page that lies in one block, inside the file and below the
 * connection's mmap_size is mapped; anything else is left to xRead
 * (*pp = NULL). */
static int pv_fetch(sqlite3_file *f, sqlite3_int64 off, int amt, void **pp) {
  struct pv_file *pf = (struct pv_file *)f;
  struct pv_store *s = pf->st;
  *pp = NULL;
  if (off < 0 || amt <= 0 || off % PAGEVFS_BLOCK + amt > PAGEVFS_BLOCK || off + amt > pf->mmap_max)
    return SQLITE_OK;
  pthread_mutex_lock(&s->lock);
  if (off + amt <= s->size) {
    *pp = s->blk[off / PAGEVFS_BLOCK] + off % PAGEVFS_BLOCK;
    s->nmap++;
  }
  pthread_mutex_unlock(&s->lock);
  return SQLITE_OK;
}

static int pv_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p) {
  struct pv_store *s = ((struct pv_file *)f)->st;
  (void)off;
  if (p == NULL)
    return SQLITE_OK; /* "unmap everything": nothing is mapped but pages */
  pthread_mutex_lock(&s->lock);
  if (s->nmap > 0)
    s->nmap--;
  pthread_mutex_unlock(&s->lock);
  return SQLITE_OK;
}

static const sqlite3_io_methods pv_methods = {
    .iVersion = 3,
    .xClose = pv_close,
    .xRead = pv_read,
    .xWrite = pv_write,
    .xTruncate = pv_truncate,
    .xSync = pv_sync,
    .xFileSize = pv_file_size,
    .xLock = pv_lock,
    .xUnlock = pv_unlock,
    .xCheckReservedLock = pv_check_reserved,
    .xFileControl = pv_file_control,
    .xSectorSize = pv_sector_size,
    .xDeviceCharacteristics = pv_device,
    .xFetch = pv_fetch, /* no xShm*: no WAL */
    .xUnfetch = pv_unfetch,
};

/* ---- the VFS ---- */

static int pv_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out_flags) {
  struct pv_file *pf = (struct pv_file *)f;
  struct pv_store *s;
  int is_main = (flags & SQLITE_OPEN_MAIN_DB) != 0;
  (void)vfs;
  memset(pf, 0, sizeof(*pf));
  /* Only a named main database or its journal: temporary files and
   * statement journals stay in each connection's memory (temp_store). */
  if (name == NULL || strlen(name) > MAX_PATH || (!is_main && (flags & SQLITE_OPEN_MAIN_JOURNAL) == 0) ||
      (is_main && strlen(name) > PAGEVFS_MAX_NAME))
    return SQLITE_CANTOPEN;
  pthread_mutex_lock(&registry_lock);
  if ((s = registry_find(name)) == NULL) {
    if ((flags & SQLITE_OPEN_CREATE) == 0 || (s = sqlite3_malloc64(sizeof(*s))) == NULL) {
      pthread_mutex_unlock(&registry_lock);
      return (flags & SQLITE_OPEN_CREATE) == 0 ? SQLITE_CANTOPEN : SQLITE_NOMEM;
    }
    memset(s, 0, sizeof(*s));
    memcpy(s->name, name, strlen(name) + 1);
    pthread_mutex_init(&s->lock, NULL);
    s->linked = 1;
    s->is_main = is_main;
    s->next = registry;
    registry = s;
  }
  s->refs++;
  pthread_mutex_unlock(&registry_lock);
  pf->st = s;
  pf->base.pMethods = &pv_methods;
  if (out_flags != NULL)
    *out_flags = flags;
  return SQLITE_OK;
}

static int pv_delete(sqlite3_vfs *vfs, const char *name, int sync_dir) {
  struct pv_store *s;
  int gone = 0;
  (void)vfs;
  (void)sync_dir;
  pthread_mutex_lock(&registry_lock);
  if ((s = registry_find(name)) != NULL) {
    registry_unlink(s);
    gone = s->refs == 0;
  }
  pthread_mutex_unlock(&registry_lock);
  if (gone)
    store_free(s);
  return SQLITE_OK;
}

static int pv_access(sqlite3_vfs *vfs, const char *name, int what, int *out) {
  struct pv_store *s;
  (void)vfs;
  pthread_mutex_lock(&registry_lock);
  s = registry_find(name);
  if (s != NULL && what == SQLITE_ACCESS_EXISTS) {
    pthread_mutex_lock(&s->lock);
    *out = s->size > 0; /* as the unix VFS: an empty journal is no journal */
    pthread_mutex_unlock(&s->lock);
  } else {
    *out = s != NULL;
  }
  pthread_mutex_unlock(&registry_lock);
  return SQLITE_OK;
}

static int pv_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out) {
  (void)vfs;
  if (strlen(name) >= (size_t)n)
    return SQLITE_CANTOPEN;
  memcpy(out, name, strlen(name) + 1);
  return SQLITE_OK;
}

static void *pv_dlopen(sqlite3_vfs *vfs, const char *path) {
  (void)vfs;
  (void)path;
  return NULL;
}

static void pv_dlerror(sqlite3_vfs *vfs, int n, char *msg) {
  (void)vfs;
  if (n > 0)
    msg[0] = '\0';
}

static void (*pv_dlsym(sqlite3_vfs *vfs, void *h, const char *sym))(void) {
  (void)vfs;
  (void)h;
  (void)sym;
  return NULL;
}

static void pv_dlclose(sqlite3_vfs *vfs, void *h) {
  (void)vfs;
  (void)h;
}

static int pv_randomness(sqlite3_vfs *vfs, int n, char *out) {
  (void)vfs;
  return base_vfs->xRandomness(base_vfs, n, out);
}

static int pv_sleep(sqlite3_vfs *vfs, int us) {
  (void)vfs;
  return base_vfs->xSleep(base_vfs, us);
}

static int pv_current_time(sqlite3_vfs *vfs, double *t) {
  (void)vfs;
  return base_vfs->xCurrentTime(base_vfs, t);
}

static int pv_last_error(sqlite3_vfs *vfs, int n, char *msg) {
  (void)vfs;
  if (n > 0)
    msg[0] = '\0';
  return 0;
}

static int pv_current_time64(sqlite3_vfs *vfs, sqlite3_int64 *t) {
  (void)vfs;
  return base_vfs->xCurrentTimeInt64(base_vfs, t);
}

static sqlite3_vfs pv_vfs = {
    .iVersion = 2,
    .szOsFile = (int)sizeof(struct pv_file),
    .mxPathname = (int)MAX_PATH + 1,
    .zName = PAGEVFS_NAME,
    .xOpen = pv_open,
    .xDelete = pv_delete,
    .xAccess = pv_access,
    .xFullPathname = pv_full_pathname,
    .xDlOpen = pv_dlopen,
    .xDlError = pv_dlerror,
    .xDlSym = pv_dlsym,
    .xDlClose = pv_dlclose,
    .xRandomness = pv_randomness,
    .xSleep = pv_sleep,
    .xCurrentTime = pv_current_time,
    .xGetLastError = pv_last_error,
    .xCurrentTimeInt64 = pv_current_time64,
};

static pthread_once_t register_once = PTHREAD_ONCE_INIT;
static int register_rc = SQLITE_ERROR;

static void register_vfs(void) {
  if ((base_vfs = sqlite3_vfs_find(NULL)) == NULL || base_vfs->iVersion < 2 || base_vfs->xCurrentTimeInt64 == NULL)
    return;
  register_rc = sqlite3_vfs_register(&pv_vfs, 0);
}

int pagevfs_register(void) {
  (void)pthread_once(&register_once, register_vfs);
  return register_rc == SQLITE_OK ? 0 : CDR_ERR_INTERNAL;
}

int pagevfs_stats(const char *name, struct pagevfs_stats *out) {
  struct pv_store *s;
  memset(out, 0, sizeof(*out));
  pthread_mutex_lock(&registry_lock);
  if ((s = registry_find(name)) != NULL) {
    pthread_mutex_lock(&s->lock);
    out->size = (uint64_t)s->size;
    out->blocks = s->nblk;
    out->readers = s->nrd;
    out->writer = s->nwr;
    out->mapped = s->nmap;
    pthread_mutex_unlock(&s->lock);
  }
  pthread_mutex_unlock(&registry_lock);
  return s != NULL ? 0 : CDR_ERR_NOT_FOUND;
}
