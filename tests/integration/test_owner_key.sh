#!/usr/bin/env bash
# A table belongs to the key that uploaded it, not to a display name
# (issue 10 item 2).  The attack: a later contract version that the
# owner signs (it is the only provider, so every version needs it) swaps
# display names: the owner's key is renamed, and the analyst's key gets
# the owner's old name.  Ownership by name would give the analyst the
# owner's table, hidden column included, and take it from the owner;
# by key, nothing moves.
. "$(dirname "$0")/lib.sh"
TOOL="$CDR_TEST_BIN_DIR/contract_tool"

R="$T/room"
new_room "$R" || { fail "room init"; finish; }
start_server "$R" URL || { fail "server start"; finish; }
user prov provider "$R" "$URL" && user ana analyst "$R" "$URL" || { fail "enroll"; finish; }
activate_contract "$R" prov ana || { fail "activate the contract"; finish; }
H1=$CONTRACT_HASH
printf 'id,age,city\n1,41,Lyon\n2,67,Nice\n' >"$T/p.csv"
check "the owner uploads" "$CDR" upload --profile prov patients "$T/p.csv"
check "the owner hides age" "$CDR" hide --profile prov patients age
expect_error "ana reads nothing before the swap" access_denied "$CDR" query --profile ana "SELECT city FROM patients"

M=$("$CDR" attest --profile prov --format json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["measurement"])')
"$TOOL" draft "$R/ca.crt" "$M" 2 "$H1" "renamed@example.org:provider:$T/prov.crt" \
  "prov@example.org:analyst:$T/ana.crt" >"$T/v2.json" || { fail "draft version 2"; finish; }
H2=$(sha256sum "$T/v2.json" | cut -d' ' -f1)
check "ana proposes the name swap" "$CDR" contract propose --profile ana "$T/v2.json"
check "the owner signs it (the only provider)" "$CDR" contract sign --profile prov "$H2"
grep -q "now active" "$T/out" && pass "version 2 is active" || { fail "not active: $(cat "$T/out")"; finish; }

expect_error "the key now named like the owner reads nothing of its table" access_denied \
  "$CDR" query --profile ana "SELECT age FROM patients"
check "the owner, renamed, still reads its hidden column" "$CDR" query --profile prov "SELECT age FROM patients" --format csv
expect_eq "the owner's rows" "$(tail -n +2 "$T/out" | tr -d '\r' | sort | paste -sd' ')" "41 67"
check "and still owns it (grants)" "$CDR" grant --profile prov patients --to role:analyst --columns city
check "the analyst reads what the owner granted" "$CDR" query --profile ana "SELECT city FROM patients" --format csv
grep -q Lyon "$T/out" && pass "the grant works" || fail "grant: $(cat "$T/out")"
finish
