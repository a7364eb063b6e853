#!/usr/bin/env bash
# Many members at once (docs/ARCHITECTURE.md, "Concurrency"), through the
# real CLI and server with three work lanes (CDR_ENCLAVE_WORKERS=3):
#   - while one member's heavy query runs (an unbounded recursive CTE, to
#     the 30 s limit), another member's attestation, session setup and
#     table list complete: the heavy query is still running when they
#     are done (an ordering, never a time, is asserted), and so does
#     another member's query (SQL runs in parallel, a SQLite connection
#     per lane); the heavy query then ends with sql_timeout;
#   - the per-member cap: with two of ana's queries in the enclave
#     (cdrd's /metrics shows both calls), the enclave refuses a third
#     `busy` (the audit log records it; cdr asks again and it runs once
#     one of hers has ended), while another member is still served, its
#     query too;
#   - concurrent uploads, queries, grants and hides from four members,
#     each query's result checked against the sqlite3 CLI over the same
#     CSV, then the tables' final contents, then the audit log's chain.
# On the old, one-request-at-a-time enclave the first two parts fail.
. "$(dirname "$0")/lib.sh"

command -v sqlite3 >/dev/null || { fail "sqlite3 is missing: run scripts/install-deps.sh"; finish; }
R="$T/room"
new_room "$R" "Concurrency test room" || { fail "room init"; finish; }
export CDR_ENCLAVE_WORKERS=3
new_ready_file
"$CDR" serve "$R" --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --ready-file "$READY_FILE" >"$T/server.log" 2>&1 &
SERVER_PID=$!
SERVER_PIDS+=("$SERVER_PID")
wait_ready "$SERVER_PID" "$READY_FILE" || { tail -5 "$T/server.log"; fail "server start"; finish; }
URL=$(head -n 1 "$READY_FILE")
MURL=$(grep -o 'metrics on [^ ]*' "$T/server.log" | tail -n 1 | cut -d' ' -f3)
trust_room_ca "$R"
user prov1 provider "$R" "$URL" && user prov2 provider "$R" "$URL" && user ana analyst "$R" "$URL" \
  && user bob analyst "$R" "$URL" && user aud auditor "$R" "$URL" || { fail "enroll"; finish; }
activate_contract "$R" prov1 prov2 ana bob aud || { fail "activate the contract"; finish; }
grep -q "enclave started: pid [0-9]*" "$T/server.log" && pass "server up" || fail "no enclave"

HEAVY='WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c'
# queued: the enclave calls cdrd has in flight (its /metrics gauge).
queued() { curl -s "$MURL" | awk '$1 == "cdr_enclave_calls_queued" {print $2}'; }
# running N: ana has opened N sessions (the enclave logs each) and at
# least N calls stay in the enclave for a whole second (her queries run
# to the 30 s limit; no attestation or session setup takes that long).
# Waits a minute at most.
running() {
  local ok=0
  for _ in $(seq 600); do
    if [ "$(grep -c "session opened: user ana@example.org" "$T/server.log")" -ge "$1" ] \
      && [ "$(queued)" -ge "$1" ] 2>/dev/null; then
      ok=$((ok + 1))
      [ "$ok" -ge 10 ] && return 0
    else
      ok=0
    fi
    sleep 0.1
  done
  return 1
}

# ---- a heavy query does not hold the room hostage ----
"$CDR" query --profile ana "$HEAVY" >"$T/heavy1.out" 2>"$T/heavy1.err" &
H1=$!
running 1 && pass "ana's heavy query is in the enclave" || fail "the heavy query never reached the enclave"
check "bob attests while it runs" "$CDR" attest --profile bob
kill -0 "$H1" 2>/dev/null && pass "... and the heavy query was still running when bob's attestation completed" \
  || fail "bob's attestation completed only after the heavy query"
check "bob opens a session and lists the tables while it runs" "$CDR" tables --profile bob
kill -0 "$H1" 2>/dev/null && pass "... and the heavy query was still running when bob's session completed" \
  || fail "bob's session completed only after the heavy query"
# SQL in parallel: bob's query runs on a SQLite connection of its own.
"$CDR" query --profile bob "SELECT 6 * 7 AS answer" --format csv >"$T/bob1.out" 2>"$T/bob1.err" \
  && [ "$(tail -n 1 "$T/bob1.out" | tr -d '\r')" = 42 ] && pass "bob's query answers while ana's runs" \
  || fail "bob's query: $(cat "$T/bob1.err")"
kill -0 "$H1" 2>/dev/null && pass "... and the heavy query was still running when bob's query completed" \
  || fail "bob's query completed only after the heavy query (SQL one statement at a time)"

# ---- the per-member cap: max(1, 3 - 1) = 2 queries of one member ----
"$CDR" query --profile ana "$HEAVY" >"$T/heavy2.out" 2>"$T/heavy2.err" &
H2=$!
if running 2 && kill -0 "$H1" 2>/dev/null; then
  pass "two of ana's queries are in the enclave"
  # A third is refused busy by the enclave; cdr asks again until one of
  # hers has ended (the audit log below shows the refusals).
  "$CDR" query --profile ana "SELECT 3" --format csv >"$T/third.out" 2>"$T/third.err" &
  Q3=$!
  check "bob lists the tables while ana is at her cap" "$CDR" tables --profile bob
  kill -0 "$H1" 2>/dev/null && pass "... while ana's heavy queries still ran" || fail "bob waited for ana's queries"
  check "bob queries on the lane ana's cap leaves free" "$CDR" query --profile bob "SELECT 1"
  kill -0 "$H1" 2>/dev/null && pass "... while ana's two heavy queries still ran" \
    || fail "bob's query waited for ana's queries"
else
  fail "ana's second query never reached the enclave alongside the first (calls: $(queued), sessions: $(grep -c "session opened: user ana@example.org" "$T/server.log"))"
  Q3=
fi
wait "$H1"; s1=$?
wait "$H2"; s2=$?
[ "$s1" -ne 0 ] && grep -q sql_timeout "$T/heavy1.err" && pass "the heavy query ends with sql_timeout" \
  || fail "heavy query 1: status $s1, $(cat "$T/heavy1.err")"
[ "$s2" -ne 0 ] && grep -q sql_timeout "$T/heavy2.err" && pass "the second heavy query ends with sql_timeout" \
  || fail "heavy query 2: status $s2, $(cat "$T/heavy2.err")"
if [ -n "$Q3" ]; then
  wait "$Q3" && [ "$(tail -n 1 "$T/third.out" | tr -d '\r')" = 3 ] && pass "ana's third query ran once one of hers ended" \
    || fail "ana's third query: $(cat "$T/third.err")"
fi

# ---- concurrent uploads, queries and owner operations ----
mkcsv() { awk -v n="$2" -v s="$3" 'BEGIN { print "id,grp,val,note"; for (i = 1; i <= n; i++)
  printf "%d,g%d,%d,%s\n", i, (i * s) % 7, (i * 37 + s) % 1000, (i % 5 == 0 ? "" : "n" i) }' >"$1"; }
mkcsv "$T/t0.csv" 3000 3
mkcsv "$T/t1.csv" 80000 5
mkcsv "$T/t2.csv" 60000 11
check "prov1 uploads t0" "$CDR" upload --profile prov1 t0 "$T/t0.csv"
check "prov1 grants t0 to the analysts" "$CDR" grant --profile prov1 t0 --to role:analyst
# sqlite3 over the same CSVs: the reference.
# (Typed columns, and an empty field is NULL, as in the room.)
for t in t0 t1 t2; do
  sqlite3 "$T/ref.db" "CREATE TABLE $t (id INTEGER, grp TEXT, val INTEGER, note TEXT)" \
    ".import --csv --skip 1 $T/$t.csv $t" "UPDATE $t SET note = NULL WHERE note = ''" || fail "sqlite3 import of $t"
done
Q0="SELECT grp, count(*), sum(val), min(id), max(id) FROM t0 GROUP BY grp ORDER BY grp"
ref() { sqlite3 -csv "$T/ref.db" "$1"; }
ref "$Q0" >"$T/q0.want"

# Four members at once: two uploads (with a grant and a hide each
# after), two analysts querying in loops.
( "$CDR" upload --profile prov1 t1 "$T/t1.csv" && "$CDR" grant --profile prov1 t1 --to role:analyst \
    && "$CDR" hide --profile prov1 t0 note ) >"$T/p1.out" 2>"$T/p1.err" &
P1=$!
( "$CDR" upload --profile prov2 t2 "$T/t2.csv" && "$CDR" grant --profile prov2 t2 --to bob@example.org ) \
  >"$T/p2.out" 2>"$T/p2.err" &
P2=$!
qloop() {
  local who=$1 i bad=0
  for i in $(seq 8); do
    "$CDR" query --profile "$who" "$Q0" --format csv >"$T/$who.$i" 2>"$T/$who.$i.err" || { bad=1; continue; }
    tail -n +2 "$T/$who.$i" | tr -d '\r' | cmp -s - "$T/q0.want" || bad=1
  done
  return $bad
}
qloop ana &
A=$!
qloop bob &
B=$!
wait "$P1" && pass "prov1's upload, grant and hide under load" || { fail "prov1's operations"; tail -3 "$T/p1.err"; }
wait "$P2" && pass "prov2's upload and grant under load" || { fail "prov2's operations"; tail -3 "$T/p2.err"; }
wait "$A" && pass "ana's 8 queries during the uploads match sqlite3" || { fail "ana's queries"; cat "$T"/ana.*.err | tail -3; }
wait "$B" && pass "bob's 8 queries during the uploads match sqlite3" || { fail "bob's queries"; cat "$T"/bob.*.err | tail -3; }

# Every table as sqlite3 has it.
for t in t1 t2; do
  q="SELECT grp, count(*), sum(val), sum(length(note)), min(id), max(id) FROM $t GROUP BY grp ORDER BY grp"
  ref "$q" >"$T/$t.want"
  check "bob reads $t whole" "$CDR" query --profile bob "$q" --format csv
  expect_eq "$t matches sqlite3" "$(tail -n +2 "$T/out" | tr -d '\r')" "$(cat "$T/$t.want")"
done
expect_error "the hide took effect" access_denied "$CDR" query --profile ana "SELECT note FROM t0"
expect_error "t2 was granted to bob only" access_denied "$CDR" query --profile ana "SELECT count(*) FROM t2"

# The log holds every decision, in one chain, and the cap's refusals.
if "$CDR" audit --profile aud --verify --format json >"$T/all.json" 2>"$T/err"; then
  pass "the audit log verifies after the concurrent work"
else
  fail "audit --verify: $(tail -3 "$T/err")"
fi
jq -s -e 'map(select(.op=="query" and .decision=="refused" and .reason=="busy" and .subject=="ana@example.org"))
  | length > 0' "$T/all.json" >/dev/null && pass "the enclave refused ana's query over her cap (busy, in the log)" \
  || fail "no busy refusal of ana's query in the log"
jq -s -e 'map(select(.op=="query" and .reason=="busy" and .subject!="ana@example.org")) | length == 0' "$T/all.json" \
  >/dev/null && pass "no other member was refused busy" || fail "another member was refused busy"
finish
