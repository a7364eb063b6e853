#!/usr/bin/env bash
# test_witness_server.sh - `cdr witness serve` (docs/PROTOCOL.md 9): a room
# joins with its contract chain and sim attestation (only with
# --allow-sim); the witness countersigns enclave-signed heads that extend
# the one it holds and refuses the others, each with its own error; what it
# holds survives a restart; a replayed "latest" answer is caught by the
# client-side verifier.  The room side is tests/tools/witness_tool.c, a
# synthetic sim room built as the real one builds its messages.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WT="$CDR_TEST_BIN_DIR/witness_tool"
R="$T/room"
mkdir -p "$R"
"$WT" init "$R" >"$T/room_id" || { fail "witness_tool init"; finish; }

# start_witness STATE VAR [args]: start a witness, set VAR to its URL.
start_witness() {
  local state=$1 var=$2; shift 2
  new_ready_file
  "$CDR" witness serve --listen 127.0.0.1:0 --state "$state" --insecure-http --ready-file "$READY_FILE" "$@" \
    >>"$T/witness.log" 2>&1 &
  WITNESS_PID=$!
  SERVER_PIDS+=("$WITNESS_PID")
  wait_ready "$WITNESS_PID" "$READY_FILE" 300 || { tail -5 "$T/witness.log"; return 1; }
  printf -v "$var" '%s' "$(head -n 1 "$READY_FILE")"
}

# post URL ROUTE: POST stdin; the body lands in $T/body, prints the status.
post() {
  curl -s -o "$T/body" -w '%{http_code}' -X POST -H 'Content-Type: application/json' --data-binary @- "$1/v1/witness/$2"
}
err() { jq -r .error "$T/body"; }

# expect_refusal NAME STATUS CODE: the last answer.
expect_refusal() {
  local st=$1 name=$2 want_st=$3 want=$4
  if [ "$st" = "$want_st" ] && [ "$(err)" = "$want" ]; then
    pass "$name: $want_st $want"
  else
    fail "$name: got $st $(cat "$T/body")"
  fi
}

# ---- help and options ----
"$CDR" witness --help | grep -q '^  serve' && pass "cdr witness --help lists serve" || fail "cdr witness --help"
"$CDR" witness serve --help | grep -q -- '--allow-sim' && pass "cdr witness serve --help explains --allow-sim" \
  || fail "cdr witness serve --help"
"$CDR" witness serve --listen 0.0.0.0:0 --state "$T/x" --insecure-http >/dev/null 2>"$T/err"
[ $? -eq 2 ] && grep -q "loopback" "$T/err" && pass "--insecure-http is refused off loopback" \
  || fail "--insecure-http off loopback: $(cat "$T/err")"

"$CDR" witness frobnicate >/dev/null 2>"$T/err"
[ $? -eq 2 ] && grep -q "unknown subcommand frobnicate" "$T/err" && pass "an unknown subcommand is a usage error" \
  || fail "unknown subcommand: $(cat "$T/err")"

# --key: the witness signs with the key given, and refuses a key that is
# not P-256 or that does not exist.
openssl ecparam -name prime256v1 -genkey -noout -out "$T/own.key" 2>/dev/null
start_witness "$T/w0" W0 --key "$T/own.key" || { fail "witness with --key did not start"; finish; }
expect_eq "--key: the fingerprint is that key's" "$(curl -s "$W0/v1/witness/key" | jq -r .key_sha256)" \
  "$(openssl pkey -in "$T/own.key" -pubout -outform DER | sha256sum | cut -d' ' -f1)"
[ ! -e "$T/w0/witness.key" ] && pass "--key: no key is made in the state folder" || fail "--key made witness.key"
stop_server "$WITNESS_PID"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/rsa.key" 2>/dev/null
"$CDR" witness serve --listen 127.0.0.1:0 --state "$T/w0" --insecure-http --key "$T/rsa.key" >/dev/null 2>"$T/err"
[ $? -ne 0 ] && grep -q "must be an EC P-256 key" "$T/err" && pass "--key: an RSA key is refused" \
  || fail "RSA key: $(cat "$T/err")"
"$CDR" witness serve --listen 127.0.0.1:0 --state "$T/w0" --insecure-http --key "$T/none.key" >/dev/null 2>"$T/err"
[ $? -ne 0 ] && grep -q "cannot read the key" "$T/err" && pass "--key: a missing key is refused" \
  || fail "missing key: $(cat "$T/err")"

start_witness "$T/w1" W --allow-sim || { fail "witness did not start"; finish; }
curl -s "$W/v1/witness/key" >"$T/key.json"
FP=$(jq -r .key_sha256 "$T/key.json")
grep -q "witness key sha256: $FP" "$T/witness.log" && pass "the key fingerprint is printed at start" \
  || fail "fingerprint at start: $(head -3 "$T/witness.log")"
expect_eq "the fingerprint is SHA-256 of the public key" \
  "$(jq -r .public_key "$T/key.json" | base64 -d | sha256sum | cut -d' ' -f1)" "$FP"
[ "$(stat -c %a "$T/w1/witness.key")" = 600 ] && pass "the witness key file is 0600" || fail "witness.key mode"

# ---- a room the witness was not joined to ----
st=$("$WT" countersign "$R" 5 a | post "$W" countersign)
expect_refusal "$st" "a head for a room not joined" 404 witness_unknown_room
N0=$(openssl rand -hex 32)
"$WT" latest "$R" "$N0" | post "$W" latest >/dev/null
expect_eq "latest for an unknown room holds nothing, verified" \
  "$("$WT" check-latest "$R" "$T/key.json" "$N0" "$T/body" 2>&1)" "ok 0 0000000000000000000000000000000000000000000000000000000000000000"

# ---- joins that must fail, leaving the room unknown ----
st=$("$WT" countersign "$R" 5 a --join forged.json --wrong-measurement | post "$W" countersign)
expect_refusal "$st" "a forged chain (the host's measurement, v1's signature)" 400 contract_invalid
grep -q "no verified signature of required signer" "$T/body" && pass "the refusal names the missing signer" \
  || fail "forged chain message: $(cat "$T/body")"
st=$("$WT" countersign "$R" 5 a --join chain1.json --wrong-measurement | post "$W" countersign)
expect_refusal "$st" "evidence of an enclave the contract does not accept" 502 attestation_measurement_mismatch
st=$("$WT" countersign "$R" 5 a --join chain1.json --sign-with 2 | post "$W" countersign)
expect_refusal "$st" "a head not signed by the identity named" 403 bad_signature
st=$("$WT" countersign "$R" 5 a --join chain2.json | post "$W" countersign)
expect_refusal "$st" "a new room joining from version 2" 400 contract_invalid
st=$("$WT" countersign "$R" 5 a | post "$W" countersign)
expect_refusal "$st" "after refused joins the room is still unknown" 404 witness_unknown_room

# ---- oversized and malformed bodies ----
head -c $((5 * 1024 * 1024)) /dev/zero | tr '\0' 'a' >"$T/big"
st=$(post "$W" countersign <"$T/big")
expect_refusal "$st" "a body over 4 MiB" 413 too_large
st=$(echo '{"room_id":"zz"}' | post "$W" countersign)
expect_refusal "$st" "a malformed room id" 400 bad_request
grep -q room_id "$T/body" && pass "the refusal names room_id" || fail "bad room id message: $(cat "$T/body")"

# ---- join, countersign, extend ----
st=$("$WT" countersign "$R" 5 a --join chain1.json | post "$W" countersign)
[ "$st" = 200 ] && pass "the room joins with chain v1 and sim evidence" || fail "join: $st $(cat "$T/body")"
cp "$T/body" "$T/cs5"
expect_eq "the countersignature verifies under the witness key" \
  "$("$WT" check-countersign "$R" "$T/key.json" "$T/cs5" 5 a)" ok
expect_eq "the countersignature is over (room, size, head) only" \
  "$("$WT" check-countersign "$R" "$T/key.json" "$T/cs5" 5 b)" bad_signature
st=$("$WT" countersign "$R" 4 b | post "$W" countersign)
expect_refusal "$st" "a lower size" 409 witness_not_extending
grep -q "size 4 hash .* does not extend the head this witness holds: size 5" "$T/body" \
  && pass "the refusal names both heads" || fail "message: $(cat "$T/body")"
grep -q "refused head size 4 hash" "$T/witness.log" && pass "the refusal is logged" || fail "no log line"
st=$("$WT" countersign "$R" 5 b | post "$W" countersign)
expect_refusal "$st" "the same size with another hash (a fork)" 409 witness_not_extending
st=$("$WT" countersign "$R" 5 a | post "$W" countersign)
[ "$st" = 200 ] && pass "the same head again is countersigned again" || fail "same head: $st $(cat "$T/body")"
st=$("$WT" countersign "$R" 7 c | post "$W" countersign)
[ "$st" = 200 ] && pass "a head that extends is countersigned" || fail "extend: $st $(cat "$T/body")"
st=$("$WT" countersign "$R" 8 d --ident 2 | post "$W" countersign)
expect_refusal "$st" "another identity without a join" 409 witness_unknown_identity

# ---- latest, and a replayed answer ----
N1=$(openssl rand -hex 32)
"$WT" latest "$R" "$N1" | post "$W" latest >/dev/null
cp "$T/body" "$T/latest1"
C7=$(printf c | sha256sum | cut -d' ' -f1)
expect_eq "latest answers the held head, verified over our nonce" \
  "$("$WT" check-latest "$R" "$T/key.json" "$N1" "$T/latest1" 2>/dev/null)" "ok 7 $C7"
N2=$(openssl rand -hex 32)
expect_eq "the old answer replayed to a new question" \
  "$("$WT" check-latest "$R" "$T/key.json" "$N2" "$T/latest1" 2>/dev/null)" witness_replayed
jq --arg n "$(echo "$N2" | xxd -r -p | base64)" '.nonce = $n' "$T/latest1" >"$T/latest1e"
expect_eq "the old answer with the new nonce written in" \
  "$("$WT" check-latest "$R" "$T/key.json" "$N2" "$T/latest1e" 2>/dev/null)" bad_signature
jq '.head.size = 9' "$T/latest1" >"$T/latest1s"
expect_eq "an answer with another size" \
  "$("$WT" check-latest "$R" "$T/key.json" "$N1" "$T/latest1s" 2>/dev/null)" bad_signature

# ---- durable across a restart ----
stop_server "$WITNESS_PID"
start_witness "$T/w1" W --allow-sim || { fail "witness did not restart"; finish; }
expect_eq "the key is the same after a restart" "$(curl -s "$W/v1/witness/key" | jq -r .key_sha256)" "$FP"
N3=$(openssl rand -hex 32)
"$WT" latest "$R" "$N3" | post "$W" latest >/dev/null
expect_eq "after a restart the witness holds the same head" \
  "$("$WT" check-latest "$R" "$T/key.json" "$N3" "$T/body" 2>/dev/null)" "ok 7 $C7"
st=$("$WT" countersign "$R" 6 x | post "$W" countersign)
expect_refusal "$st" "after a restart a lower head is still refused" 409 witness_not_extending

# ---- a new enclave identity, and a contract version that extends the pin ----
st=$("$WT" countersign "$R" 3 e --ident 2 --join chain12.json | post "$W" countersign)
expect_refusal "$st" "a new identity whose head does not continue" 409 witness_not_extending
st=$("$WT" countersign "$R" 7 c | post "$W" countersign)
[ "$st" = 200 ] && pass "the refused join changed nothing (identity 1 still holds)" || fail "after refused: $st"
st=$("$WT" countersign "$R" 8 d --ident 2 --join chain2.json | post "$W" countersign)
expect_refusal "$st" "a chain that does not start at the pinned version" 400 contract_invalid
st=$("$WT" countersign "$R" 8 d --ident 2 --join chain12.json | post "$W" countersign)
[ "$st" = 200 ] && pass "a new identity joins through v1 -> v2 with a head that continues" \
  || fail "new identity: $st $(cat "$T/body")"
st=$("$WT" countersign "$R" 9 f | post "$W" countersign)
expect_refusal "$st" "the old identity is no longer accepted" 409 witness_unknown_identity
st=$("$WT" countersign "$R" 9 f --ident 2 --join chain1.json | post "$W" countersign)
expect_refusal "$st" "a join from v1 after v2 was pinned" 400 contract_invalid
jq -e '.contract.version == 2' "$T/w1/rooms/$(cat "$T/room_id").json" >/dev/null \
  && pass "the state file pins version 2" || fail "state file: $(head -c 300 "$T/w1/rooms/"*.json)"

# ---- durable before the answer: the system calls in order ----
# Under strace: the state is written to a temporary file and fsync'd,
# renamed over the room's file, the folder fsync'd, and only then is the
# 200 answer sent.
new_ready_file
# (LeakSanitizer cannot run under ptrace: off for this traced witness in a
# sanitizer build.)
ASAN_OPTIONS="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}detect_leaks=0" \
  strace -f -qq -s 48 -o "$T/trace" -e trace=fsync,rename,sendto,sendmsg,write,writev \
  "$CDR_BIN_DIR/cdr-witness" --listen 127.0.0.1:0 --state "$T/w1" --insecure-http --allow-sim \
  --ready-file "$READY_FILE" >>"$T/witness.log" 2>&1 &
SPID=$!
SERVER_PIDS+=("$SPID")
if wait_ready "$SPID" "$READY_FILE" 300; then
  W3=$(head -n 1 "$READY_FILE")
  st=$("$WT" countersign "$R" 10 g --ident 2 | post "$W3" countersign)
  [ "$st" = 200 ] && pass "countersigned under strace" || fail "under strace: $st $(cat "$T/body")"
  # Stop the witness itself (strace's child); strace ends with it and
  # has written the whole trace.
  stop_server "$(enclave_pid "$SPID")"
  stop_server "$SPID"
  rid=$(cat "$T/room_id")
  order=$(awk -v rid="$rid" '
    /fsync\(/ { if (renamed) dirsync = NR; else filesync = NR }
    /rename\(/ && index($0, rid ".json") { renamed = NR }
    /HTTP\/1\.1 200/ && !answer && renamed { answer = NR }
    END { print (filesync && renamed && dirsync && answer && filesync < renamed && renamed < dirsync && dirsync < answer) ? "ordered" : "not: " filesync " " renamed " " dirsync " " answer }' "$T/trace")
  expect_eq "fsync(file), rename, fsync(folder), then the answer" "$order" ordered
else
  fail "the witness did not start under strace: $(tail -3 "$T/witness.log")"
fi

# ---- a damaged state file stops the room here; it is never "not held" ----
f="$T/w1/rooms/$(cat "$T/room_id").json"
head -c 200 "$f" >"$T/half" && cat "$T/half" >"$f"
start_witness "$T/w1" W --allow-sim || { fail "witness did not start on damaged state"; finish; }
st=$("$WT" latest "$R" "$(openssl rand -hex 32)" | post "$W" latest)
expect_refusal "$st" "latest with a damaged state file" 500 internal
st=$("$WT" countersign "$R" 3 z --join chain1.json | post "$W" countersign)
expect_refusal "$st" "a fresh join over a damaged state file" 500 internal
grep -q "the room is refused until it is repaired" "$T/witness.log" && pass "the damage is logged" \
  || fail "no damage log line"
stop_server "$WITNESS_PID"

# ---- sim only with --allow-sim ----
start_witness "$T/w2" W2 || { fail "second witness did not start"; finish; }
st=$("$WT" countersign "$R" 5 a --join chain1.json | post "$W2" countersign)
expect_refusal "$st" "a sim room without --allow-sim" 502 attestation_sim_not_allowed
[ -z "$(ls "$T/w2/rooms")" ] && pass "the refused room left no state" || fail "w2 state: $(ls "$T/w2/rooms")"

finish
