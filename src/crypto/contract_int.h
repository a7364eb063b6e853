/*
 * contract_int.h - what the files of the contract library share and
 * nothing else uses (contract.c, contract_sign.c, contract_gov.c).
 */
#ifndef CDR_CONTRACT_INT_H
#define CDR_CONTRACT_INT_H

#include <stddef.h>

/* Write the reason (printf format) into why[whylen] when why is given,
 * and return CDR_ERR_CONTRACT_INVALID: every refusal of the library goes
 * through here, so each names its field the same way. */
int contract_refuse(char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
