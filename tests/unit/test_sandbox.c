/*
 * test_sandbox.c - the enclave's seccomp allowlist (src/enclave/sandbox.c).
 *
 * cdr-enclave has no way to start without its filter, so the filter is
 * tested here, in child processes of this test: each child enters the
 * sandbox exactly as cdr-enclave does after IPC_INIT (sandbox_enter with
 * the provider's name and its channel, one end of a socketpair), then
 * does one thing.  The parent checks how the child ended:
 *   - what the enclave does after init (the channel, the log, memory,
 *     OpenSSL, SQLite's random(), jansson, the clock, a normal exit with
 *     its atexit handlers) works, and the child exits 0;
 *   - a forbidden call (a socket, exec, an open for sim, fork, ptrace,
 *     executable memory, another process...) kills the child with
 *     SIGSYS;
 *   - /proc/PID/status of a sandboxed child shows Seccomp 2 (filter),
 *     at least one filter, and NoNewPrivs 1;
 *   - the snp/tdx profile lets the configfs-tsm provider take a report
 *     on a fake tree (as in test_tsm.c), and nothing more; the nitro
 *     profile allows exactly its one ioctl.
 * In a sanitizer build the filter also lets LeakSanitizer work at exit
 * (sandbox.c), which allows some of the calls checked below; those
 * checks are skipped there, and the test says which.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "crypto/crypto.h"
#include "enclave/attest.h"
#include "enclave/sandbox.h"
#include "testlib.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZER_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZER_BUILD 1
#endif
#endif
#ifndef SANITIZER_BUILD
#define SANITIZER_BUILD 0
#endif

/* attest_nitro.c's NSM_IOCTL_RAW: _IOWR(0x0A, 0, struct nsm_raw), 32 bytes. */
struct test_nsm_raw {
  uint64_t a, b, c, d;
};
#define NSM_IOCTL_RAW _IOWR(0x0A, 0x0, struct test_nsm_raw)

typedef int (*child_fn)(int ipc_fd);

/* Taken before the filter: getppid and getuid are not in the list, and
 * each forbidden case must die of the call it tests. */
static pid_t parent_pid;
static uid_t my_uid;

/* Fork; the child enters the sandbox for `provider` on one end of a
 * socketpair and returns body(fd) as its exit status (exit(), so the
 * atexit handlers run under the filter too).  The wait status, or -1. */
static int run_sandboxed(const char *provider, child_fn body) {
  int sv[2], st = -1;
  pid_t pid;
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    return -1;
  fflush(NULL);
  if ((pid = fork()) < 0)
    return -1;
  if (pid == 0) {
    (void)close(sv[0]);
    if (sandbox_enter(provider, sv[1]) != 0)
      _exit(99);
    exit(body(sv[1]));
  }
  (void)close(sv[1]);
  if (waitpid(pid, &st, 0) != pid)
    st = -1;
  (void)close(sv[0]);
  return st;
}

static int exited_ok(int st) { return st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0; }
static int killed_by_sigsys(int st) { return st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS; }

static void expect_ok(const char *what, const char *provider, child_fn body) {
  int st = run_sandboxed(provider, body);
  test_checks++;
  if (!exited_ok(st)) {
    test_failures++;
    fprintf(stderr, "%s (%s): wait status %#x, want a clean exit 0%s\n", what, provider, st,
            killed_by_sigsys(st) ? " (killed by SIGSYS: a needed call is not in the list)" : "");
  }
}

static void expect_killed(const char *what, const char *provider, child_fn body) {
  int st = run_sandboxed(provider, body);
  test_checks++;
  if (!killed_by_sigsys(st)) {
    test_failures++;
    fprintf(stderr, "%s (%s): wait status %#x, want death by SIGSYS\n", what, provider, st);
  }
}

/* ---- what the enclave does after init ---- */

static int cmp_long(const void *a, const void *b) {
  long x = *(const long *)a, y = *(const long *)b;
  return (x > y) - (x < y);
}

static int body_enclave_work(int fd) {
  EVP_PKEY *key = NULL;
  struct cdr_buf sig;
  unsigned char rnd[32], echo[4];
  sqlite3 *db = NULL;
  sqlite3_stmt *st = NULL;
  json_t *o;
  char *text;
  struct timespec ts;
  int bad = 0;

  /* The channel, both ways (the peer end is closed in the child, so
   * this is a write, then a read of EOF on the same socket's pair...
   * here: a write the kernel accepts and a non-blocking read). */
  if (write(fd, "ping", 4) != 4)
    bad |= 1;
  if (read(fd, echo, 0) != 0)
    bad |= 1;
  /* The log. */
  log_info("sandboxed child %d logging", (int)getpid());
  /* Memory: small, large (mmap), larger by realloc (mremap), freed. */
  {
    char *small = malloc(100), *big = malloc(64u << 20);
    if (small == NULL || big == NULL)
      bad |= 2;
    else {
      memset(big, 1, 64u << 20);
      char *bigger = realloc(big, 128u << 20);
      if (bigger == NULL)
        bad |= 2;
      else
        big = bigger;
    }
    free(small);
    free(big);
  }
  /* Entropy and crypto: a new key, a signature. */
  cdr_buf_init(&sig, 256, 0);
  if (RAND_bytes(rnd, sizeof(rnd)) != 1 || cdr_ec_p256_generate(&key) != 0 || cdr_sign(&sig, key, rnd, sizeof(rnd)) != 0)
    bad |= 4;
  cdr_buf_free(&sig);
  EVP_PKEY_free(key);
  /* SQLite in memory, with its PRNG (seeded before the filter). */
  if (sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK ||
      sqlite3_exec(db, "CREATE TABLE t(x); INSERT INTO t VALUES (random()), (hex(randomblob(16)));", NULL, NULL,
                   NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(db, "SELECT count(*), datetime('now', 'localtime') FROM t ORDER BY random()", -1, &st,
                         NULL) != SQLITE_OK ||
      sqlite3_step(st) != SQLITE_ROW || sqlite3_column_int(st, 0) != 2 || sqlite3_column_text(st, 1) == NULL)
    bad |= 8;
  sqlite3_finalize(st);
  sqlite3_close(db);
  /* jansson (its hash seed was read before the filter). */
  o = json_object();
  if (o == NULL || json_object_set_new(o, "rows", json_integer(2)) != 0 || (text = json_dumps(o, 0)) == NULL)
    bad |= 16;
  else
    free(text);
  json_decref(o);
  /* A large sort (glibc's qsort sizes its buffer with sysinfo the first
   * time; OpenSSL sorts a long CRL's entries so). */
  {
    size_t n = 4096;
    long *v = malloc(n * sizeof(*v));
    if (v == NULL)
      bad |= 64;
    else {
      for (size_t i = 0; i < n; i++)
        v[i] = (long)((i * 7919u) % n);
      qsort(v, n, sizeof(*v), cmp_long);
      for (size_t i = 1; i < n; i++)
        if (v[i - 1] > v[i])
          bad |= 64;
      free(v);
    }
  }
  /* The clock, through the vDSO and through the system call itself. */
  if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts) != 0 ||
      time(NULL) == (time_t)-1)
    bad |= 32;
  /* Local time (the zone was loaded before the filter). */
  {
    time_t now = time(NULL);
    struct tm tm;
    if (localtime_r(&now, &tm) == NULL || localtime(&now) == NULL || mktime(&tm) == (time_t)-1)
      bad |= 32;
  }
  if (bad != 0)
    fprintf(stderr, "enclave work failed under the filter: %#x\n", bad);
  return bad;
}

/* A revocation list longer than 128 entries, made before the fork:
 * OpenSSL sorts its entries at the first lookup (with glibc's qsort,
 * which then asks for sysinfo), as the enclave does for every session
 * once the room's list is that long. */
static X509_CRL *long_crl;
#define LONG_CRL_ENTRIES 300

static X509_CRL *make_long_crl(void) {
  EVP_PKEY *key = NULL;
  X509_CRL *crl = X509_CRL_new();
  ASN1_TIME *now = ASN1_TIME_set(NULL, time(NULL));
  int ok = crl != NULL && now != NULL && cdr_ec_p256_generate(&key) == 0 && X509_CRL_set_version(crl, 1) &&
           X509_CRL_set1_lastUpdate(crl, now);
  for (long i = LONG_CRL_ENTRIES; ok && i > 0; i--) { /* descending: the lookup must sort */
    X509_REVOKED *rev = X509_REVOKED_new();
    ASN1_INTEGER *serial = ASN1_INTEGER_new();
    ok = rev != NULL && serial != NULL && ASN1_INTEGER_set(serial, 1000 + i * 7) &&
         X509_REVOKED_set_serialNumber(rev, serial) && X509_REVOKED_set_revocationDate(rev, now) &&
         X509_CRL_add0_revoked(crl, rev);
    if (!ok)
      X509_REVOKED_free(rev);
    ASN1_INTEGER_free(serial);
  }
  ok = ok && X509_CRL_sign(crl, key, EVP_sha256()) > 0;
  EVP_PKEY_free(key);
  ASN1_TIME_free(now);
  if (!ok) {
    X509_CRL_free(crl);
    crl = NULL;
  }
  return crl;
}

static int body_long_crl_lookup(int fd) {
  ASN1_INTEGER *serial = ASN1_INTEGER_new();
  X509_REVOKED *rev = NULL;
  int found = serial != NULL && ASN1_INTEGER_set(serial, 1000 + 7 * 150) &&
              X509_CRL_get0_by_serial(long_crl, &rev, serial) == 1;
  ASN1_INTEGER_free(serial);
  return found ? 0 : 3;
}

/* abort() still ends with SIGABRT (OpenSSL's, a failed assert). */
static int body_abort(int fd) {
  abort();
}

/* ---- forbidden ---- */

static int body_socket_inet(int fd) { return socket(AF_INET, SOCK_STREAM, 0) >= 0 ? 0 : 3; }
static int body_socket_unix(int fd) { return socket(AF_UNIX, SOCK_STREAM, 0) >= 0 ? 0 : 3; }
static int body_socketpair(int fd) {
  int sv[2];
  return socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0 ? 0 : 3;
}
static int body_execve(int fd) {
  char *const argv[] = {"/bin/true", NULL}, *const envp[] = {NULL};
  execve(argv[0], argv, envp);
  return 3;
}
static int body_fork(int fd) {
  pid_t p = fork();
  if (p == 0)
    _exit(0);
  return 3;
}
static int body_open(int fd) { return open("/etc/hostname", O_RDONLY | O_CLOEXEC) >= 0 ? 0 : 3; }
static int body_open_create(int fd) { return open("/tmp/cdr-sandbox-test-x", O_WRONLY | O_CREAT | O_CLOEXEC, 0600) >= 0 ? 0 : 3; }
static int body_exec_memory(int fd) {
  void *p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p != MAP_FAILED ? 0 : 3;
}
static int body_mprotect_exec(int fd) {
  void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    return 4;
  return mprotect(p, 4096, PROT_READ | PROT_EXEC) == 0 ? 0 : 3;
}
static int body_process_vm_readv(int fd) {
  char buf[8];
  struct iovec l = {buf, sizeof(buf)}, r = {buf, sizeof(buf)};
  return process_vm_readv(parent_pid, &l, 1, &r, 1, 0) >= 0 ? 0 : 3;
}
static int body_setuid(int fd) { return setuid(my_uid) == 0 ? 0 : 3; }
static int body_tgkill_other(int fd) { return syscall(SYS_tgkill, parent_pid, parent_pid, 0) == 0 ? 0 : 3; }
static int body_ioctl_tty(int fd) {
  struct winsize ws;
  return ioctl(fd, TIOCGWINSZ, &ws) == 0 ? 0 : 3;
}
static int body_ioctl_nsm(int fd) {
  uint64_t raw[4] = {0, 0, 0, 0};
  /* On a socket the NSM ioctl fails (ENOTTY); what matters is that the
   * filter let it through. */
  return ioctl(fd, NSM_IOCTL_RAW, raw) == 0 || errno == ENOTTY || errno == EINVAL ? 0 : 3;
}
/* Only outside sanitizer builds (LeakSanitizer needs these, sandbox.c). */
static int body_ptrace(int fd) { return ptrace(PTRACE_TRACEME, 0, NULL, NULL) == 0 ? 0 : 3; }
static int body_write_stdout(int fd) { return write(STDOUT_FILENO, "x\n", 2) == 2 ? 0 : 3; }
static int body_prctl_dumpable(int fd) { return prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) == 0 ? 0 : 3; }
static int body_kill_parent(int fd) { return kill(parent_pid, 0) == 0 ? 0 : 3; }

static void test_forbidden(void) {
  static const struct {
    const char *what;
    child_fn body;
    int sanitizer_allows;
  } cases[] = {
      {"socket(AF_INET)", body_socket_inet, 0},
      {"socket(AF_UNIX)", body_socket_unix, 0},
      {"socketpair", body_socketpair, 0},
      {"execve", body_execve, 0},
      {"fork", body_fork, 0},
      {"open for writing with O_CREAT", body_open_create, 0},
      {"mmap PROT_EXEC", body_exec_memory, 0},
      {"mprotect to PROT_EXEC", body_mprotect_exec, 0},
      {"process_vm_readv", body_process_vm_readv, 0},
      {"setuid", body_setuid, 0},
      {"tgkill of another process", body_tgkill_other, SANITIZER_BUILD},
      {"ioctl TIOCGWINSZ", body_ioctl_tty, 0},
      {"open for reading (sim)", body_open, 1},
      {"ptrace", body_ptrace, 1},
      {"write to stdout", body_write_stdout, 1},
      {"prctl(PR_SET_DUMPABLE)", body_prctl_dumpable, 1},
      {"kill of another process", body_kill_parent, 1},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    if (SANITIZER_BUILD && cases[i].sanitizer_allows) {
      printf("sanitizer build: not checked (LeakSanitizer needs it): %s\n", cases[i].what);
      continue;
    }
    expect_killed(cases[i].what, "sim", cases[i].body);
  }
  /* The NSM ioctl is nitro's alone. */
  expect_killed("the NSM ioctl outside the nitro profile", "sim", body_ioctl_nsm);
  expect_killed("the NSM ioctl outside the nitro profile", "tdx", body_ioctl_nsm);
  expect_killed("socket in the nitro profile", "nitro", body_socket_inet);
  expect_killed("another ioctl in the nitro profile", "nitro", body_ioctl_tty);
  expect_killed("socket in the tdx profile", "tdx", body_socket_inet);
  expect_killed("execve in the snp profile", "snp", body_execve);
  expect_killed("open with O_CREAT in the tdx profile", "tdx", body_open_create);
}

static void test_allowed(void) {
  static const char *const providers[] = {"sim", "snp", "tdx", "nitro"};
  for (size_t i = 0; i < sizeof(providers) / sizeof(providers[0]); i++)
    expect_ok("the enclave's work after init", providers[i], body_enclave_work);
  expect_ok("the NSM ioctl in the nitro profile", "nitro", body_ioctl_nsm);
  CHECK((long_crl = make_long_crl()) != NULL);
  if (long_crl != NULL)
    expect_ok("a lookup in a long revocation list", "sim", body_long_crl_lookup);
  X509_CRL_free(long_crl);
  {
    int st = run_sandboxed("sim", body_abort);
    CHECK(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
  }
}

/* An unknown provider gets no filter and an error, before anything. */
static void test_unknown_provider(void) {
  CHECK_RC(sandbox_enter("sev", 3), CDR_ERR_ARG);
  CHECK_RC(sandbox_enter(NULL, 3), CDR_ERR_ARG);
  CHECK_RC(sandbox_enter("sim", -1), CDR_ERR_ARG);
  CHECK(prctl(PR_GET_SECCOMP, 0, 0, 0, 0) == 0);
}

/* ---- /proc/PID/status shows the filter ---- */

static int body_wait_for_parent(int fd) {
  char c;
  if (write(fd, "r", 1) != 1 || read(fd, &c, 1) != 1)
    return 3;
  return 0;
}

static void test_proc_status(void) {
  int sv[2], st = -1;
  char c, path[64], *status = NULL;
  uint8_t *raw = NULL;
  size_t len = 0;
  pid_t pid;
  CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  fflush(NULL);
  pid = fork();
  if (pid == 0) {
    (void)close(sv[0]);
    if (sandbox_enter("sim", sv[1]) != 0)
      _exit(99);
    exit(body_wait_for_parent(sv[1]));
  }
  (void)close(sv[1]);
  CHECK(read(sv[0], &c, 1) == 1);
  snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
  {
    /* /proc files have no size: read until EOF. */
    FILE *f = fopen(path, "re");
    CHECK(f != NULL && (raw = calloc(1, 1u << 16)) != NULL);
    if (f != NULL && raw != NULL)
      len = fread(raw, 1, (1u << 16) - 1, f);
    if (f != NULL)
      fclose(f);
    CHECK(len > 0);
  }
  status = (char *)raw;
  CHECK_CONTAINS(status, "\nSeccomp:\t2\n");
  CHECK_CONTAINS(status, "\nNoNewPrivs:\t1\n");
  {
    const char *f = status ? strstr(status, "\nSeccomp_filters:\t") : NULL;
    CHECK(f != NULL && strtol(f + strlen("\nSeccomp_filters:\t"), NULL, 10) >= 1);
  }
  free(raw);
  CHECK(write(sv[0], "x", 1) == 1);
  CHECK(waitpid(pid, &st, 0) == pid && exited_ok(st));
  (void)close(sv[0]);
}

/* ---- configfs-tsm under the snp/tdx profile ---- */

static char tsm_root[64];

static int put(const char *dir, const char *name, const void *p, size_t n) {
  char path[256];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  return cdr_file_write(path, p, n, 0600, 0);
}

/* The tdx provider, initialised on the fake tree before the filter (as at
 * IPC_INIT), then asked for evidence under it. */
static struct attest_provider *tsm_provider;
static struct attest_options tsm_opts;

static int body_tsm_evidence(int fd) {
  struct cdr_buf ev, certs[ATTEST_MAX_CERTS];
  uint8_t rd[CDR_REPORT_DATA_LEN];
  size_t n = 0;
  int r;
  memset(rd, 0x42, sizeof(rd));
  cdr_buf_init(&ev, CDR_MAX_EVIDENCE, 0);
  r = tsm_provider->evidence(tsm_provider, rd, &ev, certs, &n);
  for (size_t i = 0; i < n; i++)
    cdr_buf_free(&certs[i]);
  cdr_buf_free(&ev);
  return r == 0 ? 0 : 5;
}

/* A private report entry (no --tsm-entry): mkdirat under the root, then
 * unlinkat(AT_REMOVEDIR).  The provider decides that mode at init, so
 * the calls are made here directly, as tsm_entry_open/close make them. */
static int tsm_root_fd = -1;

static int body_tsm_private_entry(int fd) {
  if (mkdirat(tsm_root_fd, "cdr-private-0", 0700) != 0)
    return 5;
  int dir = openat(tsm_root_fd, "cdr-private-0", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (dir < 0 || close(dir) != 0)
    return 6;
  return unlinkat(tsm_root_fd, "cdr-private-0", AT_REMOVEDIR) == 0 ? 0 : 7;
}

/* Removing a file (not a directory) is not part of the profile. */
static int body_tsm_unlink_file(int fd) { return unlinkat(tsm_root_fd, "e0/inblob", 0) == 0 ? 0 : 3; }

/* Entries named cdr-* (private ones) left under the fake root. */
static int count_private_entries(void) {
  DIR *d = opendir(tsm_root);
  struct dirent *de;
  int n = 0;
  if (d == NULL)
    return -1;
  while ((de = readdir(d)) != NULL)
    n += strncmp(de->d_name, "cdr-", 4) == 0;
  closedir(d);
  return n;
}

static void test_tsm_profile(void) {
  const char *src = getenv("CDR_SOURCE_DIR");
  char path[4096], entry[128];
  uint8_t *quote = NULL;
  size_t quote_len = 0;
  snprintf(path, sizeof(path), "%s/tests/data/attest/tdx/tdx-quote.bin", src ? src : ".");
  if (cdr_file_read(path, &quote, &quote_len, 1u << 20) != 0) {
    fprintf(stderr, "cannot read %s (set CDR_SOURCE_DIR)\n", path);
    CHECK(0);
    return;
  }
  snprintf(tsm_root, sizeof(tsm_root), "/tmp/cdr-sandbox-tsm.XXXXXX");
  CHECK(mkdtemp(tsm_root) != NULL);
  snprintf(entry, sizeof(entry), "%s/e0", tsm_root);
  CHECK(mkdir(entry, 0700) == 0);
  CHECK(put(entry, "provider", ATTEST_TSM_PROVIDER_TDX "\n", strlen(ATTEST_TSM_PROVIDER_TDX) + 1) == 0);
  CHECK(put(entry, "generation", "1\n", 2) == 0);
  CHECK(put(entry, "inblob", "", 0) == 0);
  CHECK(put(entry, "outblob", quote, quote_len) == 0);

  memset(&tsm_opts, 0, sizeof(tsm_opts));
  tsm_opts.tsm_root = tsm_root;
  tsm_opts.tsm_entry = "e0";
  tsm_provider = attest_provider_find("tdx");
  tsm_provider->opts = &tsm_opts;
  CHECK_RC(tsm_provider->init(tsm_provider, NULL), 0);
  expect_ok("a configfs-tsm report on the prepared entry", "tdx", body_tsm_evidence);
  if (SANITIZER_BUILD)
    printf("sanitizer build: not checked (LeakSanitizer needs openat): a configfs-tsm report under sim\n");
  else
    expect_killed("a configfs-tsm report under the sim profile", "sim", body_tsm_evidence);
  CHECK((tsm_root_fd = open(tsm_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0);
  expect_ok("a private configfs-tsm entry made and removed", "snp", body_tsm_private_entry);
  CHECK(count_private_entries() == 0);
  expect_killed("a private configfs-tsm entry under the sim profile", "sim", body_tsm_private_entry);
  CHECK(count_private_entries() == 0);
  expect_killed("unlinkat of a file in the tdx profile", "tdx", body_tsm_unlink_file);
  (void)close(tsm_root_fd);
  tsm_provider->fini(tsm_provider);
  snprintf(path, sizeof(path), "rm -rf '%s'", tsm_root);
  if (system(path) != 0)
    fprintf(stderr, "cannot remove %s\n", tsm_root);
  free(quote);
}

int main(void) {
  cdr_log_init("test_sandbox", CDR_LOG_INFO);
  parent_pid = getpid();
  my_uid = getuid();
  if (SANITIZER_BUILD)
    printf("sanitizer build: the filter carries LeakSanitizer's extra calls\n");
  test_unknown_provider();
  test_allowed();
  test_forbidden();
  test_proc_status();
  test_tsm_profile();
  return test_summary("test_sandbox");
}
