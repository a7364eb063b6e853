#!/usr/bin/env bash
# The cut-log attack (issue 13) against a room with four witnesses, f = 1
# (quorum 3): the operator stops the server, cuts state/audit.sealed back
# to an earlier size (the activity since then gone: on the old code the
# room starts and `cdr audit --verify` passes) and restarts.  The
# witnesses countersigned the later heads, so the enclave refuses to
# serve: history_rollback, naming the witness and both heads, in cdrd's
# log and to every client.  Also when one witness was restored from an
# old copy of its state (it agrees with the cut log) and the host relays
# only to a quorum it chose (the fourth is unreachable): the two current
# witnesses in that quorum still hold the later heads.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/witness_lib.sh"

R="$T/room"
new_room "$R" || { fail "room init"; finish; }
witness_tls || { fail "witness TLS"; finish; }
start_server "$R" URL || { fail "server start"; finish; }
user prov provider "$R" "$URL" || { fail "enroll"; finish; }
for i in 0 1 2 3; do start_witness $i || { fail "witness $i"; finish; }; done
check "version 1 names four witnesses, f = 1" "$CDR" room propose "$R" --witness "${WURL[0]}" --witness "${WURL[1]}" \
  --witness "${WURL[2]}" --witness "${WURL[3]}" --witness-faults 1
H=$(sed -n 's/.*contract hash \([0-9a-f]\{64\}\)$/\1/p' "$T/out")
for _ in $(seq 100); do grep -q "contract version 1 ($H) is pending" "$T/server.log" && break; sleep 0.1; done
check "prov signs: version 1 is active" "$CDR" contract sign --profile prov "$H"
stop_server "$SERVER_PID"
restart_server "$R" URL || { fail "restart"; finish; }
check "the room serves with its witnesses" "$CDR" tables --profile prov
grep -q "witnesses: 4 of 4 witnesses confirmed the history" "$T/server.log" && pass "all four confirmed at start" \
  || fail "start: $(grep -i witness "$T/server.log")"

# The point the operator will cut back to, and a copy of witness 0's state then.
stop_server "$SERVER_PID"
CUT=$(stat -c %s "$R/state/audit.sealed")
stop_witness 0
cp -a "$T/w0" "$T/w0.old"
restart_witness 0 || { fail "witness 0 back"; finish; }
restart_server "$R" URL || { fail "restart"; finish; }
check "activity after the cut point (1)" "$CDR" tables --profile prov
check "activity after the cut point (2)" "$CDR" tables --profile prov
stop_server "$SERVER_PID"
[ "$(stat -c %s "$R/state/audit.sealed")" -gt "$CUT" ] && pass "the log grew past the cut point" || fail "log did not grow"

# The attack: cut the log back and restart.
truncate -s "$CUT" "$R/state/audit.sealed"
restart_server "$R" URL || { fail "restart after the cut"; finish; }
grep -q "serving nothing: history_rollback: witness [0-9] (https://127.0.0.1:[0-9]*, key [0-9a-f]\{64\}) holds head size [0-9]* hash [0-9a-f]\{64\}, signed by this enclave, beyond the log (size [0-9]*, head [0-9a-f]\{64\})" \
  "$T/server.log" && pass "the cut log is caught at start: history_rollback naming the witness and both heads" \
  || fail "log: $(grep -i witness "$T/server.log" | tail -5)"
expect_error "every client is told: history_rollback" "history_rollback: witness" "$CDR" tables --profile prov
expect_error "and again: it is final for this start" "history_rollback" "$CDR" tables --profile prov
# Nor does it take a change onto the cut log: a new proposal and new limits
# get the same verdict, and nothing is appended (on the old code both were
# committed: the proposal "is pending", the limits "are in force").
SIZE=$(stat -c %s "$R/state/audit.sealed")
LINES=$(wc -l < "$T/server.log")
check "a proposal is drafted on the cut room" "$CDR" room propose "$R" --witness "${WURL[0]}" --witness "${WURL[1]}" \
  --witness "${WURL[2]}" --witness-faults 0
check "new limits are set on the cut room" "$CDR" room limits "$R" --query-time 5s
for _ in $(seq 100); do
  grep -q "takes no $R/proposal.json before its witnesses confirm the room's history (history_rollback" "$T/server.log" &&
    grep -q "takes no $R/limits.json before its witnesses confirm the room's history (history_rollback" "$T/server.log" &&
    break
  sleep 0.1
done
grep -q "takes no $R/proposal.json before its witnesses confirm the room's history (history_rollback: witness" \
  "$T/server.log" && pass "the proposal is refused: history_rollback" || fail "proposal: $(grep -i propos "$T/server.log" | tail -3)"
grep -q "takes no $R/limits.json before its witnesses confirm the room's history (history_rollback: witness" \
  "$T/server.log" && pass "the limits are refused: history_rollback" || fail "limits: $(grep -i limits "$T/server.log" | tail -3)"
! tail -n +"$((LINES + 1))" "$T/server.log" | grep -q "is pending\|are in force" \
  && pass "neither is taken" || fail "taken: $(tail -n +"$((LINES + 1))" "$T/server.log" | grep "is pending\|in force")"
[ "$(stat -c %s "$R/state/audit.sealed")" = "$SIZE" ] && pass "nothing is appended to the cut log" \
  || fail "the cut log grew: $SIZE -> $(stat -c %s "$R/state/audit.sealed")"
stop_server "$SERVER_PID"

# One witness restored from its old copy, the fourth unreachable: the host
# relays to exactly a quorum of its choosing.
stop_witness 0
rm -rf "$T/w0" && cp -a "$T/w0.old" "$T/w0"
restart_witness 0 || { fail "witness 0 restored"; finish; }
stop_witness 3
restart_server "$R" URL || { fail "restart with a restored witness"; finish; }
LAST=$(grep "serving nothing" "$T/server.log" | tail -n 1)
echo "$LAST" | grep -q "history_rollback: witness [0-9] (\(${WURL[1]}\|${WURL[2]}\), " \
  && pass "restored witness 0 and witness 3 gone: the current witnesses of the quorum still catch the rollback" \
  || fail "log: $LAST"
expect_error "the client is refused" "history_rollback" "$CDR" tables --profile prov
finish
