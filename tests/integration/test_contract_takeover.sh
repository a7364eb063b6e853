#!/usr/bin/env bash
# Version 1 must name the room's data holders.
# The attack (security review, 2026-12-07): in a room whose tables exist
# before its first contract version, an analyst proposed a version 1 that
# lists only its own key, under the provider's name and with the provider
# role, signed it alone (version 1 needs only the members it lists), and
# from then on was the provider: it read the provider's table row by row
# and the real provider was refused as not_a_member.  Now a room with no
# active version serves contract operations only (contract_not_active),
# so no table can exist before version 1 in a room made since: such a
# version takes nothing, and the provider, whose key it leaves out, never
# becomes a member, so its data never enters the room.  (A room made
# before contracts may hold tables: the enclave refuses a version 1 that
# does not list their owners, src/enclave/contract_holders.c, unit-tested
# in tests/unit/test_access.c.)
. "$(dirname "$0")/lib.sh"
TOOL="$CDR_TEST_BIN_DIR/contract_tool"

R="$T/room"
new_room "$R" || { fail "room init"; finish; }
start_server "$R" URL || { fail "server start"; finish; }
user prov provider "$R" "$URL" && user ana analyst "$R" "$URL" || { fail "enroll"; finish; }
"$CDR" attest --profile prov >"$T/attest.out" 2>&1
M=$(awk '/^measurement:/ {print $2}' "$T/attest.out")

printf 'id,diagnosis\n1,flu\n2,asthma\n' >"$T/s.csv"
expect_error "the provider cannot upload before version 1" contract_not_active \
  "$CDR" upload --profile prov secret_t "$T/s.csv"
grep -q "its members must sign version 1" "$T/err" && pass "the refusal says what is missing" \
  || fail "message: $(cat "$T/err")"

"$TOOL" draft "$R/ca.crt" "$M" 1 - "prov@example.org:provider,analyst:$T/ana.crt" >"$T/evil.json" || fail "draft evil"
HE=$(sha256sum "$T/evil.json" | cut -d' ' -f1)
check "a version 1 giving the provider's name to the analyst's key is proposed" \
  "$CDR" contract propose --profile ana "$T/evil.json"
check "the analyst signs it alone: active" "$CDR" contract sign --profile ana "$HE"
grep -q "now active" "$T/out" && pass "it needs only the members it lists" || fail "not active: $(cat "$T/out")"
expect_error "the real provider is not a member of it: its data never enters" not_a_member \
  "$CDR" upload --profile prov secret_t "$T/s.csv"
check "the analyst, under the provider's name, finds no table to read" "$CDR" tables --profile ana --format csv
grep -q "secret_t" "$T/out" && fail "a table was there: $(cat "$T/out")" || pass "no table exists"
finish
