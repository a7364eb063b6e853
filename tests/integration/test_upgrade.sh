#!/usr/bin/env bash
# The upgrade handoff (docs/ATTESTATION.md "Sealing and upgrades"): a
# contract version that accepts a new build's measurement lets the
# running enclave hand the room's sealing root to that build, after
# checking its attestation; the new build wraps it for its own
# measurement and serves the room with every table and the audit chain.
# A build the active contract does not accept gets nothing: refused
# upgrade_refused naming its measurement, nothing stored, an audit entry.
# The builds here are this build's cdr-enclave with bytes appended (valid
# executables of other sim measurements; see test_seal_measurement.sh).
. "$(dirname "$0")/lib.sh"

R="$T/room"
new_room "$R" || { fail "room init"; finish; }
start_server "$R" URL || { fail "server start"; finish; }
user prov provider "$R" "$URL" && user ana analyst "$R" "$URL" || { fail "enroll"; finish; }
"$CDR" attest --profile prov >"$T/attest.out" 2>&1
M=$(awk '/^measurement:/ {print $2}' "$T/attest.out")
mkdir -p "$T/new" "$T/bad"
cp "$CDR_BIN_DIR/cdr-enclave" "$T/new/cdr-enclave" && printf '\0' >>"$T/new/cdr-enclave"
cp "$CDR_BIN_DIR/cdr-enclave" "$T/bad/cdr-enclave" && printf '\0\1' >>"$T/bad/cdr-enclave"
MN=$(sha256sum "$T/new/cdr-enclave" | cut -d' ' -f1)
MB=$(sha256sum "$T/bad/cdr-enclave" | cut -d' ' -f1)
[ "$M" != "$MN" ] && [ "$MN" != "$MB" ] && [ ${#M} -eq 64 ] && pass "three builds, three measurements" \
  || fail "measurements: $M $MN $MB"

wait_log() {
  for _ in $(seq 100); do grep -q -- "$1" "$T/server.log" && return 0; sleep 0.1; done
  return 1
}
# Version 1 accepts this build and the new one.
check "the admin drafts version 1 with both measurements" "$CDR" room propose "$R" --measurement "$M" --measurement "$MN"
H1=$(sed -n 's/.*contract hash \([0-9a-f]\{64\}\)$/\1/p' "$T/out")
wait_log "contract version 1 ($H1) is pending" || fail "cdrd: $(grep -i contract "$T/server.log")"
check "prov signs" "$CDR" contract sign --profile prov "$H1"
check "ana signs" "$CDR" contract sign --profile ana "$H1"
grep -q "now active" "$T/out" && pass "version 1 is active" || fail "sign: $(cat "$T/out")"

printf 'k,v\n1,a\n2,b\n3,c\n' >"$T/a.csv"
printf 'n\n10\n20\n' >"$T/b.csv"
"$CDR" upload --profile prov alpha "$T/a.csv" >/dev/null 2>&1 || fail "upload alpha"
"$CDR" upload --profile prov beta "$T/b.csv" >/dev/null 2>&1 || fail "upload beta"
"$CDR" grant --profile prov alpha --to ana@example.org >/dev/null 2>&1 || fail "grant"
q() { "$CDR" query --profile "$1" "$2" --format csv 2>"$T/qerr" | tr -d '\r' | tail -n +2; }
expect_eq "ana reads alpha before" "$(q ana "SELECT count(*) FROM alpha")" "3"
check "the audit log verifies before" "$CDR" audit --profile prov --verify
stop_server "$SERVER_PID"

# A build the contract does not accept: refused, named, nothing stored.
cp "$R/state/identity.sealed" "$T/identity.before"
: >"$T/server.log"
if "$CDR" serve "$R" --listen 127.0.0.1:0 --upgrade-to "$T/bad/cdr-enclave" >>"$T/server.log" 2>&1; then
  fail "the upgrade to an unaccepted build succeeded"
else
  pass "the upgrade to an unaccepted build fails"
fi
grep -q "upgrade refused (upgrade_refused): the active contract (version 1) does not accept measurement $MB" \
  "$T/server.log" && pass "refused, naming the measurement" || fail "refusal: $(grep -i upgrade "$T/server.log")"
cmp -s "$R/state/identity.sealed" "$T/identity.before" && pass "nothing stored for it" || fail "identity changed"

# The accepted build takes the room over.
: >"$T/server.log"
if "$CDR" serve "$R" --listen 127.0.0.1:0 --upgrade-to "$T/new/cdr-enclave" >>"$T/server.log" 2>&1; then
  pass "the upgrade to the accepted build succeeds"
else
  fail "upgrade: $(tail -5 "$T/server.log")"
fi
grep -q "upgraded: the room's sealed state now belongs to measurement $MN" "$T/server.log" \
  && pass "cdrd says so" || fail "no upgraded line: $(tail -5 "$T/server.log")"
cmp -s "$R/state/identity.sealed" "$T/identity.before" && fail "the sealed identity did not change" \
  || pass "the sealed identity is re-wrapped"

# The old build no longer opens it; the new one serves everything.
: >"$T/server.log"
if start_server "$R" URL2 >/dev/null 2>&1; then
  fail "the old build still started the room"
  stop_server "$SERVER_PID"
else
  grep -q "belongs to enclave measurement $MN, not this one ($M)" "$T/server.log" \
    && pass "the old build is refused, naming both measurements" || fail "old build: $(tail -3 "$T/server.log")"
fi
SERVE_ARGS=(--enclave "$T/new/cdr-enclave")
restart_server "$R" URL || { fail "the new build serves the room"; finish; }
"$CDR" attest --profile ana >"$T/attest2.out" 2>&1
grep -Eq "^measurement: +$MN$" "$T/attest2.out" && pass "the room now attests the new measurement" \
  || fail "attest: $(cat "$T/attest2.out")"
expect_eq "ana reads alpha after" "$(q ana "SELECT count(*) FROM alpha")" "3"
expect_eq "prov reads beta after" "$(q prov "SELECT sum(n) FROM beta")" "30"
expect_error "the grant is kept, and no more" access_denied "$CDR" query --profile ana "SELECT * FROM beta"
check "the audit log verifies after" "$CDR" audit --profile prov --verify
"$CDR" audit --profile prov --format json >"$T/audit.json" 2>"$T/err"
python3 - "$T/audit.json" "$MN" "$MB" >"$T/audit.check" 2>&1 <<'PY'
import json, sys
entries = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
ups = [e for e in entries if e.get("op") == "enclave_upgrade"]
ok = [u for u in ups if u.get("measurement") == sys.argv[2] and u.get("decision") == "ok"]
bad = [u for u in ups if u.get("measurement") == sys.argv[3] and u.get("decision") == "refused"]
print(len(ok), len(bad))
PY
expect_eq "the audit log records the refused and the accepted handoff" "$(cat "$T/audit.check")" "1 1"
finish
