#!/usr/bin/env bash
# Revocation: `cdr room revoke` writes a CRL signed by the CA through the
# token; the running server delivers it; the revoked user's open session
# ends at once and new ones are refused (cert_revoked); others are
# untouched; the CRL survives restarts; an older CRL put back is refused.
. "$(dirname "$0")/lib.sh"

R="$T/room"
new_room "$R" || { fail "room init"; finish; }
start_server "$R" URL || { fail "server start"; finish; }
user ana analyst "$R" "$URL" && user bob analyst "$R" "$URL" || { fail "enroll"; finish; }
activate_contract "$R" ana bob || { fail "activate the contract"; finish; }
check "ana can query" "$CDR" query --profile ana "SELECT 1"

rm -f "$T/ready" "$T/go"
"$CDR_TEST_BIN_DIR/hold_session" "$URL" "$R/ca.crt" "$T/ana.key" "$T/ana.crt" "$T/ready" "$T/go" >"$T/hold.out" 2>"$T/hold.err" &
HOLD=$!
for _ in $(seq 100); do [ -e "$T/ready" ] && break; sleep 0.1; done
[ -e "$T/ready" ] && pass "ana holds an open session" || fail "hold_session: $(cat "$T/hold.err")"

# `cdr room` names every subcommand it has when given another.
"$CDR" room list "$R" >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" -eq 2 ] && grep -q "unknown command 'list' (init, invite, invites, members, revoke, propose, limits, backup or restore)" "$T/err" \
  && pass "cdr room list: a usage error naming every subcommand" || fail "cdr room list (exit $rc): $(cat "$T/err")"

check "revoke ana by name" "$CDR" room revoke "$R" --name ana@example.org
grep -q "CRL number 1" "$T/out" && pass "CRL number 1 written" || fail "revoke output: $(cat "$T/out")"
openssl crl -in "$R/crl.pem" -noout -text >"$T/crl.txt" 2>&1
openssl crl -in "$R/crl.pem" -noout -CAfile "$R/ca.crt" 2>&1 | grep -q "verify OK" && pass "the CRL verifies under the room CA" \
  || fail "CRL does not verify: $(openssl crl -in "$R/crl.pem" -noout -CAfile "$R/ca.crt" 2>&1)"
SERIAL=$(openssl x509 -in "$T/ana.crt" -noout -serial | cut -d= -f2)
grep -qi "$SERIAL" "$T/crl.txt" && pass "ana's serial is on the CRL" || fail "serial $SERIAL not in CRL"

for _ in $(seq 50); do grep -q "revocation list number 1" "$T/server.log" && break; sleep 0.1; done
grep -qE "list number 1 accepted; [1-9][0-9]* open sessions ended" "$T/server.log" && pass "the server delivered it and ended ana's open sessions" \
  || fail "delivery: $(grep -i revocation "$T/server.log")"
touch "$T/go"
wait "$HOLD"
expect_eq "ana's open session is gone" "$(cat "$T/hold.out")" "session_unknown"
expect_error "ana's next request is refused" cert_revoked "$CDR" query --profile ana "SELECT 1"
check "bob is untouched" "$CDR" query --profile bob "SELECT 1"

cp "$R/crl.pem" "$T/crl.1"
BSERIAL=$(openssl x509 -in "$T/bob.crt" -noout -serial | cut -d= -f2)
check "revoke bob by serial" "$CDR" room revoke "$R" --serial "$BSERIAL"
for _ in $(seq 50); do grep -q "revocation list number 2" "$T/server.log" && break; sleep 0.1; done
expect_error "bob is refused after his serial is revoked" cert_revoked "$CDR" query --profile bob "SELECT 1"
expect_error "unknown names are refused" "issued no certificate" "$CDR" room revoke "$R" --name nobody

stop_server "$SERVER_PID"
restart_server "$R" URL || { fail "restart"; finish; }
expect_error "the CRL survives a restart" cert_revoked "$CDR" query --profile ana "SELECT 1"

# An older CRL put back: the enclave refuses it, and the server will not serve.
stop_server "$SERVER_PID"
cp "$T/crl.1" "$R/crl.pem"
: >"$T/server.log"
if restart_server "$R" URL 2>/dev/null; then
  fail "the server started with an older CRL"
  stop_server "$SERVER_PID"
else
  pass "the server refuses to start with an older CRL"
fi
grep -q "older than one this room has already accepted" "$T/server.log" && pass "and says why" \
  || fail "no reason: $(tail -3 "$T/server.log")"
# Without any CRL file the enclave knows a list is due and refuses sessions.
rm -f "$R/crl.pem"
restart_server "$R" URL || { fail "restart without a CRL"; finish; }
expect_error "no CRL at all: sessions are refused, not opened unchecked" revocation_list_stale \
  "$CDR" query --profile bob "SELECT 1"
finish
