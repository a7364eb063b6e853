#!/usr/bin/env bash
# A room folder made before the contract (issue 10, "Rooms made before
# this change"): `cdr room init` and enrollments, no contract ever
# proposed, the server stopped and started again.  At that start the room
# serves contract operations only (contract_not_active, for every role);
# `cdr room propose` makes its enrolled members a version-1 draft; once
# they have all signed, the room serves them, and nothing was lost.
. "$(dirname "$0")/lib.sh"

R="$T/room"
new_room "$R" || { fail "room init"; finish; }
start_server "$R" URL || { fail "server start"; finish; }
user prov provider "$R" "$URL" && user ana analyst "$R" "$URL" && user aud auditor "$R" "$URL" \
  || { fail "enroll"; finish; }
stop_server "$SERVER_PID"
restart_server "$R" URL || { fail "restart"; finish; }

printf 'id,v\n1,10\n2,32\n' >"$T/t.csv"
expect_error "a provider cannot upload" contract_not_active "$CDR" upload --profile prov t "$T/t.csv"
expect_error "an analyst cannot query" contract_not_active "$CDR" query --profile ana "SELECT 1"
expect_error "an auditor cannot read the audit log" contract_not_active "$CDR" audit --profile aud
expect_error "nobody lists tables" contract_not_active "$CDR" tables --profile prov
grep -q "its members must sign version 1 (cdr contract)" "$T/err" && pass "the refusal says what to do" \
  || fail "message: $(cat "$T/err")"
check "the contract can be read" "$CDR" contract --profile ana
grep -q "^no active contract" "$T/out" && pass "no version is active" || fail "contract: $(cat "$T/out")"

check "the room admin drafts version 1 from the enrolled members" propose_contract "$R"
H=$CONTRACT_HASH
check "a member reads the draft" "$CDR" contract --profile aud
for who in prov ana aud; do
  grep -q "$who@example.org" "$T/out" && pass "the draft lists $who" || fail "draft without $who: $(cat "$T/out")"
done
check "prov signs" sign_contract prov
check "ana signs" sign_contract ana
expect_error "still contract operations only with one signature missing" contract_not_active \
  "$CDR" upload --profile prov t "$T/t.csv"
check "aud signs" sign_contract aud
grep -q "now active" "$T/contract.sign" && pass "version 1 is active" || fail "sign: $(cat "$T/contract.sign")"

check "now the provider uploads" "$CDR" upload --profile prov t "$T/t.csv"
check "and grants" "$CDR" grant --profile prov t --to role:analyst
check "the analyst queries" "$CDR" query --profile ana "SELECT sum(v) FROM t" --format csv
expect_eq "the answer" "$(tail -n 1 "$T/out" | tr -d '\r')" "42"
check "the auditor reads the log" "$CDR" audit --profile aud --verify
stop_server "$SERVER_PID"
restart_server "$R" URL || { fail "restart after activation"; finish; }
check "the contract and the table survive a restart" "$CDR" query --profile ana "SELECT count(*) FROM t" --format csv
expect_eq "rows after the restart" "$(tail -n 1 "$T/out" | tr -d '\r')" "2"
finish
