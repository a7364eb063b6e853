/*
 * enclave_link.c - starting, watching and stopping the enclave
 * (enclave_link.h); the calls themselves are in enclave_call.c and the
 * operation stubs in enclave_stubs.c (enclave_link_int.h).
 *
 * The link starts `cdr-enclave --room ROOM --ipc-fd 3` on one end of a
 * socketpair (or, with enclave_link_start_ex and a channel address,
 * connects to an enclave that is already listening: vsock for a Nitro
 * enclave, or its AF_UNIX stand-in; channel.h), sends IPC_INIT and keeps
 * the identity the enclave answers with.
 *
 * Invariants:
 *   - The child gets nothing of the host: its own process group, an
 *     empty environment, only fd 3 open, and SIGKILL if cdrd dies.
 *   - The socket has send and receive timeouts (LINK_IO_TIMEOUT_S): an
 *     enclave that stops answering mid-frame is declared dead rather than
 *     holding every HTTP worker forever.
 *   - enclave_link_stop always reaps the child it started (killing it
 *     after LINK_STOP_WAIT_MS if it ignores EOF).
 */
#include "enclave_link.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/limits.h"
#include "common/log.h"
#include "common/util.h"
#include "enclave_link_int.h"
#include "ipc/channel.h"
#include "ipc/messages.h"

/* The enclave end of the socketpair in the child (the "--ipc-fd 3"). */
#define LINK_CHILD_FD 3
/* How long one frame may take to cross in either direction.  Longer than
 * the SQL time limit plus a 64 MiB CSV load, with a wide margin. */
#define LINK_IO_TIMEOUT_S 300
/* How long IPC_INIT may take (key generation, room loading). */
#define LINK_INIT_TIMEOUT_S 60
/* How long a connecting link keeps trying (a Nitro enclave may still be
 * booting when cdrd starts). */
#define LINK_CONNECT_TIMEOUT_S 120
/* How long enclave_link_stop waits for the child to exit on EOF. */
#define LINK_STOP_WAIT_MS 5000

static int link_set_timeouts(int fd, int seconds) {
  struct timeval tv = {.tv_sec = seconds, .tv_usec = 0};
  if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
      setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0)
    return CDR_ERR_IO;
  return 0;
}

/* ---- start and stop ---- */

/* In the child, between fork and exec: only async-signal-safe calls.
 * child_fd[0..n) become fds 3..3+n (the lanes, in order). */
static void link_child_exec(const int *child_fd, int n, pid_t parent, char *const argv[]) {
  sigset_t none;
  struct sigaction dfl;

  /* Own process group: a Ctrl-C at the terminal reaches cdrd, which
   * shuts the enclave down in order, instead of killing both at once. */
  (void)setpgid(0, 0);
  /* If cdrd dies without closing the socket, the enclave goes too. */
  (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent)
    _exit(127);
  /* cdrd blocks SIGINT/SIGTERM and ignores SIGPIPE; exec keeps both. */
  sigemptyset(&none);
  (void)sigprocmask(SIG_SETMASK, &none, NULL);
  memset(&dfl, 0, sizeof(dfl));
  dfl.sa_handler = SIG_DFL;
  (void)sigaction(SIGPIPE, &dfl, NULL);
  /* Move every lane above the range first, so that no dup2 below
   * overwrites a lane not yet moved. */
  int high[2 + LINK_MAX_WORK_LANES];
  for (int i = 0; i < n; i++)
    if ((high[i] = fcntl(child_fd[i], F_DUPFD_CLOEXEC, LINK_CHILD_FD + n)) < 0)
      _exit(127);
  for (int i = 0; i < n; i++)
    if (dup2(high[i], LINK_CHILD_FD + i) != LINK_CHILD_FD + i) /* dup2 clears FD_CLOEXEC */
      _exit(127);
  /* Nothing of the host (listening socket, token sessions, database)
   * may leak into the enclave. */
  if (close_range((unsigned)(LINK_CHILD_FD + n), ~0u, 0) != 0) {
    for (int fd = LINK_CHILD_FD + n; fd < 65536; fd++)
      (void)close(fd);
  }
  /* An empty environment: the host's (CDR_HSM_PIN, SOFTHSM2_CONF, ...)
   * is none of the enclave's business, and nothing in it should steer it. */
  {
    char *const no_env[] = {NULL};
    execve(argv[0], argv, no_env);
  }
  {
    static const char msg[] = "cdrd: cannot execute the enclave program\n";
    ssize_t ignored = write(2, msg, sizeof(msg) - 1);
    (void)ignored;
  }
  _exit(127);
}

/* Wait up to timeout_ms for the child to exit: 1 if it was reaped now
 * (*status set), 2 if it was already gone, 0 if it is still running. */
static int link_reap(pid_t pid, int timeout_ms, int *status) {
  for (int waited = 0;; waited += 50) {
    pid_t w = waitpid(pid, status, WNOHANG);
    if (w == pid)
      return 1;
    if (w < 0 && errno == ECHILD)
      return 2;
    if (w < 0 && errno != EINTR)
      return 0;
    if (waited >= timeout_ms)
      return 0;
    (void)poll(NULL, 0, 50);
  }
}

static void link_identity_free(struct enclave_identity *id) {
  free(id->identity_spki);
  free(id->new_sealed_identity);
  memset(id, 0, sizeof(*id));
}

/* Decode IPC_INIT_OK into l->id (which owns copies). */
static int link_decode_init_ok(struct enclave_link *l, struct cdr_buf *reply) {
  struct ipc_init_ok m;
  int r;

  if ((r = ipc_get_init_ok(reply, &m)) != 0)
    return r;
  if (m.new_sealed_identity_len > 0) {
    if ((l->id.new_sealed_identity = link_memdup(m.new_sealed_identity, m.new_sealed_identity_len)) == NULL)
      return CDR_ERR_NOMEM;
    l->id.new_sealed_identity_len = m.new_sealed_identity_len;
  }
  memcpy(l->id.measurement, m.measurement, m.measurement_len);
  l->id.measurement_len = m.measurement_len;
  memcpy(l->id.platform, m.platform, sizeof(l->id.platform));
  if ((l->id.identity_spki = link_memdup(m.identity_spki, m.identity_spki_len)) == NULL)
    return CDR_ERR_NOMEM;
  l->id.identity_spki_len = m.identity_spki_len;
  return 0;
}

/* How many work lanes (and enclave workers): the online cores, at
 * least 1, at most LINK_MAX_WORK_LANES; CDR_ENCLAVE_WORKERS overrides
 * (tests, and the isolation bench on machines with one core). */
static unsigned link_workers(void) {
  const char *env = getenv("CDR_ENCLAVE_WORKERS");
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  if (env != NULL && env[0] != '\0') {
    char *end;
    long v = strtol(env, &end, 10);
    if (*end == '\0' && v >= 1)
      n = v;
  }
  if (n < 1)
    n = 1;
  return n > LINK_MAX_WORK_LANES ? LINK_MAX_WORK_LANES : (unsigned)n;
}

/* Start `enclave --room ROOM --ipc-fd 3 --workers W [--attestation P]
 * [--tsm-root DIR]` on W + 2 new socketpairs (the lanes: control, audit,
 * W work lanes, as fds 3, 4, 5...); l->fd, l->audit_fd and l->work_fd
 * are the other ends and l->pid the child.  0, or CDR_ERR_IO (logged)
 * with nothing left open.  An exec failure shows up later, as EOF on
 * l->fd (the child exits 127). */
static int link_spawn(struct enclave_link *l, const struct enclave_link_opts *o) {
  int sv[2 + LINK_MAX_WORK_LANES][2], child[2 + LINK_MAX_WORK_LANES];
  unsigned w = link_workers();
  int nl = (int)w + 2;
  char wtext[16];
  char *argv[12] = {(char *)(uintptr_t)o->enclave_path, "--room", (char *)(uintptr_t)o->room_dir, "--ipc-fd", "3",
                    "--workers", wtext};
  int argc = 7;
  snprintf(wtext, sizeof(wtext), "%u", w);
  if (o->attestation != NULL) {
    argv[argc++] = "--attestation";
    argv[argc++] = (char *)(uintptr_t)o->attestation;
  }
  if (o->tsm_root != NULL) {
    argv[argc++] = "--tsm-root";
    argv[argc++] = (char *)(uintptr_t)o->tsm_root;
  }
  /* CDR_CURSOR_IDLE_S: a paged result's idle timeout (tests); the
   * enclave checks its bounds. */
  const char *idle = getenv("CDR_CURSOR_IDLE_S");
  if (idle != NULL && idle[0] != '\0') {
    argv[argc++] = "--cursor-idle";
    argv[argc++] = (char *)(uintptr_t)idle;
  }
  argv[argc] = NULL;
  for (int i = 0; i < nl; i++) {
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv[i]) != 0) {
      log_error("socketpair: %s", strerror(errno));
      for (int k = 0; k < i; k++) {
        (void)close(sv[k][0]);
        (void)close(sv[k][1]);
      }
      return CDR_ERR_IO;
    }
    child[i] = sv[i][1];
  }
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    log_error("fork: %s", strerror(errno));
    for (int i = 0; i < nl; i++) {
      (void)close(sv[i][0]);
      (void)close(sv[i][1]);
    }
    return CDR_ERR_IO;
  }
  if (pid == 0)
    link_child_exec(child, nl, parent, argv); /* does not return */
  l->pid = pid;
  l->fd = sv[0][0];
  l->audit_fd = sv[1][0];
  l->nwork = w;
  for (unsigned i = 0; i < w; i++)
    l->work_fd[i] = sv[2 + i][0];
  for (int i = 0; i < nl; i++)
    (void)close(sv[i][1]);
  return 0;
}

int enclave_link_start(struct enclave_link **out, const char *enclave_path, const char *room_dir,
                       const uint8_t room_id[CDR_ROOM_ID_BYTES], const uint8_t *ca_der, size_t ca_len,
                       const uint8_t *sealed_identity, size_t sealed_identity_len) {
  struct enclave_link_opts o;
  memset(&o, 0, sizeof(o));
  o.enclave_path = enclave_path;
  o.room_dir = room_dir;
  return enclave_link_start_ex(out, &o, room_id, ca_der, ca_len, sealed_identity, sealed_identity_len);
}

int enclave_link_start_ex(struct enclave_link **out, const struct enclave_link_opts *o,
                          const uint8_t room_id[CDR_ROOM_ID_BYTES], const uint8_t *ca_der, size_t ca_len,
                          const uint8_t *sealed_identity, size_t sealed_identity_len) {
  struct enclave_link *l = NULL;
  struct cdr_buf payload, reply;
  struct ipc_init init;
  int r, lock_ready = 0;
  char *errmsg = NULL;
  const char *what = o->connect != NULL ? o->connect->text : o->enclave_path;

  *out = NULL;
  cdr_buf_init(&payload, CDR_IPC_MAX_FRAME, 0);
  cdr_buf_init(&reply, CDR_IPC_MAX_FRAME, 0);
  if ((o->connect == NULL && (o->enclave_path == NULL || o->room_dir == NULL)) || ca_der == NULL || ca_len == 0 ||
      ca_len > CDR_MAX_CERT_DER) {
    r = CDR_ERR_ARG;
    goto out;
  }
  if ((l = calloc(1, sizeof(*l))) == NULL) {
    r = CDR_ERR_NOMEM;
    goto out;
  }
  l->fd = -1;
  l->audit_fd = -1;
  l->pid = -1;
  cdr_buf_init(&l->hello, CDR_IPC_MAX_FRAME, 0);
  if (pthread_mutex_init(&l->lock, NULL) != 0 || pthread_mutex_init(&l->pick_lock, NULL) != 0 ||
      pthread_mutex_init(&l->store_lock, NULL) != 0 || pthread_cond_init(&l->pick_cond, NULL) != 0) {
    r = CDR_ERR_INTERNAL;
    goto out;
  }
  lock_ready = 1;
  if (sealed_identity_len > IPC_SEALED_IDENTITY_MAX) {
    r = CDR_ERR_TOO_LARGE;
    goto out;
  }
  memcpy(init.room_id, room_id, CDR_ROOM_ID_BYTES);
  init.ca_der = ca_der;
  init.ca_len = ca_len;
  init.sealed_identity = sealed_identity;
  init.sealed_identity_len = sealed_identity_len;
  if ((r = ipc_put_init(&payload, &init)) != 0)
    goto out;

  if (o->connect != NULL) {
    /* An enclave started on its own (Nitro: inside the enclave VM). */
    if ((r = ipc_channel_connect(o->connect, LINK_CONNECT_TIMEOUT_S, &l->fd)) != 0)
      goto out;
  } else if ((r = link_spawn(l, o)) != 0) {
    goto out;
  }
  atomic_store(&l->alive, 1);
  if (l->audit_fd >= 0) {
    if (pthread_create(&l->audit_thread, NULL, link_audit_lane, l) != 0) {
      r = CDR_ERR_INTERNAL;
      goto out;
    }
    l->audit_thread_started = 1;
  }

  /* An exec failure shows up as EOF here (the child exits 127). */
  if ((r = link_set_timeouts(l->fd, LINK_INIT_TIMEOUT_S)) != 0)
    goto out;
  if (o->upgrade_hello) {
    if ((r = link_call(l, IPC_UPGRADE_HELLO, &payload, IPC_UPGRADE_HELLO_OK, &l->hello, &errmsg)) != 0) {
      log_error("enclave %s did not start for the handoff: %s%s%s", what, cdr_err_code(r), errmsg ? ": " : "",
                errmsg ? errmsg : "");
      goto out;
    }
  } else if ((r = link_call(l, IPC_INIT, &payload, IPC_INIT_OK, &reply, &errmsg)) != 0) {
    log_error("enclave %s did not initialise: %s%s%s", what, cdr_err_code(r), errmsg ? ": " : "",
              errmsg ? errmsg : "");
    goto out;
  }
  if (!o->upgrade_hello && (r = link_decode_init_ok(l, &reply)) != 0) {
    log_error("enclave sent a malformed IPC_INIT_OK");
    r = CDR_ERR_INTERNAL;
    goto out;
  }
  if ((r = link_set_timeouts(l->fd, LINK_IO_TIMEOUT_S)) != 0)
    goto out;
  for (unsigned i = 0; i < l->nwork; i++)
    if ((r = link_set_timeouts(l->work_fd[i], LINK_IO_TIMEOUT_S)) != 0)
      goto out;
  if (!o->upgrade_hello) {
    char mhex[2 * CDR_MEASUREMENT_MAX + 1];
    cdr_hex_encode(mhex, l->id.measurement, l->id.measurement_len);
    if (o->connect != NULL)
      log_info("enclave connected: %s, platform %s, measurement %s", o->connect->text, l->id.platform, mhex);
    else
      log_info("enclave started: pid %d, platform %s, measurement %s", (int)l->pid, l->id.platform, mhex);
  }
  *out = l;
  l = NULL;
  r = 0;
out:
  if (l != NULL) {
    if (l->pid > 0 || l->fd >= 0) {
      enclave_link_stop(l); /* frees l */
    } else {
      if (lock_ready) {
        pthread_mutex_destroy(&l->lock);
        pthread_mutex_destroy(&l->pick_lock);
        pthread_mutex_destroy(&l->store_lock);
        pthread_cond_destroy(&l->pick_cond);
      }
      free(l);
    }
  }
  free(errmsg);
  cdr_buf_free(&payload);
  cdr_buf_free(&reply);
  return r;
}

void enclave_link_stop(struct enclave_link *l) {
  int status = 0;

  if (l == NULL)
    return;
  atomic_store(&l->alive, 0);
  /* shutdown() first: it wakes a call blocked in read() on another
   * thread, so that the lock below can be taken. */
  if (l->fd >= 0)
    (void)shutdown(l->fd, SHUT_RDWR);
  for (unsigned i = 0; i < l->nwork; i++)
    (void)shutdown(l->work_fd[i], SHUT_RDWR);
  if (l->audit_fd >= 0)
    (void)shutdown(l->audit_fd, SHUT_RDWR);
  pthread_mutex_lock(&l->lock);
  if (l->fd >= 0)
    (void)close(l->fd);
  l->fd = -1;
  pthread_mutex_unlock(&l->lock);
  /* Every work lane taken (its caller fails fast now), then closed. */
  for (unsigned i = 0; i < l->nwork; i++)
    (void)link_work_lane_take(l);
  for (unsigned i = 0; i < l->nwork; i++)
    (void)close(l->work_fd[i]);
  if (l->audit_thread_started)
    (void)pthread_join(l->audit_thread, NULL);
  if (l->audit_fd >= 0)
    (void)close(l->audit_fd);

  if (l->pid > 0) {
    int reaped = link_reap(l->pid, LINK_STOP_WAIT_MS, &status);
    if (reaped == 0) {
      log_warn("enclave pid %d did not exit within %d ms; killing it", (int)l->pid, LINK_STOP_WAIT_MS);
      (void)kill(l->pid, SIGKILL);
      reaped = link_reap(l->pid, 2000, &status);
    }
    if (reaped == 1 && WIFEXITED(status))
      log_info("enclave pid %d exited with status %d", (int)l->pid, WEXITSTATUS(status));
    else if (reaped == 1 && WIFSIGNALED(status))
      log_info("enclave pid %d killed by signal %d", (int)l->pid, WTERMSIG(status));
  }
  link_identity_free(&l->id);
  cdr_buf_free(&l->hello);
  pthread_mutex_destroy(&l->lock);
  pthread_mutex_destroy(&l->pick_lock);
  pthread_mutex_destroy(&l->store_lock);
  pthread_cond_destroy(&l->pick_cond);
  free(l);
}

int enclave_link_alive(struct enclave_link *l) {
  siginfo_t si;

  if (l == NULL || !atomic_load(&l->alive))
    return 0;
  if (l->pid <= 0) {
    /* A connected enclave is no child of ours.  Between exchanges it
     * never sends anything, so a readable or hung-up socket then means
     * it is gone (or out of step).  During an exchange the caller of
     * that exchange finds out itself. */
    struct pollfd pfd;
    int gone;
    if (pthread_mutex_trylock(&l->lock) != 0)
      return 1;
    pfd.fd = l->fd;
    pfd.events = POLLIN | POLLRDHUP;
    pfd.revents = 0;
    gone = l->fd < 0 || (poll(&pfd, 1, 0) > 0 && pfd.revents != 0);
    pthread_mutex_unlock(&l->lock);
    if (gone)
      link_mark_dead(l, "the enclave closed the channel");
    return !gone;
  }
  /* Peek without reaping (WNOWAIT): enclave_link_stop reaps. */
  memset(&si, 0, sizeof(si));
  if (waitid(P_PID, (id_t)l->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == l->pid) {
    link_mark_dead(l, "the enclave process exited");
    return 0;
  }
  return 1;
}

pid_t enclave_link_pid(struct enclave_link *l) { return l != NULL ? l->pid : -1; }

const struct enclave_identity *enclave_link_identity(struct enclave_link *l) { return l != NULL ? &l->id : NULL; }

const struct cdr_buf *enclave_link_hello(struct enclave_link *l) { return &l->hello; }
