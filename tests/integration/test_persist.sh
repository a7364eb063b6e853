#!/usr/bin/env bash
# Tables survive restarts, sealed by the enclave; a tampered or older
# table file is refused (that table only, with the reason in the log);
# drop erases a table's file; kill -9 of either process during uploads
# never leaves a partial table.
. "$(dirname "$0")/lib.sh"

R="$T/room"
new_room "$R" || { fail "room init"; finish; }
start_server "$R" URL || { fail "server start"; finish; }
user prov provider "$R" "$URL" && user ana analyst "$R" "$URL" || { fail "enroll"; finish; }
activate_contract "$R" prov ana || { fail "activate the contract"; finish; }
q() { "$CDR" query --profile "$1" "$2" --format csv 2>"$T/qerr" | tr -d '\r' | tail -n +2; }
files() { ls "$R/state/tables" 2>/dev/null | sort; }

bash "$CDR_SOURCE_DIR/scripts/gen-patients.sh" 3000 11 >"$T/p.csv"
printf 'k,secret\n1,a\n2,b\n' >"$T/s.csv"
"$CDR" upload --profile prov patients "$T/p.csv" >/dev/null 2>&1 || fail "upload patients"
files >"$T/before"
"$CDR" upload --profile prov secrets "$T/s.csv" >/dev/null 2>&1 || fail "upload secrets"
SECRETS_FILE=$(files | comm -13 "$T/before" -)
PATIENTS_FILE=$(cat "$T/before")
"$CDR" grant --profile prov patients --to role:analyst >/dev/null 2>&1 || fail "grant"
"$CDR" hide --profile prov secrets secret >/dev/null 2>&1 || fail "hide"
WANT=$(q ana "SELECT count(*), sum(age) FROM patients")
[ -n "$WANT" ] && pass "analyst reads the granted table" || fail "first query: $(cat "$T/qerr")"
[ "$(files | wc -l)" = "2" ] && pass "two sealed table files" || fail "table files: $(files)"
grep -q "follow-up" "$R/state/tables/"* && fail "plaintext in a table file" || pass "table files hold no plaintext"

stop_server "$SERVER_PID"
restart_server "$R" URL || { fail "restart"; finish; }
expect_eq "after a restart the analyst gets the same answer" "$(q ana "SELECT count(*), sum(age) FROM patients")" "$WANT"
"$CDR" tables --profile prov >"$T/tables.out" 2>&1
grep -q "secret" "$T/tables.out" && grep -qi "hidden" "$T/tables.out" && pass "hidden flag survived the restart" \
  || fail "tables after restart: $(cat "$T/tables.out")"
expect_error "no grant on secrets for the analyst after restart" access_denied "$CDR" query --profile ana "SELECT * FROM secrets"

# Tamper with one table file: that table is refused, the other still served.
stop_server "$SERVER_PID"
cp "$R/state/tables/$SECRETS_FILE" "$T/secrets.good"
flip_byte "$R/state/tables/$SECRETS_FILE" 40
cmp -s "$R/state/tables/$SECRETS_FILE" "$T/secrets.good" && fail "the file did not change"
restart_server "$R" URL || { fail "restart with a tampered file"; finish; }
grep -q "sealed table file ${SECRETS_FILE%.sealed} not loaded: its sealed file fails authentication" "$T/server.log" \
  && pass "the tampered table is refused, and the log says which and why" || fail "no message: $(grep -i 'not loaded' "$T/server.log")"
expect_eq "the other table is still served" "$(q ana "SELECT count(*), sum(age) FROM patients")" "$WANT"
"$CDR" query --profile prov "SELECT * FROM secrets" >/dev/null 2>&1 && fail "the tampered table answered" \
  || pass "the tampered table answers nothing"
stop_server "$SERVER_PID"
cp "$T/secrets.good" "$R/state/tables/$SECRETS_FILE"
restart_server "$R" URL || { fail "restart after repair"; finish; }
expect_eq "the repaired file loads again" "$(q prov "SELECT count(*) FROM secrets")" "2"

# An older copy of a table file put back in place of the current one.
cp "$R/state/tables/$PATIENTS_FILE" "$T/patients.old"
"$CDR" upload --profile prov --replace patients "$T/s.csv" >/dev/null 2>&1 || fail "replace"
NEWFILE=$(files | grep -v "$SECRETS_FILE")
[ "$NEWFILE" != "$PATIENTS_FILE" ] && [ ! -e "$R/state/tables/$PATIENTS_FILE" ] && pass "replace wrote a new file and removed the old" \
  || fail "replace files: $(files)"
stop_server "$SERVER_PID"
cp "$R/state/tables/$NEWFILE" "$T/patients.new"
cp "$T/patients.old" "$R/state/tables/$NEWFILE"
restart_server "$R" URL || { fail "restart with an old copy"; finish; }
grep -q "sealed table file ${NEWFILE%.sealed} not loaded" "$T/server.log" && pass "an older copy put back is detected" \
  || fail "old copy accepted"
expect_eq "secrets unaffected" "$(q prov "SELECT count(*) FROM secrets")" "2"
stop_server "$SERVER_PID"
cp "$T/patients.new" "$R/state/tables/$NEWFILE"
restart_server "$R" URL || { fail "restart with the current copy"; finish; }
expect_eq "the current copy loads: the replaced table has the new rows" "$(q ana "SELECT count(*) FROM patients")" "2"

# Drop erases: the file is gone, and nothing names its key any more.
"$CDR" drop --profile prov secrets >/dev/null 2>&1 || fail "drop"
[ ! -e "$R/state/tables/$SECRETS_FILE" ] && pass "drop removed the sealed file" || fail "file still there after drop"
stop_server "$SERVER_PID"
restart_server "$R" URL || { fail "restart after drop"; finish; }
"$CDR" query --profile prov "SELECT * FROM secrets" >/dev/null 2>&1 && fail "dropped table came back" \
  || pass "the dropped table stays dropped after a restart"

# kill -9 during uploads: after a restart the table is absent or complete.
bash "$CDR_SOURCE_DIR/scripts/gen-patients.sh" 200000 5 >"$T/big.csv"
ROWS=200000
for delay in 0.3 0.8 1.5 3; do
  for victim in host enclave; do
    "$CDR" upload --profile prov "big_${victim}_${delay//./_}" "$T/big.csv" >/dev/null 2>&1 &
    UP=$!
    sleep "$delay"
    if [ "$victim" = host ]; then kill -KILL "$SERVER_PID" 2>/dev/null; else kill -KILL "$(enclave_pid "$SERVER_PID")" 2>/dev/null; fi
    wait "$UP" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null
    restart_server "$R" URL || { fail "restart after kill -9"; finish; }
    got=$(q prov "SELECT count(*) FROM big_${victim}_${delay//./_}")
    if [ "$got" = "$ROWS" ]; then
      pass "kill -9 of the $victim after ${delay}s: the table is complete ($got rows)"
    elif grep -q "no such table" "$T/qerr"; then
      pass "kill -9 of the $victim after ${delay}s: the table is absent"
    else
      fail "kill -9 of the $victim after ${delay}s: got [$got] $(cat "$T/qerr")"
    fi
  done
done
expect_eq "earlier tables survive the crashes" "$(q ana "SELECT count(*) FROM patients")" "2"
finish
