#!/usr/bin/env bash
# Streamed uploads through the real CLI and server (PROTOCOL 4.7
# upload_begin/chunk/commit): declared schemas (--schema), malformed CSV
# refused with its line number and nothing kept, --replace, the progress
# bar on a terminal and silence elsewhere, chunk-order attacks through
# the client library (tests/tools/upload_attack.c), a ~100 MB upload with
# the peak memory of cdr and cdrd well under the file's size, and kill -9
# of the host, the enclave or the client during that upload: after a
# restart the table is absent or complete, never partial.
. "$(dirname "$0")/lib.sh"

R="$T/room"
new_room "$R" || { fail "room init"; finish; }
start_server "$R" URL || { fail "server start"; finish; }
user prov provider "$R" "$URL" && user prov2 provider "$R" "$URL" || { fail "enroll"; finish; }
activate_contract "$R" prov prov2 || { fail "activate the contract"; finish; }
q() { "$CDR" query --profile "$1" "$2" --format csv 2>"$T/qerr" | tr -d '\r' | tail -n +2; }
absent() { q prov "SELECT count(*) FROM $1" >/dev/null; grep -q "no such table" "$T/qerr"; }

# ---- declared schemas ----
printf 'id,name,score\n1,Ann,1.5\n2,Bob,\n3,Cy,2\n' >"$T/s.csv"
check "--schema declares the column types" "$CDR" upload --profile prov typed "$T/s.csv" --schema "id INTEGER, name TEXT, score REAL"
grep -q "columns: id INTEGER, name TEXT, score REAL" "$T/out" && pass "the declared types are the table's" \
  || fail "columns: $(cat "$T/out")"
check "--schema names match the header without regard to case" \
  "$CDR" upload --profile prov typed2 "$T/s.csv" --schema "ID text, Name TEXT, SCORE text"
expect_eq "declared TEXT wins over values that look like numbers" "$(q prov "SELECT typeof(ID), typeof(score) FROM typed2 WHERE id = '1'")" "text,text"
expect_error "--schema names that differ from the header are refused" "line 1: column 2 is \"name\" in the header but \"nom\"" \
  "$CDR" upload --profile prov typed3 "$T/s.csv" --schema "id INTEGER, nom TEXT, score REAL"
expect_error "--schema with another number of columns is refused" "the header has 3 columns but the schema names 2" \
  "$CDR" upload --profile prov typed3 "$T/s.csv" --schema "id INTEGER, name TEXT"
expect_error "a value that does not fit its declared type is refused with its line" \
  "csv_invalid.*line 2: column 3 (score): the value is not an INTEGER" \
  "$CDR" upload --profile prov typed3 "$T/s.csv" --schema "id INTEGER, name TEXT, score INTEGER"
grep -q "1.5\|Ann" "$T/err" && fail "the refusal quotes a value" || pass "the refusal quotes no value"
absent typed3 && pass "nothing is kept after a refused upload" || fail "typed3 exists: $(cat "$T/qerr")"
"$CDR" upload --profile prov typed3 "$T/s.csv" --schema "id" >/dev/null 2>"$T/err"
[ $? -eq 2 ] && grep -q "has no type" "$T/err" && pass "a malformed --schema is a usage error" || fail "--schema id: $(cat "$T/err")"

# ---- malformed CSV: refused with its line number, nothing kept ----
printf 'a,b\n1,2\n3,4,5\n' >"$T/ragged.csv"
printf 'a,b\n1,2\n3,"x"y\n' >"$T/quote.csv"
printf 'a,b\n1,2\n3,4\n5,\xff\n' >"$T/utf8.csv"
expect_error "a ragged row is refused with its line" "csv_invalid.*line 3: expected 2 fields, found 3" \
  "$CDR" upload --profile prov bad "$T/ragged.csv"
expect_error "bad quoting is refused with its line" "csv_invalid.*line 3: field 2: unexpected character after a closing quote" \
  "$CDR" upload --profile prov bad "$T/quote.csv"
expect_error "invalid UTF-8 is refused with its line" "csv_invalid.*line 4: invalid UTF-8" \
  "$CDR" upload --profile prov bad "$T/utf8.csv"
expect_error "with --schema the enclave refuses the ragged row itself" "csv_invalid.*line 3: expected 2 fields, found 3" \
  "$CDR" upload --profile prov bad "$T/ragged.csv" --schema "a INTEGER, b INTEGER"
absent bad && pass "no table after malformed CSV" || fail "bad exists"
: >"$T/empty.csv"
expect_error "an empty file is refused" "no header row" "$CDR" upload --profile prov bad "$T/empty.csv"

# ---- --replace through the streaming path ----
printf 'k,v\n1,a\n' >"$T/r1.csv"
printf 'k,w\n1,x\n2,y\n' >"$T/r2.csv"
check "upload r" "$CDR" upload --profile prov r "$T/r1.csv"
"$CDR" grant --profile prov r --to role:provider >/dev/null 2>&1 || fail "grant r"
check "--replace replaces the provider's own table" "$CDR" upload --profile prov --replace r "$T/r2.csv"
grep -q "replaced table r: 2 rows" "$T/out" && pass "replace reports the new row count" || fail "replace: $(cat "$T/out")"
expect_eq "the replacement is what queries see" "$(q prov "SELECT group_concat(w, '|') FROM r")" "x|y"
expect_error "another provider cannot replace it" access_denied "$CDR" upload --profile prov2 --replace r "$T/r1.csv"
expect_error "a failed replacement is refused" csv_invalid "$CDR" upload --profile prov --replace r "$T/ragged.csv"
expect_eq "and leaves the table as it was" "$(q prov "SELECT count(*) FROM r")" "2"

# ---- progress: a bar on a terminal, silence elsewhere ----
bash "$CDR_SOURCE_DIR/scripts/gen-patients.sh" 100000 3 >"$T/mid.csv"
"$CDR" upload --profile prov quiet "$T/mid.csv" >/dev/null 2>"$T/err"
[ ! -s "$T/err" ] || ! grep -q "uploading" "$T/err" && pass "without a terminal the upload is quiet" \
  || fail "progress on a pipe: $(head -c 300 "$T/err")"
if command -v script >/dev/null 2>&1; then
  script -qec "$CDR upload --profile prov bar $T/mid.csv" /dev/null >"$T/tty.out" 2>&1
  tr '\r' '\n' <"$T/tty.out" | grep -q "uploading 100%.*MB/s" && tr '\r' '\n' <"$T/tty.out" | grep -q "left" \
    && pass "on a terminal a progress bar shows bytes, rate and time left" || fail "no progress bar: $(head -c 400 "$T/tty.out")"
else
  pass "progress bar not checked: no script(1)"
fi

# ---- chunk order and completeness, attacked through the client library ----
"$CDR_TEST_BIN_DIR/upload_attack" "$URL" "$R/ca.crt" "$T/prov.key" "$T/prov.crt" >"$T/attack.out" 2>&1
rc=$?
cat "$T/attack.out"
PASSED=$((PASSED + $(grep -c '^ok - ' "$T/attack.out")))
FAILED=$((FAILED + $(grep -c '^FAIL - ' "$T/attack.out")))
[ $rc -eq 0 ] || [ "$(grep -c '^FAIL - ' "$T/attack.out")" -gt 0 ] || fail "upload_attack exited $rc"

# ---- ~100 MB: flat memory in cdr and cdrd ----
ROWS=2750000
bash "$CDR_SOURCE_DIR/scripts/gen-patients.sh" $ROWS 9 >"$T/big.csv"
SIZE=$(stat -c %s "$T/big.csv")
asan=0
grep -q "__asan_init" "$CDR" 2>/dev/null && asan=1
# peak RSS of a child, in KB: /usr/bin/time if present, else VmHWM sampled
peak_run() {
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -f "%M" -o "$T/rss" "$@"
    local rc=$?
    PEAK=$(tail -n 1 "$T/rss")
    return $rc
  fi
  "$@" &
  local pid=$! hwm=0 v
  while kill -0 "$pid" 2>/dev/null; do
    v=$(awk '/VmHWM/ {print $2}' /proc/$pid/status 2>/dev/null)
    [ -n "$v" ] && hwm=$v
    sleep 0.1
  done
  wait "$pid"
  local rc=$?
  PEAK=$hwm
  return $rc
}
ENC=$(enclave_pid "$SERVER_PID")
start=$(date +%s.%N)
peak_run "$CDR" upload --profile prov big "$T/big.csv" >"$T/out" 2>"$T/err" || fail "the 100 MB upload: $(tail -3 "$T/err")"
end=$(date +%s.%N)
CDR_PEAK=$PEAK
HOST_PEAK=$(awk '/VmHWM/ {print $2}' /proc/$SERVER_PID/status)
ENC_PEAK=$(awk '/VmHWM/ {print $2}' /proc/$ENC/status 2>/dev/null)
UPLOAD_S=$(echo "$end - $start" | bc)
RATE=$(echo "scale=1; $SIZE / 1000000 / $UPLOAD_S" | bc)
echo "# $SIZE bytes in ${UPLOAD_S}s (${RATE} MB/s end to end); peak RSS: cdr ${CDR_PEAK} KB, cdrd ${HOST_PEAK} KB, cdr-enclave ${ENC_PEAK} KB"
expect_eq "the 100 MB upload has every row" "$(q prov "SELECT count(*) FROM big")" "$ROWS"
if [ "$asan" = 1 ]; then
  pass "peak memory not checked under AddressSanitizer"
else
  [ -n "$CDR_PEAK" ] && [ "$CDR_PEAK" -lt 65536 ] && pass "cdr's peak memory stays flat (${CDR_PEAK} KB for a $((SIZE / 1000000)) MB file)" \
    || fail "cdr peak RSS ${CDR_PEAK} KB"
  [ -n "$HOST_PEAK" ] && [ "$HOST_PEAK" -lt 65536 ] && pass "cdrd's peak memory stays flat (${HOST_PEAK} KB)" \
    || fail "cdrd peak RSS ${HOST_PEAK} KB"
fi
"$CDR" drop --profile prov big >/dev/null 2>&1 || fail "drop big"

# ---- kill -9 during the 100 MB upload: absent or complete after a restart ----
# The delays are fractions of the measured upload: mid-stream, and late
# (in the last chunks or while the enclave seals and stores the table).
kill_during() { # VICTIM FRACTION
  local victim=$1 frac=$2 name="k_$1_${2//./_}" delay up got
  delay=$(echo "scale=2; $UPLOAD_S * $frac" | bc)
  "$CDR" upload --profile prov "$name" "$T/big.csv" >/dev/null 2>&1 &
  up=$!
  sleep "$delay"
  case $victim in
    host) kill -KILL "$SERVER_PID" 2>/dev/null ;;
    enclave) kill -KILL "$(enclave_pid "$SERVER_PID")" 2>/dev/null ;;
    client) kill -KILL "$up" 2>/dev/null ;;
  esac
  wait "$up" 2>/dev/null
  if [ "$victim" != client ]; then
    for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null
    restart_server "$R" URL || { fail "restart after kill -9 of the $victim"; return; }
  fi
  got=$(q prov "SELECT count(*) FROM $name")
  if [ "$got" = "$ROWS" ]; then
    pass "kill -9 of the $victim at ${delay}s: the table is complete ($got rows)"
    "$CDR" drop --profile prov "$name" >/dev/null 2>&1
  elif grep -q "no such table" "$T/qerr"; then
    pass "kill -9 of the $victim at ${delay}s: the table is absent"
  else
    fail "kill -9 of the $victim at ${delay}s: got [$got] $(cat "$T/qerr")"
  fi
}
kill_during host 0.5
kill_during enclave 0.9
kill_during client 0.5
# A client killed mid-upload leaves nothing in the way: the same upload
# starts again at once and completes.
check "after the client was killed the upload succeeds again" "$CDR" upload --profile prov k_client_0_5 "$T/mid.csv"
expect_eq "earlier tables survive the crashes" "$(q prov "SELECT count(*) FROM r")" "2"
finish
