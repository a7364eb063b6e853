#!/usr/bin/env bash
# The enclave's witness check at start (issue 13, docs/ARCHITECTURE.md
# "Witnesses"): a room whose active contract names three witnesses (f = 0,
# quorum 2) asks them, through cdrd's relay, for their keys and the latest
# head they hold with a fresh nonce, at every start.  With a quorum up it
# serves; with too few up it serves nothing (witness_unavailable to every
# session open and request) and resumes, without a restart, once enough
# come back; a witness that is down does not stop the room while a quorum
# answers.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/witness_lib.sh"

R="$T/room"
new_room "$R" || { fail "room init"; finish; }
witness_tls || { fail "witness TLS"; finish; }
start_server "$R" URL || { fail "server start"; finish; }
user prov provider "$R" "$URL" || { fail "enroll"; finish; }
for i in 0 1 2; do start_witness $i || { fail "witness $i"; finish; }; done
check "version 1 names three witnesses" "$CDR" room propose "$R" --witness "${WURL[0]}" --witness "${WURL[1]}" \
  --witness "${WURL[2]}"
H=$(sed -n 's/.*contract hash \([0-9a-f]\{64\}\)$/\1/p' "$T/out")
for _ in $(seq 100); do grep -q "contract version 1 ($H) is pending" "$T/server.log" && break; sleep 0.1; done
check "prov signs: version 1 is active" "$CDR" contract sign --profile prov "$H"

stop_server "$SERVER_PID"
restart_server "$R" URL || { fail "restart"; finish; }
grep -q "witnesses: 3 of 3 witnesses confirmed the history up to entry" "$T/server.log" \
  && pass "at start the enclave asks the witnesses, and all three confirm" || fail "log: $(grep -i witness "$T/server.log")"
check "a quorum confirmed: the room serves" "$CDR" tables --profile prov

stop_witness 2
stop_server "$SERVER_PID"
restart_server "$R" URL || { fail "restart with one witness down"; finish; }
check "one witness down, a quorum (2 of 3) answers: the room serves" "$CDR" tables --profile prov

stop_witness 1
stop_server "$SERVER_PID"
restart_server "$R" URL || { fail "restart with two witnesses down"; finish; }
grep -q "serving nothing: witness_unavailable: 1 of 3 witnesses confirmed the history, a quorum is 2" "$T/server.log" \
  && pass "with one of three up the enclave says it serves nothing" || fail "log: $(grep -i witness "$T/server.log")"
expect_error "too few witnesses: a request gets witness_unavailable" "witness_unavailable" "$CDR" tables --profile prov
restart_witness 1 || { fail "witness 1 back"; finish; }
# The enclave asks again at most once a second, at the next request.
for _ in $(seq 50); do "$CDR" tables --profile prov >/dev/null 2>&1 && break; sleep 0.2; done
check "a quorum is back: the room serves again, without a restart" "$CDR" tables --profile prov
restart_witness 2 || { fail "witness 2 back"; finish; }

# While the room serves: too few witnesses, and no answer leaves.
stop_witness 1
stop_witness 2
expect_error "mid-run, one of three witnesses up: the answer is withheld (witness_unavailable)" "witness_unavailable" \
  "$CDR" tables --profile prov
grep -q "witnesses: head [0-9]* countersigned by 1, a quorum is 2" "$T/server.log" \
  && pass "the enclave logs the short round" || fail "log: $(grep -i witness "$T/server.log" | tail -3)"
restart_witness 1 || { fail "witness 1 back"; finish; }
check "one back (2 of 3): answers leave again" "$CDR" tables --profile prov

# A witness that answers garbage does not stop the room while a quorum answers.
garbage_witness 2 || { fail "garbage witness"; finish; }
check "witness 2 answers garbage: answers still leave (2 of 3 countersign)" "$CDR" tables --profile prov
stop_server "$SERVER_PID"
restart_server "$R" URL || { fail "restart with a garbage witness"; finish; }
grep -q "witnesses: 2 of 3 witnesses confirmed the history" "$T/server.log" \
  && pass "at start the garbage answer counts nothing and the quorum confirms" \
  || fail "log: $(grep -i witness "$T/server.log" | tail -3)"
check "and the room serves" "$CDR" tables --profile prov
finish
