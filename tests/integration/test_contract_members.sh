#!/usr/bin/env bash
# Members by key (issue 10): once a contract version is active, a
# session is admitted only for a key the contract lists, with the name
# and roles the contract gives it.  The same-name enrollment attack: the
# operator enrolls a second key under the owner's name; it is refused as
# not_a_member (it read the owner's hidden column before), and stays so
# after the operator proposes a version with that key which the owner
# has not signed: a key only in the pending version may read and sign
# the contract, nothing else.  A key in no version is refused at open.
# A grant names a member (a misspelled one is refused).  Membership
# changes are commits: a log cut back to before the activation refuses
# the start.
. "$(dirname "$0")/lib.sh"

R="$T/room"
LOG="$R/state/audit.sealed"
new_room "$R" || { fail "room init"; finish; }
start_server "$R" URL || { fail "server start"; finish; }
user prov provider "$R" "$URL" && user ana analyst "$R" "$URL" || { fail "enroll"; finish; }
printf 'id,age,city\n1,41,Lyon\n2,67,Nice\n' >"$T/p.csv"
expect_error "before version 1 the owner cannot upload" contract_not_active \
  "$CDR" upload --profile prov patients "$T/p.csv"
"$CDR" attest --profile prov >"$T/attest.out" 2>&1
M=$(awk '/^measurement:/ {print $2}' "$T/attest.out")
wait_log() {
  for _ in $(seq 100); do grep -q -- "$1" "$T/server.log" && return 0; sleep 0.1; done
  return 1
}

"$CDR" room propose "$R" --measurement "$M" >"$T/out" 2>&1
H1=$(sed -n 's/.*contract hash \([0-9a-f]\{64\}\)$/\1/p' "$T/out")
wait_log "contract version 1 ($H1) is pending" || fail "proposal: $(cat "$T/out")"
check "prov signs" "$CDR" contract sign --profile prov "$H1"
SIZE_BEFORE=$(stat -c %s "$LOG")
check "ana signs: version 1 active" "$CDR" contract sign --profile ana "$H1"
grep -q "now active" "$T/out" || fail "not active: $(cat "$T/out")"
check "the owner uploads" "$CDR" upload --profile prov patients "$T/p.csv"
check "the owner hides age" "$CDR" hide --profile prov patients age
check "the owner reads its hidden column" "$CDR" query --profile prov "SELECT age FROM patients"

# The operator: a second key under the owner's name.
"$CDR" keygen "$T/rogue.key" >/dev/null 2>&1
TOK=$(invite "$R" provider "prov@example.org")
"$CDR" enroll "$URL" --key "$T/rogue.key" --token "$TOK" --out "$T/rogue.crt" --profile rogue >"$T/enroll.out" 2>&1 \
  || fail "rogue enroll: $(cat "$T/enroll.out")"
ROGUEFP=$(openssl x509 -in "$T/rogue.crt" -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1)
expect_error "a second key under the owner's name is not a member" not_a_member \
  "$CDR" query --profile rogue "SELECT age FROM patients"
grep -q "prov@example.org, key $ROGUEFP" "$T/err" && pass "the refusal names the certificate and its key" \
  || fail "message: $(cat "$T/err")"

# The operator proposes a version with its key instead of the owner's.
"$CDR" contract --profile ana --format json >"$T/c.json" 2>"$T/err"
python3 -c 'import json,sys; sys.stdout.write(json.load(open(sys.argv[1]))["active"]["document"])' "$T/c.json" >"$T/v1.json"
PROVFP=$(openssl x509 -in "$T/prov.crt" -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1)
"$CDR" room propose "$R" --previous "$T/v1.json" --exclude "$PROVFP" >"$T/out" 2>&1
H2=$(sed -n 's/.*contract hash \([0-9a-f]\{64\}\)$/\1/p' "$T/out")
wait_log "contract version 2 ($H2) is pending" && pass "the operator's version is pending" || fail "$(cat "$T/out")"
check "the operator's key reads the pending version" "$CDR" contract --profile rogue
check "the operator's key signs it" "$CDR" contract sign --profile rogue "$H2"
expect_error "still not a member while the owner has not signed" not_a_member \
  "$CDR" query --profile rogue "SELECT age FROM patients"
expect_error "nor can it list tables" not_a_member "$CDR" tables --profile rogue

# A key in no version at all is refused when it opens a session.
user eve analyst "$R" "$URL" || fail "enroll eve"
expect_error "a key in no version is refused at open" not_a_member "$CDR" contract --profile eve

# Grants name members.
expect_error "a grant to an unknown name is refused" not_a_member \
  "$CDR" grant --profile prov patients --to anna@example.org
check "a grant to a member" "$CDR" grant --profile prov patients --to ana@example.org
check "the member reads the granted columns" "$CDR" query --profile ana "SELECT city FROM patients"

# Membership changes are commits: cutting the log back to before the
# activation refuses the start.
stop_server "$SERVER_PID"
cp "$LOG" "$T/audit.full"
truncate -s "$SIZE_BEFORE" "$LOG"
if restart_server "$R" URL 2>/dev/null; then fail "started on a log cut before the activation"; stop_server "$SERVER_PID"
else pass "a log cut before the activation refuses the start"; fi
cp "$T/audit.full" "$LOG"
restart_server "$R" URL || fail "restart with the whole log"
check "the contract survives" "$CDR" contract --profile ana
grep -q "active contract: version 1, hash $H1" "$T/out" && pass "version 1 still active" || fail "$(cat "$T/out")"
"$CDR" audit --profile prov --format json >"$T/audit.json" 2>"$T/err" || fail "audit: $(cat "$T/err")"
jq -s -e --arg h "$H1" '[.[] | select(.op=="start")] | last | tostring | contains($h)' "$T/audit.json" >/dev/null \
  && pass "the start entry records the active contract's hash" || fail "start entry: $(grep start "$T/audit.json" | tail -1)"
"$CDR" audit --profile ana --format json >"$T/ana.json" 2>"$T/err" || fail "audit ana: $(cat "$T/err")"
jq -s -e '[.[] | tostring | select(contains("contract_sign") and contains("activated"))] | length == 1' \
  "$T/ana.json" >/dev/null && pass "the activation is an audit entry (the signer sees its own)" \
  || fail "no activation entry: $(grep -c contract "$T/ana.json")"
finish
