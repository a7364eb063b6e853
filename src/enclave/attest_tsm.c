/*
 * attest_tsm.c - the `snp` and `tdx` attestation providers, through the
 * Linux configfs-tsm report interface (kernel ABI document
 * Documentation/ABI/testing/configfs-tsm; the root is
 * /sys/kernel/config/tsm/report, or --tsm-root).
 *
 * One report:
 *   1. mkdir ROOT/cdr-<pid>-<n>, a private entry (or use the existing
 *      entry named by --tsm-entry, which is neither made nor removed);
 *   2. read `provider`: it must be "sev_guest" (snp) or "tdx_guest" (tdx);
 *   3. write the 64 bytes of report_data to `inblob` in one write and
 *      close it (configfs commits a binary attribute at close);
 *   4. read `generation` (g1), `outblob` (the SNP report or TDX quote,
 *      which the kernel produces on this read), for snp `auxblob` (the
 *      certificate table the host attached), then `generation` again
 *      (g2).  g1 != g2 means someone wrote to the entry while we read it,
 *      so the outblob may answer someone else's inblob: once more from 3,
 *      then CDR_ERR_BUSY;
 *   5. rmdir the private entry (on every path).
 * The provider relays the report; it does not verify it (the client does,
 * docs/ATTESTATION.md).  A report that answers another inblob cannot pass
 * the client's report_data check, so nothing here is trusted for that.
 *
 * Init opens ROOT as a directory (every later access is relative to that
 * descriptor) and takes one report with all-zero report_data to learn the
 * measurement: SNP MEASUREMENT (report offset 0x90, 48 bytes; the report
 * must be 0x4A0 bytes of version >= 2) or TDX MRTD (quote offset 48 +
 * 136; the quote must be version 4 with TEE type 0x81).  For snp it also
 * keeps the report's VMPL (0x30), the level its derived key is asked at.
 *
 * Sealing.  snp: SNP_GET_DERIVED_KEY on /dev/sev-guest (linux/sev-guest.h),
 * root key VCEK (root_key_select 0), mixing in the guest policy and the
 * measurement (guest_field_select bits 0 and 3; not the TCB version, so
 * that a firmware update does not lose the room's data), at the guest's
 * VMPL; the 32 key bytes of MSG_KEY_RSP (offset 0x20, after a zero
 * status) go through HKDF-SHA256 with info "CDR-v1 snp sealing key".
 * The key is bound to this chip: the room's sealed state opens only on
 * the machine that sealed it.  tdx: TDX has no key the guest can derive
 * from its measurement, so this provider has none and the enclave seals
 * under a random key per run: a TDX room keeps nothing across restarts
 * (cdr_platform_keeps_state, util.h).  A key service that releases a key
 * on attestation would give it one; that is not built.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sev-guest.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "attest.h"
#include "common/log.h"
#include "crypto/crypto.h"
#include "crypto/x509.h"

#define TSM_NAME_MAX 64
#define TSM_PROVIDER_MAX 64
#define TSM_GENERATION_MAX 32
#define TSM_ENTRY_TRIES 16

/* SEV-SNP report layout (SEV-SNP ABI, ATTESTATION_REPORT). */
#define SNP_REPORT_LEN 0x4A0u
#define SNP_OFF_VERSION 0x000u
#define SNP_OFF_VMPL 0x030u
#define SNP_OFF_MEASUREMENT 0x090u
#define SNP_MEASUREMENT_LEN 48u
/* MSG_KEY_REQ / MSG_KEY_RSP. */
#define SNP_KEY_FIELD_POLICY (1u << 0)
#define SNP_KEY_FIELD_MEASUREMENT (1u << 3)
#define SNP_KEY_RSP_KEY_OFF 0x20u
#define SNP_KEY_LEN 32u
#define SNP_MSG_VERSION 1

/* TDX quote v4 layout (Intel TDX DCAP quote library). */
#define TDX_QUOTE_HEADER_LEN 48u
#define TDX_QUOTE_MIN_LEN (TDX_QUOTE_HEADER_LEN + 584u)
#define TDX_QUOTE_OFF_MRTD (TDX_QUOTE_HEADER_LEN + 136u)
#define TDX_MRTD_LEN 48u
#define TDX_QUOTE_V4 4u
#define TDX_QUOTE_TEE_TYPE 0x81u

enum tsm_kind { TSM_SNP, TSM_TDX };

struct tsm_state {
  enum tsm_kind kind;
  int root_fd;                    /* ROOT, O_DIRECTORY */
  const char *entry;              /* --tsm-entry, or NULL: private entries */
  const char *sev_guest_device;
  unsigned counter;               /* for private entry names */
  uint8_t measurement[48];
  uint32_t vmpl;                  /* snp: the VMPL of our own report */
};

static uint32_t le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static const char *tsm_expected_provider(enum tsm_kind k) {
  return k == TSM_SNP ? ATTEST_TSM_PROVIDER_SNP : ATTEST_TSM_PROVIDER_TDX;
}

/* ---- attribute I/O, relative to an entry directory ---- */

/* Read attribute `name` of the entry whole into out (reset first).
 * CDR_ERR_NOT_FOUND if it does not exist, CDR_ERR_TOO_LARGE past max,
 * CDR_ERR_IO for any other failure (logged). */
static int tsm_read_attr(int dir_fd, const char *name, struct cdr_buf *out, size_t max) {
  uint8_t chunk[4096];
  int fd, r = 0;
  cdr_buf_free(out);
  if ((fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
    if (errno == ENOENT)
      return CDR_ERR_NOT_FOUND;
    log_error("configfs-tsm: cannot open %s: %s", name, strerror(errno));
    return CDR_ERR_IO;
  }
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      log_error("configfs-tsm: cannot read %s: %s", name, strerror(errno));
      r = CDR_ERR_IO;
      break;
    }
    if (n == 0)
      break;
    if ((size_t)n > max - out->len) {
      log_error("configfs-tsm: %s is larger than %zu bytes", name, max);
      r = CDR_ERR_TOO_LARGE;
      break;
    }
    if ((r = cdr_buf_put(out, chunk, (size_t)n)) != 0)
      break;
  }
  (void)close(fd);
  return r;
}

/* A short text attribute, without its trailing newline, into text[n]. */
static int tsm_read_text(int dir_fd, const char *name, char *text, size_t n) {
  struct cdr_buf b;
  int r;
  cdr_buf_init(&b, n - 1, 0);
  if ((r = tsm_read_attr(dir_fd, name, &b, n - 1)) == 0) {
    size_t len = b.len;
    while (len > 0 && (b.d[len - 1] == '\n' || b.d[len - 1] == '\0'))
      len--;
    if (len > 0)
      memcpy(text, b.d, len);
    text[len] = '\0';
    for (size_t i = 0; i < len; i++)
      if (text[i] < 0x20 || text[i] > 0x7e)
        r = CDR_ERR_IO;
  }
  cdr_buf_free(&b);
  return r;
}

static int tsm_read_generation(int dir_fd, uint64_t *gen) {
  char text[TSM_GENERATION_MAX], *end;
  int r;
  if ((r = tsm_read_text(dir_fd, "generation", text, sizeof(text))) != 0) {
    if (r == CDR_ERR_NOT_FOUND)
      log_error("configfs-tsm: the report entry has no generation attribute");
    return r == CDR_ERR_NOT_FOUND ? CDR_ERR_IO : r;
  }
  errno = 0;
  unsigned long long v = strtoull(text, &end, 10);
  if (text[0] < '0' || text[0] > '9' || *end != '\0' || errno != 0) {
    log_error("configfs-tsm: generation \"%s\" is not a number", text);
    return CDR_ERR_IO;
  }
  *gen = (uint64_t)v;
  return 0;
}

/* Write all of data to attribute `name` in one write(2), then close:
 * configfs commits a binary attribute at close, which is where the
 * kernel reports a refused value. */
static int tsm_write_attr(int dir_fd, const char *name, const uint8_t *data, size_t len) {
  int fd = openat(dir_fd, name, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
  ssize_t n;
  if (fd < 0) {
    log_error("configfs-tsm: cannot open %s for writing: %s", name, strerror(errno));
    return CDR_ERR_IO;
  }
  do
    n = write(fd, data, len);
  while (n < 0 && errno == EINTR);
  if (n < 0 || (size_t)n != len) {
    log_error("configfs-tsm: cannot write %s: %s", name, n < 0 ? strerror(errno) : "short write");
    (void)close(fd);
    return CDR_ERR_IO;
  }
  if (close(fd) != 0) {
    log_error("configfs-tsm: %s was refused: %s", name, strerror(errno));
    return CDR_ERR_IO;
  }
  return 0;
}

/* ---- report entries ---- */

/* Open the report entry: a new private one (its name in made[], which
 * the caller removes with tsm_entry_close), or the configured one
 * (made[0] = '\0').  *dir_fd is the entry's directory. */
static int tsm_entry_open(struct tsm_state *s, char made[TSM_NAME_MAX], int *dir_fd) {
  const char *name = s->entry;
  made[0] = '\0';
  *dir_fd = -1;
  if (name == NULL) {
    int i;
    for (i = 0; i < TSM_ENTRY_TRIES; i++) {
      snprintf(made, TSM_NAME_MAX, "cdr-%ld-%u", (long)getpid(), s->counter++);
      if (mkdirat(s->root_fd, made, 0700) == 0)
        break;
      if (errno != EEXIST) {
        log_error("configfs-tsm: cannot make the report entry %s: %s", made, strerror(errno));
        made[0] = '\0';
        return CDR_ERR_IO;
      }
    }
    if (i == TSM_ENTRY_TRIES) {
      made[0] = '\0';
      log_error("configfs-tsm: cannot make a report entry: every name tried exists");
      return CDR_ERR_IO;
    }
    name = made;
  }
  if ((*dir_fd = openat(s->root_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
    log_error("configfs-tsm: cannot open the report entry %s: %s", name, strerror(errno));
    return CDR_ERR_IO;
  }
  return 0;
}

static void tsm_entry_close(struct tsm_state *s, const char made[TSM_NAME_MAX], int dir_fd) {
  if (dir_fd >= 0)
    (void)close(dir_fd);
  if (made[0] != '\0' && unlinkat(s->root_fd, made, AT_REMOVEDIR) != 0)
    log_warn("configfs-tsm: cannot remove the report entry %s: %s", made, strerror(errno));
}

/* The provider attribute of an open entry must name our platform. */
static int tsm_check_provider(struct tsm_state *s, int dir_fd) {
  char provider[TSM_PROVIDER_MAX];
  int r = tsm_read_text(dir_fd, "provider", provider, sizeof(provider));
  if (r != 0) {
    log_error("configfs-tsm: cannot read the report entry's provider");
    return r == CDR_ERR_NOT_FOUND ? CDR_ERR_IO : r;
  }
  if (strcmp(provider, tsm_expected_provider(s->kind)) != 0) {
    log_error("configfs-tsm: the provider is \"%s\", not \"%s\": this is not %s (choose the attestation "
              "provider that matches the machine, or auto)",
              provider, tsm_expected_provider(s->kind),
              s->kind == TSM_SNP ? "an SEV-SNP guest" : "a TDX guest");
    return CDR_ERR_ARG;
  }
  return 0;
}

/* One report for report_data: the outblob into report, and for snp the
 * auxblob into aux (empty when the entry has none).  Both are reset. */
static int tsm_report(struct tsm_state *s, const uint8_t report_data[CDR_REPORT_DATA_LEN], struct cdr_buf *report,
                      struct cdr_buf *aux) {
  char made[TSM_NAME_MAX];
  int dir_fd = -1, r;
  if ((r = tsm_entry_open(s, made, &dir_fd)) != 0 || (r = tsm_check_provider(s, dir_fd)) != 0)
    goto out;
  for (int attempt = 0;; attempt++) {
    uint64_t g1 = 0, g2 = 0;
    if ((r = tsm_write_attr(dir_fd, "inblob", report_data, CDR_REPORT_DATA_LEN)) != 0 ||
        (r = tsm_read_generation(dir_fd, &g1)) != 0)
      goto out;
    if ((r = tsm_read_attr(dir_fd, "outblob", report, ATTEST_TSM_MAX_OUTBLOB)) != 0) {
      if (r == CDR_ERR_NOT_FOUND)
        log_error("configfs-tsm: the report entry has no outblob");
      r = r == CDR_ERR_NOT_FOUND ? CDR_ERR_IO : r;
      goto out;
    }
    if (report->len == 0) {
      log_error("configfs-tsm: the outblob is empty");
      r = CDR_ERR_IO;
      goto out;
    }
    cdr_buf_free(aux);
    if (s->kind == TSM_SNP && (r = tsm_read_attr(dir_fd, "auxblob", aux, ATTEST_TSM_MAX_AUXBLOB)) != 0 &&
        r != CDR_ERR_NOT_FOUND)
      goto out;
    if ((r = tsm_read_generation(dir_fd, &g2)) != 0)
      goto out;
    if (g1 == g2)
      break;
    if (attempt == 1) {
      log_error("configfs-tsm: the report entry changed while it was read (generation %llu, then %llu), twice",
                (unsigned long long)g1, (unsigned long long)g2);
      r = CDR_ERR_BUSY;
      goto out;
    }
    log_warn("configfs-tsm: the report entry changed while it was read; once more");
  }
  r = 0;
out:
  tsm_entry_close(s, made, dir_fd);
  return r;
}

/* ---- the measurement, from a report's shape ---- */

static int tsm_parse_own_report(struct tsm_state *s, const struct cdr_buf *rep) {
  if (s->kind == TSM_SNP) {
    if (rep->len != SNP_REPORT_LEN || le32(rep->d + SNP_OFF_VERSION) < 2) {
      log_error("configfs-tsm: the SEV-SNP report is %zu bytes of version %u, not %u bytes of version >= 2",
                rep->len, rep->len >= 4 ? le32(rep->d) : 0, SNP_REPORT_LEN);
      return CDR_ERR_IO;
    }
    memcpy(s->measurement, rep->d + SNP_OFF_MEASUREMENT, SNP_MEASUREMENT_LEN);
    s->vmpl = le32(rep->d + SNP_OFF_VMPL);
    return 0;
  }
  if (rep->len < TDX_QUOTE_MIN_LEN || ((uint32_t)rep->d[0] | (uint32_t)rep->d[1] << 8) != TDX_QUOTE_V4 ||
      le32(rep->d + 4) != TDX_QUOTE_TEE_TYPE) {
    log_error("configfs-tsm: the TDX quote is not a version 4 TDX quote of at least %u bytes", TDX_QUOTE_MIN_LEN);
    return CDR_ERR_IO;
  }
  memcpy(s->measurement, rep->d + TDX_QUOTE_OFF_MRTD, TDX_MRTD_LEN);
  return 0;
}

/* ---- the provider ---- */

static int tsm_init(struct attest_provider *p, enum tsm_kind kind) {
  const struct attest_options *o = p->opts;
  const char *root = o && o->tsm_root ? o->tsm_root : ATTEST_TSM_ROOT_DEFAULT;
  struct tsm_state *s = calloc(1, sizeof(*s));
  struct cdr_buf rep, aux;
  uint8_t zero[CDR_REPORT_DATA_LEN] = {0};
  int r;
  if (s == NULL)
    return CDR_ERR_NOMEM;
  s->root_fd = -1;
  cdr_buf_init(&rep, ATTEST_TSM_MAX_OUTBLOB, 0);
  cdr_buf_init(&aux, ATTEST_TSM_MAX_AUXBLOB, 0);
  s->kind = kind;
  s->entry = o ? o->tsm_entry : NULL;
  s->sev_guest_device = o && o->sev_guest_device ? o->sev_guest_device : ATTEST_SEV_GUEST_DEVICE_DEFAULT;
  if (s->entry != NULL && (s->entry[0] == '\0' || strchr(s->entry, '/') != NULL || strcmp(s->entry, ".") == 0 ||
                           strcmp(s->entry, "..") == 0)) {
    log_error("configfs-tsm: the report entry name must be one path component");
    r = CDR_ERR_ARG;
    goto out;
  }
  if ((s->root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
    log_error("configfs-tsm: no report interface at %s (%s): not a confidential VM, or configfs is not mounted "
              "(mount -t configfs none /sys/kernel/config)",
              root, strerror(errno));
    r = CDR_ERR_NOT_FOUND;
    goto out;
  }
  if ((r = tsm_report(s, zero, &rep, &aux)) != 0 || (r = tsm_parse_own_report(s, &rep)) != 0)
    goto out;
  p->state = s;
  s = NULL;
out:
  if (s != NULL) {
    if (s->root_fd >= 0)
      (void)close(s->root_fd);
    free(s);
  }
  cdr_buf_free(&rep);
  cdr_buf_free(&aux);
  return r;
}

static int snp_init(struct attest_provider *p, const char *room_dir) { return tsm_init(p, TSM_SNP); }
static int tdx_init(struct attest_provider *p, const char *room_dir) { return tsm_init(p, TSM_TDX); }

static int tsm_evidence(struct attest_provider *p, const uint8_t report_data[CDR_REPORT_DATA_LEN],
                        struct cdr_buf *evidence, struct cdr_buf certs[ATTEST_MAX_CERTS], size_t *ncerts) {
  struct tsm_state *s = p->state;
  struct cdr_buf rep, aux;
  int r;
  *ncerts = 0;
  cdr_buf_init(&rep, ATTEST_TSM_MAX_OUTBLOB, 0);
  cdr_buf_init(&aux, ATTEST_TSM_MAX_AUXBLOB, 0);
  if ((r = tsm_report(s, report_data, &rep, &aux)) != 0 || (r = cdr_buf_put(evidence, rep.d, rep.len)) != 0)
    goto out;
  if (s->kind == TSM_SNP && aux.len > 0 && (r = attest_snp_cert_table(aux.d, aux.len, certs, ncerts)) != 0)
    log_error("configfs-tsm: the auxblob is not an SEV-SNP certificate table");
out:
  cdr_buf_free(&rep);
  cdr_buf_free(&aux);
  return r;
}

static int tsm_measurement(struct attest_provider *p, uint8_t out[CDR_MEASUREMENT_MAX], size_t *len) {
  struct tsm_state *s = p->state;
  memcpy(out, s->measurement, 48);
  *len = 48;
  return 0;
}

static int snp_sealing_key(struct attest_provider *p, uint8_t out[32]) {
  static const char info[] = "CDR-v1 snp sealing key";
  struct tsm_state *s = p->state;
  struct snp_derived_key_req req;
  struct snp_derived_key_resp resp;
  struct snp_guest_request_ioctl io;
  int fd, r = CDR_ERR_INTERNAL;

  if ((fd = open(s->sev_guest_device, O_RDWR | O_CLOEXEC)) < 0) {
    log_error("sealing on SEV-SNP needs the derived key of %s (SNP_GET_DERIVED_KEY): %s", s->sev_guest_device,
              strerror(errno));
    return CDR_ERR_INTERNAL;
  }
  memset(&req, 0, sizeof(req));
  memset(&resp, 0, sizeof(resp));
  memset(&io, 0, sizeof(io));
  req.root_key_select = 0; /* VCEK */
  req.guest_field_select = SNP_KEY_FIELD_POLICY | SNP_KEY_FIELD_MEASUREMENT;
  req.vmpl = s->vmpl;
  io.msg_version = SNP_MSG_VERSION;
  io.req_data = (uint64_t)(uintptr_t)&req;
  io.resp_data = (uint64_t)(uintptr_t)&resp;
  if (ioctl(fd, SNP_GET_DERIVED_KEY, &io) != 0) {
    log_error("SNP_GET_DERIVED_KEY on %s failed: %s (firmware error %#x, VMM error %#x)", s->sev_guest_device,
              strerror(errno), (unsigned)io.fw_error, (unsigned)io.vmm_error);
    goto out;
  }
  if (le32(resp.data) != 0) {
    log_error("SNP_GET_DERIVED_KEY: the firmware answered status %#x", (unsigned)le32(resp.data));
    goto out;
  }
  r = cdr_hkdf_sha256(out, 32, resp.data + SNP_KEY_RSP_KEY_OFF, SNP_KEY_LEN, NULL, 0, info, sizeof(info) - 1);
out:
  OPENSSL_cleanse(&resp, sizeof(resp));
  (void)close(fd);
  return r;
}

static void tsm_fini(struct attest_provider *p) {
  struct tsm_state *s = p->state;
  if (s == NULL)
    return;
  if (s->root_fd >= 0)
    (void)close(s->root_fd);
  OPENSSL_cleanse(s, sizeof(*s));
  free(s);
  p->state = NULL;
}

struct attest_provider attest_snp_provider = {.name = "snp",
                                              .init = snp_init,
                                              .evidence = tsm_evidence,
                                              .measurement = tsm_measurement,
                                              .sealing_key = snp_sealing_key,
                                              .fini = tsm_fini};

struct attest_provider attest_tdx_provider = {.name = "tdx",
                                              .init = tdx_init,
                                              .evidence = tsm_evidence,
                                              .measurement = tsm_measurement,
                                              .sealing_key = NULL, /* none: util.h */
                                              .fini = tsm_fini};

/* ---- auto detection ---- */

int attest_tsm_probe(const char *root, const char **name) {
  struct tsm_state s;
  char made[TSM_NAME_MAX], provider[TSM_PROVIDER_MAX];
  int dir_fd = -1, r;
  memset(&s, 0, sizeof(s));
  *name = NULL;
  if ((s.root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
    return CDR_ERR_NOT_FOUND;
  if ((r = tsm_entry_open(&s, made, &dir_fd)) == 0 &&
      (r = tsm_read_text(dir_fd, "provider", provider, sizeof(provider))) == 0) {
    if (strcmp(provider, ATTEST_TSM_PROVIDER_SNP) == 0)
      *name = "snp";
    else if (strcmp(provider, ATTEST_TSM_PROVIDER_TDX) == 0)
      *name = "tdx";
    else {
      log_error("configfs-tsm at %s: provider \"%s\" is not one CDR supports", root, provider);
      r = CDR_ERR_NOT_FOUND;
    }
  }
  tsm_entry_close(&s, made, dir_fd);
  (void)close(s.root_fd);
  return r;
}

/* ---- the SEV-SNP certificate table ---- */

#define SNP_CERT_ENTRY_LEN 24u

enum snp_cert_kind { SNP_CERT_NONE, SNP_CERT_VCEK, SNP_CERT_ASK, SNP_CERT_ARK };

static const struct {
  enum snp_cert_kind kind;
  uint8_t guid[16]; /* as written: 63da758d-e664-... is 63 da 75 8d e6 64 ... */
} snp_guids[] = {
    {SNP_CERT_VCEK, {0x63, 0xda, 0x75, 0x8d, 0xe6, 0x64, 0x45, 0x64, 0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd}},
    /* VLEK a8074bc2-a25a-483e-aae6-39c045a0b8a1: a cloud's loaded key, in the VCEK's place */
    {SNP_CERT_VCEK, {0xa8, 0x07, 0x4b, 0xc2, 0xa2, 0x5a, 0x48, 0x3e, 0xaa, 0xe6, 0x39, 0xc0, 0x45, 0xa0, 0xb8, 0xa1}},
    {SNP_CERT_ASK, {0x4a, 0xb7, 0xb3, 0x79, 0xbb, 0xac, 0x4f, 0xe4, 0xa0, 0x2f, 0x05, 0xae, 0xf3, 0x27, 0xc7, 0x82}},
    {SNP_CERT_ARK, {0xc0, 0xb4, 0x06, 0xa4, 0xa8, 0x03, 0x49, 0x52, 0x97, 0x43, 0x3f, 0xb6, 0x01, 0x4c, 0xd0, 0xae}},
};

/* The same GUID with its first three fields byte-swapped (the EFI
 * "mixed-endian" form, which some hosts write). */
static void guid_swap(uint8_t out[16], const uint8_t in[16]) {
  static const uint8_t order[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
  for (int i = 0; i < 16; i++)
    out[i] = in[order[i]];
}

static enum snp_cert_kind snp_guid_kind(const uint8_t g[16]) {
  for (size_t i = 0; i < sizeof(snp_guids) / sizeof(snp_guids[0]); i++) {
    uint8_t swapped[16];
    guid_swap(swapped, snp_guids[i].guid);
    if (memcmp(g, snp_guids[i].guid, 16) == 0 || memcmp(g, swapped, 16) == 0)
      return snp_guids[i].kind;
  }
  return SNP_CERT_NONE;
}

/* One certificate, DER (zero padding after it allowed) or PEM, as DER
 * into out (initialised here). */
static int snp_cert_der(const uint8_t *p, size_t n, struct cdr_buf *out) {
  X509 *x = NULL;
  uint8_t *der = NULL;
  size_t der_len = 0;
  int r;
  cdr_buf_init(out, CDR_MAX_CERT_DER, 0);
  if (n >= 10 && memcmp(p, "-----BEGIN", 10) == 0) {
    r = cdr_cert_from_pem(&x, (const char *)p, n);
  } else {
    const unsigned char *q = p;
    x = d2i_X509(NULL, &q, (long)n);
    r = x != NULL ? 0 : CDR_ERR_TRUNCATED;
    for (; r == 0 && q < p + n; q++)
      if (*q != 0)
        r = CDR_ERR_TRUNCATED;
    ERR_clear_error();
  }
  if (r == 0 && (r = cdr_cert_to_der(x, &der, &der_len)) == 0)
    r = cdr_buf_put(out, der, der_len);
  OPENSSL_free(der);
  X509_free(x);
  return r == 0 ? 0 : CDR_ERR_TRUNCATED;
}

int attest_snp_cert_table(const uint8_t *aux, size_t len, struct cdr_buf certs[ATTEST_MAX_CERTS], size_t *ncerts) {
  static const enum snp_cert_kind order[] = {SNP_CERT_VCEK, SNP_CERT_ASK, SNP_CERT_ARK};
  static const uint8_t zero[16] = {0};
  size_t nentries = 0;
  int r = 0;
  *ncerts = 0;
  if (len == 0)
    return 0;
  /* Find the terminator first: every entry before it must fit. */
  for (;; nentries++) {
    size_t off = nentries * SNP_CERT_ENTRY_LEN;
    if (len - off < SNP_CERT_ENTRY_LEN) {
      /* No terminator.  An all-zero auxblob shorter than one entry is no table. */
      for (size_t i = 0; i < len; i++)
        if (aux[i] != 0)
          return CDR_ERR_TRUNCATED;
      return 0;
    }
    if (memcmp(aux + off, zero, 16) == 0)
      break;
  }
  for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
    for (size_t i = 0; i < nentries; i++) {
      const uint8_t *e = aux + i * SNP_CERT_ENTRY_LEN;
      uint32_t off = le32(e + 16), n = le32(e + 20);
      if (snp_guid_kind(e) != order[k] || n == 0)
        continue;
      if (off > len || n > len - off || n > CDR_MAX_CERT_DER)
        return CDR_ERR_TRUNCATED;
      if (*ncerts == ATTEST_MAX_CERTS)
        return CDR_ERR_TOO_LARGE;
      (*ncerts)++; /* before the parse: the caller frees certs[i] on any path */
      if ((r = snp_cert_der(aux + off, n, &certs[*ncerts - 1])) != 0)
        return r;
    }
  }
  return 0;
}
