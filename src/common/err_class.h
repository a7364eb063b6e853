/*
 * err_class.h - what kind of failure each cdr_err is, for a caller that
 * must tell them apart without reading messages: `cdr` turns the class
 * into its exit status (docs/CLI.md, "Exit status").
 *
 * The values are the exit statuses themselves.  Every code of
 * CDR_ERR_LIST has exactly one class in err_class.c; the table there is
 * indexed by the code and its size is checked against CDR_ERR__COUNT at
 * compile time, so a new error code does not build until it picks one.
 *
 * The class of a code says where that failure is met when this side
 * finds it.  An error code that the room itself sent back (an error body
 * from the host or a sealed error from the enclave) is always
 * CDR_CLASS_REFUSED, whatever the table says: the room decided.
 */
#ifndef CDR_ERR_CLASS_H
#define CDR_ERR_CLASS_H

enum cdr_err_class {
  CDR_CLASS_OK = 0,      /* success */
  CDR_CLASS_FAILURE = 1, /* anything else: internal errors, out of memory */
  CDR_CLASS_USAGE = 2,   /* the command line or an argument is wrong */
  CDR_CLASS_REFUSED = 3, /* the room refused (an error code from the room) */
  CDR_CLASS_NETWORK = 4, /* the room could not be reached, or the transport failed */
  CDR_CLASS_VERIFY = 5,  /* verification failed: attestation, signatures, audit chain,
                          * certificate checks, a forged answer */
  CDR_CLASS_LOCAL = 6,   /* a local file or key: missing, unreadable, malformed */
};

/* The class of a cdr_err (0 for CDR_OK; CDR_CLASS_FAILURE for a value
 * that is no code). */
int cdr_err_class(int err);
/* The class, given whether the room sent the code (then CDR_CLASS_REFUSED). */
int cdr_err_class_from(int err, int from_room);
/* A short stable name of a class ("refused", "network", ...), for docs and JSON. */
const char *cdr_err_class_name(int cls);

#endif
