/*
 * nitro_internal.h - what verify_nitro.c shares with its unit test and
 * nobody else: the limits it enforces on an attestation document, and the
 * verifier with the trust anchor as a parameter.
 *
 * The limits are AWS's where AWS states one (the CDDL in
 * aws/aws-nitro-enclaves-nsm-api docs/attestation_process.md, section 2.2),
 * and ours otherwise.
 */
#ifndef CDR_NITRO_INTERNAL_H
#define CDR_NITRO_INTERNAL_H

#include "common/limits.h"
#include "hwattest.h"

/* Largest document accepted: the evidence cap of the whole project.  A real
 * document is about 5 KiB; one with every field at the limits below about
 * 22 KiB. */
#define CDR_NITRO_MAX_DOC CDR_MAX_EVIDENCE
/* public_key, user_data, nonce: 0..1024 bytes each (AWS). */
#define CDR_NITRO_MAX_USER_BYTES 1024u
/* certificate and each cabundle entry: 1..1024 bytes of DER (AWS). */
#define CDR_NITRO_MAX_CERT 1024u
/* cabundle entries.  AWS sets no maximum; real bundles hold 4 (root,
 * regional, zonal, instance). */
#define CDR_NITRO_MAX_CABUNDLE 16u
/* module_id length.  AWS's are 39 characters ("i-<17 hex>-enc<16 hex>");
 * 100 keeps the report's tcb line (160 bytes) from ever truncating it. */
#define CDR_NITRO_MAX_MODULE_ID 100u
/* Keys in the payload map: AWS defines 9; unknown ones are ignored, up
 * to this many in all. */
#define CDR_NITRO_MAX_PAYLOAD_KEYS 32u
/* PCR values: digest "SHA384" is the only one AWS defines, so 48 bytes. */
#define CDR_NITRO_PCR_LEN 48u
/* ES384 signature: raw r || s, 48 bytes each. */
#define CDR_NITRO_SIG_LEN 96u

/*
 * cdr_verify_nitro with the trust anchor as a parameter.  cdr_verify_nitro
 * passes cdr_root_aws_nitro_g1(); the unit test passes a CA of its own, so
 * that it can reach the checks that follow the chain (PCRs, user_data) with
 * documents it signs itself.  root is borrowed.  Nothing else calls this:
 * the trust anchor of real verification is only ever the pinned root.
 */
int cdr_nitro_verify_with_root(const uint8_t *doc, size_t len, X509 *root,
                               const struct cdr_hw_policy *policy,
                               struct cdr_hw_report *out) CDR_WUR;

#endif
