#!/usr/bin/env bash
# A query cannot hold the room hostage, and the room sets its limits:
# - the room admin sets the limits (`cdr room limits`), every member reads
#   them (`cdr limits`), a member cannot set them (role_forbidden), a
#   restart keeps them (sealed, even with ROOM/limits.json gone), and the
#   audit log records the change;
# - a query of one function call whose cost is the product of its inputs
#   (instr of 1 MiB in 2 MiB) and an endless recursive CTE both end with
#   sql_timeout within the room's time limit plus a margin (loosely: the
#   old code ran the first for about two minutes);
# - a query past the room's memory limit fails alone (sql_memory_limit)
#   and the next query works;
# - an upload of many chunks is two audit entries, begin and commit.
. "$(dirname "$0")/lib.sh"

R="$T/room"
new_room "$R" || { fail "room init"; finish; }
start_server "$R" URL || { fail "server start"; finish; }
user prov provider "$R" "$URL" && user ana analyst "$R" "$URL" && user aud auditor "$R" "$URL" ||
  { fail "enroll"; finish; }
activate_contract "$R" prov ana aud || { fail "activate the contract"; finish; }

limit_of() { # PROFILE KEY: the value the enclave shows
  "$CDR" limits --profile "$1" --format json 2>/dev/null | jq -r ".$2"
}

# Defaults before anyone sets them (today's compile-time values).
expect_eq "a member sees the default query time" "$(limit_of ana query_time_ms)" 30000
expect_eq "a member sees the default result size" "$(limit_of ana result_bytes)" 33554432

# The admin sets them; the server hands them to the enclave.
check "the admin sets the limits" "$CDR" room limits "$R" --query-time 3s --query-memory 64MiB --result-rows 5000 \
  --member-queries 2
grep -q '"query_time_ms": 3000' "$R/limits.json" && pass "ROOM/limits.json holds them" || fail "limits.json: $(cat "$R/limits.json")"
for _ in $(seq 100); do [ "$(limit_of ana query_time_ms)" = 3000 ] && break; sleep 0.2; done
expect_eq "a member sees the admin's query time" "$(limit_of ana query_time_ms)" 3000
expect_eq "a member sees the admin's memory limit" "$(limit_of prov query_memory_bytes)" 67108864
expect_eq "a member sees the admin's row limit" "$(limit_of aud result_rows)" 5000
expect_eq "a member sees the admin's per-member cap" "$(limit_of ana member_queries)" 2
expect_error "a member cannot set the limits" role_forbidden "$CDR" limits --profile ana --query-time 60s
expect_error "a provider cannot set the limits either" role_forbidden "$CDR" limits --profile prov --query-memory 4GiB
expect_eq "the refused setting changed nothing" "$(limit_of ana query_time_ms)" 3000
expect_error "the admin's value is bounded" "query_time_ms is out of bounds" "$CDR" room limits "$R" --query-time 2h
expect_error "a malformed value is refused" "'lots' is not a size" "$CDR" room limits "$R" --query-memory lots

# timed CMD...: run it, leave its elapsed seconds in $ELAPSED.
timed() {
  local t0 t1
  t0=$(date +%s%N)
  "$@" >"$T/out" 2>"$T/err"
  local rc=$?
  t1=$(date +%s%N)
  ELAPSED=$(((t1 - t0) / 1000000000))
  return $rc
}
# Generous: the limit is 3 s; the old code ran the instr query ~110 s.
MARGIN=13
INSTR="SELECT instr(printf('%.*c',2200000,'a'), printf('%.*c',1100000,'a')||'b')"
if timed "$CDR" query --profile ana "$INSTR"; then fail "the instr query succeeded"
elif grep -q sql_timeout "$T/err"; then pass "instr of 1 MiB in 2 MiB ends with sql_timeout"
else fail "instr: $(tail -2 "$T/err")"; fi
[ "$ELAPSED" -lt "$MARGIN" ] && pass "... within the limit and a margin (${ELAPSED}s)" || fail "instr took ${ELAPSED}s"
CTE="WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c"
if timed "$CDR" query --profile ana "$CTE"; then fail "the endless CTE succeeded"
elif grep -q sql_timeout "$T/err"; then pass "an endless recursive CTE ends with sql_timeout"
else fail "cte: $(tail -2 "$T/err")"; fi
[ "$ELAPSED" -lt "$MARGIN" ] && pass "... within the limit and a margin (${ELAPSED}s)" || fail "cte took ${ELAPSED}s"
LIKE="SELECT printf('%.*c',3000000,'a') LIKE '%'||printf('%.*c',5000,'a')||'b'"
expect_error "a LIKE of a long pattern ends with sql_timeout" sql_timeout "$CDR" query --profile ana "$LIKE"
check "the room answers at once afterwards" "$CDR" query --profile ana "SELECT 1"

# A longer time limit for the rest, so that only memory stops the next
# query even on a busy machine.
check "the admin raises the time limit" "$CDR" room limits "$R" --query-time 60s
for _ in $(seq 100); do [ "$(limit_of ana query_time_ms)" = 60000 ] && break; sleep 0.2; done
expect_eq "a member sees the new time limit" "$(limit_of ana query_time_ms)" 60000

# Memory: 300,000 distinct values of 400 bytes need about 120 MB, past
# the room's 64 MiB per query; that query fails alone, the next one works.
SORT="WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 300000)
      SELECT count(*) FROM (SELECT DISTINCT printf('%.400c', 'm') || x FROM c)"
expect_error "a query past the memory limit fails" sql_memory_limit "$CDR" query --profile ana "$SORT"
grep -q "64 MiB" "$T/err" && pass "... naming the room's limit" || fail "message: $(tail -1 "$T/err")"
check "the next query works" "$CDR" query --profile ana "SELECT 41 + 1"
grep -q 42 "$T/out" && pass "... with its answer" || fail "answer: $(cat "$T/out")"
check "a small sort under the limit works" "$CDR" query --profile ana \
  "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 1000) SELECT x FROM c ORDER BY x DESC LIMIT 1"

# An upload of many chunks (1 MiB each) is two entries in the audit log.
bash "$CDR_SOURCE_DIR/scripts/gen-patients.sh" 120000 5 >"$T/big.csv"
SIZE=$(stat -c %s "$T/big.csv")
[ "$SIZE" -gt $((3 * 1024 * 1024)) ] && pass "the CSV spans $((SIZE / 1048576 + 1)) chunks" || fail "CSV only $SIZE bytes"
check "the upload of many chunks" "$CDR" upload --profile prov big "$T/big.csv"
"$CDR" audit --profile aud --format json >"$T/all.json" 2>"$T/err" || fail "audit: $(cat "$T/err")"
UP=$(jq -r 'select(.op=="upload_begin" and .tables[0].name=="big") | .upload' "$T/all.json" | head -1)
N=$(jq -s --arg u "$UP" 'map(select(.upload==$u)) | length' "$T/all.json")
expect_eq "the upload is two audit entries" "$N" 2
jq -s -e --arg u "$UP" 'map(select(.upload==$u and .op=="upload_commit" and .decision=="ok" and .chunks>=4 and
  .rows==120000 and (.csv_sha256|length)==64)) | length == 1' "$T/all.json" >/dev/null &&
  pass "the commit entry counts the chunks and carries rows and hash" || fail "no such commit entry"
jq -s -e 'map(select(.op=="upload_chunk")) | length == 0' "$T/all.json" >/dev/null &&
  pass "no entry per chunk" || fail "upload_chunk entries remain"
jq -s -e 'map(select(.op=="limits" and .by=="host" and .limits.query_time_ms==3000)) | length == 1' "$T/all.json" \
  >/dev/null && pass "the admin's change of limits is in the audit log" || fail "no limits entry"
"$CDR" audit --profile ana --format json >"$T/ana.json" 2>"$T/err" || fail "ana's audit: $(cat "$T/err")"
jq -s -e 'map(select(.op=="limits" and .by=="host")) | length == 2' "$T/ana.json" >/dev/null &&
  pass "every member sees the admin's change in the log" || fail "ana does not see the limits entry"
jq -s -e 'map(select(.op=="limits" and .subject=="prov@example.org")) | length == 0' "$T/ana.json" >/dev/null &&
  pass "... but not another member's reading of the limits" || fail "ana sees prov's reads"

# A restart keeps them: sealed in the enclave's state, even without the file.
rm -f "$R/limits.json"
stop_server "$SERVER_PID" || fail "stop"
restart_server "$R" URL || { fail "restart"; finish; }
expect_eq "a restart keeps the query time" "$(limit_of ana query_time_ms)" 60000
expect_eq "a restart keeps the memory limit" "$(limit_of ana query_memory_bytes)" 67108864
expect_eq "a restart keeps the row limit" "$(limit_of ana result_rows)" 5000
expect_error "and the room still applies them" sql_memory_limit "$CDR" query --profile ana "$SORT"

finish
