/*
 * enclave_main.c - src/enclave/main.c compiled into the enclave harnesses
 * with its main() renamed, so that they release an enclave with the real
 * enclave_free (main.c is the one file the enclave library leaves out)
 * and stay right when struct enclave grows.  The renamed main is never
 * called: it hardens the process (seccomp, mlockall), which a fuzzer
 * cannot live with.
 */
int cdr_enclave_main(int argc, char **argv);
#define main cdr_enclave_main
#include "enclave/main.c"
