/*
 * test_tsm.c - the hardware attestation providers of the enclave
 * (src/enclave/attest_tsm.c, attest_nitro.c, attest.c) without the
 * hardware, and the client's online verification of what they produce.
 *
 * This machine has no SEV-SNP, TDX or Nitro: the configfs-tsm providers
 * run against a fake report tree that the test builds in a temporary
 * directory, with the real SEV-SNP report and TDX quote of
 * tests/data/attest/ as outblob (/work/shared/vectors/README.md).  Real
 * configfs makes the outblob when it is read; the fake has it ready, and
 * the provider is pointed at a prepared entry (the --tsm-entry option).
 * Where the test needs the entry to change while the provider reads it
 * (the generation check), outblob is a FIFO served by a thread that bumps
 * `generation` before it writes the report, which is what a concurrent
 * writer does to a real entry.
 *
 * The Nitro provider cannot reach an NSM here: its CBOR request and
 * response handling is tested on bytes (the response wraps the real Nitro
 * document), and opening a device that is not an NSM must fail cleanly.
 *
 * End to end (provider -> IPC_ATTEST reply -> the /v1/attest JSON ->
 * cdr_attest_verify_response): real vendor evidence passes every check of
 * the vendor chain, but it was not made for our report_data, so the client
 * must refuse it with attestation_report_data_mismatch.
 */
#include <cbor.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/client.h"
#include "common/util.h"
#include "crypto/crypto.h"
#include "enclave/attest.h"
#include "enclave/enclave.h"
#include "ipc/ipc.h"
#include "testlib.h"

#define T_2026_01_01 1767225600 /* inside every SNP certificate's validity */
#define NITRO_AT 1715103786     /* the Nitro document's own time */

static const char SNP_MEASUREMENT[] =
    "b747d55452e0b9e9079770a49e397c5e6d9573581e246da7baac4f28b5cdc5b1b6d19251b8ee600fd16a3708f58406f3";
static const char TDX_MRTD[] =
    "7ba9e262ce6979087e34632603f354dd8f8a870f5947d116af8114db6c9d0d74c48bec4280e5b4f4a37025a10905bb29";

static const uint8_t GUID_VCEK[16] = {0x63, 0xda, 0x75, 0x8d, 0xe6, 0x64, 0x45, 0x64,
                                      0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd};
static const uint8_t GUID_ASK[16] = {0x4a, 0xb7, 0xb3, 0x79, 0xbb, 0xac, 0x4f, 0xe4,
                                     0xa0, 0x2f, 0x05, 0xae, 0xf3, 0x27, 0xc7, 0x82};
static const uint8_t GUID_ARK[16] = {0xc0, 0xb4, 0x06, 0xa4, 0xa8, 0x03, 0x49, 0x52,
                                     0x97, 0x43, 0x3f, 0xb6, 0x01, 0x4c, 0xd0, 0xae};
static const uint8_t GUID_CRL[16] = {0x92, 0xf8, 0x1b, 0xc3, 0x58, 0x11, 0x4d, 0x3d,
                                     0x97, 0xff, 0xd1, 0x9f, 0x88, 0xdc, 0x67, 0xea};
static const char NO_DEVICE[] = "/nonexistent/cdr-test-device";

struct blob {
  uint8_t *p;
  size_t n;
};

static struct blob snp_report, tdx_quote, nitro_doc, vcek_der, ask_der, ark_der;
static char *vcek_pem;
static size_t vcek_pem_len;

static struct blob load(const char *sub, const char *name) {
  const char *src = getenv("CDR_SOURCE_DIR");
  char path[4096];
  struct blob b = {NULL, 0};
  snprintf(path, sizeof(path), "%s/tests/data/attest/%s/%s", src ? src : ".", sub, name);
  if (cdr_file_read(path, &b.p, &b.n, 1u << 20) != 0) {
    fprintf(stderr, "cannot read %s (set CDR_SOURCE_DIR)\n", path);
    exit(1);
  }
  return b;
}

static struct blob pem_der(const char *name, char **pem_out, size_t *pem_len) {
  struct blob pem = load("snp", name), der = {NULL, 0};
  X509 *x = NULL;
  if (cdr_cert_from_pem(&x, (const char *)pem.p, pem.n) != 0 || cdr_cert_to_der(x, &der.p, &der.n) != 0) {
    fprintf(stderr, "cannot parse %s\n", name);
    exit(1);
  }
  X509_free(x);
  if (pem_out != NULL) {
    *pem_out = (char *)pem.p;
    *pem_len = pem.n;
  } else {
    free(pem.p);
  }
  return der;
}

static void load_vectors(void) {
  snp_report = load("snp", "report-gcp-milan.bin");
  tdx_quote = load("tdx", "tdx-quote.bin");
  nitro_doc = load("nitro", "attestation-2024-05-07.cbor");
  vcek_der = pem_der("vcek-gcp-milan.pem", &vcek_pem, &vcek_pem_len);
  ask_der = pem_der("ask-milan.pem", NULL, NULL);
  ark_der = pem_der("ark-milan.pem", NULL, NULL);
}

/* ---- the fake configfs-tsm tree ---- */

static void put_file(const char *dir, const char *name, const void *p, size_t n) {
  char path[4096];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  (void)unlink(path);
  if (cdr_file_write(path, p, n, 0600, 0) != 0) {
    fprintf(stderr, "cannot write %s\n", path);
    exit(1);
  }
}

static void put_text(const char *dir, const char *name, const char *s) { put_file(dir, name, s, strlen(s)); }

static struct blob read_back(const char *dir, const char *name) {
  char path[4096];
  struct blob b = {NULL, 0};
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  if (cdr_file_read(path, &b.p, &b.n, 1u << 20) != 0)
    b.p = NULL;
  return b;
}

/* The SEV-SNP certificate table: entries then the certificates. */
struct table_entry {
  const uint8_t *guid;
  const uint8_t *data;
  size_t len;
  int swap; /* write the GUID with its first three fields little-endian */
};

static struct blob cert_table(const struct table_entry *e, size_t n) {
  size_t head = (n + 1) * 24, total = head;
  for (size_t i = 0; i < n; i++)
    total += e[i].len;
  struct blob b = {calloc(1, total), total};
  size_t off = head;
  for (size_t i = 0; i < n; i++) {
    uint8_t *ent = b.p + i * 24;
    static const uint8_t order[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
    for (int k = 0; k < 16; k++)
      ent[k] = e[i].swap ? e[i].guid[order[k]] : e[i].guid[k];
    for (int k = 0; k < 4; k++) {
      ent[16 + k] = (uint8_t)(off >> (8 * k));
      ent[20 + k] = (uint8_t)(e[i].len >> (8 * k));
    }
    memcpy(b.p + off, e[i].data, e[i].len);
    off += e[i].len;
  }
  return b;
}

static struct blob default_table(void) {
  struct table_entry e[] = {{GUID_VCEK, vcek_der.p, vcek_der.n, 0},
                            {GUID_ASK, ask_der.p, ask_der.n, 0},
                            {GUID_ARK, ark_der.p, ark_der.n, 0}};
  return cert_table(e, 3);
}

/* A report root with one entry "e0" ready to answer. */
static char root[64], entry[128];

static void fake_tree(const char *provider, const struct blob *outblob, int with_aux) {
  snprintf(root, sizeof(root), "/tmp/cdr-tsm.XXXXXX");
  if (mkdtemp(root) == NULL)
    exit(1);
  snprintf(entry, sizeof(entry), "%s/e0", root);
  if (mkdir(entry, 0700) != 0)
    exit(1);
  put_text(entry, "provider", provider);
  put_text(entry, "generation", "1\n");
  put_file(entry, "inblob", "", 0);
  if (outblob != NULL)
    put_file(entry, "outblob", outblob->p, outblob->n);
  if (with_aux) {
    struct blob t = default_table();
    put_file(entry, "auxblob", t.p, t.n);
    free(t.p);
  }
}

static void remove_tree(void) {
  char cmd[256];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
  if (system(cmd) != 0)
    fprintf(stderr, "cannot remove %s\n", root);
}

static int count_entries(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *de;
  int n = 0;
  if (d == NULL)
    return -1;
  while ((de = readdir(d)) != NULL)
    if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
      n++;
  closedir(d);
  return n;
}

static struct attest_options opts_for(const char *tsm_entry) {
  struct attest_options o;
  memset(&o, 0, sizeof(o));
  o.tsm_root = root;
  o.tsm_entry = tsm_entry;
  o.nsm_device = NO_DEVICE;
  o.sev_guest_device = NO_DEVICE;
  return o;
}

static void free_certs(struct cdr_buf *certs, size_t n) {
  for (size_t i = 0; i < n; i++)
    cdr_buf_free(&certs[i]);
}

static int buf_is(const struct cdr_buf *b, const struct blob *want) {
  return b->len == want->n && memcmp(b->d, want->p, want->n) == 0;
}

/* ---- the certificate table ---- */

static void test_cert_table(void) {
  struct cdr_buf certs[ATTEST_MAX_CERTS];
  size_t n = 99;
  struct blob t = default_table();

  CHECK_RC(attest_snp_cert_table(t.p, t.n, certs, &n), 0);
  CHECK(n == 3);
  if (n == 3)
    CHECK(buf_is(&certs[0], &vcek_der) && buf_is(&certs[1], &ask_der) && buf_is(&certs[2], &ark_der));
  free_certs(certs, n);

  /* Any order in, VCEK, ASK, ARK out; the mixed-endian GUID form; CRL
   * and unknown GUIDs skipped; PEM converted to DER. */
  {
    uint8_t unknown[16];
    memset(unknown, 0x77, sizeof(unknown));
    struct table_entry e[] = {{GUID_ARK, ark_der.p, ark_der.n, 0},
                              {GUID_CRL, (const uint8_t *)"not a cert", 10, 0},
                              {GUID_ASK, ask_der.p, ask_der.n, 1},
                              {unknown, (const uint8_t *)"??", 2, 0},
                              {GUID_VCEK, (const uint8_t *)vcek_pem, vcek_pem_len, 1}};
    struct blob t2 = cert_table(e, 5);
    n = 99;
    CHECK_RC(attest_snp_cert_table(t2.p, t2.n, certs, &n), 0);
    CHECK(n == 3);
    if (n == 3)
      CHECK(buf_is(&certs[0], &vcek_der) && buf_is(&certs[1], &ask_der) && buf_is(&certs[2], &ark_der));
    free_certs(certs, n);
    free(t2.p);
  }

  /* Zero padding after DER is allowed, anything else is not. */
  {
    uint8_t *padded = calloc(1, vcek_der.n + 16);
    memcpy(padded, vcek_der.p, vcek_der.n);
    struct table_entry e[] = {{GUID_VCEK, padded, vcek_der.n + 16, 0}};
    struct blob t2 = cert_table(e, 1);
    CHECK_RC(attest_snp_cert_table(t2.p, t2.n, certs, &n), 0);
    CHECK(n == 1 && buf_is(&certs[0], &vcek_der));
    free_certs(certs, n);
    t2.p[t2.n - 1] = 1;
    CHECK_RC(attest_snp_cert_table(t2.p, t2.n, certs, &n), CDR_ERR_TRUNCATED);
    free_certs(certs, n);
    free(t2.p);
    free(padded);
  }

  /* Empty and all-zero: no certificates. */
  {
    uint8_t zero[100] = {0};
    CHECK_RC(attest_snp_cert_table(zero, 0, certs, &n), 0);
    CHECK(n == 0);
    CHECK_RC(attest_snp_cert_table(zero, sizeof(zero), certs, &n), 0);
    CHECK(n == 0);
    CHECK_RC(attest_snp_cert_table(zero, 10, certs, &n), 0);
    CHECK(n == 0);
  }

  /* No terminator: the entries run off the end. */
  CHECK_RC(attest_snp_cert_table(t.p, 3 * 24 + 5, certs, &n), CDR_ERR_TRUNCATED);
  free_certs(certs, n);
  /* An entry pointing past the end. */
  {
    struct blob t2 = {malloc(t.n), t.n};
    memcpy(t2.p, t.p, t.n);
    t2.p[20] = 0xff; /* VCEK length */
    t2.p[21] = 0xff;
    CHECK_RC(attest_snp_cert_table(t2.p, t2.n, certs, &n), CDR_ERR_TRUNCATED);
    free_certs(certs, n);
    memcpy(t2.p, t.p, t.n);
    t2.p[16 + 3] = 0x7f; /* VCEK offset */
    CHECK_RC(attest_snp_cert_table(t2.p, t2.n, certs, &n), CDR_ERR_TRUNCATED);
    free_certs(certs, n);
    free(t2.p);
  }
  /* Not a certificate under a certificate GUID. */
  {
    struct table_entry e[] = {{GUID_VCEK, (const uint8_t *)"garbage, not DER", 16, 0}};
    struct blob t2 = cert_table(e, 1);
    CHECK_RC(attest_snp_cert_table(t2.p, t2.n, certs, &n), CDR_ERR_TRUNCATED);
    free_certs(certs, n);
    free(t2.p);
  }
  /* More certificates than evidence may carry. */
  {
    struct table_entry e[ATTEST_MAX_CERTS + 1];
    for (size_t i = 0; i < ATTEST_MAX_CERTS + 1; i++)
      e[i] = (struct table_entry){GUID_ASK, ask_der.p, ask_der.n, 0};
    struct blob t2 = cert_table(e, ATTEST_MAX_CERTS + 1);
    CHECK_RC(attest_snp_cert_table(t2.p, t2.n, certs, &n), CDR_ERR_TOO_LARGE);
    CHECK(n == ATTEST_MAX_CERTS);
    free_certs(certs, n);
    free(t2.p);
  }
  free(t.p);
}

/* ---- the snp and tdx providers on the fake tree ---- */

static void test_snp_round_trip(void) {
  struct attest_provider *p = attest_provider_find("snp");
  struct attest_options o;
  struct cdr_buf ev, certs[ATTEST_MAX_CERTS];
  uint8_t meas[CDR_MEASUREMENT_MAX], want[48], rd[CDR_REPORT_DATA_LEN], key[32];
  size_t mlen = 0, n = 0;
  struct blob in;

  fake_tree(ATTEST_TSM_PROVIDER_SNP "\n", &snp_report, 1);
  o = opts_for("e0");
  CHECK(p != NULL && strcmp(p->name, "snp") == 0);
  p->opts = &o;
  CHECK_RC(p->init(p, NULL), 0);
  CHECK_RC(p->measurement(p, meas, &mlen), 0);
  CHECK(mlen == 48);
  CHECK(cdr_hex_decode(want, sizeof(want), SNP_MEASUREMENT) == 0 && memcmp(meas, want, 48) == 0);
  in = read_back(entry, "inblob");
  CHECK(in.p != NULL && in.n == CDR_REPORT_DATA_LEN); /* init's probe: all zero */
  free(in.p);

  memset(rd, 0x5a, sizeof(rd));
  cdr_buf_init(&ev, CDR_MAX_EVIDENCE, 0);
  CHECK_RC(p->evidence(p, rd, &ev, certs, &n), 0);
  CHECK(buf_is(&ev, &snp_report));
  in = read_back(entry, "inblob");
  CHECK(in.p != NULL && in.n == sizeof(rd) && memcmp(in.p, rd, sizeof(rd)) == 0);
  free(in.p);
  CHECK(n == 3);
  if (n == 3)
    CHECK(buf_is(&certs[0], &vcek_der) && buf_is(&certs[1], &ask_der) && buf_is(&certs[2], &ark_der));
  free_certs(certs, n);
  cdr_buf_free(&ev);

  /* No auxblob: evidence without certificates. */
  {
    char path[256];
    snprintf(path, sizeof(path), "%s/auxblob", entry);
    CHECK(unlink(path) == 0);
    cdr_buf_init(&ev, CDR_MAX_EVIDENCE, 0);
    CHECK_RC(p->evidence(p, rd, &ev, certs, &n), 0);
    CHECK(n == 0 && buf_is(&ev, &snp_report));
    cdr_buf_free(&ev);
  }
  /* An auxblob that is no certificate table fails the evidence. */
  put_text(entry, "auxblob", "this is not a table of GUIDs");
  cdr_buf_init(&ev, CDR_MAX_EVIDENCE, 0);
  CHECK_RC(p->evidence(p, rd, &ev, certs, &n), CDR_ERR_TRUNCATED);
  free_certs(certs, n);
  cdr_buf_free(&ev);

  /* The derived key needs /dev/sev-guest, which this machine lacks. */
  CHECK_RC(p->sealing_key(p, key), CDR_ERR_INTERNAL);
  p->fini(p);
  CHECK(p->state == NULL);
  CHECK(count_entries(root) == 1); /* only the prepared entry: none made */
  remove_tree();
}

static void test_tdx_round_trip(void) {
  struct attest_provider *p = attest_provider_find("tdx");
  struct attest_options o;
  struct cdr_buf ev, certs[ATTEST_MAX_CERTS];
  uint8_t meas[CDR_MEASUREMENT_MAX], want[48], rd[CDR_REPORT_DATA_LEN];
  size_t mlen = 0, n = 9;

  fake_tree(ATTEST_TSM_PROVIDER_TDX "\n", &tdx_quote, 0);
  o = opts_for("e0");
  p->opts = &o;
  CHECK_RC(p->init(p, NULL), 0);
  CHECK_RC(p->measurement(p, meas, &mlen), 0);
  CHECK(mlen == 48 && cdr_hex_decode(want, sizeof(want), TDX_MRTD) == 0 && memcmp(meas, want, 48) == 0);
  memset(rd, 0xa5, sizeof(rd));
  cdr_buf_init(&ev, CDR_MAX_EVIDENCE, 0);
  CHECK_RC(p->evidence(p, rd, &ev, certs, &n), 0);
  CHECK(n == 0 && buf_is(&ev, &tdx_quote));
  cdr_buf_free(&ev);
  CHECK(p->sealing_key == NULL); /* TDX: no derived key, so no sealing key (util.h) */
  CHECK(!cdr_platform_keeps_state(p->name));
  p->fini(p);
  remove_tree();
}

/* Init must fail with `want` on the tree as prepared. */
static void expect_init(const char *name, const char *tsm_entry, int want) {
  struct attest_provider *p = attest_provider_find(name);
  struct attest_options o = opts_for(tsm_entry);
  p->opts = &o;
  CHECK_RC(p->init(p, NULL), want);
  if (want == 0)
    p->fini(p);
  CHECK(p->state == NULL);
}

static void test_tsm_refusals(void) {
  char path[256];
  /* The wrong provider, each way. */
  fake_tree(ATTEST_TSM_PROVIDER_TDX "\n", &snp_report, 1);
  expect_init("snp", "e0", CDR_ERR_ARG);
  remove_tree();
  fake_tree(ATTEST_TSM_PROVIDER_SNP, &tdx_quote, 0);
  expect_init("tdx", "e0", CDR_ERR_ARG);
  remove_tree();

  /* No outblob, an empty one, one of the wrong shape, one too large. */
  fake_tree(ATTEST_TSM_PROVIDER_SNP, NULL, 1);
  expect_init("snp", "e0", CDR_ERR_IO);
  put_file(entry, "outblob", "", 0);
  expect_init("snp", "e0", CDR_ERR_IO);
  put_file(entry, "outblob", snp_report.p, 100);
  expect_init("snp", "e0", CDR_ERR_IO);
  put_file(entry, "outblob", tdx_quote.p, tdx_quote.n); /* a quote is no SNP report */
  expect_init("snp", "e0", CDR_ERR_IO);
  {
    uint8_t *big = calloc(1, ATTEST_TSM_MAX_OUTBLOB + 1);
    put_file(entry, "outblob", big, ATTEST_TSM_MAX_OUTBLOB + 1);
    free(big);
    expect_init("snp", "e0", CDR_ERR_TOO_LARGE);
  }
  put_file(entry, "outblob", snp_report.p, snp_report.n);
  expect_init("snp", "e0", 0);
  /* No generation, or not a number. */
  snprintf(path, sizeof(path), "%s/generation", entry);
  CHECK(unlink(path) == 0);
  expect_init("snp", "e0", CDR_ERR_IO);
  put_text(entry, "generation", "seven\n");
  expect_init("snp", "e0", CDR_ERR_IO);
  put_text(entry, "generation", "7\n");
  /* No inblob to write. */
  snprintf(path, sizeof(path), "%s/inblob", entry);
  CHECK(unlink(path) == 0);
  expect_init("snp", "e0", CDR_ERR_IO);
  put_file(entry, "inblob", "", 0);
  expect_init("snp", "e0", 0);
  /* An entry name that is not one path component; a missing entry. */
  expect_init("snp", "../e0", CDR_ERR_ARG);
  expect_init("snp", "missing", CDR_ERR_IO);
  remove_tree();

  /* No report interface at all. */
  {
    struct attest_provider *p = attest_provider_find("snp");
    struct attest_options o = opts_for(NULL);
    o.tsm_root = "/nonexistent/cdr-tsm";
    p->opts = &o;
    CHECK_RC(p->init(p, NULL), CDR_ERR_NOT_FOUND);
  }

  /* Private entries: the provider makes its own and removes it again,
   * also when the report fails (a fake root cannot fill a new entry). */
  fake_tree(ATTEST_TSM_PROVIDER_SNP, &snp_report, 1);
  expect_init("snp", NULL, CDR_ERR_IO);
  CHECK(count_entries(root) == 1);
  {
    const char *name = "x";
    CHECK(attest_tsm_probe(root, &name) != 0);
    CHECK(name == NULL);
    CHECK(count_entries(root) == 1);
  }
  remove_tree();
}

/* ---- the generation check ---- */

/* outblob as a FIFO: for each of `serves` attempts of the provider, wait
 * for the attempt to begin, optionally bump generation (before the report
 * is written, so before the reader can see its end), write the report and
 * close.
 *
 * Each attempt of the provider begins by writing the 64 bytes of inblob,
 * and the server empties inblob when it takes an attempt; so "inblob holds
 * 64 bytes" means the provider has closed the previous attempt's outblob
 * (its close returned before it wrote inblob) and is about to open outblob
 * again.  Only then does the server open its end.  The handshake has no
 * clock and no look at the fd table: a blocking open(O_WRONLY) returns at
 * once while an earlier reader's end is still being released, and serving
 * then put two reports into one read and left the retry waiting for a
 * writer forever (seen under load). */
struct fifo_server {
  char path[256], inblob[256], gen_dir[200];
  int serves, bump_first_only, served;
  unsigned generation;
  atomic_int stop;
  atomic_int done; /* the thread has returned */
};

/* Wait until the provider has written inblob for its next attempt, then
 * empty it; 0 when the test's cleanup stopped the wait. */
static int wait_attempt(struct fifo_server *s) {
  struct stat st;
  while (!atomic_load(&s->stop)) {
    if (stat(s->inblob, &st) == 0 && st.st_size == CDR_REPORT_DATA_LEN)
      return truncate(s->inblob, 0) == 0;
    usleep(1000);
  }
  return 0;
}

static void *fifo_serve(void *arg) {
  struct fifo_server *s = arg;
  for (int i = 0; i < s->serves && wait_attempt(s); i++) {
    int fd = open(s->path, O_WRONLY | O_CLOEXEC); /* waits for the reader */
    if (fd < 0)
      break;
    if (atomic_load(&s->stop)) { /* woken by the test's cleanup, not the provider */
      close(fd);
      break;
    }
    if (!s->bump_first_only || i == 0) {
      char text[32];
      snprintf(text, sizeof(text), "%u\n", ++s->generation);
      put_text(s->gen_dir, "generation", text);
    }
    size_t off = 0;
    while (off < snp_report.n) {
      ssize_t w = write(fd, snp_report.p + off, snp_report.n - off);
      if (w <= 0)
        break;
      off += (size_t)w;
    }
    close(fd);
    s->served++;
  }
  atomic_store(&s->done, 1);
  return NULL;
}

static void test_generation(int bump_first_only) {
  struct attest_provider *p = attest_provider_find("snp");
  struct attest_options o;
  struct fifo_server s;
  struct cdr_buf ev, certs[ATTEST_MAX_CERTS];
  uint8_t rd[CDR_REPORT_DATA_LEN] = {0};
  size_t n = 0;
  pthread_t th;

  fake_tree(ATTEST_TSM_PROVIDER_SNP, &snp_report, 1);
  o = opts_for("e0");
  p->opts = &o;
  CHECK_RC(p->init(p, NULL), 0);
  memset(&s, 0, sizeof(s));
  snprintf(s.path, sizeof(s.path), "%s/outblob", entry);
  snprintf(s.inblob, sizeof(s.inblob), "%s/inblob", entry);
  snprintf(s.gen_dir, sizeof(s.gen_dir), "%s", entry);
  s.serves = 2;
  s.bump_first_only = bump_first_only;
  s.generation = 1;
  CHECK(unlink(s.path) == 0 && mkfifo(s.path, 0600) == 0);
  CHECK(truncate(s.inblob, 0) == 0); /* init's report wrote it */
  CHECK(pthread_create(&th, NULL, fifo_serve, &s) == 0);
  cdr_buf_init(&ev, CDR_MAX_EVIDENCE, 0);
  if (bump_first_only) {
    /* Changed during the first read, still during the second: evidence. */
    CHECK_RC(p->evidence(p, rd, &ev, certs, &n), 0);
    CHECK(buf_is(&ev, &snp_report) && n == 3);
  } else {
    /* Changed during both reads: the provider gives up. */
    CHECK_RC(p->evidence(p, rd, &ev, certs, &n), CDR_ERR_BUSY);
  }
  atomic_store(&s.stop, 1);
  /* Wake the thread while it may still block in open() waiting for a
   * reader; it may reach that open() only after a first wake-up, so
   * repeat until it has returned (bounded: about 10 s). */
  for (int k = 0; k < 500 && !atomic_load(&s.done); k++) {
    int fd = open(s.path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    usleep(20000);
    if (fd >= 0)
      close(fd);
  }
  pthread_join(th, NULL);
  CHECK(s.served == 2); /* exactly one retry */
  free_certs(certs, n);
  cdr_buf_free(&ev);
  p->fini(p);
  remove_tree();
}

/* ---- auto ---- */

static void test_detect(void) {
  struct attest_options o;
  const char *name = "x";
  char nsm[64];
  memset(&o, 0, sizeof(o));
  o.tsm_root = "/nonexistent/cdr-tsm";
  o.nsm_device = NO_DEVICE;
  CHECK_RC(attest_detect(&o, &name), CDR_ERR_NOT_FOUND);
  CHECK(name == NULL);
  snprintf(nsm, sizeof(nsm), "/tmp/cdr-nsm.XXXXXX");
  int fd = mkstemp(nsm);
  CHECK(fd >= 0);
  close(fd);
  o.nsm_device = nsm;
  CHECK_RC(attest_detect(&o, &name), 0);
  CHECK_STR(name, "nitro");
  /* An NSM path that is no NSM: the provider fails cleanly. */
  {
    struct attest_provider *p = attest_provider_find("nitro");
    p->opts = &o;
    CHECK_RC(p->init(p, NULL), CDR_ERR_IO);
    CHECK(p->state == NULL);
    o.nsm_device = NO_DEVICE;
    CHECK_RC(p->init(p, NULL), CDR_ERR_NOT_FOUND);
  }
  unlink(nsm);
  CHECK(attest_provider_find("sim") == &attest_sim_provider);
  CHECK(attest_provider_find("auto") == NULL && attest_provider_find("") == NULL);
}

/* ---- the NSM messages ---- */

static cbor_item_t *map_value(cbor_item_t *map, const char *key) {
  struct cbor_pair *pairs = cbor_map_handle(map);
  for (size_t i = 0; i < cbor_map_size(map); i++)
    if (cbor_isa_string(pairs[i].key) && cbor_string_length(pairs[i].key) == strlen(key) &&
        memcmp(cbor_string_handle(pairs[i].key), key, strlen(key)) == 0)
      return pairs[i].value;
  return NULL;
}

static struct blob encode(cbor_item_t *item) {
  struct blob b = {NULL, 0};
  size_t cap = 0;
  b.n = cbor_serialize_alloc(item, &b.p, &cap);
  cbor_decref(&item);
  return b;
}

static cbor_item_t *variant(const char *name, cbor_item_t *value) {
  cbor_item_t *m = cbor_new_definite_map(1);
  (void)cbor_map_add(m, (struct cbor_pair){.key = cbor_move(cbor_build_string(name)), .value = cbor_move(value)});
  return m;
}

static void test_nsm_messages(void) {
  struct cdr_buf req, doc;
  uint8_t rd[CDR_REPORT_DATA_LEN];
  struct cbor_load_result res;
  cbor_item_t *top, *inner, *v;

  memset(rd, 0x42, sizeof(rd));
  cdr_buf_init(&req, 4096, 0);
  CHECK_RC(attest_nsm_attestation_request(&req, rd, sizeof(rd)), 0);
  top = cbor_load(req.d, req.len, &res);
  CHECK(top != NULL && res.read == req.len && cbor_isa_map(top) && cbor_map_size(top) == 1);
  if (top != NULL && (inner = map_value(top, "Attestation")) != NULL) {
    CHECK(cbor_isa_map(inner) && cbor_map_size(inner) == 3);
    v = map_value(inner, "user_data");
    CHECK(v != NULL && cbor_isa_bytestring(v) && cbor_bytestring_length(v) == sizeof(rd) &&
          memcmp(cbor_bytestring_handle(v), rd, sizeof(rd)) == 0);
    v = map_value(inner, "nonce");
    CHECK(v != NULL && cbor_is_null(v));
    v = map_value(inner, "public_key");
    CHECK(v != NULL && cbor_is_null(v));
  } else {
    CHECK(!"no Attestation variant");
  }
  if (top != NULL)
    cbor_decref(&top);
  cdr_buf_free(&req);

  /* The answer, wrapping the real document. */
  {
    cbor_item_t *in = cbor_new_definite_map(1);
    (void)cbor_map_add(in, (struct cbor_pair){.key = cbor_move(cbor_build_string("document")),
                                              .value = cbor_move(cbor_build_bytestring(nitro_doc.p, nitro_doc.n))});
    struct blob resp = encode(variant("Attestation", in));
    cdr_buf_init(&doc, CDR_MAX_EVIDENCE, 0);
    CHECK_RC(attest_nsm_attestation_response(resp.p, resp.n, &doc), 0);
    CHECK(buf_is(&doc, &nitro_doc));
    cdr_buf_free(&doc);
    /* Cut short, or with a byte too many. */
    CHECK_RC(attest_nsm_attestation_response(resp.p, resp.n - 1, &doc), CDR_ERR_INTERNAL);
    uint8_t *longer = malloc(resp.n + 1);
    memcpy(longer, resp.p, resp.n);
    longer[resp.n] = 0;
    CHECK_RC(attest_nsm_attestation_response(longer, resp.n + 1, &doc), CDR_ERR_INTERNAL);
    free(longer);
    cdr_buf_free(&doc);
    free(resp.p);
  }
  /* An error answer, another variant, and a container claiming far more
   * items than there are bytes (refused before libcbor allocates). */
  {
    struct blob err = encode(variant("Error", cbor_build_string("InvalidArgument")));
    CHECK_RC(attest_nsm_attestation_response(err.p, err.n, &doc), CDR_ERR_INTERNAL);
    free(err.p);
    cbor_item_t *in = cbor_new_definite_map(1);
    (void)cbor_map_add(in, (struct cbor_pair){.key = cbor_move(cbor_build_string("random")),
                                              .value = cbor_move(cbor_build_bytestring(rd, 8))});
    struct blob other = encode(variant("GetRandom", in));
    CHECK_RC(attest_nsm_attestation_response(other.p, other.n, &doc), CDR_ERR_INTERNAL);
    free(other.p);
    static const uint8_t bomb[] = {0x9b, 0x00, 0x00, 0x00, 0x00, 0x7f, 0xff, 0xff, 0xff};
    CHECK_RC(attest_nsm_attestation_response(bomb, sizeof(bomb), &doc), CDR_ERR_INTERNAL);
    CHECK_RC(attest_nsm_attestation_response(bomb, 0, &doc), CDR_ERR_INTERNAL);
    cdr_buf_free(&doc);
  }
}

/* ---- end to end: provider -> IPC reply -> JSON -> client ---- */

static struct enclave e2e;

static void e2e_setup(void) {
  EVP_PKEY *k = NULL;
  CHECK(cdr_ec_p256_generate(&k) == 0);
  CHECK(cdr_pubkey_to_der(k, &e2e.identity_spki, &e2e.identity_spki_len) == 0);
  EVP_PKEY_free(k);
  CHECK(cdr_random(e2e.room_id, sizeof(e2e.room_id)) == 0 && cdr_random(e2e.ca_fp, sizeof(e2e.ca_fp)) == 0);
}

/* Ask e2e's provider for evidence through the IPC handler and build the
 * /v1/attest answer the host would (routes.c). */
static json_t *e2e_answer(const uint8_t nonce[CDR_NONCE_LEN]) {
  struct cdr_buf in, out;
  uint32_t rt = 0, ncerts = 0;
  const uint8_t *plat = (const uint8_t *)"?", *ev = NULL;
  size_t plat_len = 0, ev_len = 0;
  char *b = NULL, rid[33], fp[65], name[32];
  json_t *j = json_object(), *certs = json_array();
  cdr_buf_init(&in, 1024, 0);
  cdr_buf_init(&out, CDR_IPC_MAX_FRAME, 0);
  CHECK(cdr_buf_put_lp(&in, nonce, CDR_NONCE_LEN) == 0);
  CHECK_RC(enclave_handle_attest(&e2e, &in, &rt, &out), 0);
  CHECK(rt == IPC_ATTEST_OK);
  CHECK(cdr_buf_get_lp(&out, &plat, &plat_len, 31) == 0 && cdr_buf_get_lp(&out, &ev, &ev_len, CDR_MAX_EVIDENCE) == 0 &&
        cdr_buf_get_u32(&out, &ncerts) == 0);
  memcpy(name, plat, plat_len);
  name[plat_len] = '\0';
  json_object_set_new(j, "platform", json_string(name));
  CHECK(cdr_b64_encode(&b, ev, ev_len) == 0);
  json_object_set_new(j, "evidence", json_string(b));
  free(b);
  for (uint32_t i = 0; i < ncerts; i++) {
    const uint8_t *c;
    size_t clen;
    CHECK(cdr_buf_get_lp(&out, &c, &clen, CDR_MAX_CERT_DER) == 0);
    CHECK(cdr_b64_encode(&b, c, clen) == 0);
    json_array_append_new(certs, json_string(b));
    free(b);
  }
  {
    uint64_t cv = 1;
    uint8_t ch[32];
    char chex[65];
    CHECK(cdr_buf_get_u64(&out, &cv) == 0 && cdr_buf_get(&out, ch, sizeof(ch)) == 0);
    CHECK(cv == 0); /* no contract in e2e: version 0, hash all zero */
    cdr_hex_encode(chex, ch, sizeof(ch));
    json_object_set_new(j, "contract_sha256", json_string(chex));
    json_object_set_new(j, "contract_version", json_integer(0));
  }
  CHECK(cdr_buf_expect_end(&out) == 0);
  json_object_set_new(j, "certificates", certs);
  CHECK(cdr_b64_encode(&b, e2e.identity_spki, e2e.identity_spki_len) == 0);
  json_object_set_new(j, "identity_public_key", json_string(b));
  free(b);
  cdr_hex_encode(rid, e2e.room_id, sizeof(e2e.room_id));
  cdr_hex_encode(fp, e2e.ca_fp, sizeof(e2e.ca_fp));
  json_object_set_new(j, "room_id", json_string(rid));
  json_object_set_new(j, "ca_fingerprint", json_string(fp));
  cdr_buf_free(&in);
  cdr_buf_free(&out);
  return j;
}

static void e2e_policy(struct cdr_attest_policy *pol, const uint8_t *nonce, int64_t now) {
  memset(pol, 0, sizeof(*pol));
  pol->room_id = e2e.room_id;
  pol->ca_fp = e2e.ca_fp;
  pol->nonce = nonce;
  pol->now = now;
}

static void test_end_to_end(void) {
  struct attest_provider *p;
  struct attest_options o;
  struct cdr_attest_policy pol;
  struct cdr_attestation att;
  uint8_t nonce[CDR_NONCE_LEN];
  char detail[512];
  json_t *j;

  e2e_setup();
  CHECK(cdr_random(nonce, sizeof(nonce)) == 0);

  /* SEV-SNP: the real report and chip certificates pass the AMD chain,
   * but the report carries zeros, not our report_data. */
  fake_tree(ATTEST_TSM_PROVIDER_SNP, &snp_report, 1);
  o = opts_for("e0");
  p = attest_provider_find("snp");
  p->opts = &o;
  CHECK_RC(p->init(p, NULL), 0);
  e2e.attest = p;
  j = e2e_answer(nonce);
  {
    uint8_t *inblob = NULL;
    size_t n = 0;
    uint8_t rd[CDR_REPORT_DATA_LEN];
    char path[256];
    snprintf(path, sizeof(path), "%s/inblob", entry);
    CHECK(cdr_file_read(path, &inblob, &n, 1024) == 0);
    static const uint8_t no_contract[32];
    CHECK(cdr_report_data(rd, e2e.identity_spki, e2e.identity_spki_len, e2e.room_id, e2e.ca_fp, no_contract, nonce) ==
          0);
    CHECK(n == sizeof(rd) && memcmp(inblob, rd, sizeof(rd)) == 0); /* the enclave asked for OUR report_data */
    free(inblob);
  }
  e2e_policy(&pol, nonce, T_2026_01_01);
  detail[0] = '\0';
  CHECK_RC(cdr_attest_verify_response(&att, j, &pol, detail, sizeof(detail)), CDR_ERR_ATTEST_REPORT_DATA);
  CHECK_CONTAINS(detail, "AMD SEV-SNP: report_data");
  CHECK(att.identity == NULL && att.hw == NULL);
  /* The online minimum TCB reaches the verifier: the report's own TCB
   * (0x180) passes it (required or not: this is an SNP room), and one
   * more in any of its four fields (bootloader, tee, snp, microcode) is
   * refused before report_data is looked at. */
  {
    static const int field[] = {0, 1, 6, 7};
    uint8_t min[CDR_SNP_TCB_LEN];
    memcpy(min, snp_report.p + 0x180, sizeof(min));
    pol.snp_min_tcb = min;
    pol.snp_min_tcb_required = 1;
    CHECK_RC(cdr_attest_verify_response(&att, j, &pol, detail, sizeof(detail)), CDR_ERR_ATTEST_REPORT_DATA);
    for (size_t f = 0; f < sizeof(field) / sizeof(field[0]); f++) {
      memcpy(min, snp_report.p + 0x180, sizeof(min));
      min[field[f]]++;
      CHECK_RC(cdr_attest_verify_response(&att, j, &pol, detail, sizeof(detail)), CDR_ERR_ATTEST_TCB);
      CHECK_CONTAINS(detail, "AMD SEV-SNP: minimum TCB");
    }
    pol.snp_min_tcb = NULL;
    pol.snp_min_tcb_required = 0;
  }
  /* The answer's chip certificates are what let the chain check pass:
   * without them the VCEK is missing. */
  json_object_set_new(j, "certificates", json_array());
  CHECK_RC(cdr_attest_verify_response(&att, j, &pol, detail, sizeof(detail)), CDR_ERR_ATTEST_ROOT);
  /* A certificate that is not DER. */
  json_array_append_new(json_object_get(j, "certificates"), json_string("bm90IGEgY2VydA=="));
  CHECK_RC(cdr_attest_verify_response(&att, j, &pol, detail, sizeof(detail)), CDR_ERR_ATTEST_MALFORMED);
  json_decref(j);
  p->fini(p);
  remove_tree();

  /* TDX: no collateral online means no verification, and says how. */
  fake_tree(ATTEST_TSM_PROVIDER_TDX, &tdx_quote, 0);
  o = opts_for("e0");
  p = attest_provider_find("tdx");
  p->opts = &o;
  CHECK_RC(p->init(p, NULL), 0);
  e2e.attest = p;
  j = e2e_answer(nonce);
  e2e_policy(&pol, nonce, T_2026_01_01);
  CHECK(cdr_attest_verify_response(&att, j, &pol, detail, sizeof(detail)) != 0);
  CHECK_CONTAINS(detail, "CDR_TDX_COLLATERAL");
  json_decref(j);
  p->fini(p);
  remove_tree();
  e2e.attest = NULL;

  /* Nitro: the real document (as the provider would relay it) at its own
   * time passes the AWS chain and signature; its user_data is not ours. */
  {
    char *b = NULL, rid[33], fp[65], *spki = NULL;
    CHECK(cdr_b64_encode(&b, nitro_doc.p, nitro_doc.n) == 0 &&
          cdr_b64_encode(&spki, e2e.identity_spki, e2e.identity_spki_len) == 0);
    cdr_hex_encode(rid, e2e.room_id, sizeof(e2e.room_id));
    cdr_hex_encode(fp, e2e.ca_fp, sizeof(e2e.ca_fp));
    j = json_pack("{s:s, s:s, s:[], s:s, s:s, s:s, s:s, s:i}", "platform", "nitro", "evidence", b, "certificates",
                  "identity_public_key", spki, "room_id", rid, "ca_fingerprint", fp, "contract_sha256",
                  "0000000000000000000000000000000000000000000000000000000000000000", "contract_version", 0);
    e2e_policy(&pol, nonce, NITRO_AT);
    CHECK_RC(cdr_attest_verify_response(&att, j, &pol, detail, sizeof(detail)), CDR_ERR_ATTEST_REPORT_DATA);
    CHECK_CONTAINS(detail, "AWS Nitro");
    /* Now: the document's leaf certificate has long expired. */
    e2e_policy(&pol, nonce, T_2026_01_01);
    CHECK_RC(cdr_attest_verify_response(&att, j, &pol, detail, sizeof(detail)), CDR_ERR_ATTEST_CERT_TIME);
    /* An unknown platform is malformed, whatever the evidence. */
    json_object_set_new(j, "platform", json_string("sev"));
    CHECK_RC(cdr_attest_verify_response(&att, j, &pol, detail, sizeof(detail)), CDR_ERR_ATTEST_MALFORMED);
    json_decref(j);
    free(b);
    free(spki);
  }
  OPENSSL_free(e2e.identity_spki);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN); /* the FIFO server may write to a reader that left */
  load_vectors();
  test_cert_table();
  test_snp_round_trip();
  test_tdx_round_trip();
  test_tsm_refusals();
  test_generation(1);
  test_generation(0);
  test_detect();
  test_nsm_messages();
  test_end_to_end();
  free(snp_report.p);
  free(tdx_quote.p);
  free(nitro_doc.p);
  OPENSSL_free(vcek_der.p);
  OPENSSL_free(ask_der.p);
  OPENSSL_free(ark_der.p);
  free(vcek_pem);
  return test_summary("test_tsm");
}
