/*
 * metrics.h - cdrd's /metrics (Prometheus text exposition format 0.0.4),
 * served on a listener of its own (cdrd --metrics-listen; loopback only
 * unless --metrics-allow-remote: who asks the room what, and when, is
 * itself sensitive, so the counts are for the operator's own scraper).
 *
 * What it exposes is what the untrusted host sees anyway, and nothing
 * else: requests by route and status and their latency (the route label
 * is one of the fixed route table's "METHOD /path" or "unmatched"; the
 * status one of a fixed list or "other", so the label sets are bounded),
 * requests in flight, calls queued for the enclave, sessions the host
 * saw opened and not yet expired,
 * the enclave process's resident memory, the bytes of sealed state on
 * disk, the start-up load's progress and the number of records in the
 * sealed audit log.  No table name, member name, SQL or key appears.
 *
 * Thread safety: host_metrics_observe and host_metrics_session_opened
 * are called from MHD's threads; the scrape from the metrics server's.
 * One mutex guards the counters.
 */
#ifndef CDR_HOST_METRICS_H
#define CDR_HOST_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/err.h"
#include "host/enclave_link.h"
#include "host/http.h"
#include "host/progress.h"

struct host_metrics;

/* New metrics for a server with this route table (borrowed, must
 * outlive them), the room folder (copied: ROOM/state is measured) and
 * the start-up progress (borrowed). */
int host_metrics_new(struct host_metrics **out, const struct http_route *routes, size_t nroutes, const char *room_dir,
                     struct host_progress *progress) CDR_WUR;
void host_metrics_free(struct host_metrics *m);

/* Who else is measured, once known: the API server (requests in
 * flight), the enclave's pid (-1: not a child of ours, no RSS) and its
 * link (its queue). */
void host_metrics_set_server(struct host_metrics *m, struct http_server *api);
void host_metrics_set_enclave_pid(struct host_metrics *m, pid_t pid);
void host_metrics_set_link(struct host_metrics *m, struct enclave_link *link);

/* An http_observe_fn (ctx: the metrics). */
void host_metrics_observe(void *ctx, int route, int status, int64_t usec);
/* A session was opened that expires at this Unix time. */
void host_metrics_session_opened(struct host_metrics *m, uint64_t expires_at);

/* Render the exposition text (malloc'd, *len bytes, NUL-terminated). */
int host_metrics_render(struct host_metrics *m, char **text, size_t *len) CDR_WUR;

/* The metrics listener's route table ({GET /metrics}), ctx: the metrics. */
const struct http_route *host_metrics_routes(size_t *n);

#endif
