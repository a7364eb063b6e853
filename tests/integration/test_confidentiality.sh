#!/usr/bin/env bash
# While a query carrying a distinctive marker (in the SQL text and in a
# result value) runs, scan the host process's memory and show the marker is
# absent; scan the enclave process the same way and show it is present, so
# the scan is known to work.  Needs CAP_SYS_PTRACE to read the enclave
# (non-dumpable); CI runs as root.
. "$(dirname "$0")/lib.sh"

R="$T/room"
new_room "$R" || { fail "room init"; finish; }
start_server "$R" URL || { fail "server start"; finish; }
user prov provider "$R" "$URL" && user ana analyst "$R" "$URL" || { fail "enroll"; finish; }
activate_contract "$R" prov ana || { fail "activate the contract"; finish; }
HOST=$SERVER_PID
ENC=$(enclave_pid "$HOST")
[ -n "$ENC" ] && pass "found the enclave process ($ENC) of host $HOST" || { fail "enclave pid"; finish; }

MARK="CDRMARK$(openssl rand -hex 8)"
printf 'id,secret\n1,%s\n2,other\n' "$MARK" >"$T/s.csv"
check "upload the marked table" "$CDR" upload --profile prov secrets "$T/s.csv"
check "grant the analyst read access" "$CDR" grant --profile prov secrets --to role:analyst
rm -f "$T/s.csv"   # the marker now exists only in the enclave (and this script's variables)

# A query that runs for a few seconds, with the marker in its text and its
# result: long enough for the scan to see it running, well under the room's
# 30 s limit.  How many rows take "a few seconds" depends on the build (a
# sanitizer build is several times slower) and on the machine's load, so
# the test sizes it from a timed run of 500,000 rows first (about 5 s of
# work; a sizing, not an assertion).
count_sql() { echo "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < $1) SELECT count(*) FROM c"; }
t0=$(date +%s%N)
check "size the long query" "$CDR" query --profile ana "$(count_sql 500000)" --format csv
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
ROWS=$(( 500000 * 5000 / (ms > 50 ? ms : 50) ))
[ "$ROWS" -lt 1000000 ] && ROWS=1000000
[ "$ROWS" -gt 40000000 ] && ROWS=40000000
echo "# 500,000 rows took $ms ms; the long query counts $ROWS"
SQL="WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < $ROWS)
     SELECT (SELECT secret FROM secrets WHERE secret = '$MARK') AS s, count(*) FROM c"
"$CDR" query --profile ana "$SQL" --format csv >"$T/q.out" 2>"$T/q.err" &
QPID=$!
sleep 0.7
kill -0 "$QPID" 2>/dev/null && pass "query still running during the scan" || fail "query finished before the scan"
"$CDR_TEST_BIN_DIR/memscan" "$HOST" "$MARK" 2>"$T/scan.host"; hrc=$?
"$CDR_TEST_BIN_DIR/memscan" "$ENC" "$MARK" 2>"$T/scan.enc"; erc=$?
cat "$T/scan.host" "$T/scan.enc"
expect_eq "marker absent from the host's memory" "$hrc" "1"
expect_eq "marker present in the enclave's memory (the scan works)" "$erc" "0"
wait "$QPID"
grep -q "$MARK" "$T/q.out" && pass "the client decrypted the marked result" || fail "client result: $(cat "$T/q.out" "$T/q.err")"
"$CDR_TEST_BIN_DIR/memscan" "$HOST" "$MARK" 2>/dev/null; expect_eq "marker absent from the host after the query" "$?" "1"
grep -q "$MARK" "$T/server.log" && fail "marker in the server log" || pass "marker not in the server log"
finish
