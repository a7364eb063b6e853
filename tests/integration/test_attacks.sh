#!/usr/bin/env bash
# Protocol attacks against a live server (tests/tools/attack.c): replay,
# reordering, tampered ciphertext and signatures, stale and unknown
# sessions, forged/swapped/flipped responses, tampered key exchange, a
# certificate with someone else's key, foreign and expired certificates.
. "$(dirname "$0")/lib.sh"

R="$T/room"; R2="$T/room2"
new_room "$R" && new_room "$R2" || { fail "room init"; finish; }
start_server "$R" URL && start_server "$R2" URL2 || { fail "server start"; finish; }
user ana analyst "$R" "$URL" && user prov provider "$R" "$URL" && user eve analyst "$R2" "$URL2" || { fail "enroll"; finish; }
activate_contract "$R" ana prov || { fail "activate the contract"; finish; }
"$CDR" keygen "$T/other.key" >/dev/null 2>&1
# A certificate that expires soon: long enough for enroll to accept it
# under the sanitizer build's slowness, waited out before the attacks.
ET=$(invite "$R" analyst "old@example.org" --cert-ttl 5s)
"$CDR" keygen "$T/old.key" >/dev/null 2>&1
"$CDR" enroll "$URL" --key "$T/old.key" --token "$ET" --out "$T/old.crt" >/dev/null 2>&1 || fail "enroll short-lived"
printf 'id\n1\n2\n' >"$T/t.csv"
"$CDR" upload --profile prov t "$T/t.csv" >/dev/null 2>&1 || fail "upload"
"$CDR" grant --profile prov t --to role:analyst >/dev/null 2>&1 || fail "grant"
for _ in $(seq 30); do openssl x509 -checkend 0 -noout -in "$T/old.crt" >/dev/null 2>&1 || break; sleep 0.5; done
openssl x509 -checkend 0 -noout -in "$T/old.crt" >/dev/null 2>&1 && fail "the short-lived certificate has not expired"
sleep 1 # the enclave's clock reads whole seconds
"$CDR_TEST_BIN_DIR/attack" "$URL" "$R/ca.crt" "$T/ana.key" "$T/ana.crt" "$T/other.key" \
  "$T/eve.key" "$T/eve.crt" "$T/old.key" "$T/old.crt" >"$T/attack.out" 2>&1
rc=$?
cat "$T/attack.out"
PASSED=$((PASSED + $(grep -c '^ok - ' "$T/attack.out")))
FAILED=$((FAILED + $(grep -c '^FAIL - ' "$T/attack.out")))
[ $rc -eq 0 ] || [ "$FAILED" -gt 0 ] || fail "attack tool exited $rc"
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/v1/health")
expect_eq "the server is still healthy after the attacks" "$code" "200"
finish
