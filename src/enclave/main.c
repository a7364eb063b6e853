/*
 * main.c - cdr-enclave, the trusted process.
 *
 *   cdr-enclave [--room ROOM] (--ipc-fd FD | --vsock-port N | --listen-unix PATH)
 *               [--attestation sim|snp|tdx|nitro|auto] [--tsm-root DIR] [--tsm-entry NAME]
 *
 * Started by cdrd on one end of a socketpair (--ipc-fd), or started on
 * its own inside a Nitro enclave, where it listens on vsock and the first
 * connection, from cdrd on the parent instance, is the channel
 * (--vsock-port; --listen-unix is the same on an AF_UNIX path).
 * Hardens itself, then serves frames: read one, dispatch it (dispatch.c),
 * write the reply.  It exits 0 when the host closes the socket, and 1 on
 * any protocol violation.  It never talks to the network.  Once IPC_INIT
 * has succeeded, and before the host hears so, it enters the seccomp
 * sandbox (sandbox.h): from then on the kernel enforces that it opens no
 * file except the attestation platform's own interface (attest.h), makes
 * no socket and runs no program.
 *
 * The attestation provider is chosen here, by whoever starts the
 * enclave, and never by a frame from the host.
 */
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/limits.h"
#include "common/log.h"
#include "common/util.h"
#include "enclave.h"
#include "harden.h"
#include "lanes.h"
#include "persist.h"
#include "sandbox.h"
#include "wipe_alloc.h"
#include "ipc/channel.h"
#include "ipc/ipc.h"

static void usage(FILE *f) {
  fprintf(f, "usage: cdr-enclave [--room ROOM] (--ipc-fd FD [--workers W] | --vsock-port N | --listen-unix PATH)\n"
             "                   [--attestation sim|snp|tdx|nitro|auto] [--tsm-root DIR] [--tsm-entry NAME]\n"
             "                   [--cursor-idle SECONDS]\n"
             "\n"
             "The trusted half of a CDR data room.  It speaks only the framed protocol\n"
             "of src/ipc/ipc.h with cdrd: on file descriptor FD when cdrd started it (the\n"
             "usual case, not meant to be run by hand), or on the first connection to\n"
             "vsock port N (in an AWS Nitro enclave; cdrd --enclave-vsock CID:N) or to\n"
             "the AF_UNIX socket PATH (cdrd --enclave-unix PATH).\n"
             "\n"
             "  --room ROOM          the room folder (needed by sim attestation only)\n"
             "  --workers W          serve W work lanes in parallel: fds FD+2 .. FD+1+W, with\n"
             "                       FD the control lane and FD+1 the audit lane (cdrd does this)\n"
             "  --cursor-idle S      drop a paged result's cursor after S seconds without a\n"
             "                       page read (default 300; cdrd passes CDR_CURSOR_IDLE_S)\n"
             "  --attestation P      sim (default), snp, tdx, nitro, or auto (the hardware\n"
             "                       this machine has; never sim)\n"
             "  --tsm-root DIR       configfs-tsm report directory (default\n"
             "                       " ATTEST_TSM_ROOT_DEFAULT ")\n"
             "  --tsm-entry NAME     use the existing report entry DIR/NAME instead of a\n"
             "                       private one per report\n"
             "See docs/ATTESTATION.md.\n");
}

/* --cursor-idle S: 1..CDR_CURSOR_IDLE_MAX_S, or -1 (said why). */
static long parse_cursor_idle(const char *text) {
  char *end;
  long v = strtol(text, &end, 10);
  if (*end != '\0' || v < 1 || v > (long)CDR_CURSOR_IDLE_MAX_S) {
    fprintf(stderr, "cdr-enclave: --cursor-idle wants seconds from 1 to %u\n", CDR_CURSOR_IDLE_MAX_S);
    return -1;
  }
  return v;
}

/* The address of --vsock-port or --listen-unix (if either): 0, or -1
 * (said why). */
static int listen_address(struct ipc_channel_addr *a, const char *vsock_port, const char *listen_unix) {
  if (vsock_port != NULL) {
    if (ipc_channel_vsock_any(a, vsock_port) != 0) {
      fprintf(stderr, "cdr-enclave: --vsock-port wants a port number\n");
      return -1;
    }
  } else if (listen_unix != NULL && ipc_channel_unix(a, listen_unix) != 0) {
    fprintf(stderr, "cdr-enclave: --listen-unix wants a socket path of at most 107 bytes\n");
    return -1;
  }
  return 0;
}

/* --workers W: 1..ENCLAVE_MAX_WORKERS, or -1 (said why). */
static long parse_workers(const char *text) {
  char *end;
  long w = strtol(text, &end, 10);
  if (*end != '\0' || w < 1 || w > ENCLAVE_MAX_WORKERS) {
    fprintf(stderr, "cdr-enclave: --workers wants a number from 1 to %d\n", ENCLAVE_MAX_WORKERS);
    return -1;
  }
  return w;
}

/* "sim", "snp", "tdx", "nitro" or "auto". */
static int provider_name_ok(const char *s) {
  return strcmp(s, "auto") == 0 || attest_provider_find(s) != NULL;
}

/* AddressSanitizer builds only.  The enclave runs with an empty
 * environment, and at exit under the seccomp filter, which forbids
 * starting llvm-symbolizer (a pipe and an exec): a LeakSanitizer report
 * would kill it with SIGSYS before a line was written.  So reports are
 * written unsymbolized (symbolize the addresses offline), and any report
 * ends the process with a non-zero status, which the tests check. */
#if defined(__SANITIZE_ADDRESS__)
#define ENCLAVE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ENCLAVE_ASAN 1
#endif
#endif
#ifdef ENCLAVE_ASAN
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "symbolize=0:color=never:halt_on_error=1:abort_on_error=1"; }
#endif
/* ThreadSanitizer builds (make test-tsan): the same, for its reports,
 * which name "ThreadSanitizer" in cdrd's log (tests/integration/lib.sh). */
#if defined(__SANITIZE_THREAD__)
#define ENCLAVE_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define ENCLAVE_TSAN 1
#endif
#endif
#ifdef ENCLAVE_TSAN
const char *__tsan_default_options(void);
const char *__tsan_default_options(void) { return "symbolize=0:color=never:halt_on_error=1:exitcode=66"; }
#endif

void enclave_free(struct enclave *e) {
  session_table_clear(&e->sessions);
  persist_free(e->persist);
  audit_free(&e->audit);
  contract_state_free(&e->contract);
  template_set_free(&e->templates);
  X509_CRL_free(e->crl);
  upload_set_clear(&e->uploads, e->engine);
  engine_close(e->engine);
  enclave_upgrade_free(e);
  if (e->attest && e->attest->fini)
    e->attest->fini(e->attest);
  EVP_PKEY_free(e->identity_key);
  OPENSSL_secure_clear_free(e->sealer, sizeof(*e->sealer));
  OPENSSL_free(e->identity_spki);
  X509_free(e->ca_cert);
}

/* --attestation P (with --room ROOM for sim): 0, or -1 (said why). */
static int attestation_usable(const char *attestation, const char *room) {
  if (!provider_name_ok(attestation)) {
    fprintf(stderr, "cdr-enclave: --attestation must be sim, snp, tdx, nitro or auto\n");
    return -1;
  }
  if (strcmp(attestation, "sim") == 0 && room == NULL) {
    fprintf(stderr, "cdr-enclave: sim attestation needs --room ROOM (its platform key lives there)\n");
    return -1;
  }
  return 0;
}

int main(int argc, char **argv) {
  static struct enclave enclave; /* large (session table): not on the stack */
  static const struct option opts[] = {{"room", required_argument, NULL, 'r'},
                                       {"ipc-fd", required_argument, NULL, 'f'},
                                       {"vsock-port", required_argument, NULL, 'v'},
                                       {"listen-unix", required_argument, NULL, 'u'},
                                       {"attestation", required_argument, NULL, 'a'},
                                       {"tsm-root", required_argument, NULL, 't'},
                                       {"tsm-entry", required_argument, NULL, 'e'},
                                       {"workers", required_argument, NULL, 'w'},
                                       {"cursor-idle", required_argument, NULL, 'c'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *room = NULL, *attestation = "sim", *vsock_port = NULL, *listen_unix = NULL;
  struct attest_options aopts;
  struct ipc_channel_addr listen_addr;
  long fd = -1, workers = 0, cursor_idle = CDR_CURSOR_IDLE_S;
  int c, channels = 0;
  memset(&aopts, 0, sizeof(aopts));
  memset(&listen_addr, 0, sizeof(listen_addr));
  cdr_log_init("cdr-enclave", CDR_LOG_INFO);
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'r': room = optarg; break;
    case 'f': {
      char *end;
      channels++;
      fd = strtol(optarg, &end, 10);
      if (*end != '\0' || fd < 0 || fd > INT_MAX) {
        fprintf(stderr, "cdr-enclave: --ipc-fd wants a file descriptor number\n");
        return 2;
      }
      break;
    }
    case 'v':
      channels++;
      vsock_port = optarg;
      break;
    case 'u':
      channels++;
      listen_unix = optarg;
      break;
    case 'w':
      if ((workers = parse_workers(optarg)) < 0)
        return 2;
      break;
    case 'c':
      if ((cursor_idle = parse_cursor_idle(optarg)) < 0)
        return 2;
      break;
    case 'a': attestation = optarg; break;
    case 't': aopts.tsm_root = optarg; break;
    case 'e': aopts.tsm_entry = optarg; break;
    case 'h': usage(stdout); return 0;
    default: usage(stderr); return 2;
    }
  }
  if (workers > 0 && fd < 0) {
    fprintf(stderr, "cdr-enclave: --workers needs --ipc-fd (a connected enclave has one lane)\n");
    return 2;
  }
  if (optind != argc || channels != 1) {
    if (channels > 1)
      fprintf(stderr, "cdr-enclave: give one of --ipc-fd, --vsock-port and --listen-unix\n");
    usage(stderr);
    return 2;
  }
  if (attestation_usable(attestation, room) != 0)
    return 2;
  if (listen_address(&listen_addr, vsock_port, listen_unix) != 0)
    return 2;
  if (wipe_alloc_install(CDR_SQL_HEAP_LIMIT) != 0) {
    log_error("cannot install the wiping allocators; refusing to run");
    return 1;
  }
  if (harden_process() != 0) {
    log_error("cannot harden the process; refusing to run");
    return 1;
  }
  /* The host's death must not kill us mid-write with SIGPIPE; we see EOF/EPIPE. */
  signal(SIGPIPE, SIG_IGN);
  if (fd < 0) {
    int cfd;
    if (ipc_channel_accept_one(&listen_addr, &cfd) != 0)
      return 1;
    fd = cfd;
  }

  struct enclave *e = &enclave;
  e->state = ENCLAVE_STATE_INIT;
  e->room_dir = room;
  e->attest_name = attestation;
  e->attest_opts = aopts;
  e->ipc_fd = (int)fd;
  e->now = cdr_now;
  e->cursors.idle_s = (unsigned)cursor_idle; /* paging on (cursor_ops.c) */
  /* The lanes' threads exist before the filter goes on (lanes.h). */
  if (workers > 0 && enclave_lanes_start(e, (int)fd, (unsigned)workers) != 0) {
    log_error("cannot start the enclave's worker threads; refusing to run");
    return 1;
  }

  struct cdr_buf in, out;
  cdr_buf_init(&in, CDR_IPC_MAX_FRAME, 0);
  cdr_buf_init(&out, CDR_IPC_MAX_FRAME, 0);
  int status = 0, sandboxed = 0;
  for (;;) {
    uint32_t type, reply_type = 0;
    int r = ipc_frame_read((int)fd, &type, &in, CDR_IPC_MAX_FRAME);
    if (r == CDR_ERR_IO) {
      log_info("host closed the channel; exiting");
      break;
    }
    if (r != 0) {
      log_error("protocol violation: bad frame from host (%s)", cdr_err_code(r));
      status = 1;
      break;
    }
    cdr_buf_free(&out);
    if (enclave_dispatch(e, type, &in, &reply_type, &out) != 0 || e->fatal) {
      status = 1;
      break;
    }
    cdr_buf_free(&in); /* wipe the request before answering */
    /* Initialised: the provider is chosen and has read what it reads at
     * init.  The filter goes on before IPC_INIT_OK leaves, so the host
     * never talks to an enclave that is up but unconfined. */
    if (!sandboxed && e->state != ENCLAVE_STATE_INIT) {
      if (sandbox_enter_lanes(e->attest->name, (int)fd, workers > 0 ? (unsigned)workers + 2 : 1) != 0) {
        log_error("cannot enter the sandbox; refusing to run");
        status = 1;
        break;
      }
      sandboxed = 1;
    }
    if (ipc_frame_write((int)fd, reply_type, &out) != 0) {
      log_info("host went away; exiting");
      break;
    }
  }
  cdr_buf_free(&in);
  cdr_buf_free(&out);
  if (status != 0 && workers > 0)
    _exit(status); /* other lanes may be mid-request: nothing may run on */
  enclave_lanes_stop(e);
  enclave_free(e);
  return status;
}
