/*
 * sandbox.c - the enclave's seccomp allowlist (sandbox.h).
 *
 * What the enclave does after IPC_INIT, and so what the list holds (read
 * from main.c, dispatch.c and the handlers, and checked with strace -f
 * over the whole integration suite):
 *
 *   channel     read(ipc_fd), write(ipc_fd): frames (ipc/frame.c), also
 *               the IPC_STORE rounds inside a request (store_client.c).
 *   log         write(2): one fprintf per line (common/log.c); gmtime_r
 *               and strftime without %Z need no time zone file.  Also
 *               writev(2): glibc's fatal messages ("free(): invalid
 *               pointer", "stack smashing detected") before it aborts.
 *   memory      brk, mmap, munmap, mremap, madvise, mprotect: malloc,
 *               SQLite's heap, OpenSSL.  mmap and mprotect never with
 *               PROT_EXEC: no new executable memory after init.  No
 *               mlock: mlockall(MCL_FUTURE) (harden.c) locks new pages
 *               without a call, and the secure heap was locked at start.
 *   entropy     getrandom: OpenSSL's DRBGs reseed.  The two libraries
 *               that read /dev/urandom instead (jansson's hash seed,
 *               SQLite's PRNG, e.g. for a user's `SELECT random()`) are
 *               seeded before the filter goes on (sandbox_warm_up).
 *   time zone   none after init: a user's datetime('now', 'localtime')
 *               has glibc read /etc/localtime, and with TZ unset glibc
 *               stats it again at every localtime() and mktime().  So
 *               sandbox_warm_up names that same default in TZ (when TZ
 *               is unset: cdrd starts the enclave with no environment)
 *               and loads it with tzset(); glibc then keeps it.
 *   time        clock_gettime, gettimeofday, time: normally the vDSO,
 *               which seccomp never sees, but the kernel falls back to
 *               the system call when the clock source has no vDSO path
 *               (some hypervisors), and that must not kill the enclave.
 *   threads     futex (OpenSSL's locks and once-guards), getpid, gettid.
 *   libc        sysinfo: glibc's qsort asks for the machine's memory size
 *               (sysconf(_SC_PHYS_PAGES)) the first time it sorts more
 *               than 1 KiB, which OpenSSL does when it sorts a CRL with
 *               more than 128 entries; it reveals nothing the enclave
 *               should not know.
 *   ending      exit, exit_group; rt_sigprocmask and tgkill to ourselves
 *               so that abort() (OpenSSL's, a failed assert) ends with
 *               SIGABRT as usual; rt_sigreturn and restart_syscall, which
 *               the kernel itself may need; close (harmless: it can only
 *               give up a descriptor we hold).
 *
 * Everything else kills the process: socket, connect, bind (no network
 * of its own; the channel is the descriptor it was given or accepted
 * before init), execve, execveat, fork, clone (no new process or
 * thread), ptrace, process_vm_readv/writev, open, openat for sim, kill of
 * another process, setuid and friends, mount, bpf, prctl, seccomp
 * itself, and so on.  A call from another architecture's table (an
 * int 0x80 from x86-64 code) kills too (SCMP_FLTATR_ACT_BADARCH).
 *
 * Provider profiles (the provider is fixed at init, by cdr-enclave's
 * command line, never by the host):
 *   sim    nothing more: its key, certificate, sealing secret and the
 *          hash of /proc/self/exe were read at init (attest_sim.c).
 *   snp,   configfs-tsm at every IPC_ATTEST (attest_tsm.c): openat (never
 *   tdx    with O_CREAT, O_TRUNC or O_TMPFILE: the attributes exist),
 *          mkdirat and unlinkat(AT_REMOVEDIR) for the private report
 *          entry, and read and write on any descriptor (the attribute
 *          files).  Seccomp cannot see the path an openat names, so this
 *          profile confines system calls, not paths; Landlock beneath the
 *          tsm root would be the next step.  /dev/sev-guest (the sealing
 *          key) is read at init only.
 *   nitro  ioctl with request NSM_IOCTL_RAW, for the /dev/nsm descriptor
 *          opened at init (attest_nitro.c); no open.  The filter does not
 *          know which descriptor that is, so it checks the request only:
 *          on the channel or stderr that request does nothing.
 *
 * Sanitizer builds (CDR_SANITIZE, CDR_FUZZ): AddressSanitizer's
 * LeakSanitizer checks for leaks at exit by cloning a tracer (a process
 * sharing our memory) that ptrace-attaches to our threads, after making
 * the process dumpable again, and it reads /proc/self/task and
 * /proc/self/maps with the runtime's own system calls.  Those calls
 * (sandbox_rules_sanitizer) are compiled in only when the enclave is
 * built with ASan (SANDBOX_SANITIZER below), never in a normal build, so
 * a sanitizer build's filter is weaker: read-only opens, reads and
 * writes on any descriptor, ptrace, prctl.  socket, exec, fork and
 * executable memory stay forbidden there too.  Without them a leak
 * check at exit would be killed, or worse hang: a killed tracer leaves
 * the main thread waiting for it forever.
 */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sched.h>
#include <seccomp.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANDBOX_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANDBOX_SANITIZER 1
#endif
#endif
#ifndef SANDBOX_SANITIZER
#define SANDBOX_SANITIZER 0
#endif

/* attest_nitro.c's NSM_IOCTL_RAW (uapi/linux/nsm.h): _IOWR(0x0A, 0,
 * struct nsm_raw), where struct nsm_raw is two {u64 addr, u64 len}. */
struct sandbox_nsm_raw {
  uint64_t request_addr, request_len, response_addr, response_len;
};
#define SANDBOX_NSM_IOCTL_RAW _IOWR(0x0A, 0x0, struct sandbox_nsm_raw)

/* openat flags that would make or truncate a file.  O_TMPFILE is this
 * bit together with O_DIRECTORY, which the tsm provider does use, so the
 * mask takes the bit alone (glibc's __O_TMPFILE includes O_DIRECTORY). */
#define SANDBOX_O_TMPFILE_BIT 020000000
#define SANDBOX_OPEN_MAKES (O_CREAT | O_TRUNC | SANDBOX_O_TMPFILE_BIT)

enum sandbox_extra {
  SANDBOX_TSM = 1, /* configfs-tsm report entries */
  SANDBOX_NSM = 2  /* the Nitro Secure Module ioctl */
};

static const struct {
  const char *provider;
  unsigned extra;
} sandbox_profiles[] = {{"sim", 0}, {"snp", SANDBOX_TSM}, {"tdx", SANDBOX_TSM}, {"nitro", SANDBOX_NSM}};

/* Allow syscall nr (when cmp is non-NULL: only when that comparison
 * holds).  A negative nr is libseccomp's name for a call this
 * architecture does not have (time on arm64): nothing to allow. */
static int allow(scmp_filter_ctx ctx, int nr, const struct scmp_arg_cmp *cmp) {
  if (nr < 0)
    return 0;
  return seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, cmp != NULL ? 1 : 0, cmp);
}

static int allow_if(scmp_filter_ctx ctx, int nr, struct scmp_arg_cmp cmp) { return allow(ctx, nr, &cmp); }

/* Argument `arg` equals v; argument `arg` has none of the bits in mask.
 * Whole 64-bit comparisons: a value with stray high bits is refused,
 * which is the safe side for an allowlist. */
static struct scmp_arg_cmp arg_eq(unsigned arg, uint64_t v) {
  struct scmp_arg_cmp c = {arg, SCMP_CMP_EQ, v, 0};
  return c;
}
static struct scmp_arg_cmp arg_without(unsigned arg, uint64_t mask) {
  struct scmp_arg_cmp c = {arg, SCMP_CMP_MASKED_EQ, mask, 0};
  return c;
}

#define ALLOW(name) allow(ctx, SCMP_SYS(name), NULL)
#define ALLOW_IF(name, cmp) allow_if(ctx, SCMP_SYS(name), cmp)

/* The calls every profile needs (see the top of the file). */
static int sandbox_rules_common(scmp_filter_ctx ctx, int ipc_fd, unsigned nfds) {
  const pid_t self = getpid();
  int r = 0;
  /* The channel's lanes and the log. */
  for (unsigned k = 0; k < nfds; k++) {
    const uint64_t fd = (uint64_t)ipc_fd + k;
    r |= ALLOW_IF(read, arg_eq(0, fd));
    r |= ALLOW_IF(write, arg_eq(0, fd));
  }
  r |= ALLOW_IF(write, arg_eq(0, STDERR_FILENO));
  r |= ALLOW_IF(writev, arg_eq(0, STDERR_FILENO));
  r |= ALLOW(close);
  /* Memory, never executable. */
  r |= ALLOW(brk);
  r |= ALLOW_IF(mmap, arg_without(2, PROT_EXEC));
  r |= ALLOW_IF(mprotect, arg_without(2, PROT_EXEC));
  r |= ALLOW(munmap);
  r |= ALLOW(mremap);
  r |= ALLOW(madvise);
  /* Entropy, time, locks, identity. */
  r |= ALLOW(getrandom);
  r |= ALLOW(clock_gettime);
  r |= ALLOW(gettimeofday);
  r |= ALLOW(time);
  r |= ALLOW(futex);
  r |= ALLOW(getpid);
  r |= ALLOW(gettid);
  r |= ALLOW(sysinfo);
  /* Ending, normally or by abort(). */
  r |= ALLOW(exit);
  r |= ALLOW(exit_group);
  r |= ALLOW(rt_sigreturn);
  r |= ALLOW(rt_sigprocmask);
  r |= ALLOW(restart_syscall);
  r |= ALLOW_IF(tgkill, arg_eq(0, (uint64_t)self));
  return r;
}

/* configfs-tsm: see the top of the file. */
static int sandbox_rules_tsm(scmp_filter_ctx ctx) {
  int r = 0;
  r |= ALLOW(read);
  r |= ALLOW(write);
  r |= ALLOW_IF(openat, arg_without(2, SANDBOX_OPEN_MAKES));
  r |= ALLOW(mkdirat);
  r |= ALLOW_IF(unlinkat, arg_eq(2, AT_REMOVEDIR));
  return r;
}

static int sandbox_rules_nsm(scmp_filter_ctx ctx) {
  return ALLOW_IF(ioctl, arg_eq(1, (uint32_t)SANDBOX_NSM_IOCTL_RAW));
}

#if SANDBOX_SANITIZER
/* LeakSanitizer's exit-time check and the sanitizers' reports (see the
 * top of the file).  Compiled into sanitizer builds only.  The runtime
 * makes its own system calls, the legacy ones on x86-64 (open, stat,
 * getdents, readlink), hence both spellings.  clone only as the
 * runtime's tracer is made (sharing memory, untraced): never a fork. */
static int sandbox_rules_sanitizer(scmp_filter_ctx ctx) {
  static const int plain[] = {
      SCMP_SYS(read),       SCMP_SYS(write),         SCMP_SYS(lseek),     SCMP_SYS(fstat),
      SCMP_SYS(newfstatat), SCMP_SYS(stat),          SCMP_SYS(lstat),     SCMP_SYS(getdents),
      SCMP_SYS(getdents64), SCMP_SYS(readlink),      SCMP_SYS(readlinkat), SCMP_SYS(dup),
      SCMP_SYS(dup2),       SCMP_SYS(dup3),          SCMP_SYS(wait4),     SCMP_SYS(ptrace),
      SCMP_SYS(prctl),      SCMP_SYS(getppid),       SCMP_SYS(sched_yield), SCMP_SYS(sigaltstack),
      SCMP_SYS(rt_sigaction), SCMP_SYS(kill),        SCMP_SYS(tgkill),    SCMP_SYS(getrlimit),
      SCMP_SYS(prlimit64),  SCMP_SYS(nanosleep),     SCMP_SYS(clock_nanosleep), SCMP_SYS(uname),
      SCMP_SYS(sched_getaffinity), SCMP_SYS(munlock), SCMP_SYS(mlock)};
  const uint64_t tracer = CLONE_VM | CLONE_UNTRACED;
  struct scmp_arg_cmp clone_tracer = {0, SCMP_CMP_MASKED_EQ, tracer, tracer};
  int r = 0;
  for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
    r |= allow(ctx, plain[i], NULL);
  r |= ALLOW_IF(open, arg_without(1, SANDBOX_OPEN_MAKES));
  r |= ALLOW_IF(openat, arg_without(2, SANDBOX_OPEN_MAKES));
  r |= ALLOW_IF(clone, clone_tracer);
  return r;
}
#endif

/* What would open a file lazily after the filter is on, done now. */
static int sandbox_warm_up(void) {
  unsigned char b[16];
  int r = 0;
  /* jansson seeds its hash function from /dev/urandom when the first
   * object is made; 0 asks for exactly that, now. */
  json_object_seed(0);
  /* SQLite seeds its PRNG from the VFS (/dev/urandom) on first use. */
  sqlite3_randomness((int)sizeof(b), b);
  /* The local time zone, which SQLite's 'localtime' modifier asks for
   * (see the top of the file). */
  if (getenv("TZ") == NULL && setenv("TZ", ":/etc/localtime", 0) != 0)
    r = CDR_ERR_NOMEM;
  tzset();
  /* OpenSSL's public and private DRBGs, instantiated and seeded. */
  if (RAND_bytes(b, (int)sizeof(b)) != 1 || RAND_priv_bytes(b, (int)sizeof(b)) != 1)
    r = CDR_ERR_CRYPTO;
  OPENSSL_cleanse(b, sizeof(b));
  return r;
}

int sandbox_enter(const char *provider, int ipc_fd) { return sandbox_enter_lanes(provider, ipc_fd, 1); }

int sandbox_enter_lanes(const char *provider, int ipc_fd, unsigned nfds) {
  scmp_filter_ctx ctx = NULL;
  unsigned extra = 0;
  size_t i;
  int r;
  for (i = 0; i < sizeof(sandbox_profiles) / sizeof(sandbox_profiles[0]); i++)
    if (provider != NULL && strcmp(sandbox_profiles[i].provider, provider) == 0)
      break;
  if (i == sizeof(sandbox_profiles) / sizeof(sandbox_profiles[0])) {
    log_error("sandbox: no system-call profile for attestation provider %s", provider ? provider : "(none)");
    return CDR_ERR_ARG;
  }
  if (ipc_fd < 0 || nfds == 0 || nfds > 64) {
    log_error("sandbox: no channel descriptor to allow");
    return CDR_ERR_ARG;
  }
  extra = sandbox_profiles[i].extra;
  if ((r = sandbox_warm_up()) != 0) {
    log_error("sandbox: cannot prepare the libraries for the filter (random seeds, time zone)");
    return r;
  }
  /* libseccomp sets it too (SCMP_FLTATR_CTL_NNP); set and check it here
   * so that its absence can never go unnoticed. */
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) {
    log_error("sandbox: cannot set no_new_privs: %s", strerror(errno));
    return CDR_ERR_INTERNAL;
  }
  r = CDR_ERR_INTERNAL;
  if ((ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL) {
    log_error("sandbox: cannot make a seccomp filter");
    return CDR_ERR_NOMEM;
  }
  if (seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS) != 0 ||
      seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1) != 0 || seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1) != 0) {
    log_error("sandbox: cannot set the filter's attributes");
    goto out;
  }
  if (sandbox_rules_common(ctx, ipc_fd, nfds) != 0 || ((extra & SANDBOX_TSM) && sandbox_rules_tsm(ctx) != 0) ||
      ((extra & SANDBOX_NSM) && sandbox_rules_nsm(ctx) != 0)
#if SANDBOX_SANITIZER
      || sandbox_rules_sanitizer(ctx) != 0
#endif
  ) {
    log_error("sandbox: cannot build the %s filter", provider);
    goto out;
  }
  if ((r = seccomp_load(ctx)) != 0) {
    log_error("sandbox: cannot load the seccomp filter: %s", strerror(-r));
    r = CDR_ERR_INTERNAL;
    goto out;
  }
  log_info("sandbox: seccomp filter on (%s profile%s)", provider, SANDBOX_SANITIZER ? ", sanitizer build" : "");
  r = 0;
out:
  seccomp_release(ctx);
  return r;
}
