#!/usr/bin/env bash
# A restart with a large table serves at once: /v1/health answers while
# the sealed tables load and reports their progress, attestation and
# queries of the tables already loaded work meanwhile, the large table is
# refused (room_loading) until it is in whole, and then everything
# answers as before the restart (checked against sqlite3).  The load is
# held at given chunks by CDR_TEST_LOAD_GATE (tests only: it delays the
# load and changes nothing else), so nothing here depends on timing.
. "$(dirname "$0")/lib.sh"

R="$T/room"
new_room "$R" || { fail "room init"; finish; }
start_server "$R" URL || { fail "server start"; finish; }
user prov provider "$R" "$URL" || { fail "enroll"; finish; }
activate_contract "$R" prov || { fail "activate the contract"; finish; }
q() { "$CDR" query --profile prov "$1" --format csv 2>"$T/qerr" | tr -d '\r' | tail -n +2; }
sq() { sqlite3 -csv :memory: ".import $1 t" "$2" | tr -d '\r'; }
health() { curl -s "$URL/v1/health"; }

# Two small tables and one large one (several 4 MiB load chunks).
printf 'k,v\n1,one\n2,two\n3,three\n' >"$T/small1.csv"
printf 'a,b\n10,x\n20,y\n' >"$T/small2.csv"
awk 'BEGIN { print "id,grp,val,txt";
  for (i = 1; i <= 300000; i++) printf "%d,%d,%d,row-%d-abcdefghijklmnopqrstuvwxyz0123456789\n", i, i % 97, (i * 7919) % 100003, i }' \
  >"$T/big.csv"
check "upload the large table" "$CDR" upload --profile prov big "$T/big.csv"
check "upload small1" "$CDR" upload --profile prov small1 "$T/small1.csv"
check "upload small2" "$CDR" upload --profile prov small2 "$T/small2.csv"
BIGSQL="SELECT count(*), sum(val), sum(length(txt)), sum(grp * id) FROM big"
WANT_BIG=$(sq "$T/big.csv" "${BIGSQL/FROM big/FROM t}")
WANT_S1=$(sq "$T/small1.csv" "SELECT count(*), sum(k), group_concat(v, '-') FROM t")
expect_eq "before the restart the large table matches sqlite3" "$(q "$BIGSQL")" "$WANT_BIG"
expect_eq "before the restart small1 matches sqlite3" "$(q "SELECT count(*), sum(k), group_concat(v, '-') FROM small1")" \
  "$WANT_S1"
BIGFILE_BYTES=$(ls -l "$R/state/tables" | awk 'NR > 1 { if ($5 > m) m = $5 } END { print m }')
[ "$BIGFILE_BYTES" -gt $((8 * 1024 * 1024)) ] && pass "the large table's sealed file spans several load chunks" \
  || fail "the large table's sealed file is only $BIGFILE_BYTES bytes"
stop_server "$SERVER_PID" || fail "stop"

# Restart, the load held after 2 chunks: the small tables go first (one
# chunk each), then the gate holds the large one before its first chunk.
echo 2 >"$T/gate"
new_ready_file
: >"$T/gated.log"
CDR_TEST_LOAD_GATE="$T/gate" "$CDR" serve "$R" --listen "${URL#*://}" --ready-file "$READY_FILE" >"$T/gated.log" 2>&1 &
GPID=$!
SERVER_PIDS+=("$GPID")
for _ in $(seq 600); do grep -q "loading paused .* after 2 chunks" "$T/gated.log" && break; kill -0 "$GPID" || break; sleep 0.1; done
grep -q "loading paused .* after 2 chunks" "$T/gated.log" || { fail "the load did not pause"; tail -5 "$T/gated.log"; finish; }
H=$(health)
expect_eq "loading: health says loading and serving, not ready" "$(jq -r '[.status, .phase, .ready, .serving] | join(" ")' <<<"$H")" \
  "loading loading false true"
expect_eq "loading: 2 of 3 tables loaded" "$(jq -r '[.progress.tables_loaded, .progress.tables_total] | join(" ")' <<<"$H")" "2 3"
B1=$(jq -r .progress.bytes_loaded <<<"$H")
BT=$(jq -r .progress.bytes_total <<<"$H")
[ "$B1" -gt 0 ] && [ "$B1" -lt "$BT" ] && pass "loading: some bytes loaded, fewer than the total ($B1 of $BT)" \
  || fail "loading: bytes $B1 of $BT"
expect_eq "loading: /v1/ready answers 503" "$(curl -s -o /dev/null -w '%{http_code}' "$URL/v1/ready")" 503
check "loading: attest works" "$CDR" attest "$URL"
expect_eq "loading: a query of a loaded table works" "$(q "SELECT count(*), sum(k), group_concat(v, '-') FROM small1")" \
  "$WANT_S1"
"$CDR" tables --profile prov --format json >"$T/tables.json" 2>"$T/err"
expect_eq "loading: the table list says the large table is loading" \
  "$(jq -r '.[] | select(.name == "big") | .loading' "$T/tables.json" 2>/dev/null)" true
expect_error "loading: its owner cannot replace it yet" room_loading "$CDR" upload --profile prov --replace big "$T/small2.csv"
expect_error "loading: nor drop it" room_loading "$CDR" drop --profile prov big
# A query of the large table: refused room_loading, which cdr retries
# until the table is in (the refusals are in the audit log).
"$CDR" query --profile prov "$BIGSQL" --format csv >"$T/bg.out" 2>"$T/bg.err" &
QPID=$!
audit_refusals() {
  "$CDR" audit --profile prov --format json 2>/dev/null \
    | jq -s '[.[] | select(.op == "query" and .decision == "refused" and .reason == "room_loading")] | length'
}
for _ in $(seq 300); do [ "$(audit_refusals)" -gt 0 ] && break; sleep 0.2; done
[ "$(audit_refusals)" -gt 0 ] && pass "loading: a query of the large table is refused room_loading (audited)" \
  || fail "loading: no room_loading refusal in the audit log"
kill -0 "$QPID" 2>/dev/null && pass "loading: cdr query waits for the table" || fail "loading: cdr query ended: $(cat "$T/bg.err")"
[ -e "$READY_FILE" ] && fail "the ready file was written before the load ended"

# One more chunk: the bytes advance, the large table is still not half there.
echo 3 >"$T/gate"
for _ in $(seq 600); do grep -q "loading paused .* after 3 chunks" "$T/gated.log" && break; kill -0 "$GPID" || break; sleep 0.1; done
grep -q "loading paused .* after 3 chunks" "$T/gated.log" || fail "the load did not pause after its third chunk"
H=$(health)
B2=$(jq -r .progress.bytes_loaded <<<"$H")
[ "$B2" -gt "$B1" ] && pass "progress advances ($B1 -> $B2 bytes)" || fail "progress: $B1 -> $B2"
expect_eq "still 2 of 3 tables" "$(jq -r '.progress.tables_loaded' <<<"$H")" 2
"$CDR" tables --profile prov --format json >"$T/tables.json" 2>"$T/err"
expect_eq "a half-loaded table is still not visible" \
  "$(jq -r '.[] | select(.name == "big") | .loading' "$T/tables.json" 2>/dev/null)" true

# Let it finish.
rm -f "$T/gate"
wait_ready "$GPID" "$READY_FILE" && pass "the ready file is written once every table is in" || fail "not ready"
H=$(health)
expect_eq "loaded: health says ok and ready" "$(jq -r '[.status, .phase, .ready, .serving] | join(" ")' <<<"$H")" "ok ready true true"
expect_eq "loaded: every table and byte" \
  "$(jq -r '[.progress.tables_loaded, .progress.tables_total, .progress.bytes_loaded == .progress.bytes_total] | join(" ")' <<<"$H")" \
  "3 3 true"
wait "$QPID" && pass "the waiting query completed" || fail "the waiting query failed: $(cat "$T/bg.err")"
expect_eq "its answer matches sqlite3" "$(tr -d '\r' <"$T/bg.out" | tail -n +2)" "$WANT_BIG"
expect_eq "after the load the large table matches sqlite3" "$(q "$BIGSQL")" "$WANT_BIG"
expect_eq "small2 is intact" "$(q "SELECT count(*), sum(a) FROM small2")" "2,30"
grep -q "loading 3 sealed tables" "$T/gated.log" && grep -q "loaded table 1 of 3" "$T/gated.log" \
  && grep -q "loading the room's tables: [0-9]*0%" "$T/gated.log" && grep -q "the room's 3 tables are loaded" "$T/gated.log" \
  && pass "the log shows the load's progress" || fail "progress lines: $(grep -i load "$T/gated.log" | tail -8)"
"$CDR" audit --profile prov --format json 2>/dev/null | jq -s -c '[.[] | select(.op == "loaded")] | last
  | [.tables_loaded, .tables_unavailable]' >"$T/loaded.json"
expect_eq "the audit log records the end of the load" "$(cat "$T/loaded.json")" "[3,0]"
finish
