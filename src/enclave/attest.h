/*
 * attest.h - attestation providers, behind one interface.
 *
 * A provider turns 64 bytes of report_data into evidence that a remote
 * verifier can check against a root it trusts, plus the certificates the
 * verifier needs that the evidence does not carry.  The enclave always
 * computes report_data itself (envelope.h, cdr_report_data); a provider
 * never sees or chooses it otherwise.
 *
 * Providers: `sim` (attest_sim.c), a software platform key made at room
 * init; `snp` and `tdx` (attest_tsm.c) through the kernel's configfs-tsm
 * report interface; `nitro` (attest_nitro.c) through /dev/nsm.  `auto`
 * (attest.c) picks the hardware one this machine has.  What each puts in
 * its evidence and certificates: docs/PROTOCOL.md 4.5; what a verifier
 * checks: docs/ATTESTATION.md.
 *
 * Files: sim reads its files at init and nothing after.  The hardware
 * providers talk to the platform at every evidence call (a configfs-tsm
 * report entry under the root they opened at init, or the /dev/nsm
 * descriptor they opened at init): that is the platform's interface, not
 * a file the host controls.
 */
#ifndef CDR_ATTEST_H
#define CDR_ATTEST_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/limits.h"
#include "crypto/envelope.h"

#define ATTEST_MAX_CERTS 8

#define ATTEST_TSM_ROOT_DEFAULT "/sys/kernel/config/tsm/report"
#define ATTEST_NSM_DEVICE_DEFAULT "/dev/nsm"
#define ATTEST_SEV_GUEST_DEVICE_DEFAULT "/dev/sev-guest"

/* Where the hardware providers find their platform (cdr-enclave's
 * options); a NULL member means the default above. */
struct attest_options {
  const char *tsm_root;         /* configfs-tsm report directory */
  const char *tsm_entry;        /* use this existing entry under tsm_root for
                                 * every report instead of making (and removing)
                                 * a private one per report; NULL: private */
  const char *nsm_device;       /* Nitro Secure Module device */
  const char *sev_guest_device; /* SEV-SNP guest device (derived keys) */
};

struct attest_provider {
  const char *name; /* "sim", "snp", "tdx", "nitro" */
  /* Set by the caller before init; NULL: every default. */
  const struct attest_options *opts;
  /* Prepare the provider; room_dir is where the sim key lives (the
   * hardware providers ignore it).  Reads any files it needs now. */
  int (*init)(struct attest_provider *p, const char *room_dir);
  /* Evidence for report_data; appends to evidence, and fills certs
   * (DER, each a buffer the caller frees) and *ncerts. */
  int (*evidence)(struct attest_provider *p, const uint8_t report_data[CDR_REPORT_DATA_LEN], struct cdr_buf *evidence,
                  struct cdr_buf certs[ATTEST_MAX_CERTS], size_t *ncerts);
  /* The enclave's measurement as the platform reports it: *len bytes
   * (sim 32; SEV-SNP MEASUREMENT, TDX MRTD, Nitro PCR0: 48). */
  int (*measurement)(struct attest_provider *p, uint8_t out[CDR_MEASUREMENT_MAX], size_t *len);
  /* The platform sealing key: 32 bytes only this enclave, on this
   * platform, can obtain (sim: derived from a secret under ROOM that only
   * the enclave reads; SEV-SNP: the firmware's derived key).  NULL for
   * TDX and Nitro, which have none: cdr_platform_keeps_state (util.h)
   * says so, and the enclave seals under a random key per run instead (a
   * KMS that releases a key on attestation would give them one).  The
   * caller wipes it. */
  int (*sealing_key)(struct attest_provider *p, uint8_t out[32]);
  void (*fini)(struct attest_provider *p);
  void *state;
};

/* Look up a provider by name ("sim", "snp", "tdx", "nitro"); NULL if
 * unknown ("auto" is not a provider: see attest_detect). */
struct attest_provider *attest_provider_find(const char *name);

/* `auto`: the hardware provider this machine offers.  A configfs-tsm
 * root (o->tsm_root) whose report entries name provider "sev_guest" or
 * "tdx_guest" gives "snp" or "tdx"; else an NSM device gives "nitro".
 * Never "sim": simulated attestation is chosen by name only.  *name is
 * static.  CDR_ERR_NOT_FOUND when there is none (logged). */
int attest_detect(const struct attest_options *o, const char **name) CDR_WUR;

/* The provider objects (attest_sim.c, attest_tsm.c, attest_nitro.c). */
extern struct attest_provider attest_sim_provider, attest_snp_provider, attest_tdx_provider,
    attest_nitro_provider;

/* ---- internals shared with their unit tests (tests/unit/test_tsm.c) ---- */

/* The configfs-tsm "provider" value of snp and tdx. */
#define ATTEST_TSM_PROVIDER_SNP "sev_guest"
#define ATTEST_TSM_PROVIDER_TDX "tdx_guest"
/* Caps on what a report entry may return. */
#define ATTEST_TSM_MAX_OUTBLOB CDR_MAX_EVIDENCE
#define ATTEST_TSM_MAX_AUXBLOB (64u * 1024u)

/* auto's probe of a configfs-tsm root: make an entry, read its provider
 * ("snp" or "tdx" into *name, static), remove the entry.
 * CDR_ERR_NOT_FOUND if there is no root or its provider is another. */
int attest_tsm_probe(const char *root, const char **name) CDR_WUR;

/* The SEV-SNP certificate table of an auxblob (the GHCB specification's
 * "SNP Extended Guest Request" table): entries of a 16-byte GUID, u32le
 * offset and u32le length (offsets from the start of the table), ended
 * by an all-zero GUID.  The VCEK (or VLEK), ASK and ARK entries, each
 * one X.509 certificate in DER (PEM is converted), go to certs in that
 * order (DER, each a buffer the caller frees, *ncerts set even on
 * failure); other GUIDs (CRLs, unknown) are skipped.  GUIDs are matched
 * in both byte orders in use (as written, and with the first three
 * fields little-endian).  An empty or all-zero auxblob is no
 * certificates.  CDR_ERR_TRUNCATED for a table that does not parse. */
int attest_snp_cert_table(const uint8_t *aux, size_t len, struct cdr_buf certs[ATTEST_MAX_CERTS],
                          size_t *ncerts) CDR_WUR;

/* The NSM request {"Attestation": {"user_data": user_data, "nonce": null,
 * "public_key": null}} in CBOR, appended to out. */
int attest_nsm_attestation_request(struct cdr_buf *out, const uint8_t *user_data, size_t user_data_len) CDR_WUR;
/* The document of an NSM response {"Attestation": {"document": bstr}},
 * appended to out.  {"Error": "..."} and anything else: CDR_ERR_INTERNAL
 * (logged with the NSM's error name when it is printable). */
int attest_nsm_attestation_response(const uint8_t *resp, size_t len, struct cdr_buf *out) CDR_WUR;

/* The sim evidence layout, shared with its verifier (docs/PROTOCOL.md 4.5). */
#define SIM_EVIDENCE_MAGIC "CDRSIM\x00\x01"
#define SIM_EVIDENCE_SIGNED_LEN 112
#define SIM_EVIDENCE_MAX_SIG 256

#endif
