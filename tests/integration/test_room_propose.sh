#!/usr/bin/env bash
# The room admin's proposal through the host (issue 10): `cdr room
# propose` drafts the contract from the certificates host.db records
# with their keys, writes ROOM/proposal.json, and the running cdrd hands
# it to the enclave (IPC_PROPOSE); members read it through the secure
# channel and sign it; it activates once every member has signed.  The
# host cannot make it count on its own: a second key enrolled under an
# owner's name makes the draft ambiguous (refused), and a next version
# that swaps the owner's key for the operator's, signed by the operator's
# key and the analyst, stays pending without the owner.  A malformed
# proposal is refused and the server keeps serving.
. "$(dirname "$0")/lib.sh"

R="$T/room"
new_room "$R" || { fail "room init"; finish; }
start_server "$R" URL || { fail "server start"; finish; }
user prov provider "$R" "$URL" && user ana analyst "$R" "$URL" || { fail "enroll"; finish; }
"$CDR" attest --profile prov >"$T/attest.out" 2>&1
M=$(awk '/^measurement:/ {print $2}' "$T/attest.out")

# wait_log TEXT: cdrd's log says TEXT (it polls ROOM/proposal.json).
wait_log() {
  for _ in $(seq 100); do grep -q -- "$1" "$T/server.log" && return 0; sleep 0.1; done
  return 1
}

mv "$R/contract.json" "$T/contract.json.aside"
expect_error "a draft needs the enclave's measurement (none given, none reported)" "measurement" "$CDR" room propose "$R"
mv "$T/contract.json.aside" "$R/contract.json"
check "without --measurement the draft takes the running enclave's" "$CDR" room propose "$R"
grep -q "\"$M\"" "$R/proposal.json" && grep -q "the running sim enclave's as cdrd reported it" "$T/err" \
  && pass "the running enclave's measurement, said where it came from" || fail "auto: $(cat "$R/proposal.json" "$T/err")"
check "the admin drafts version 1" "$CDR" room propose "$R" --measurement "$M"
H1=$(sed -n 's/.*contract hash \([0-9a-f]\{64\}\)$/\1/p' "$T/out")
[ ${#H1} -eq 64 ] && [ "$(sha256sum "$R/proposal.json" | cut -d' ' -f1)" = "$H1" ] \
  && pass "the draft is printed with its hash and written to ROOM/proposal.json" || fail "draft: $(cat "$T/out")"
wait_log "contract version 1 ($H1) is pending" && pass "cdrd handed it to the enclave" \
  || fail "cdrd: $(grep -i contract "$T/server.log")"
check "ana reads it" "$CDR" contract --profile ana
grep -q "pending contract: version 1, hash $H1" "$T/out" && grep -q "prov@example.org" "$T/out" \
  && grep -q "ana@example.org" "$T/out" && pass "the pending version lists both members" || fail "contract: $(cat "$T/out")"
check "prov signs" "$CDR" contract sign --profile prov "$H1"
check "ana signs" "$CDR" contract sign --profile ana "$H1"
grep -q "now active" "$T/out" && pass "version 1 is active" || fail "sign: $(cat "$T/out")"

# The operator enrolls a second key under the owner's name.
"$CDR" keygen "$T/rogue.key" >/dev/null 2>&1
TOK=$(invite "$R" provider "prov@example.org")
"$CDR" enroll "$URL" --key "$T/rogue.key" --token "$TOK" --out "$T/rogue.crt" --profile rogue >"$T/enroll.out" 2>&1 \
  || fail "rogue enroll: $(cat "$T/enroll.out")"
expect_error "two keys under one name make the draft ambiguous" "two certificates are named prov@example.org" \
  "$CDR" room propose "$R" --measurement "$M"

# Version 2 without the owner's key, with the operator's under its name.
"$CDR" contract --profile ana --format json >"$T/c.json" 2>"$T/err"
python3 -c 'import json,sys; sys.stdout.write(json.load(open(sys.argv[1]))["active"]["document"])' "$T/c.json" >"$T/v1.json"
PROVFP=$(openssl x509 -in "$T/prov.crt" -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1)
check "the operator drafts version 2 without the owner's key" "$CDR" room propose "$R" --previous "$T/v1.json" --exclude "$PROVFP"
H2=$(sed -n 's/.*contract hash \([0-9a-f]\{64\}\)$/\1/p' "$T/out")
wait_log "contract version 2 ($H2) is pending" && pass "version 2 pending" || fail "cdrd: $(grep -i contract "$T/server.log")"
check "the operator's key signs" "$CDR" contract sign --profile rogue "$H2"
check "ana signs" "$CDR" contract sign --profile ana "$H2"
"$CDR" contract --profile ana --format json >"$T/c.json" 2>"$T/err"
python3 - "$T/c.json" "$H1" "$H2" <<'PY' && pass "without the owner's signature version 2 never activates" || fail "state: $(cat "$T/c.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["active"]["sha256"] == sys.argv[2]
assert d["pending"]["sha256"] == sys.argv[3] and d["pending"]["missing"] == 1
PY

# A member proposes another version 2 through the secure channel; a
# restart does not hand the admin's file over again (it would replace the
# member's version and void its signatures).
"$CDR_TEST_BIN_DIR/contract_tool" draft "$R/ca.crt" "$M" 2 "$H1" "prov@example.org:provider:$T/prov.crt" \
  "ana@example.org:analyst,auditor:$T/ana.crt" >"$T/v2m.json" || fail "draft the member's version"
H2M=$(sha256sum "$T/v2m.json" | cut -d' ' -f1)
check "ana proposes through the channel" "$CDR" contract propose --profile ana "$T/v2m.json"
check "ana signs it" "$CDR" contract sign --profile ana "$H2M"
stop_server "$SERVER_PID"
restart_server "$R" URL || { fail "restart"; finish; }
"$CDR" contract --profile ana --format json >"$T/c.json" 2>"$T/err"
python3 - "$T/c.json" "$H2M" <<'PY' && pass "after a restart the member's version is still pending, with its signature" \
  || fail "after restart: $(cat "$T/c.json" "$T/err")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["pending"]["sha256"] == sys.argv[2] and len(d["pending"]["signatures"]) == 1
PY

printf '{"not":"a contract"}' >"$R/proposal.json"
wait_log "the enclave refused the contract proposal" && pass "a malformed proposal is refused, named in cdrd's log" \
  || fail "cdrd: $(tail -5 "$T/server.log")"
check "the server keeps serving" "$CDR" contract --profile ana
grep -q "active contract: version 1, hash $H1" "$T/out" && pass "the active version is unchanged" || fail "$(cat "$T/out")"
finish
