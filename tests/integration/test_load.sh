#!/usr/bin/env bash
# Load and soak: many concurrent clients, each with its own session, run
# a mix of checked queries and small uploads (tests/tools/load.c) against
# one server for a fixed time.  No request may fail, and the resident
# memory of cdrd and cdr-enclave must stay flat: measured after a warm-up
# run and again at the end, it may not grow by more than 20% + 16 MB.
#
# Under the sanitizers (make test-sanitize) the run is shorter and memory
# is not compared (ASan's quarantine and shadow memory are not the
# program's); there the leak check is LeakSanitizer's, at the exit of
# both server processes: this test stops the server itself and waits for
# a clean exit, so that the reports are written, and lib.sh's finish
# fails on any of them.
. "$(dirname "$0")/lib.sh"

asan=0
grep -q "__asan_init" "$CDR" 2>/dev/null && asan=1
if [ "$asan" = 1 ]; then
  SECS=6 CLIENTS=6 UPLOADERS=2 WARMUP=2
else
  SECS=${CDR_LOAD_SECONDS:-20} CLIENTS=${CDR_LOAD_CLIENTS:-16} UPLOADERS=4 WARMUP=4
fi
ROWS=2000

R="$T/room"
new_room "$R" || { fail "room init"; finish; }
start_server "$R" URL || { fail "server start"; finish; }
user prov provider "$R" "$URL" && user ana analyst "$R" "$URL" || { fail "enroll"; finish; }
activate_contract "$R" prov ana || { fail "activate the contract"; finish; }
{ echo "id,name,score"; for i in $(seq $ROWS); do echo "$i,n$i,$((i % 97))"; done; } >"$T/base.csv"
check "the shared table is uploaded" "$CDR" upload --profile prov load_base "$T/base.csv"
check "and granted to analysts" "$CDR" grant --profile prov load_base --to role:analyst

ENC=$(enclave_pid "$SERVER_PID")
rss() { awk '/^VmRSS/ {print $2}' /proc/"$1"/status 2>/dev/null; }
run_load() { # SECONDS LOGNAME
  "$CDR_TEST_BIN_DIR/load" "$URL" "$R/ca.crt" "$1" "$CLIENTS" "$UPLOADERS" load_base "$ROWS" \
    "$T/prov.key" "$T/prov.crt" "$T/ana.key" "$T/ana.crt" >"$T/$2.out" 2>"$T/$2.err"
}

# Warm-up: the allocators' pools, SQLite's page cache and the uploaders'
# tables reach their working size before the baseline is taken.
# The client's warning about sim attestation is expected: not shown.
show_err() { grep -v 'simulated attestation' "$1" | head -20 | sed 's/^/    /'; }
run_load "$WARMUP" warmup || { fail "warm-up run"; show_err "$T/warmup.err"; }
HOST0=$(rss "$SERVER_PID") ENC0=$(rss "$ENC")

run_load "$SECS" main
rc=$?
sed 's/^/# /' "$T/main.out"
show_err "$T/main.err"
HOST1=$(rss "$SERVER_PID") ENC1=$(rss "$ENC")
echo "# RSS cdrd ${HOST0} -> ${HOST1} KB, cdr-enclave ${ENC0} -> ${ENC1} KB"
[ $rc -eq 0 ] && pass "$CLIENTS clients for ${SECS}s: no request failed" || fail "the load run reported failures (exit $rc)"
grep -q "^query: ok=[1-9]" "$T/main.out" && grep -q "^upload: ok=[1-9]" "$T/main.out" &&
  grep -q "^session: ok=$CLIENTS failed=0" "$T/main.out" \
  && pass "every client opened its session, queried and uploaded" || fail "missing operations: $(tr '\n' ' ' <"$T/main.out")"

# flat: END <= START * 1.2 + 16 MB
flat() { [ -n "$1" ] && [ -n "$2" ] && [ "$2" -le $(($1 * 12 / 10 + 16384)) ]; }
if [ "$asan" = 1 ]; then
  pass "memory not compared under AddressSanitizer (LeakSanitizer checks the exit)"
else
  flat "$HOST0" "$HOST1" && pass "cdrd's memory stays flat (${HOST0} -> ${HOST1} KB)" \
    || fail "cdrd RSS grew from ${HOST0} to ${HOST1} KB"
  flat "$ENC0" "$ENC1" && pass "cdr-enclave's memory stays flat (${ENC0} -> ${ENC1} KB)" \
    || fail "cdr-enclave RSS grew from ${ENC0} to ${ENC1} KB"
fi

# A clean exit of both processes, so that LeakSanitizer (sanitizer
# builds) runs its leak check and writes its report for finish to see.
# Generous wait: the leak check of a large heap takes a while.
kill -TERM "$SERVER_PID" 2>/dev/null
for _ in $(seq 600); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$SERVER_PID" 2>/dev/null; then
  fail "cdrd did not exit within 60 s of SIGTERM"
else
  wait "$SERVER_PID" 2>/dev/null
  rc=$?
  [ $rc -eq 0 ] && pass "cdrd exits cleanly after the load" || fail "cdrd exited with status $rc"
fi
for _ in $(seq 100); do kill -0 "$ENC" 2>/dev/null || break; sleep 0.1; done
kill -0 "$ENC" 2>/dev/null && fail "cdr-enclave still runs after cdrd exited" || pass "cdr-enclave has exited"
grep -q "enclave pid $ENC exited with status 0" "$T/server.log" && pass "cdr-enclave exited with status 0" \
  || fail "cdr-enclave's exit: $(grep "enclave pid" "$T/server.log" | tail -1)"
finish
