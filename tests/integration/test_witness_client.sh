#!/usr/bin/env bash
# test_witness_client.sh - the client's side of the room's history witnesses
# (docs/PROTOCOL.md 4.8 "Witnesses, checked by the client", 9.4):
#   - `cdr contract` and `cdr room members` say plainly when the history is
#     not witnessed, and list each witness (URL, key fingerprint), f and
#     the quorum when it is;
#   - `cdr audit --verify` asks each witness the active contract names,
#     directly, for its latest head over a fresh nonce, and shows who
#     confirmed the history up to which entry and whether a quorum did,
#     with three witnesses (f = 0, quorum 2) and four (f = 1, quorum 3);
#   - a forged witness signature and a replayed answer are refused (a
#     tampering proxy, tests/tools/witness_proxy.py, stands in front of
#     one witness); witnesses down are listed, and fewer than a quorum of
#     answers is witness_unavailable (exit 3);
#   - the room's state put back to an older copy after the witnesses
#     countersigned a newer head: the enclave asks them at start and
#     serves nothing, and a client that never saw the newer head is
#     refused at connect with the room's history_rollback (exit 3, a
#     refusal the room sent), naming the witness and both heads.
# cdrd relays to the witnesses itself (src/host/witness_relay.c): the
# enclave joins the witnesses its active contract names at start and has
# them countersign every audit batch; witness_lib.sh puts their CA into
# the CURL_CA_BUNDLE that cdrd and cdr trust.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/witness_lib.sh"

TOOL="$CDR_TEST_BIN_DIR/contract_tool"
PROXY="$CDR_SOURCE_DIR/tests/tools/witness_proxy.py"

# ---- TLS for the witnesses: their own CA, not the room's, in the
# CURL_CA_BUNDLE that cdrd (started later) and cdr trust ----
witness_tls || { fail "witness TLS certificate"; finish; }
WCA="$T/wca.crt"
for n in 1 2 3 4; do start_witness "$n" || { fail "witness $n did not start"; finish; }; done
W1=${WURL[1]} W2=${WURL[2]} W3=${WURL[3]} W4=${WURL[4]}
fp() { curl -s --cacert "$WCA" "$1/v1/witness/key" | jq -r .key_sha256; }
FP1=$(fp "$W1") FP2=$(fp "$W2") FP3=$(fp "$W3") FP4=$(fp "$W4")
[ ${#FP1} -eq 64 ] && [ ${#FP4} -eq 64 ] && pass "four witnesses serve HTTPS" || { fail "witness keys"; finish; }

# The proxy in front of witness 3: the contract names the proxy's URL and
# witness 3's key.
new_ready_file
python3 "$PROXY" "$T/wtls.crt" "$T/wtls.key" "$W3" "$WCA" "$T/proxy.mode" "$READY_FILE" >>"$T/proxy.log" 2>&1 &
SERVER_PIDS+=("$!")
wait_ready "$!" "$READY_FILE" 300 || { fail "proxy did not start: $(cat "$T/proxy.log")"; finish; }
P3=$(head -n 1 "$READY_FILE")
expect_eq "the proxy passes witness 3's key on" "$(fp "$P3")" "$FP3"

# ---- a room, no contract yet: not witnessed ----
R="$T/room"
new_room "$R" || { fail "room init"; finish; }
start_server "$R" URL || { fail "server start"; finish; }
user prov provider "$R" "$URL" || { fail "enroll"; finish; }
check "cdr contract before any version" "$CDR" contract --profile prov
grep -q "^history not witnessed: the operator can roll back activity since the last commit$" "$T/out" \
  && pass "no contract: the history is said not witnessed" || fail "no contract: $(cat "$T/out")"
"$CDR" room members "$R" >"$T/out" 2>"$T/err"
grep -q "^history not witnessed: the operator can roll back activity since the last commit$" "$T/err" \
  && pass "cdr room members says it too" || fail "room members: $(cat "$T/err")"

"$CDR" attest --profile prov >"$T/attest.out" 2>&1
M=$(awk '/^measurement:/ {print $2}' "$T/attest.out")
[ ${#M} -eq 64 ] || { fail "measurement: $(cat "$T/attest.out")"; finish; }
PROV="prov:analyst,auditor,provider:$T/prov.crt"

# activate DOC: propose and sign (prov is the only member); prints the hash.
activate() {
  "$CDR" contract propose --profile prov "$1" >"$T/prop.out" 2>&1 || { cat "$T/prop.out" >&2; return 1; }
  "$CDR" contract sign --profile prov "$(sha256sum "$1" | cut -d' ' -f1)" >"$T/sign.out" 2>&1 \
    && grep -q "now active" "$T/sign.out" || { cat "$T/sign.out" >&2; return 1; }
}

# Version 1 names no witnesses: still not witnessed.
"$TOOL" draft "$R/ca.crt" "$M" 1 - "$PROV" >"$T/v1.json" && activate "$T/v1.json" \
  && pass "version 1 (no witnesses) is active" || { fail "version 1"; finish; }
H1=$(sha256sum "$T/v1.json" | cut -d' ' -f1)
check "cdr contract, version 1" "$CDR" contract --profile prov
grep -q "^  history not witnessed: the operator can roll back" "$T/out" \
  && pass "a contract without witnesses: not witnessed" || fail "v1: $(cat "$T/out")"
check "cdr audit --verify without witnesses" "$CDR" audit --verify --profile prov
grep -q "^history not witnessed" "$T/err" && pass "audit --verify says the history is not witnessed" \
  || fail "audit v1: $(cat "$T/err")"

# ---- three witnesses, f = 0 (quorum 2) ----
"$TOOL" draft "$R/ca.crt" "$M" 2 "$H1" "$PROV" "witness=$FP1=$W1" "witness=$FP2=$W2" "witness=$FP3=$P3" \
  >"$T/v2.json" && activate "$T/v2.json" && pass "version 2 (three witnesses) is active" || { fail "version 2"; finish; }
H2=$(sha256sum "$T/v2.json" | cut -d' ' -f1)
grep -q "contract version 2 names 3 witnesses (f = 0); this enclave runs with 0 and takes up the new set at its next start: restart the room" \
  "$T/server.log" && pass "the host's log says the new witness set takes effect at the next start" \
  || fail "activation note: $(grep -i witness "$T/server.log" | tail -3)"
check "cdr contract, version 2" "$CDR" contract --profile prov
grep -q "^  witnesses: 3, tolerating f = 0 faulty, quorum 2$" "$T/out" \
  && grep -q "^    $W1  key $FP1$" "$T/out" && grep -q "^    $P3  key $FP3$" "$T/out" \
  && ! grep -q "not witnessed" "$T/out" && pass "cdr contract lists each witness's URL and key, f and the quorum" \
  || fail "v2: $(cat "$T/out")"
"$CDR" room members "$R" >"$T/out" 2>"$T/err"
grep -q "^witnessed: 3 witnesses, f = 0, quorum 2" "$T/err" && pass "cdr room members names the witnesses" \
  || fail "room members v2: $(cat "$T/err")"

# Nothing relayed yet: every witness answers that it holds nothing.
check "audit --verify, witnesses holding nothing" "$CDR" audit --verify --profile prov --witness-ca "$WCA"
[ "$(grep -c "holds no head of this room" "$T/err")" = 3 ] \
  && grep -q "^witnessed: no quorum has confirmed any entry yet" "$T/err" \
  && pass "witnesses holding nothing confirm nothing" || fail "nothing held: $(cat "$T/err")"

# The enclave joins the witnesses its active contract names at start and
# has them countersign every audit batch from then on (cdrd relays).
stop_server "$SERVER_PID" || { fail "stop"; finish; }
restart_server "$R" URL || { fail "restart with three witnesses"; finish; }
grep -q "witnesses: 3 of 3 witnesses confirmed the history" "$T/server.log" \
  && pass "the room joins the three witnesses at start" || { fail "join: $(grep -i witness "$T/server.log")"; finish; }

check "audit --verify with three witnesses" "$CDR" audit --verify --profile prov --witness-ca "$WCA"
# Each batch was countersigned before its answer left: every witness
# holds the same head, E the entry it confirms the history up to.
E=$(sed -n 's/^witnessed: a quorum (2 of 3) confirmed the history up to entry \([0-9]*\).*/\1/p' "$T/err")
[ -n "$E" ] && [ "$(grep -c "): confirmed the history up to entry $E (head " "$T/err")" = 3 ] \
  && grep -q "^witnesses: 3 named by contract version 2 (f = 0, quorum 2); asked directly:" "$T/err" \
  && pass "each witness confirmed the history up to its head, and a quorum did" || fail "three (entry $E): $(cat "$T/err")"

# Without the witnesses' CA their TLS does not verify: none answers.
# (A bundle of the room's CA alone, for this client command only: cdrd
# still trusts the witnesses and its rounds go on.)
cp "$R/ca.crt" "$T/room-only.pem"
CURL_CA_BUNDLE="$T/room-only.pem" "$CDR" audit --verify --profile prov >"$T/out" 2>"$T/err"
st=$?
[ $st -eq 3 ] && grep -q "witness_unavailable" "$T/err" \
  && grep -q "only 0 of the room's 3 witnesses answered (a quorum is 2)" "$T/err" \
  && [ "$(grep -c "unreachable: tls_verify" "$T/err")" = 3 ] \
  && pass "witnesses whose TLS does not verify are unreachable: too few, exit 3" || fail "no CA: $st $(cat "$T/err")"
expect_error "--witness-ca needs --verify" "goes with --verify" \
  "$CDR" audit --profile prov --witness-ca "$WCA"

# A forged witness signature: refused, not counted; two still make a quorum.
echo forge >"$T/proxy.mode"
check "audit --verify with a forged answer" "$CDR" audit --verify --profile prov --witness-ca "$WCA"
grep -q "^  $P3 (key ${FP3:0:16}...): answer refused: bad_signature" "$T/err" \
  && grep -q "^witnessed: a quorum (2 of 3)" "$T/err" \
  && pass "a forged witness signature is refused; the other two are a quorum" || fail "forge: $(cat "$T/err")"

# A replayed answer (the answer to an earlier question): refused.
echo replay >"$T/proxy.mode"
check "audit --verify with a replayed answer" "$CDR" audit --verify --profile prov --witness-ca "$WCA"
grep -q "^  $P3 (key ${FP3:0:16}...): answer refused: witness_replayed" "$T/err" \
  && pass "a replayed latest answer is refused (witness_replayed)" || fail "replay: $(cat "$T/err")"
echo forward >"$T/proxy.mode"

# ---- four witnesses, f = 1 (quorum 3) ----
"$TOOL" draft "$R/ca.crt" "$M" 3 "$H2" "$PROV" "witness=$FP1=$W1" "witness=$FP2=$W2" "witness=$FP3=$P3" \
  "witness=$FP4=$W4" faults=1 >"$T/v3.json" && activate "$T/v3.json" \
  && pass "version 3 (four witnesses, f = 1) is active" || { fail "version 3"; finish; }
check "cdr contract, version 3" "$CDR" contract --profile prov
grep -q "^  witnesses: 4, tolerating f = 1 faulty, quorum 3$" "$T/out" && grep -q "^    $W4  key $FP4$" "$T/out" \
  && pass "cdr contract shows four witnesses, f = 1, quorum 3" || fail "v3: $(cat "$T/out")"
stop_server "$SERVER_PID" || { fail "stop"; finish; }
restart_server "$R" URL || { fail "restart with four witnesses"; finish; }
grep -q "witnesses: 4 of 4 witnesses confirmed the history" "$T/server.log" \
  && pass "the room joins all four witnesses at start" || { fail "join 4: $(grep -i witness "$T/server.log")"; finish; }
# Witness 3 misses the rounds from here on (the proxy refuses them; the
# other three are a quorum and answers still leave): it holds an older
# head than 1, 2 and 4, and a quorum of 3 confirms up to the third-highest.
echo hold >"$T/proxy.mode"
for _ in 1 2 3; do "$CDR" contract --profile prov >/dev/null 2>&1; done
check "audit --verify with four witnesses" "$CDR" audit --verify --profile prov --witness-ca "$WCA"
echo forward >"$T/proxy.mode"
E=$(sed -n 's/^witnessed: a quorum (3 of 4) confirmed the history up to entry \([0-9]*\) .*/\1/p' "$T/err")
E3=$(sed -n "s|^  $P3 (key ${FP3:0:16}...): confirmed the history up to entry \([0-9]*\) .*|\1|p" "$T/err")
[ -n "$E" ] && [ -n "$E3" ] && [ "$E3" -lt "$E" ] \
  && [ "$(grep -c "): confirmed the history up to entry $E (head " "$T/err")" = 3 ] \
  && grep -q "^  $W4 (key ${FP4:0:16}...): confirmed the history up to entry $E " "$T/err" \
  && pass "four witnesses confirm; a quorum of 3 did, up to the third-highest head" || fail "four: $(cat "$T/err")"

# ---- witnesses down ----
stop_witness 4
check "audit --verify with one of four witnesses down" "$CDR" audit --verify --profile prov --witness-ca "$WCA"
grep -q "^  $W4 (key ${FP4:0:16}...): unreachable: network" "$T/err" \
  && grep -q "^witnessed: a quorum (3 of 4)" "$T/err" \
  && pass "a witness down is listed as unreachable; three still make the quorum" || fail "one down: $(cat "$T/err")"
echo forge >"$T/proxy.mode"
"$CDR" audit --verify --profile prov --witness-ca "$WCA" >"$T/out" 2>"$T/err"
st=$?
[ $st -eq 3 ] && grep -q "witness_unavailable" "$T/err" \
  && grep -q "only 2 of the room's 4 witnesses answered (a quorum is 3)" "$T/err" \
  && pass "one down and one forged: fewer than a quorum answered, witness_unavailable (exit 3)" \
  || fail "too few: $st $(cat "$T/err")"
echo forward >"$T/proxy.mode"

# ---- the room put back to an older copy (the cut-log attack) ----
# A copy of the stopped room, then activity the witnesses countersign, then
# the copy put back.  The enclave asks the witnesses at start: they hold
# the newer head (one witness being down changes nothing: one
# enclave-signed head proves it), so the old copy serves nothing and a
# client that never saw the newer head (its remembered head removed) is
# refused at connect: history_rollback, naming the witness and both heads.
# (The client's own check of a log beyond or forked from a witness's head,
# which a room that serves can no longer show it, is tests/unit/
# test_witness_check.c test_rollback.)
stop_server "$SERVER_PID" || { fail "stop"; finish; }
cp -a "$R" "$T/room.old"
restart_server "$R" URL || { fail "restart"; finish; }
for _ in 1 2 3; do "$CDR" contract --profile prov >/dev/null 2>&1; done
check "audit --verify before the rollback" "$CDR" audit --verify --profile prov --witness-ca "$WCA"
E=$(sed -n 's/^witnessed: a quorum (3 of 4) confirmed the history up to entry \([0-9]*\) .*/\1/p' "$T/err")
[ -n "$E" ] || { fail "before the rollback: $(cat "$T/err")"; finish; }
stop_server "$SERVER_PID" || { fail "stop 2"; finish; }
rm -rf "$R" && mv "$T/room.old" "$R"
restart_server "$R" URL || { fail "restart on the old copy"; finish; }
grep -q "serving nothing: history_rollback: witness [0-9] (https://127.0.0.1:[0-9]*, key [0-9a-f]\{64\}) holds head size [0-9]* hash [0-9a-f]\{64\}, signed by this enclave, beyond the log (size [0-9]*, head [0-9a-f]\{64\})" \
  "$T/server.log" && pass "the old copy is caught at start: the enclave serves nothing (history_rollback)" \
  || fail "server log: $(grep -i witness "$T/server.log" | tail -5)"
rm -f "$CDR_CONFIG_DIR"/heads/*.json
"$CDR" audit --verify --profile prov --witness-ca "$WCA" >"$T/out" 2>"$T/err"
st=$?
NEW=$(sed -n 's/.*history_rollback: witness [0-9] (https:[^,]*, key [0-9a-f]\{64\}) holds head size \([0-9]*\) .*/\1/p' "$T/err" | head -n 1)
[ $st -eq 3 ] && [ -n "$NEW" ] && [ "$NEW" -gt "$E" ] \
  && grep -q "cannot open a session: server refused the request: history_rollback: " "$T/err" \
  && grep -q "history_rollback: witness [0-9] (\(${W1}\|${W2}\|${P3}\), key [0-9a-f]\{64\}) holds head size $NEW hash [0-9a-f]\{64\}, signed by this enclave" "$T/err" \
  && pass "the older copy is refused at connect: history_rollback from the room (exit 3), naming the witness and its head" \
  || fail "rollback: $st $(cat "$T/err")"
grep -Eq "beyond the log \(size [0-9]+, head [0-9a-f]{64}\)" "$T/err" \
  && pass "the refusal names the log's head too" || fail "log head: $(cat "$T/err")"
expect_error "and every request after it: history_rollback" "history_rollback: witness" "$CDR" contract --profile prov

finish
