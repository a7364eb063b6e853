/*
 * dp_ops.h - sealing a dp query's charge before its answer leaves
 * (docs/RULES.md "The budget", docs/PROTOCOL.md 4.8 "dp_charge").
 */
#ifndef CDR_DP_OPS_H
#define CDR_DP_OPS_H

#include "common/err.h"

struct enclave;

/* If the query just run on lane (its engine, gate_engine_enter) charged
 * a table's privacy budget (engine_dp_take_charge), commit the ledger with the room's state
 * (persist_meta_changed) under its own audit entry, {"op":"dp_charge",
 * "tables":[{name, owner}], "analyst", "epsilon", "delta",
 * "epsilon_spent", "epsilon_total", "epsilon_left", "delta_spent"}
 * (amounts as exact decimal strings), before the caller answers.  The
 * query's own entry, pending while this runs, stays pending for
 * audit_finish.  0 (nothing charged, or committed), or the storage
 * error: e->fatal is set, and the caller must answer nothing.  Queries
 * on several lanes call it at once, under the shared gate: the commits
 * are serialised by a lock of this file's own. */
struct cdr_engine;
int dp_ops_seal_charge(struct enclave *e, struct cdr_engine *lane, const char *analyst) CDR_WUR;

#endif
