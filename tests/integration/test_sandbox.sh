#!/usr/bin/env bash
# A running enclave is under its seccomp filter (src/enclave/sandbox.c):
# /proc/PID/status shows filter mode (Seccomp 2), at least one filter and
# no_new_privs; and everything a room does after init (enrollment, an
# upload that is sealed and stored, grants, queries, SQLite's random(),
# a restart that loads the sealed tables back) works under it, with the
# enclave still the same process at the end.  That a forbidden call kills
# it is tests/unit/test_sandbox.c's job: nothing the host can send makes
# the enclave make one.
. "$(dirname "$0")/lib.sh"

R="$T/room"
new_room "$R" || { fail "room init"; finish; }
start_server "$R" URL || { fail "server start"; finish; }

# status_field PID FIELD: the value of FIELD in /proc/PID/status.
status_field() { awk -v f="$2:" '$1 == f { print $2 }' /proc/"$1"/status 2>/dev/null; }

# enclave_confined PID WHEN: the three lines of a filtered process.
enclave_confined() {
  local pid=$1 when=$2
  expect_eq "$when: Seccomp is 2 (filter)" "$(status_field "$pid" Seccomp)" 2
  local n; n=$(status_field "$pid" Seccomp_filters)
  if [ -n "$n" ] && [ "$n" -ge 1 ]; then pass "$when: Seccomp_filters is $n"; else fail "$when: Seccomp_filters [$n]"; fi
  expect_eq "$when: NoNewPrivs is 1" "$(status_field "$pid" NoNewPrivs)" 1
}

EP=$(enclave_pid "$SERVER_PID")
[ -n "$EP" ] && pass "found the enclave ($EP) of host $SERVER_PID" || { fail "no enclave process"; finish; }
enclave_confined "$EP" "at start"
# The host is not the enclave: it runs unfiltered (it serves HTTP, signs
# with the token, writes the room's state).
expect_eq "the host itself is not filtered" "$(status_field "$SERVER_PID" Seccomp)" 0
grep -q "sandbox: seccomp filter on (sim profile" "$T/server.log" && pass "the enclave logs its sim profile" \
  || fail "no sandbox line in the log: $(grep cdr-enclave "$T/server.log" | tail -3)"

# A room's life after init, all under the filter.
user prov provider "$R" "$URL" && user ana analyst "$R" "$URL" || { fail "enroll"; finish; }
activate_contract "$R" prov ana || { fail "activate the contract"; finish; }
q() { "$CDR" query --profile "$1" "$2" --format csv 2>"$T/qerr" | tr -d '\r' | tail -n +2; }
bash "$CDR_SOURCE_DIR/scripts/gen-patients.sh" 2000 7 >"$T/p.csv"
check "upload (sealed, stored through the host)" "$CDR" upload --profile prov patients "$T/p.csv"
check "grant" "$CDR" grant --profile prov patients --to role:analyst
check "attestation" "$CDR" attest --profile ana
expect_eq "a query" "$(q ana "SELECT count(*) FROM patients")" 2000
N=$(q ana "SELECT count(DISTINCT r) FROM (SELECT random() AS r FROM patients LIMIT 100)")
expect_eq "SQLite's random() (its PRNG was seeded before the filter)" "$N" 100
expect_eq "randomblob and an ORDER BY random()" \
  "$(q ana "SELECT length(randomblob(32)) FROM (SELECT 1 FROM patients ORDER BY random() LIMIT 1)")" 32
N=$(q ana "SELECT count(*) FROM (SELECT datetime('now', 'localtime'), date('now'), strftime('%s', 'now') FROM patients LIMIT 1)")
expect_eq "local time in SQL (the time zone was loaded before the filter)" "$N" 1
expect_eq "a grouped query" "$(q ana "SELECT count(*) FROM (SELECT age FROM patients GROUP BY age)" | grep -c .)" 1
expect_eq "the same enclave process served it all" "$(enclave_pid "$SERVER_PID")" "$EP"
enclave_confined "$EP" "after the queries"
grep -q "killed by signal" "$T/server.log" && fail "an enclave was killed: $(grep 'killed by signal' "$T/server.log")" \
  || pass "no enclave was killed"

# A restart: the new enclave is filtered before it loads the sealed tables.
stop_server "$SERVER_PID" || fail "clean stop"
restart_server "$R" URL || { fail "restart"; finish; }
EP2=$(enclave_pid "$SERVER_PID")
[ -n "$EP2" ] && [ "$EP2" != "$EP" ] && pass "a new enclave after the restart" || fail "enclave after restart: [$EP2]"
enclave_confined "$EP2" "after the restart"
expect_eq "the sealed table loaded back under the filter" "$(q ana "SELECT count(*) FROM patients")" 2000
grep -q "killed by signal" "$T/server.log" && fail "an enclave was killed" || pass "still no enclave killed"

finish
