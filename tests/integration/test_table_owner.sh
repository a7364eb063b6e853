#!/usr/bin/env bash
# Tables keep their owner (issue 10, item 7: "the table name squat").
# When the host withholds or damages a table's sealed file, that table is
# unavailable, but its name stays its owner's: another provider cannot
# upload under it, nor replace or drop it; only its owner can drop or
# replace it.  Nothing is deleted at start because the host withheld or
# damaged a file: the manifest keeps the entry and its sealed key, the
# file stays, and putting it back brings the owner's data back intact.
#
# On the code before this change, bob's upload of `t` succeeded, alice's
# drop was refused as "belongs to bob", and alice's file and key were
# gone: the first checks of the attack fail there.
. "$(dirname "$0")/lib.sh"

R="$T/room"
new_room "$R" || { fail "room init"; finish; }
start_server "$R" URL || { fail "server start"; finish; }
user alice provider "$R" "$URL" && user bob provider "$R" "$URL" && user ana analyst "$R" "$URL" \
  || { fail "enroll"; finish; }
activate_contract "$R" alice bob ana || { fail "activate the contract"; finish; }
q() { "$CDR" query --profile "$1" "$2" --format csv 2>"$T/qerr" | tr -d '\r' | tail -n +2; }
files() { ls "$R/state/tables" 2>/dev/null | sort; }
# new_file: the sealed file added to state/tables since files >$T/before.
new_file() { files | comm -13 "$T/before" -; }

printf 'k,v\n1,10\n2,20\n3,30\n' >"$T/t.csv"
printf 'k,v\n7,700\n' >"$T/bob.csv"
printf 'k,v\n5,5\n6,6\n' >"$T/t2.csv"
printf 'a\nx\n' >"$T/u.csv"

files >"$T/before"
"$CDR" upload --profile alice t "$T/t.csv" >/dev/null 2>&1 || fail "alice uploads t"
T_FILE=$(new_file)
files >"$T/before"
"$CDR" upload --profile alice u "$T/u.csv" >/dev/null 2>&1 || fail "alice uploads u"
U_FILE=$(new_file)
[ -n "$T_FILE" ] && [ -n "$U_FILE" ] && pass "one sealed file per table" || fail "files: $(files)"
"$CDR" grant --profile alice t --to role:analyst >/dev/null 2>&1 || fail "grant t to analysts"
WANT=$(q alice "SELECT count(*), sum(v) FROM t")
expect_eq "alice reads t" "$WANT" "3,60"

# --- The host withholds t's sealed file. ---
stop_server "$SERVER_PID"
mv "$R/state/tables/$T_FILE" "$T/t.withheld"
restart_server "$R" URL || { fail "restart without t's file"; finish; }
grep -q "sealed table file ${T_FILE%.sealed} not loaded: the server did not provide its sealed file" "$T/server.log" \
  && pass "the log names the withheld file" || fail "log: $(grep -i 'not loaded' "$T/server.log")"

"$CDR" tables --profile alice >"$T/tables.out" 2>&1
grep -q "^t  owner alice@example.org" "$T/tables.out" && grep -q "UNAVAILABLE: the server did not provide its sealed file" \
  "$T/tables.out" && pass "alice's cdr tables shows t, unavailable" || fail "tables: $(cat "$T/tables.out")"
"$CDR" tables --profile ana --format json >"$T/tables.json" 2>&1
grep -q '"name": *"t".*"unavailable": *"the server did not provide' "$T/tables.json" \
  && pass "a grantee sees t as unavailable too" || fail "ana's tables: $(cat "$T/tables.json")"
"$CDR" tables --profile bob --format json >"$T/tables.json" 2>&1
grep -q '"name": *"t"' "$T/tables.json" && fail "bob (no grant) sees t" || pass "bob, with no grant, does not see t"
expect_error "a grantee's query of t says it is unavailable" table_unavailable \
  "$CDR" query --profile ana "SELECT sum(v) FROM t"
expect_error "bob's query of t: no such table (to him t is unknown)" "access_denied: no access to table t (no such table: t" \
  "$CDR" query --profile bob "SELECT sum(v) FROM t"

# The squat: bob cannot take the name, in any spelling, nor replace or drop it.
expect_error "bob's upload of t is refused" table_exists "$CDR" upload --profile bob t "$T/bob.csv"
grep -q "table t already exists" "$T/err" && ! grep -qi "unavailable" "$T/err" \
  && pass "the refusal is worded as for any table in use (nothing of its state)" || fail "message: $(cat "$T/err")"
expect_error "bob's upload of T (another case) is refused" table_exists "$CDR" upload --profile bob T "$T/bob.csv"
expect_error "bob's replace of t is refused" access_denied "$CDR" upload --profile bob --replace t "$T/bob.csv"
grep -q "belongs to alice@example.org: only its owner can replace it" "$T/err" && ! grep -qi "unavailable" "$T/err" \
  && pass "the replace refusal names the owner, as for an available table" || fail "message: $(cat "$T/err")"
expect_error "bob's drop of t is refused" access_denied "$CDR" drop --profile bob t
expect_error "alice cannot grant on an unavailable table" table_unavailable \
  "$CDR" grant --profile alice t --to bob@example.org
expect_error "alice cannot hide a column of an unavailable table" table_unavailable "$CDR" hide --profile alice t v
expect_error "alice's upload of t without --replace says how" table_exists "$CDR" upload --profile alice t "$T/t2.csv"
grep -q "yours but unavailable.*replace it (upload --replace) or drop it" "$T/err" \
  && pass "alice is told to replace or drop" || fail "message: $(cat "$T/err")"

# --- A second restart, still withheld: nothing is deleted. ---
stop_server "$SERVER_PID"
restart_server "$R" URL || { fail "second restart without t's file"; finish; }
grep -q "removing sealed table file" "$T/server.log" && fail "a file was removed: $(grep removing "$T/server.log")" \
  || pass "no sealed file removed at either start"
[ -e "$R/state/tables/$U_FILE" ] && pass "u's file is still there" || fail "u's file: $(files)"
expect_error "after two restarts bob still cannot take t" table_exists "$CDR" upload --profile bob t "$T/bob.csv"

# --- The file put back: alice's data is back, intact, grants and all. ---
stop_server "$SERVER_PID"
mv "$T/t.withheld" "$R/state/tables/$T_FILE"
restart_server "$R" URL || { fail "restart with t's file back"; finish; }
expect_eq "t is back with alice's data" "$(q alice "SELECT count(*), sum(v) FROM t")" "$WANT"
expect_eq "the grant to analysts survived" "$(q ana "SELECT count(*), sum(v) FROM t")" "$WANT"

# --- A damaged file across two restarts is kept; the owner's replace ends it. ---
stop_server "$SERVER_PID"
flip_byte "$R/state/tables/$T_FILE" 40
cp "$R/state/tables/$T_FILE" "$T/t.damaged"
restart_server "$R" URL && stop_server "$SERVER_PID" && restart_server "$R" URL || { fail "restarts with t damaged"; finish; }
cmp -s "$R/state/tables/$T_FILE" "$T/t.damaged" && pass "the damaged file is kept, unchanged, across two starts" \
  || fail "damaged file: $(files)"
expect_error "bob still cannot take a damaged t" table_exists "$CDR" upload --profile bob t "$T/bob.csv"
files >"$T/before"
"$CDR" upload --profile alice --replace t "$T/t2.csv" >"$T/out" 2>&1 && pass "alice replaces her unavailable t" \
  || fail "alice's replace: $(cat "$T/out")"
expect_eq "t is available again, with the new data" "$(q alice "SELECT count(*), sum(v) FROM t")" "2,11"
expect_eq "the replacement kept the grant" "$(q ana "SELECT count(*) FROM t")" "2"
[ ! -e "$R/state/tables/$T_FILE" ] && pass "the replaced (damaged) file is removed" || fail "files: $(files)"
"$CDR" tables --profile alice >"$T/tables.out" 2>&1
grep -q "UNAVAILABLE" "$T/tables.out" && fail "still unavailable: $(cat "$T/tables.out")" || pass "nothing unavailable now"

# --- Withheld, then dropped by its owner: that is the only way it goes. ---
stop_server "$SERVER_PID"
mv "$R/state/tables/$U_FILE" "$T/u.withheld"
restart_server "$R" URL || { fail "restart without u's file"; finish; }
expect_error "bob cannot drop alice's unavailable u" access_denied "$CDR" drop --profile bob u
"$CDR" drop --profile alice u >"$T/out" 2>&1 && pass "alice drops her unavailable u" || fail "drop: $(cat "$T/out")"
"$CDR" upload --profile bob u "$T/bob.csv" >"$T/out" 2>&1 && pass "once dropped, the name is free" \
  || fail "bob's upload of u: $(cat "$T/out")"
stop_server "$SERVER_PID"
mv "$T/u.withheld" "$R/state/tables/$U_FILE"
restart_server "$R" URL || { fail "restart with u's old file back"; finish; }
grep -q "removing sealed table file ${U_FILE%.sealed}: no manifest names it" "$T/server.log" \
  && pass "a dropped table's file put back is removed at start" || fail "log: $(grep -i removing "$T/server.log")"
expect_eq "u is bob's table now" "$(q bob "SELECT count(*), sum(v) FROM u")" "1,700"
expect_eq "t is still alice's" "$(q alice "SELECT count(*), sum(v) FROM t")" "2,11"

finish
