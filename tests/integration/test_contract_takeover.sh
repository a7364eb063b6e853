#!/usr/bin/env bash
# Version 1 must name the room's data holders (src/enclave/contract_holders.c).
# The attack (security review, 2026-12-07): in a room whose tables exist
# before its first contract version, an analyst proposed a version 1 that
# lists only its own key, under the provider's name and with the provider
# role, signed it alone (version 1 needs only the members it lists), and
# from then on was the provider: it read the provider's table row by row
# and the real provider was refused as not_a_member.  Now such a version
# is refused when it is proposed, and a version 1 proposed before a table
# was uploaded cannot be signed until it is proposed again with its owner.
. "$(dirname "$0")/lib.sh"
TOOL="$CDR_TEST_BIN_DIR/contract_tool"

R="$T/room"
new_room "$R" || { fail "room init"; finish; }
start_server "$R" URL || { fail "server start"; finish; }
user prov provider "$R" "$URL" && user ana analyst "$R" "$URL" || { fail "enroll"; finish; }
"$CDR" attest --profile prov >"$T/attest.out" 2>&1
M=$(awk '/^measurement:/ {print $2}' "$T/attest.out")

# A version 1 proposed while no table exists yet; then the provider uploads.
"$TOOL" draft "$R/ca.crt" "$M" 1 - "ana:analyst:$T/ana.crt" >"$T/early.json" || fail "draft early"
HE=$(sha256sum "$T/early.json" | cut -d' ' -f1)
check "a version 1 without the provider, before any table" "$CDR" contract propose --profile ana "$T/early.json"
printf 'id,diagnosis\n1,flu\n2,asthma\n' >"$T/s.csv"
check "the provider uploads" "$CDR" upload --profile prov secret_t "$T/s.csv"
expect_error "that version cannot be signed once a table's owner is missing from it" contract_invalid \
  "$CDR" contract sign --profile ana "$HE"
grep -q "must list the key that owns table secret_t" "$T/err" && pass "the refusal names the table" \
  || fail "message: $(cat "$T/err")"

# The takeover: ana's key alone, under the provider's name, as provider.
"$TOOL" draft "$R/ca.crt" "$M" 1 - "prov@example.org:provider,analyst:$T/ana.crt" >"$T/evil.json" || fail "draft evil"
expect_error "a version 1 giving the provider's name to another key is refused" contract_invalid \
  "$CDR" contract propose --profile ana "$T/evil.json"
grep -q "must list the key that owns table secret_t" "$T/err" && pass "it names the table and its owner's key" \
  || fail "message: $(cat "$T/err")"
# The owner's key listed, but under another name, and ana under its name.
"$TOOL" draft "$R/ca.crt" "$M" 1 - "prov@example.org:provider,analyst:$T/ana.crt" "p2:provider:$T/prov.crt" \
  >"$T/evil2.json" || fail "draft evil2"
expect_error "the owner's key under another name is refused" contract_invalid \
  "$CDR" contract propose --profile ana "$T/evil2.json"
expect_error "ana still cannot read the provider's table" access_denied \
  "$CDR" query --profile ana "SELECT * FROM secret_t"
check "the provider still reads its table" "$CDR" query --profile prov "SELECT diagnosis FROM secret_t"

# The honest version 1 (the owner under its name, as provider) activates.
"$TOOL" draft "$R/ca.crt" "$M" 1 - "prov@example.org:provider:$T/prov.crt" "ana@example.org:analyst:$T/ana.crt" \
  >"$T/v1.json" || fail "draft v1"
H1=$(sha256sum "$T/v1.json" | cut -d' ' -f1)
check "the honest version 1 is proposed" "$CDR" contract propose --profile prov "$T/v1.json"
check "prov signs" "$CDR" contract sign --profile prov "$H1"
check "ana signs: active" "$CDR" contract sign --profile ana "$H1"
grep -q "now active" "$T/out" && pass "version 1 is active" || fail "not active: $(cat "$T/out")"
check "the owner keeps its table" "$CDR" query --profile prov "SELECT diagnosis FROM secret_t"
expect_error "ana reads nothing she was not granted" access_denied "$CDR" query --profile ana "SELECT * FROM secret_t"
finish
