/*
 * enclave_link.c - the host's stubs for the enclave (enclave_link.h).
 *
 * The link starts `cdr-enclave --room ROOM --ipc-fd 3` on one end of a
 * socketpair (or, with enclave_link_start_ex and a channel address,
 * connects to an enclave that is already listening: vsock for a Nitro
 * enclave, or its AF_UNIX stand-in; channel.h), sends IPC_INIT, and from
 * then on turns each stub call into exactly one request frame and one
 * reply frame, under a mutex: the enclave answers one request at a time
 * and the stream has no request ids, so two callers must never
 * interleave.
 *
 * Invariants:
 *   - `alive` only ever goes from 1 to 0.  It drops when a frame cannot
 *     be written or read, when a reply has a type we did not expect or
 *     does not decode exactly, or when the child has exited.  After that
 *     the byte stream can no longer be trusted to be in step, so every
 *     later call fails with CDR_ERR_INTERNAL without touching the socket.
 *   - Every request payload is decoded with the enclave's own decoder
 *     before it is sent.  The enclave exits on any frame that does not
 *     decode exactly (it treats it as a compromised host), so an
 *     oversized field from a client must be refused here, not there.
 *   - Replies are decoded with the caps of messages.h / limits.h; the
 *     enclave is trusted, but a size it announces is still checked
 *     before anything is allocated for it.
 *   - The socket has send and receive timeouts (LINK_IO_TIMEOUT_S): an
 *     enclave that stops answering mid-frame is declared dead rather than
 *     holding every HTTP worker forever.
 *
 * SIGPIPE: frames are written with write(2); a process using the link
 * must ignore SIGPIPE (cdrd does) so that a dead enclave shows up as
 * CDR_ERR_IO rather than killing the host.
 */
#include "enclave_link.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
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
#include "channel.h"
#include "messages.h"

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
#define LINK_MAX_CERTS 8

struct enclave_link {
  pthread_mutex_t lock; /* serialises calls: one frame out, one frame in */
  int fd;
  pid_t pid;
  atomic_int alive;
  struct enclave_identity id;
  enclave_store_fn store_fn; /* storage operations the enclave asks for */
  enclave_fetch_fn fetch_fn; /* reads of stored objects it asks for */
  void *store_ctx;
};

/* ---- small helpers ---- */

static void link_mark_dead(struct enclave_link *l, const char *why) {
  if (atomic_exchange(&l->alive, 0) != 0)
    log_error("enclave link is dead: %s", why);
}

static int link_set_timeouts(int fd, int seconds) {
  struct timeval tv = {.tv_sec = seconds, .tv_usec = 0};
  if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
      setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0)
    return CDR_ERR_IO;
  return 0;
}

/* A platform name from the enclave: 1..31 printable ASCII bytes, copied
 * NUL-terminated into out[32]. */
static int link_copy_platform(char out[32], const uint8_t *p, size_t n) {
  if (n == 0 || n >= 32)
    return CDR_ERR_TRUNCATED;
  for (size_t i = 0; i < n; i++)
    if (p[i] < 0x21 || p[i] > 0x7e)
      return CDR_ERR_TRUNCATED;
  memcpy(out, p, n);
  out[n] = '\0';
  return 0;
}

static uint8_t *link_memdup(const uint8_t *p, size_t n) {
  uint8_t *d = malloc(n ? n : 1);
  if (d != NULL && n > 0)
    memcpy(d, p, n);
  return d;
}

/*
 * One exchange: write (type, payload), read the reply into `reply` (an
 * initialised buffer with max >= CDR_IPC_MAX_FRAME; the caller frees it
 * on every path) and check its type.  Returns 0 with *got = expect, the enclave's error (and *errmsg)
 * for IPC_ERROR, or CDR_ERR_INTERNAL after marking the link dead for any
 * I/O failure or unexpected reply.  Caller holds l->lock.
 */
/* Apply an IPC_STORE's operations in order, stopping at the first
 * failure, and answer IPC_STORED.  Returns non-zero only if the frame is
 * malformed or the answer cannot be sent (the link is then dead); a
 * failed write is reported to the enclave, which refuses the request.
 * IPC_STORE_NOWAIT (answer 0) is not answered: a failure to apply it is
 * CDR_ERR_IO, and the caller ends the link. */
static int link_apply_store(struct enclave_link *l, struct cdr_buf *in, int answer) {
  struct cdr_buf out;
  struct ipc_store_item it;
  uint32_t n;
  int r, failed = 0;
  const char *why = NULL;
  if ((r = cdr_buf_get_u32(in, &n)) != 0 || n == 0 || n > IPC_STORE_MAX_OPS)
    return r ? r : CDR_ERR_TRUNCATED;
  for (uint32_t i = 0; i < n; i++) {
    if ((r = ipc_get_store_item(in, &it)) != 0)
      return r;
    if (!failed) {
      int sr = l->store_fn ? l->store_fn(l->store_ctx, it.op, it.name, it.data, it.len) : CDR_ERR_INTERNAL;
      if (sr != 0) {
        failed = 1;
        why = cdr_err_describe(sr);
        log_error("storing %s for the enclave failed: %s", it.name, why);
      }
    }
  }
  if ((r = cdr_buf_expect_end(in)) != 0)
    return r;
  if (!answer)
    return failed ? CDR_ERR_IO : 0;
  cdr_buf_init(&out, 1024, 0);
  r = ipc_put_status(&out, !failed, failed ? why : "");
  if (r == 0)
    r = ipc_frame_write(l->fd, IPC_STORED, &out);
  cdr_buf_free(&out);
  return r;
}

/* Answer an IPC_FETCH with IPC_FETCHED.  Non-zero only if the frame is
 * malformed or the answer cannot be sent (the link is then dead). */
static int link_apply_fetch(struct enclave_link *l, struct cdr_buf *in) {
  struct cdr_buf out;
  char name[64];
  uint64_t offset;
  uint32_t max;
  uint8_t *data = NULL;
  size_t got = 0;
  int r, found = 1;
  if ((r = ipc_get_fetch(in, name, &offset, &max)) != 0)
    return r;
  if ((data = malloc(max)) == NULL)
    return CDR_ERR_NOMEM;
  int fr = l->fetch_fn ? l->fetch_fn(l->store_ctx, name, offset, data, max, &got) : CDR_ERR_NOT_FOUND;
  if (fr != 0) {
    if (fr != CDR_ERR_NOT_FOUND)
      log_error("reading %s for the enclave failed: %s", name, cdr_err_describe(fr));
    found = 0;
    got = 0;
  }
  cdr_buf_init(&out, (size_t)max + 64, 0);
  if ((r = cdr_buf_put_u8(&out, (uint8_t)found)) == 0 && (r = cdr_buf_put_lp(&out, data, got)) == 0)
    r = ipc_frame_write(l->fd, IPC_FETCHED, &out);
  cdr_buf_free(&out);
  free(data);
  return r;
}

static int link_exchange_locked(struct enclave_link *l, uint32_t type, const struct cdr_buf *payload,
                                uint32_t expect, struct cdr_buf *reply, char **errmsg) {
  uint32_t got = 0;
  int r, err;
  char *msg = NULL;

  if (!atomic_load(&l->alive))
    return CDR_ERR_INTERNAL;
  if ((r = ipc_frame_write(l->fd, type, payload)) != 0) {
    link_mark_dead(l, "cannot write a frame");
    return CDR_ERR_INTERNAL;
  }
  if ((r = ipc_frame_read(l->fd, &got, reply, CDR_IPC_MAX_FRAME)) != 0) {
    link_mark_dead(l, r == CDR_ERR_TOO_LARGE ? "reply frame larger than the cap" : "cannot read a reply frame");
    return CDR_ERR_INTERNAL;
  }
  /* Storage rounds: the enclave asks for durable writes, or reads of
   * what it stored, before it answers. */
  while (got == IPC_STORE || got == IPC_STORE_NOWAIT || got == IPC_FETCH) {
    r = got == IPC_FETCH ? link_apply_fetch(l, reply) : link_apply_store(l, reply, got == IPC_STORE);
    if (r != 0) {
      link_mark_dead(l, got == IPC_FETCH             ? "malformed IPC_FETCH"
                        : got == IPC_STORE           ? "malformed IPC_STORE"
                        : r == CDR_ERR_IO            ? "cannot append to or sync the enclave's audit log: stopping "
                                                       "rather than serve decisions that are not logged"
                                                     : "malformed IPC_STORE_NOWAIT");
      return CDR_ERR_INTERNAL;
    }
    if ((r = ipc_frame_read(l->fd, &got, reply, CDR_IPC_MAX_FRAME)) != 0) {
      link_mark_dead(l, "cannot read a reply frame after a storage round");
      return CDR_ERR_INTERNAL;
    }
  }
  if (got == expect)
    return 0;
  if (got != IPC_ERROR) {
    log_error("enclave answered %s with %s", ipc_msg_name(type), ipc_msg_name(got));
    link_mark_dead(l, "unexpected reply type");
    return CDR_ERR_INTERNAL;
  }
  if ((r = ipc_get_error(reply, &err, &msg)) != 0) {
    free(msg);
    link_mark_dead(l, "malformed IPC_ERROR");
    return CDR_ERR_INTERNAL;
  }
  if (errmsg != NULL)
    *errmsg = msg;
  else
    free(msg);
  return err;
}

/* ---- start and stop ---- */

/* In the child, between fork and exec: only async-signal-safe calls. */
static void link_child_exec(int child_fd, pid_t parent, char *const argv[]) {
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
  if (child_fd == LINK_CHILD_FD) {
    if (fcntl(LINK_CHILD_FD, F_SETFD, 0) != 0)
      _exit(127);
  } else if (dup2(child_fd, LINK_CHILD_FD) != LINK_CHILD_FD) { /* dup2 clears FD_CLOEXEC */
    _exit(127);
  }
  /* Nothing of the host (listening socket, token sessions, database)
   * may leak into the enclave. */
  if (close_range(LINK_CHILD_FD + 1, ~0u, 0) != 0) {
    for (int fd = LINK_CHILD_FD + 1; fd < 65536; fd++)
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

/* Decode IPC_INIT_OK into l->id. */
static int link_decode_init_ok(struct enclave_link *l, struct cdr_buf *reply) {
  const uint8_t *spki, *meas, *platform, *sealed;
  size_t spki_len, meas_len, platform_len, sealed_len;
  int r;

  if ((r = cdr_buf_get_lp(reply, &spki, &spki_len, CDR_MAX_PUBKEY_DER)) != 0 ||
      (r = cdr_buf_get_lp(reply, &meas, &meas_len, CDR_MEASUREMENT_MAX)) != 0 ||
      (r = cdr_buf_get_lp(reply, &platform, &platform_len, 31)) != 0 ||
      (r = cdr_buf_get_lp(reply, &sealed, &sealed_len, 4096)) != 0 || (r = cdr_buf_expect_end(reply)) != 0)
    return r;
  if (sealed_len > 0) {
    if ((l->id.new_sealed_identity = link_memdup(sealed, sealed_len)) == NULL)
      return CDR_ERR_NOMEM;
    l->id.new_sealed_identity_len = sealed_len;
  }
  if (spki_len == 0 || meas_len == 0)
    return CDR_ERR_TRUNCATED;
  memcpy(l->id.measurement, meas, meas_len);
  l->id.measurement_len = meas_len;
  if ((r = link_copy_platform(l->id.platform, platform, platform_len)) != 0)
    return r;
  if ((l->id.identity_spki = link_memdup(spki, spki_len)) == NULL)
    return CDR_ERR_NOMEM;
  l->id.identity_spki_len = spki_len;
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
  int sv[2] = {-1, -1};
  int r, lock_ready = 0;
  char *errmsg = NULL;
  const char *what = o->connect != NULL ? o->connect->text : o->enclave_path;
  /* enclave --room ROOM --ipc-fd 3 [--attestation P] [--tsm-root DIR] */
  char *argv[10] = {(char *)(uintptr_t)o->enclave_path, "--room", (char *)(uintptr_t)o->room_dir, "--ipc-fd", "3"};
  int argc = 5;
  if (o->attestation != NULL) {
    argv[argc++] = "--attestation";
    argv[argc++] = (char *)(uintptr_t)o->attestation;
  }
  if (o->tsm_root != NULL) {
    argv[argc++] = "--tsm-root";
    argv[argc++] = (char *)(uintptr_t)o->tsm_root;
  }
  argv[argc] = NULL;

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
  l->pid = -1;
  if (pthread_mutex_init(&l->lock, NULL) != 0) {
    r = CDR_ERR_INTERNAL;
    goto out;
  }
  lock_ready = 1;
  if (sealed_identity_len > 4096) {
    r = CDR_ERR_TOO_LARGE;
    goto out;
  }
  if ((r = cdr_buf_put_lp(&payload, room_id, CDR_ROOM_ID_BYTES)) != 0 ||
      (r = cdr_buf_put_lp(&payload, ca_der, ca_len)) != 0 ||
      (r = cdr_buf_put_lp(&payload, sealed_identity, sealed_identity_len)) != 0)
    goto out;

  if (o->connect != NULL) {
    /* An enclave started on its own (Nitro: inside the enclave VM). */
    if ((r = ipc_channel_connect(o->connect, LINK_CONNECT_TIMEOUT_S, &l->fd)) != 0)
      goto out;
  } else {
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
      log_error("socketpair: %s", strerror(errno));
      r = CDR_ERR_IO;
      goto out;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
      log_error("fork: %s", strerror(errno));
      r = CDR_ERR_IO;
      goto out;
    }
    if (pid == 0)
      link_child_exec(sv[1], parent, argv); /* does not return */
    l->pid = pid;
    l->fd = sv[0];
    sv[0] = -1;
    (void)close(sv[1]);
    sv[1] = -1;
  }
  atomic_store(&l->alive, 1);

  /* An exec failure shows up as EOF here (the child exits 127). */
  if ((r = link_set_timeouts(l->fd, LINK_INIT_TIMEOUT_S)) != 0)
    goto out;
  pthread_mutex_lock(&l->lock);
  r = link_exchange_locked(l, IPC_INIT, &payload, IPC_INIT_OK, &reply, &errmsg);
  pthread_mutex_unlock(&l->lock);
  if (r != 0) {
    log_error("enclave %s did not initialise: %s%s%s", what, cdr_err_code(r), errmsg ? ": " : "",
              errmsg ? errmsg : "");
    goto out;
  }
  if ((r = link_decode_init_ok(l, &reply)) != 0) {
    log_error("enclave sent a malformed IPC_INIT_OK");
    r = CDR_ERR_INTERNAL;
    goto out;
  }
  if ((r = link_set_timeouts(l->fd, LINK_IO_TIMEOUT_S)) != 0)
    goto out;
  {
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
  if (sv[0] >= 0)
    (void)close(sv[0]);
  if (sv[1] >= 0)
    (void)close(sv[1]);
  if (l != NULL) {
    if (l->pid > 0 || l->fd >= 0) {
      enclave_link_stop(l); /* frees l */
    } else {
      if (lock_ready)
        pthread_mutex_destroy(&l->lock);
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
  pthread_mutex_lock(&l->lock);
  if (l->fd >= 0)
    (void)close(l->fd);
  l->fd = -1;
  pthread_mutex_unlock(&l->lock);

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
  pthread_mutex_destroy(&l->lock);
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

/* ---- the stubs ---- */

void enclave_attestation_free(struct enclave_attestation *a) {
  if (a == NULL)
    return;
  free(a->evidence);
  for (size_t i = 0; a->certs != NULL && i < a->ncerts; i++)
    free(a->certs[i]);
  free(a->certs);
  free(a->cert_lens);
  memset(a, 0, sizeof(*a));
}

/* Decode IPC_ATTEST_OK into out (which owns copies of everything). */
static int link_decode_attest_ok(struct cdr_buf *reply, struct enclave_attestation *out) {
  const uint8_t *platform, *evidence, *cert;
  size_t platform_len, evidence_len, cert_len;
  uint32_t ncerts;
  int r;

  if ((r = cdr_buf_get_lp(reply, &platform, &platform_len, 31)) != 0 ||
      (r = cdr_buf_get_lp(reply, &evidence, &evidence_len, CDR_MAX_EVIDENCE)) != 0 ||
      (r = cdr_buf_get_u32(reply, &ncerts)) != 0)
    goto out;
  if (ncerts > LINK_MAX_CERTS) {
    r = CDR_ERR_TOO_LARGE;
    goto out;
  }
  if ((r = link_copy_platform(out->platform, platform, platform_len)) != 0)
    goto out;
  if ((out->evidence = link_memdup(evidence, evidence_len)) == NULL) {
    r = CDR_ERR_NOMEM;
    goto out;
  }
  out->evidence_len = evidence_len;
  if ((out->certs = calloc(LINK_MAX_CERTS, sizeof(*out->certs))) == NULL ||
      (out->cert_lens = calloc(LINK_MAX_CERTS, sizeof(*out->cert_lens))) == NULL) {
    r = CDR_ERR_NOMEM;
    goto out;
  }
  for (uint32_t i = 0; i < ncerts; i++) {
    if ((r = cdr_buf_get_lp(reply, &cert, &cert_len, CDR_MAX_CERT_DER)) != 0)
      goto out;
    if (cert_len == 0) {
      r = CDR_ERR_TRUNCATED;
      goto out;
    }
    if ((out->certs[i] = link_memdup(cert, cert_len)) == NULL) {
      r = CDR_ERR_NOMEM;
      goto out;
    }
    out->cert_lens[i] = cert_len;
    out->ncerts = i + 1;
  }
  r = cdr_buf_expect_end(reply);
out:
  if (r != 0)
    enclave_attestation_free(out);
  return r;
}

int enclave_attest(struct enclave_link *l, const uint8_t nonce[CDR_NONCE_LEN], struct enclave_attestation *out,
                   char **errmsg) {
  struct cdr_buf payload, reply;
  int r;

  memset(out, 0, sizeof(*out));
  cdr_buf_init(&payload, 64, 0);
  cdr_buf_init(&reply, CDR_IPC_MAX_FRAME, 0);
  if (l == NULL) {
    r = CDR_ERR_INTERNAL;
    goto out;
  }
  if ((r = cdr_buf_put_lp(&payload, nonce, CDR_NONCE_LEN)) != 0)
    goto out;
  pthread_mutex_lock(&l->lock);
  r = link_exchange_locked(l, IPC_ATTEST, &payload, IPC_ATTEST_OK, &reply, errmsg);
  pthread_mutex_unlock(&l->lock);
  if (r != 0)
    goto out;
  if ((r = link_decode_attest_ok(&reply, out)) != 0) {
    if (r != CDR_ERR_NOMEM) {
      link_mark_dead(l, "malformed IPC_ATTEST_OK");
      r = CDR_ERR_INTERNAL;
    }
    goto out;
  }
out:
  cdr_buf_free(&payload);
  cdr_buf_free(&reply);
  return r;
}

int enclave_open_session(struct enclave_link *l, const struct cdr_open_req *req, struct cdr_open_resp *resp,
                         struct cdr_buf *reply, char **errmsg) {
  struct cdr_buf payload, check;
  struct cdr_open_req probe;
  int r;

  memset(resp, 0, sizeof(*resp));
  cdr_buf_init(reply, CDR_IPC_MAX_FRAME, 0);
  cdr_buf_init(&payload, CDR_IPC_MAX_FRAME, 0);
  if (l == NULL) {
    r = CDR_ERR_INTERNAL;
    goto out;
  }
  if ((r = ipc_put_open(&payload, req)) != 0)
    goto out;
  /* The enclave exits on a frame it cannot decode: refuse it here. */
  cdr_buf_view(&check, cdr_buf_ptr(&payload), cdr_buf_avail(&payload));
  if ((r = ipc_get_open(&check, &probe)) != 0)
    goto out;
  pthread_mutex_lock(&l->lock);
  r = link_exchange_locked(l, IPC_OPEN, &payload, IPC_OPEN_OK, reply, errmsg);
  pthread_mutex_unlock(&l->lock);
  if (r != 0)
    goto out;
  if ((r = ipc_get_open_ok(reply, resp)) != 0 || cdr_kem_name(resp->kem) == NULL) {
    link_mark_dead(l, "malformed IPC_OPEN_OK");
    memset(resp, 0, sizeof(*resp));
    r = CDR_ERR_INTERNAL;
    goto out;
  }
out:
  cdr_buf_free(&payload);
  return r;
}

int enclave_request(struct enclave_link *l, const struct cdr_request_env *req, struct cdr_response_env *resp,
                    struct cdr_buf *reply, char **errmsg) {
  struct cdr_buf payload, check;
  struct cdr_request_env probe;
  int r;

  memset(resp, 0, sizeof(*resp));
  cdr_buf_init(reply, CDR_IPC_MAX_FRAME, 0);
  cdr_buf_init(&payload, CDR_IPC_MAX_FRAME, 0);
  if (l == NULL) {
    r = CDR_ERR_INTERNAL;
    goto out;
  }
  if ((r = ipc_put_request(&payload, req)) != 0)
    goto out;
  cdr_buf_view(&check, cdr_buf_ptr(&payload), cdr_buf_avail(&payload));
  if ((r = ipc_get_request(&check, &probe)) != 0)
    goto out;
  pthread_mutex_lock(&l->lock);
  r = link_exchange_locked(l, IPC_REQUEST, &payload, IPC_RESPONSE, reply, errmsg);
  pthread_mutex_unlock(&l->lock);
  if (r != 0)
    goto out;
  if ((r = ipc_get_response(reply, resp)) != 0) {
    link_mark_dead(l, "malformed IPC_RESPONSE");
    memset(resp, 0, sizeof(*resp));
    r = CDR_ERR_INTERNAL;
    goto out;
  }
out:
  cdr_buf_free(&payload);
  return r;
}

/* ---- storage and state loading ---- */

void enclave_link_set_store(struct enclave_link *l, enclave_store_fn fn, enclave_fetch_fn fetch, void *ctx) {
  pthread_mutex_lock(&l->lock);
  l->store_fn = fn;
  l->fetch_fn = fetch;
  l->store_ctx = ctx;
  pthread_mutex_unlock(&l->lock);
}

#define LOAD_CHUNK_BYTES (4u * 1024u * 1024u)
#define LOAD_MAX_TABLES 65536u /* more than any manifest can name */

/* One exchange expecting IPC_LOAD_ACK; *ok from its status. */
static int link_load_ack_locked(struct enclave_link *l, uint32_t type, const struct cdr_buf *payload, int *ok,
                                char **msg) {
  struct cdr_buf reply;
  int r;
  cdr_buf_init(&reply, CDR_IPC_MAX_FRAME, 0);
  if ((r = link_exchange_locked(l, type, payload, IPC_LOAD_ACK, &reply, msg)) == 0 &&
      (r = ipc_get_status(&reply, ok, msg)) != 0) {
    link_mark_dead(l, "malformed IPC_LOAD_ACK");
    r = CDR_ERR_INTERNAL;
  }
  cdr_buf_free(&reply);
  return r;
}

/* Stream one table file to the enclave until it ends or is refused. */
static int link_load_table_locked(struct enclave_link *l, const char *id, enclave_read_fn read, void *ctx,
                                  uint8_t *chunk) {
  struct cdr_buf payload;
  uint64_t offset = 0;
  int r = 0, ok = 1, last = 0;
  cdr_buf_init(&payload, CDR_IPC_MAX_FRAME, 0);
  while (!last && ok) {
    size_t got = 0;
    char *msg = NULL;
    if ((r = read(ctx, id, offset, chunk, LOAD_CHUNK_BYTES, &got)) != 0) {
      log_error("cannot read sealed table %s: %s (it stays unloaded)", id, cdr_err_describe(r));
      got = 0; /* an empty last chunk: the enclave refuses the table */
    }
    last = got < LOAD_CHUNK_BYTES;
    cdr_buf_free(&payload);
    if ((r = cdr_buf_put_lpstr(&payload, id)) != 0 || (r = cdr_buf_put_u64(&payload, offset)) != 0 ||
        (r = cdr_buf_put_lp(&payload, chunk, got)) != 0 || (r = cdr_buf_put_u8(&payload, (uint8_t)last)) != 0)
      break;
    if ((r = link_load_ack_locked(l, IPC_LOAD_CHUNK, &payload, &ok, &msg)) != 0) {
      free(msg);
      break;
    }
    if (!ok)
      log_error("the enclave refused sealed table %s: %s", id, msg ? msg : "");
    free(msg);
    offset += got;
  }
  cdr_buf_free(&payload);
  return r;
}

int enclave_load_state(struct enclave_link *l, const uint8_t *manifest, size_t manifest_len, enclave_read_fn read,
                       void *ctx, char (**wanted)[33], size_t *nwanted) {
  struct cdr_buf payload, reply;
  uint8_t *chunk = NULL;
  char(*ids)[33] = NULL;
  uint32_t n = 0;
  int r, ok = 0;
  char *msg = NULL;
  *wanted = NULL;
  *nwanted = 0;
  cdr_buf_init(&payload, CDR_IPC_MAX_FRAME, 0);
  cdr_buf_init(&reply, CDR_IPC_MAX_FRAME, 0);
  pthread_mutex_lock(&l->lock);
  if ((r = cdr_buf_put_lp(&payload, manifest, manifest_len)) != 0 ||
      (r = link_exchange_locked(l, IPC_LOAD, &payload, IPC_LOAD_WANT, &reply, &msg)) != 0)
    goto out;
  if ((r = cdr_buf_get_u32(&reply, &n)) != 0 || n > LOAD_MAX_TABLES) {
    r = CDR_ERR_TRUNCATED;
    goto bad;
  }
  if (n > 0 && (ids = calloc(n, sizeof(*ids))) == NULL) {
    r = CDR_ERR_NOMEM;
    goto out;
  }
  for (uint32_t i = 0; i < n; i++) {
    const uint8_t *id;
    size_t id_len;
    if ((r = cdr_buf_get_lp(&reply, &id, &id_len, 32)) != 0 || id_len != 32)
      goto bad;
    memcpy(ids[i], id, 32);
    ids[i][32] = '\0';
    for (int k = 0; k < 32; k++)
      if (!((ids[i][k] >= '0' && ids[i][k] <= '9') || (ids[i][k] >= 'a' && ids[i][k] <= 'f')))
        goto bad;
  }
  if ((r = cdr_buf_expect_end(&reply)) != 0)
    goto bad;
  if (n > 0 && (chunk = malloc(LOAD_CHUNK_BYTES)) == NULL) {
    r = CDR_ERR_NOMEM;
    goto out;
  }
  for (uint32_t i = 0; i < n; i++)
    if ((r = link_load_table_locked(l, ids[i], read, ctx, chunk)) != 0)
      goto out;
  cdr_buf_free(&payload);
  if ((r = link_load_ack_locked(l, IPC_LOAD_DONE, &payload, &ok, &msg)) != 0)
    goto out;
  if (!ok) {
    log_error("the enclave did not accept its state: %s", msg ? msg : "");
    r = CDR_ERR_INTERNAL;
    goto out;
  }
  *wanted = ids;
  *nwanted = n;
  ids = NULL;
  goto out;
bad:
  link_mark_dead(l, "malformed IPC_LOAD_WANT");
  r = CDR_ERR_INTERNAL;
out:
  pthread_mutex_unlock(&l->lock);
  if (r != 0 && msg != NULL)
    log_error("loading the enclave's state failed: %s", msg);
  free(msg);
  free(ids);
  free(chunk);
  cdr_buf_free(&payload);
  cdr_buf_free(&reply);
  return r;
}

int enclave_set_crl(struct enclave_link *l, const uint8_t *der, size_t len, uint64_t *number, uint32_t *ended,
                    char **errmsg) {
  struct cdr_buf payload, reply;
  int r;
  cdr_buf_init(&payload, CDR_IPC_MAX_FRAME, 0);
  cdr_buf_init(&reply, CDR_IPC_MAX_FRAME, 0); /* storage rounds may come first */
  if ((r = cdr_buf_put_lp(&payload, der, len)) == 0) {
    pthread_mutex_lock(&l->lock);
    r = link_exchange_locked(l, IPC_CRL, &payload, IPC_CRL_OK, &reply, errmsg);
    pthread_mutex_unlock(&l->lock);
  }
  if (r == 0 && (cdr_buf_get_u64(&reply, number) != 0 || cdr_buf_get_u32(&reply, ended) != 0 ||
                 cdr_buf_expect_end(&reply) != 0)) {
    link_mark_dead(l, "malformed IPC_CRL_OK");
    r = CDR_ERR_INTERNAL;
  }
  cdr_buf_free(&payload);
  cdr_buf_free(&reply);
  return r;
}
