/*
 * attest.h - attestation providers, behind one interface.
 *
 * A provider turns 64 bytes of report_data into evidence that a remote
 * verifier can check against a root it trusts, plus the certificates the
 * verifier needs that the evidence does not carry.  The enclave always
 * computes report_data itself (envelope.h, cdr_report_data); a provider
 * never sees or chooses it otherwise.
 *
 * Today: `sim` (attest_sim.c), a software platform key made at room
 * init.  Hardware providers (SEV-SNP and TDX through configfs-tsm, Nitro
 * through /dev/nsm) implement the same three functions.
 */
#ifndef CDR_ATTEST_H
#define CDR_ATTEST_H

#include <stdint.h>

#include "common/buf.h"
#include "crypto/envelope.h"

#define ATTEST_MAX_CERTS 8

struct attest_provider {
  const char *name; /* "sim" */
  /* Prepare the provider; room_dir is where the sim key lives.  Reads
   * any files it needs now: after init the enclave opens no files. */
  int (*init)(struct attest_provider *p, const char *room_dir);
  /* Evidence for report_data; appends to evidence, and fills certs
   * (DER, each a buffer the caller frees) and *ncerts. */
  int (*evidence)(struct attest_provider *p, const uint8_t report_data[CDR_REPORT_DATA_LEN], struct cdr_buf *evidence,
                  struct cdr_buf certs[ATTEST_MAX_CERTS], size_t *ncerts);
  /* The enclave's measurement as the platform reports it. */
  int (*measurement)(struct attest_provider *p, uint8_t out[CDR_MEASUREMENT_LEN]);
  /* The platform sealing key: 32 bytes only this enclave, on this
   * platform, can obtain (sim: derived from a secret under ROOM that only
   * the enclave reads; SEV-SNP: a derived key; later a KMS that releases
   * it on attestation).  The caller wipes it. */
  int (*sealing_key)(struct attest_provider *p, uint8_t out[32]);
  void (*fini)(struct attest_provider *p);
  void *state;
};

/* Look up a provider by name; NULL if unknown. */
struct attest_provider *attest_provider_find(const char *name);

/* The sim evidence layout, shared with its verifier (docs/PROTOCOL.md 4.5). */
#define SIM_EVIDENCE_MAGIC "CDRSIM\x00\x01"
#define SIM_EVIDENCE_SIGNED_LEN 112
#define SIM_EVIDENCE_MAX_SIG 256

#endif
