#!/usr/bin/env bash
# The enclave's identity key survives a restart (sealed by the enclave,
# stored by the host), and a tampered sealed identity stops the server
# with a clear message instead of being silently replaced.
. "$(dirname "$0")/lib.sh"

R="$T/room"
new_room "$R" || { fail "room init"; finish; }
[ "$(stat -c %a "$R/attestation/sim-sealing.secret")" = "600" ] && pass "sealing secret is 0600" || fail "sealing secret mode"
start_server "$R" URL || { fail "server start"; finish; }
check "attest (first start)" "$CDR" attest "$URL"
ID1=$(awk '/^identity key:/ { print $3 }' "$T/out")
[ -n "$ID1" ] && pass "identity key fingerprint printed" || fail "identity key fingerprint: $(cat "$T/out")"
[ -s "$R/state/identity.sealed" ] && pass "sealed identity stored by the host" || fail "no state/identity.sealed"
[ "$(stat -c %a "$R/state/identity.sealed")" = "600" ] && pass "sealed identity is 0600" || fail "sealed identity mode"
grep -qa "BEGIN\|PRIVATE" "$R/state/identity.sealed" && fail "sealed identity looks like plaintext" || pass "sealed identity is not PEM"
stop_server "$SERVER_PID"

start_server "$R" URL || { fail "restart"; finish; }
check "attest after a restart" "$CDR" attest "$URL"
ID2=$(awk '/^identity key:/ { print $3 }' "$T/out")
expect_eq "the identity key is the same after a restart" "$ID2" "$ID1"
stop_server "$SERVER_PID"

cp "$R/state/identity.sealed" "$T/identity.good"
flip_byte "$R/state/identity.sealed" $(( $(stat -c %s "$R/state/identity.sealed") - 1 ))
: >"$T/server.log"
if start_server "$R" URL 2>/dev/null; then
  fail "the server started with a tampered sealed identity"
  stop_server "$SERVER_PID"
else
  pass "the server refuses to start with a tampered sealed identity"
fi
grep -q "sealed identity key fails authentication" "$T/server.log" && pass "it says why" \
  || fail "no clear message: $(tail -3 "$T/server.log")"
cp "$T/identity.good" "$R/state/identity.sealed"
start_server "$R" URL && pass "the untouched blob works again" || fail "restart with the good blob"
finish
