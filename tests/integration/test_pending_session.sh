#!/usr/bin/env bash
# A session whose key is only in the pending contract version may read
# and sign the contract; its standing is checked again at every request
# (issue 10 item 3): when the pending version that listed it is replaced
# by one that does not, the same open session is refused (not_a_member)
# at its next request, not only at the next session open.
. "$(dirname "$0")/lib.sh"
TOOL="$CDR_TEST_BIN_DIR/contract_tool"

R="$T/room"
new_room "$R" || { fail "room init"; finish; }
start_server "$R" URL || { fail "server start"; finish; }
user prov provider "$R" "$URL" && user ana analyst "$R" "$URL" && user eve analyst "$R" "$URL" \
  || { fail "enroll"; finish; }
M=$("$CDR" attest --profile prov --format json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["measurement"])')
P="prov@example.org:provider,analyst:$T/prov.crt"
A="ana@example.org:analyst:$T/ana.crt"
"$TOOL" draft "$R/ca.crt" "$M" 1 - "$P" "$A" >"$T/v1.json" || { fail "draft"; finish; }
H1=$(sha256sum "$T/v1.json" | cut -d' ' -f1)
"$CDR" contract propose --profile prov "$T/v1.json" >/dev/null 2>&1 && "$CDR" contract sign --profile prov "$H1" >/dev/null 2>&1 \
  && "$CDR" contract sign --profile ana "$H1" >/dev/null 2>&1 && pass "version 1 active (without eve)" || fail "activate"
"$TOOL" draft "$R/ca.crt" "$M" 2 "$H1" "$P" "$A" "eve@example.org:analyst:$T/eve.crt" >"$T/v2.json" || fail "draft v2"
"$CDR" contract propose --profile ana "$T/v2.json" >/dev/null 2>&1 && pass "version 2 with eve pending" || fail "propose v2"

"$CDR_TEST_BIN_DIR/hold_session" "$URL" "$R/ca.crt" "$T/eve.key" "$T/eve.crt" "$T/ready" "$T/go" contract \
  >"$T/hold.out" 2>"$T/hold.err" &
HOLD=$!
for _ in $(seq 300); do [ -e "$T/ready" ] && break; kill -0 "$HOLD" 2>/dev/null || break; sleep 0.1; done
[ -e "$T/ready" ] && pass "eve, pending only, holds a session that reads the contract" || fail "hold: $(cat "$T/hold.err")"

# The pending version is replaced by one without eve.
"$TOOL" draft "$R/ca.crt" "$M" 2 "$H1" "$P" "$A" >"$T/v2b.json" || fail "draft v2b"
sed -i 's/"room_name":"test room"/"room_name":"test room 2"/' "$T/v2b.json"
"$CDR" contract propose --profile ana "$T/v2b.json" >/dev/null 2>&1 && pass "a version without eve replaces it" \
  || fail "propose v2b: $(cat "$T/v2b.json")"
touch "$T/go"
wait "$HOLD"
expect_eq "eve's open session is refused at its next request" "$(cat "$T/hold.out")" "not_a_member"
expect_error "and a new session too" not_a_member "$CDR" contract --profile eve
finish
