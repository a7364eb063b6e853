/*
 * limits.h - every cap on a dynamic size in CDR, named in one place.
 * A size that crosses a trust boundary is checked against one of these
 * before anything is allocated for it.
 */
#ifndef CDR_LIMITS_H
#define CDR_LIMITS_H

#define CDR_KiB (1024u)
#define CDR_MiB (1024u * 1024u)

/* Uploads stream (PROTOCOL 4.7, upload_begin/chunk/commit): the CSV
 * travels in chunks of 1..CDR_UPLOAD_CHUNK_MAX bytes, each one request,
 * so no process ever holds a whole file.  An upload may declare up to
 * CDR_MAX_UPLOAD_TOTAL bytes; what fits is bounded by the enclave's SQL
 * heap (CDR_SQL_HEAP_LIMIT).  One upload per session, CDR_MAX_UPLOADS
 * per enclave. */
#define CDR_UPLOAD_CHUNK_MAX (4u * CDR_MiB)
/* What the client sends: per-request buffers in cdr and cdrd stay small
 * (measured: 4 MiB chunks cost cdrd ~15 MB more peak RSS than 1 MiB
 * ones, for the same throughput). */
#define CDR_UPLOAD_CHUNK_DEFAULT (1u * CDR_MiB)
#define CDR_MAX_UPLOAD_TOTAL (64ull * 1024u * CDR_MiB)
#define CDR_MAX_UPLOADS 4u
/* An upload that receives nothing for this long is dropped (its client
 * died, or went away without upload_abort). */
#define CDR_UPLOAD_IDLE_S 300
/* Longest CSV record: the parser holds one record at a time. */
#define CDR_MAX_CSV_RECORD (4u * CDR_MiB)
/* Longest request header JSON (an upload_begin names up to
 * CDR_MAX_COLUMNS columns of up to 256 bytes, JSON-escaped). */
#define CDR_MAX_REQUEST_HEADER (2u * CDR_MiB)
/* Largest decrypted request or response plaintext (a query result of
 * CDR_MAX_RESULT_BYTES fits with room to spare). */
#define CDR_MAX_PLAINTEXT (64u * CDR_MiB + 64u * CDR_KiB)
/* AEAD overhead is the 16-byte GCM tag. */
#define CDR_MAX_CIPHERTEXT (CDR_MAX_PLAINTEXT + 16u)
/* Largest HTTP body: base64 of the ciphertext plus JSON.  Responses
 * (a query result) may be this large; requests are capped lower. */
#define CDR_MAX_HTTP_BODY (((CDR_MAX_CIPHERTEXT + 2u) / 3u) * 4u + 64u * CDR_KiB)
/* Largest request plaintext of any operation (PROTOCOL 4.7): the
 * header, lp-framed, and an upload chunk.  A query's padded header alone
 * is smaller. */
#define CDR_MAX_REQUEST_PLAINTEXT (4u + CDR_MAX_REQUEST_HEADER + CDR_UPLOAD_CHUNK_MAX)
#define CDR_MAX_REQUEST_CIPHERTEXT (CDR_MAX_REQUEST_PLAINTEXT + 16u)
/* Largest HTTP request body cdrd accepts (about 8 MiB): base64 of the
 * largest request ciphertext plus JSON.  The host holds a few copies of a
 * body while it parses one (JSON text, decoded fields, the IPC frame), so
 * this cap, not CDR_MAX_HTTP_BODY, bounds its memory per request. */
#define CDR_MAX_HTTP_REQUEST_BODY (((CDR_MAX_REQUEST_CIPHERTEXT + 2u) / 3u) * 4u + 64u * CDR_KiB)
/* Largest host<->enclave frame payload. */
#define CDR_IPC_MAX_FRAME (CDR_MAX_CIPHERTEXT + 256u * CDR_KiB)

#define CDR_MAX_CERT_DER (16u * CDR_KiB)
#define CDR_MAX_PUBKEY_DER (2u * CDR_KiB)
#define CDR_MAX_SIGNATURE (1024u)
#define CDR_MAX_CSR_PEM (32u * CDR_KiB)
#define CDR_MAX_EVIDENCE (64u * CDR_KiB)
#define CDR_MAX_NAME_LEN 128u   /* enrolled user name */
#define CDR_MAX_ERROR_MSG 512u

/* SQL policy limits inside the enclave. */
#define CDR_MAX_SQL_LEN (64u * CDR_KiB)
/* The room's limits (PROTOCOL 4.7, "limits"): the room admin sets each
 * between its MIN and MAX; a room that never set one has its DEFAULT.
 * Time and result size are per query; memory is the SQLite heap one
 * query may take; queries is how many one member may run at once. */
#define CDR_DEFAULT_QUERY_TIME_MS 30000u
#define CDR_MIN_QUERY_TIME_MS 100u
#define CDR_MAX_QUERY_TIME_MS 3600000u
#define CDR_DEFAULT_QUERY_MEMORY (2ull * 1024u * CDR_MiB)
#define CDR_MIN_QUERY_MEMORY (1ull * CDR_MiB)
#define CDR_MAX_QUERY_MEMORY CDR_SQL_HEAP_LIMIT
#define CDR_DEFAULT_RESULT_BYTES (32u * CDR_MiB)
#define CDR_MIN_RESULT_BYTES (1u * CDR_KiB)
/* The whole result, over all its pages: a result larger than one page
 * is spooled, sealed, on the host's disk and read page by page (PROTOCOL
 * 4.7 "Paged results"), so this bounds the host's disk, not memory. */
#define CDR_MAX_RESULT_BYTES (1ull << 40)
/* A result document larger than this (one page) is paged: a page ends
 * after the row that reaches CDR_RESULT_PAGE_BYTES of rows, and no page
 * passes CDR_RESULT_PAGE_MAX (a row that would is result_too_large), so
 * that a page's answer fits a response (CDR_MAX_PLAINTEXT). */
#define CDR_RESULT_PAGE_BYTES (2u * CDR_MiB)
#define CDR_RESULT_PAGE_MAX (32u * CDR_MiB)
/* An open cursor (a paged result) is dropped after this long without a
 * page read (cdrd's CDR_CURSOR_IDLE_S, 1..3600, overrides it: tests);
 * the enclave holds at most CDR_CURSOR_MAX open cursors in all. */
#define CDR_CURSOR_IDLE_S 300u
#define CDR_CURSOR_IDLE_MAX_S 3600u
#define CDR_CURSOR_MAX 256u
#define CDR_DEFAULT_RESULT_ROWS 1000000u
#define CDR_MIN_RESULT_ROWS 1u
#define CDR_MAX_RESULT_ROWS 1000000000u
#define CDR_DEFAULT_MEMBER_QUERIES 4u
#define CDR_MIN_MEMBER_QUERIES 1u
#define CDR_MAX_MEMBER_QUERIES 64u
#define CDR_MAX_COLUMNS 1000u
#define CDR_MAX_TABLE_NAME 64u
/* SQLite's whole heap inside the enclave (tables, sorts, results). */
#define CDR_SQL_HEAP_LIMIT (4ull * 1024u * CDR_MiB)

/* cdrd's HTTP server (src/host/http.c; PROTOCOL 4.1).  Past a
 * connection limit a new connection is answered 503 busy and closed.  A
 * request's headers must arrive within CDR_HTTP_HEADER_TIMEOUT_S of the
 * connection (or of the previous answer on a kept-alive one), and its
 * body at CDR_HTTP_BODY_MIN_RATE bytes a second, over every window of
 * CDR_HTTP_BODY_WINDOW_S: else 408 and the connection is closed
 * (slowloris).  A connection with no traffic at all is closed after
 * CDR_HTTP_IDLE_TIMEOUT_S.  Bodies in flight together are capped at
 * CDR_HTTP_BODY_BUDGET request bodies' worth (503 busy past it). */
#define CDR_HTTP_MAX_CONNECTIONS 256u
#define CDR_HTTP_MAX_CONNECTIONS_PER_IP 32u
#define CDR_HTTP_HEADER_TIMEOUT_S 10u
#define CDR_HTTP_BODY_WINDOW_S 10u
#define CDR_HTTP_BODY_MIN_RATE (4u * CDR_KiB)
#define CDR_HTTP_IDLE_TIMEOUT_S 30u
#define CDR_HTTP_BODY_BUDGET 6u

/* Sessions. */
#define CDR_MAX_SESSIONS 4096u
/* Sessions one certificate may hold; a new one evicts its oldest. */
#define CDR_MAX_SESSIONS_PER_CERT 32u
#define CDR_SESSION_LIFETIME_S 3600u
/* Accepted difference between a client's timestamp and the enclave clock. */
#define CDR_MAX_CLOCK_SKEW_S 300u

/* The enclave's catalog of tables (owners, columns, grants).  Every
 * count and length is checked against these when the catalog changes and
 * when a sealed catalog is decoded. */
#define CDR_MAX_TABLES 1024u
/* Longest column name (the CSV reader's limit). */
#define CDR_MAX_COLUMN_NAME 256u
/* Grants on one table. */
#define CDR_MAX_GRANTS_PER_TABLE 256u
/* A grantee: a user name, or "role:" and a role name. */
#define CDR_MAX_GRANTEE_LEN (CDR_MAX_NAME_LEN + 5u)
/* The encoded catalog as a whole. */
#define CDR_MAX_CATALOG_BYTES (64u * CDR_MiB)

/* The room contract (PROTOCOL 8).  A document is refused past
 * CDR_CONTRACT_MAX_BYTES before it is parsed; each list is checked
 * against its cap before anything is allocated for it.  Display and room
 * names are at most CDR_MAX_NAME_LEN bytes; a witness URL at most
 * CDR_CONTRACT_MAX_URL. */
#define CDR_CONTRACT_MAX_MEMBERS 1024u
#define CDR_CONTRACT_MAX_MEASUREMENTS 16u
#define CDR_CONTRACT_MAX_WITNESSES 16u
#define CDR_CONTRACT_MAX_URL 512u
#define CDR_CONTRACT_MAX_BYTES (1u * CDR_MiB)
/* Signature objects read for one chain entry: one per member, with room
 * for a key rotation's second signature; a longer list is refused. */
#define CDR_CONTRACT_MAX_SIGNATURES (2u * CDR_CONTRACT_MAX_MEMBERS)

#endif
