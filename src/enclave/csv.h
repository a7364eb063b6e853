/*
 * csv.h - moved to src/common/csv.h (the client infers a schema with the
 * same rules as the enclave).  This forwarding header stays only until
 * the last include of "enclave/csv.h" (tests/fuzz/fuzz_csv.c) is updated.
 */
#include "../common/csv.h"
