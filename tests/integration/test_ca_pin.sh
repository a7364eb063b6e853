#!/usr/bin/env bash
# The room's sealed state is bound to its CA (issue 10, item 4).  The
# attack: the operator of room A puts another room's token and CA
# certificate (room B's: a CA whose key it controls) into A and restarts
# the unmodified enclave, hoping it loads A's sealed tables and admits
# B's certificates under A's members' names.  The enclave must refuse to
# start, naming both CA fingerprints, change nothing under A/state, and
# start again with every table once A's own token and CA are back.  Every
# start's audit entry records the CA fingerprint and the measurement.
. "$(dirname "$0")/lib.sh"

A="$T/A"
B="$T/B"
new_room "$A" "room A" && new_room "$B" "room B" || { fail "room init"; finish; }
start_server "$A" URL || { fail "server start"; finish; }
user prov provider "$A" "$URL" && user aud auditor "$A" "$URL" || { fail "enroll"; finish; }
activate_contract "$A" prov aud || { fail "activate the contract"; finish; }
printf 'id,diagnosis\n1,flu\n2,measles\n3,cold\n' >"$T/d.csv"
"$CDR" upload --profile prov visits "$T/d.csv" >/dev/null 2>"$T/err" || fail "upload: $(cat "$T/err")"
q() { "$CDR" query --profile prov "SELECT count(*), max(diagnosis) FROM visits" --format csv 2>"$T/qerr" | tr -d '\r' | tail -n +2; }
WANT=$(q)
expect_eq "the provider reads its table" "$WANT" "3,measles"
ident() { "$CDR" attest "$URL" 2>/dev/null | awk '/^identity key:/ { print $3 }'; }
ID1=$(ident)
[ -n "$ID1" ] && pass "the enclave identity is known" || fail "no identity from cdr attest"
stop_server "$SERVER_PID"

fp() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/^[^=]*=//'; }
FP_A=$(fp "$A/ca.crt")
FP_B=$(fp "$B/ca.crt")
[ -n "$FP_A" ] && [ "$FP_A" != "$FP_B" ] && pass "two rooms, two CAs" || fail "fingerprints: [$FP_A] [$FP_B]"
state_sums() { (cd "$A/state" && find . -type f | sort | xargs sha256sum); }

# The swap: B's token (hsm folder, PIN file), CA certificate, the token
# and key labels room.json names, and B's sim platform certificate (so
# that attestation chains to B's CA too).  A keeps its room id, its state
# and its sealing secret.
mkdir -p "$T/A.own"
cp -a "$A/hsm" "$A/ca.crt" "$A/room.json" "$T/A.own/"
cp -a "$A/attestation/sim-platform.crt" "$A/attestation/sim-platform.key" "$T/A.own/"
rm -rf "$A/hsm"
cp -a "$B/hsm" "$A/hsm"
sed -i "s#^directories.tokendir = .*#directories.tokendir = $A/hsm/tokens#" "$A/hsm/softhsm2.conf"
cp "$B/ca.crt" "$A/ca.crt"
cp "$B/attestation/sim-platform.crt" "$B/attestation/sim-platform.key" "$A/attestation/"
jq --slurpfile b "$B/room.json" '.token_label = $b[0].token_label | .ca_key_label = $b[0].ca_key_label' \
  "$T/A.own/room.json" >"$A/room.json"
state_sums >"$T/sums.before"

# expect_refused_start WHAT: `cdr serve A` must not come up; its exit
# status is checked and its log left in $T/server.log.
expect_refused_start() {
  local what=$1 pid status
  : >"$T/server.log"
  new_ready_file
  "$CDR" serve "$A" --listen 127.0.0.1:0 --ready-file "$READY_FILE" >>"$T/server.log" 2>&1 &
  pid=$!
  SERVER_PIDS+=("$pid")
  if wait_ready "$pid" "$READY_FILE" 600; then
    fail "the server started: $what"
    stop_server "$pid" # what the attack gets on the old code: A's tables, under B's CA
    status=0
  else
    wait "$pid"
    status=$?
    pass "the server refuses to start: $what"
  fi
  [ "$status" -ne 0 ] && pass "cdrd exits non-zero ($status)" || fail "cdrd exit status $status"
}

expect_refused_start "another room's CA"
grep -q "ca_mismatch" "$T/server.log" && pass "the log names the error (ca_mismatch)" ||
  fail "no ca_mismatch in the log: $(tail -5 "$T/server.log")"
grep "ca_mismatch" "$T/server.log" | grep -q "$FP_A" && grep "ca_mismatch" "$T/server.log" | grep -q "$FP_B" &&
  pass "the log names the sealed and the offered CA fingerprints" || fail "fingerprints not named: $(tail -5 "$T/server.log")"
grep -q "put back the room's own CA certificate" "$T/server.log" && pass "the log says what to do" ||
  fail "no advice in the log: $(tail -5 "$T/server.log")"
state_sums >"$T/sums.after"
if cmp -s "$T/sums.before" "$T/sums.after"; then pass "nothing under A/state changed"
else fail "A/state changed:"; diff "$T/sums.before" "$T/sums.after" | sed 's/^/    /'; fi

# The same, with A's sealed identity withheld (so that the enclave makes
# a new one under B's CA): the identity carries A's sealing root
# (docs/ATTESTATION.md "Sealing and upgrades"), so A's manifest cannot
# even be opened; the start is refused at loading, saying so; the new
# identity is not stored.
mv "$A/state/identity.sealed" "$T/identity.A"
state_sums >"$T/sums2.before"
expect_refused_start "another room's CA, without A's sealed identity"
grep "refusing to start" "$T/server.log" | grep -q "without the sealed identity, which carries the room's sealing root" &&
  pass "the log says the identity (and its sealing root) is missing" || fail "no reason: $(tail -5 "$T/server.log")"
grep -q "put back ROOM/state/identity.sealed, with the room's own CA certificate" "$T/server.log" &&
  pass "the log says what to do" || fail "no advice in the log: $(tail -5 "$T/server.log")"
state_sums >"$T/sums2.after"
[ ! -e "$A/state/identity.sealed" ] && cmp -s "$T/sums2.before" "$T/sums2.after" &&
  pass "nothing under A/state changed, no identity stored" || fail "A/state changed: $(ls "$A/state")"
mv "$T/identity.A" "$A/state/identity.sealed"

# A's own token and CA back: A starts with every table.
rm -rf "$A/hsm"
cp -a "$T/A.own/hsm" "$A/hsm"
cp -a "$T/A.own/ca.crt" "$T/A.own/room.json" "$A/"
cp -a "$T/A.own/sim-platform.crt" "$T/A.own/sim-platform.key" "$A/attestation/"
: >"$T/server.log"
restart_server "$A" URL || { fail "restart with A's own token and CA"; finish; }
pass "A starts again with its own token and CA"
expect_eq "the provider's table is all there" "$(q)" "$WANT"
expect_eq "with the same enclave identity" "$(ident)" "$ID1"
grep -q "loaded 1 of 1 tables" "$T/server.log" && pass "every table loaded" || fail "load: $(grep loaded "$T/server.log")"

# Every start entry records the CA fingerprint and the measurement.
if "$CDR" audit --profile aud --format json >"$T/audit.json" 2>"$T/err"; then pass "the auditor reads the log"
else fail "audit: $(cat "$T/err")"; fi
HEX_A=$(echo "$FP_A" | tr -d ':' | tr 'A-F' 'a-f')
STARTS=$(jq -s 'map(select(.op=="start")) | length' "$T/audit.json")
[ "${STARTS:-0}" -ge 2 ] && pass "the starts are logged ($STARTS)" || fail "starts: $STARTS"
expect_eq "every start entry names A's CA" \
  "$(jq -s --arg fp "$HEX_A" 'map(select(.op=="start")) | all(.ca_fingerprint == $fp)' "$T/audit.json")" "true"
M=$("$CDR" attest "$URL" 2>/dev/null | awk '/^measurement:/ { print $2 }')
[ -n "$M" ] && expect_eq "every start entry names the measurement" \
  "$(jq -s --arg m "$M" 'map(select(.op=="start")) | all(.measurement == $m)' "$T/audit.json")" "true" ||
  fail "no measurement from cdr attest"
expect_eq "the first start bound the CA as new" \
  "$(jq -s -r 'map(select(.op=="start")) | .[0].ca_binding' "$T/audit.json")" "new"
expect_eq "the later start checked the sealed CA" \
  "$(jq -s -r 'map(select(.op=="start")) | .[-1].ca_binding' "$T/audit.json")" "sealed"
finish
