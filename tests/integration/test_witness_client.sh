#!/usr/bin/env bash
# test_witness_client.sh - the client's side of the room's history witnesses:
# `cdr contract` and `cdr room members` say plainly when the history is not
# witnessed, and list each witness (URL, key fingerprint), f and the quorum
# when it is.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TOOL="$CDR_TEST_BIN_DIR/contract_tool"

# ---- TLS for the witnesses: their own CA, not the room's ----
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/wca.key" -out "$T/wca.crt" \
  -subj /CN=witness-ca -days 2 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/w.key" -out "$T/w.csr" \
  -subj /CN=127.0.0.1 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' >"$T/w.ext"
openssl x509 -req -in "$T/w.csr" -CA "$T/wca.crt" -CAkey "$T/wca.key" -CAcreateserial -out "$T/w.crt" -days 2 \
  -extfile "$T/w.ext" 2>/dev/null || { fail "witness TLS certificate"; finish; }
WCA="$T/wca.crt"

# start_witness N: witness N (state $T/wN), URL in W<N>, pid in WPID<N>.
start_witness() {
  local n=$1
  new_ready_file
  "$CDR" witness serve --listen 127.0.0.1:0 --state "$T/w$n" --allow-sim --tls-cert "$T/w.crt" \
    --tls-key "$T/w.key" --ready-file "$READY_FILE" >>"$T/witness$n.log" 2>&1 &
  local pid=$!
  SERVER_PIDS+=("$pid")
  wait_ready "$pid" "$READY_FILE" 300 || { tail -5 "$T/witness$n.log"; return 1; }
  printf -v "W$n" '%s' "$(head -n 1 "$READY_FILE")"
  printf -v "WPID$n" '%s' "$pid"
}
for n in 1 2 3 4; do start_witness "$n" || { fail "witness $n did not start"; finish; }; done
fp() { curl -s --cacert "$WCA" "$1/v1/witness/key" | jq -r .key_sha256; }
FP1=$(fp "$W1") FP2=$(fp "$W2") FP3=$(fp "$W3") FP4=$(fp "$W4")
[ ${#FP1} -eq 64 ] && [ ${#FP4} -eq 64 ] && pass "four witnesses serve HTTPS" || { fail "witness keys"; finish; }

P3=$W3

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

# ---- three witnesses, f = 0 (quorum 2) ----
"$TOOL" draft "$R/ca.crt" "$M" 2 "$H1" "$PROV" "witness=$FP1=$W1" "witness=$FP2=$W2" "witness=$FP3=$P3" \
  >"$T/v2.json" && activate "$T/v2.json" && pass "version 2 (three witnesses) is active" || { fail "version 2"; finish; }
H2=$(sha256sum "$T/v2.json" | cut -d' ' -f1)
check "cdr contract, version 2" "$CDR" contract --profile prov
grep -q "^  witnesses: 3, tolerating f = 0 faulty, quorum 2$" "$T/out" \
  && grep -q "^    $W1  key $FP1$" "$T/out" && grep -q "^    $P3  key $FP3$" "$T/out" \
  && ! grep -q "not witnessed" "$T/out" && pass "cdr contract lists each witness's URL and key, f and the quorum" \
  || fail "v2: $(cat "$T/out")"
"$CDR" room members "$R" >"$T/out" 2>"$T/err"
grep -q "^witnessed: 3 witnesses, f = 0, quorum 2" "$T/err" && pass "cdr room members names the witnesses" \
  || fail "room members v2: $(cat "$T/err")"

finish
