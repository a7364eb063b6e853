#!/usr/bin/env bash
# Release rules in mode aggregate, through the real CLI and server
# (docs/RULES.md): the owner sets a rule (`cdr rule`), an analyst without
# a grant runs aggregates that are checked and rewritten by the enclave,
# results are compared with the same CSV through the sqlite3 CLI with the
# threshold and clamping applied by this test; every attack of issue 11 is
# refused with rule_violation before anything runs; a non-owner cannot set
# a rule; grants need --keep-grants or --revoke-grants; the rule survives
# a restart; and a table one cannot read answers the same whatever column
# is named.  On the code before rules were wired, `cdr rule` does not
# exist and the attacks were plain reads (access_denied without a grant,
# raw rows with one).
. "$(dirname "$0")/lib.sh"

R="$T/room"
new_room "$R" "Rules room" || { fail "room init"; finish; }
start_server "$R" URL || { fail "server start"; finish; }
user hosp provider "$R" "$URL" && user ins provider "$R" "$URL" && user ana analyst "$R" "$URL" \
  && user bob analyst "$R" "$URL" || { fail "enroll"; finish; }
activate_contract "$R" hosp ins ana bob || { fail "activate the contract"; finish; }

check "cdr rule --help" "$CDR" rule --help
grep -q "Usage: cdr rule" "$T/out" && pass "the help names the command" || fail "rule help: $(head -3 "$T/out")"

# Patients: north 12, south 8, east 3, west 1 (cost 9000 is clamped to
# 5000 by the rule's bounds).  Claims: east's patient 21 has ten claims, so
# a join gives east twelve rows but three patients.
python3 - "$T" <<'EOF'
import sys
t = sys.argv[1]
regions = ['north'] * 12 + ['south'] * 8 + ['east'] * 3 + ['west']
with open(t + '/patients.csv', 'w') as f:
    f.write('patient_id,region,diagnosis,cost,note\n')
    for i, r in enumerate(regions, start=1):
        cost = 9000 if i == 5 else 100 * i + 7
        f.write('%d,%s,%s,%d,secret note %d\n' % (i, r, 'flu' if i % 3 else 'asthma', cost, i))
with open(t + '/claims.csv', 'w') as f:
    f.write('patient_id,amount,kind\n')
    for i in range(1, 25):
        n = 10 if i == 21 else (2 if i % 4 == 0 else 1)
        for k in range(n):
            f.write('%d,%d,%s\n' % (i, 50 * i + k, 'drug' if k % 2 else 'visit'))
with open(t + '/suspects.csv', 'w') as f:
    f.write('pid,label\n1,a\n2,b\n3,c\n4,d\n5,e\n')
EOF
cat >"$T/prule.json" <<'EOF'
{"mode": "aggregate",
 "columns": {"patient_id": "privacy_unit", "region": "dimension", "diagnosis": "dimension",
             "cost": {"metric": ["sum", "avg", "count"], "bounds": [0, 5000]}, "note": "hidden"},
 "min_units": 5}
EOF
cat >"$T/crule.json" <<'EOF'
{"mode": "aggregate",
 "columns": {"patient_id": "privacy_unit", "kind": "dimension", "amount": {"metric": ["sum", "count"]}},
 "min_units": 5}
EOF
check "the hospital uploads patients" "$CDR" upload --profile hosp patients "$T/patients.csv"
check "the insurer uploads claims" "$CDR" upload --profile ins claims "$T/claims.csv"
check "the insurer uploads suspects" "$CDR" upload --profile ins suspects "$T/suspects.csv"
check "the insurer grants ana its suspects (her own table, readable)" \
  "$CDR" grant --profile ins suspects --to ana@example.org
check "the hospital grants bob patients" "$CDR" grant --profile hosp patients --to bob@example.org

# The reference: the same CSVs through the sqlite3 CLI.
# Reals in both to six decimals: cdr prints the shortest round-trip form,
# sqlite3 fifteen digits.
norm() { awk -F, -v OFS=, '{ for (i = 1; i <= NF; i++) if ($i ~ /^-?[0-9]+\.[0-9]+(e[-+]?[0-9]+)?$/) $i = sprintf("%.6f", $i); print }'; }
ref() { sqlite3 -csv "$T/ref.db" "$1" | norm; }
sqlite3 "$T/ref.db" <<EOF
.mode csv
.import $T/patients.csv patients
.import $T/claims.csv claims
EOF
q() { "$CDR" query --profile "$1" "$2" --format csv 2>"$T/qerr" | tail -n +2 | tr -d '\r' | norm; }

# Before a rule: nothing for ana.
expect_error "no rule, no grant: ana reads nothing" access_denied "$CDR" query --profile ana \
  "SELECT region, count(*) FROM patients GROUP BY region"

# Setting rules: refusals first.
printf '{"mode":"aggregate","columns":{"patient_id":"privacy_unit"},"min_units":3}' >"$T/bad.json"
expect_error "a malformed rule is refused" bad_request "$CDR" rule --profile hosp patients --file "$T/bad.json"
grep -q "min_units" "$T/err" && pass "the refusal names the field" || fail "malformed: $(cat "$T/err")"
printf '{"mode":"aggregate","columns":{"nosuch":"privacy_unit"},"min_units":5}' >"$T/bad2.json"
expect_error "a rule naming a missing column" bad_request "$CDR" rule --profile hosp patients --file "$T/bad2.json"
grep -q "nosuch" "$T/err" && pass "the refusal names the column" || fail "unknown column: $(cat "$T/err")"
expect_error "another provider cannot set the rule" access_denied \
  "$CDR" rule --profile ins patients --file "$T/prule.json"
grep -q "only its owner can set its release rule" "$T/err" && pass "the refusal says only the owner" \
  || fail "non-owner: $(cat "$T/err")"
expect_error "an analyst cannot set a rule" role_forbidden "$CDR" rule --profile ana patients --file "$T/prule.json"
expect_error "a table with grants needs --keep-grants or --revoke-grants" bad_request \
  "$CDR" rule --profile hosp patients --file "$T/prule.json"
grep -q "bob@example.org" "$T/err" && grep -q -- "--keep-grants" "$T/err" && pass "the refusal lists the grants" \
  || fail "grants refusal: $(cat "$T/err")"
check "the hospital sets its rule, keeping bob's grant" \
  "$CDR" rule --profile hosp patients --file "$T/prule.json" --keep-grants
check "the insurer sets its rule" "$CDR" rule --profile ins claims --file "$T/crule.json"
check "the owner shows the rule" "$CDR" rule --profile hosp patients
grep -q '"min_units": 5' "$T/out" && grep -q '"note": "hidden"' "$T/out" && pass "the owner sees the rule as set" \
  || fail "owner's rule: $(cat "$T/out")"
check "ana shows the rule" "$CDR" rule --profile ana patients --format json
grep -q '"mode":"aggregate"' "$T/out" && ! grep -q 'note' "$T/out" && pass "ana sees the rule without the hidden column" \
  || fail "ana's rule: $(cat "$T/out")"
check "ana lists the tables" "$CDR" tables --profile ana
grep -q "^patients  owner hosp@example.org  your access: under its aggregate rule" "$T/out" \
  && grep -qE "^ +patient_id +INTEGER +privacy unit" "$T/out" && ! grep -q "note" "$T/out" \
  && pass "ana's list shows the ruled tables, not the hidden column" || fail "ana's tables: $(cat "$T/out")"

# Aggregates, compared with the reference.
A="SELECT region, COUNT(DISTINCT patient_id) AS n, SUM(cost) AS total FROM patients GROUP BY region ORDER BY region"
got=$(q ana "$A")
want=$(ref "SELECT region, COUNT(DISTINCT patient_id), SUM(MAX(MIN(CAST(cost AS INTEGER), 5000), 0)) FROM patients
            GROUP BY region HAVING COUNT(DISTINCT patient_id) >= 5 ORDER BY region")
expect_eq "per-region sums, small regions removed, cost clamped" "$got" "$want"
expect_eq "the reference keeps north and south only" "$(echo "$want" | cut -d, -f1 | tr '\n' ' ')" "north south "
got=$(q ana "SELECT diagnosis, AVG(cost) AS a, COUNT(*) AS c FROM patients WHERE region IN ('north', 'south') GROUP BY diagnosis ORDER BY 1")
want=$(ref "SELECT diagnosis, AVG(MAX(MIN(CAST(cost AS INTEGER), 5000), 0)), COUNT(*) FROM patients
            WHERE region IN ('north', 'south') GROUP BY diagnosis HAVING COUNT(DISTINCT patient_id) >= 5 ORDER BY 1")
expect_eq "averages with a filter" "$got" "$want"
J="SELECT p.region, COUNT(DISTINCT p.patient_id) AS n, SUM(c.amount) AS claimed, COUNT(*) AS rows_ FROM patients p JOIN claims c ON c.patient_id = p.patient_id GROUP BY p.region ORDER BY p.region"
got=$(q ana "$J")
want=$(ref "SELECT p.region, COUNT(DISTINCT p.patient_id), SUM(CAST(c.amount AS INTEGER)), COUNT(*) FROM patients p
            JOIN claims c ON c.patient_id = p.patient_id GROUP BY p.region
            HAVING COUNT(DISTINCT p.patient_id) >= 5 AND COUNT(DISTINCT c.patient_id) >= 5 ORDER BY p.region")
expect_eq "a join across two owners' tables" "$got" "$want"
east_rows=$(ref "SELECT COUNT(*) FROM patients p JOIN claims c ON c.patient_id = p.patient_id WHERE p.region = 'east'")
[ "$east_rows" -ge 5 ] && ! echo "$got" | grep -q "^east" \
  && pass "a join that repeats one unit's rows ($east_rows rows, 3 patients) does not lift east over the threshold" \
  || fail "east: rows $east_rows, got [$got]"
got=$(q ana "SELECT COUNT(*) AS c FROM patients WHERE region = 'west'")
expect_eq "a group of one patient is removed" "$got" ""
check "bob (a grantee) still reads rows" "$CDR" query --profile bob "SELECT note FROM patients WHERE patient_id = 24" \
  --format csv
expect_eq "bob's row" "$(tail -n 1 "$T/out" | tr -d '\r')" "secret note 24"
check "the owner still reads rows" "$CDR" query --profile hosp "SELECT count(note) FROM patients" --format csv

# The attacks: each refused before anything runs, naming the rule.
attack() {
  local name=$1 sql=$2
  expect_error "$name" rule_violation "$CDR" query --profile ana "$sql"
  grep -q "rule of" "$T/err" && pass "$name: the refusal names the rule" || fail "$name: $(cat "$T/err")"
  grep -q "secret note\|asthma\|9000" "$T/err" && fail "$name: data in the error: $(cat "$T/err")" || true
}
attack "selecting the unit" "SELECT patient_id FROM patients"
attack "selecting the unit with an aggregate" "SELECT patient_id, SUM(cost) FROM patients GROUP BY patient_id"
attack "comparing the unit to a literal" "SELECT COUNT(*) FROM patients WHERE patient_id = 17"
attack "the unit in IN" "SELECT SUM(cost) FROM patients WHERE patient_id IN (17, 18)"
attack "grouping by the unit" "SELECT COUNT(*) FROM patients GROUP BY patient_id"
attack "grouping by an expression of the unit" "SELECT COUNT(*) FROM patients GROUP BY patient_id % 10"
attack "MIN on a metric" "SELECT region, MIN(cost) FROM patients GROUP BY region"
attack "MAX on a metric" "SELECT MAX(cost) FROM patients"
attack "CASE over the unit inside SUM" "SELECT SUM(CASE WHEN patient_id = 17 THEN cost ELSE 0 END) FROM patients"
attack "the metric outside an aggregate" "SELECT cost FROM patients"
attack "the unit joined to the analyst's own table" \
  "SELECT s.label, COUNT(DISTINCT p.patient_id) FROM patients p JOIN suspects s ON s.pid = p.patient_id GROUP BY s.label"
grep -q "membership oracle" "$T/err" && pass "the refusal says why" || fail "oracle: $(cat "$T/err")"
attack "an outer join" \
  "SELECT p.region, COUNT(*) FROM patients p LEFT JOIN claims c ON c.patient_id = p.patient_id GROUP BY p.region"
attack "a UNION around a governed table" "SELECT region FROM patients UNION SELECT region FROM patients"
attack "a subquery in FROM" "SELECT COUNT(*) FROM (SELECT * FROM patients) x"
attack "a subquery in WHERE" \
  "SELECT COUNT(*) FROM patients WHERE region IN (SELECT region FROM patients WHERE patient_id = 3)"
attack "SELECT *" "SELECT * FROM patients"
attack "a window function" "SELECT region, COUNT(*) OVER () FROM patients"
attack "a join on a dimension" "SELECT COUNT(*) FROM patients p JOIN claims c ON c.kind = p.region"
attack "a comma join" "SELECT COUNT(*) FROM patients, claims"
attack "the table named in a string" "SELECT 'patients'"
# A hidden column answers as a missing one.
expect_error "a hidden column" sql_error "$CDR" query --profile ana "SELECT note, COUNT(*) FROM patients GROUP BY note"
cp "$T/err" "$T/hidden.err"
expect_error "a missing column" sql_error "$CDR" query --profile ana "SELECT nosuch, COUNT(*) FROM patients GROUP BY nosuch"
expect_eq "the hidden and the missing column answer alike" "$(sed 's/nosuch/X/g' "$T/err")" \
  "$(sed 's/note/X/g' "$T/hidden.err")"

# A table with neither rule nor grant: the same refusal whatever column
# is named, the same as for a table that does not exist; not listed.
printf 'id,payload\n1,x\n' >"$T/secret.csv"
check "the hospital uploads secret" "$CDR" upload --profile hosp secret "$T/secret.csv"
uniform() {
  expect_error "$1" access_denied "$CDR" query --profile ana "$2"
  sed "s/$3/T/g" "$T/err" >"$T/uniform.$4"
}
uniform "an existing column of secret" "SELECT payload FROM secret" secret 1
uniform "a missing column of secret" "SELECT nosuch FROM secret" secret 2
uniform "a count of secret" "SELECT count(*) FROM secret" secret 3
uniform "a table that does not exist" "SELECT payload FROM nothere" nothere 4
uniform "a missing column of a table that does not exist" "SELECT nosuch FROM nothere" nothere 5
same=1
for i in 2 3 4 5; do cmp -s "$T/uniform.1" "$T/uniform.$i" || same=0; done
[ $same -eq 1 ] && pass "one refusal, whatever the column, whether the table exists or not" \
  || fail "refusals differ: $(cat "$T"/uniform.*)"
grep -q "hosp@example.org" "$T/uniform.1" && fail "the refusal names the owner" || pass "the refusal names no owner"
check "ana lists tables" "$CDR" tables --profile ana
grep -q "secret" "$T/out" && fail "secret is listed for ana" || pass "secret is not listed for ana"
expect_error "an upload under secret's name still says it is taken" table_exists \
  "$CDR" upload --profile ins secret "$T/secret.csv"

# --revoke-grants, and the audit log records rule changes.
check "grant bob claims" "$CDR" grant --profile ins claims --to bob@example.org
check "the insurer sets its rule again, revoking grants" \
  "$CDR" rule --profile ins claims --file "$T/crule.json" --revoke-grants
grep -q "revoked 1 grant" "$T/out" && pass "the revoked grant is counted" || fail "revoke: $(cat "$T/out")"
expect_error "bob's grant on claims is gone" rule_violation "$CDR" query --profile bob "SELECT amount FROM claims"
check "the owner reads the audit log" "$CDR" audit --profile ins --format json
grep -q '"op":"rule"' "$T/out" && grep -q '"action":"set"' "$T/out" && pass "rule changes are audit entries" \
  || fail "audit: $(head -c 600 "$T/out")"

# A restart keeps the rules.
stop_server "$SERVER_PID" || fail "stop"
restart_server "$R" URL || { fail "restart"; finish; }
got=$(q ana "$A")
want=$(ref "SELECT region, COUNT(DISTINCT patient_id), SUM(MAX(MIN(CAST(cost AS INTEGER), 5000), 0)) FROM patients
            GROUP BY region HAVING COUNT(DISTINCT patient_id) >= 5 ORDER BY region")
expect_eq "after a restart the rule still applies" "$got" "$want"
attack "after a restart, selecting the unit" "SELECT patient_id FROM patients"
check "after a restart the rule shows" "$CDR" rule --profile hosp patients --format json
grep -q '"min_units":5' "$T/out" && pass "the rule was sealed with the table" || fail "rule after restart: $(cat "$T/out")"

# Removing the rule: owner and grantees only again.
check "the hospital removes its rule" "$CDR" rule --profile hosp patients --remove
expect_error "without the rule ana reads nothing" access_denied "$CDR" query --profile ana \
  "SELECT region, COUNT(DISTINCT patient_id) FROM patients GROUP BY region"

grep -q "patients\|secret note\|diagnosis" "$T/server.log" && fail "table or column names in the server log" \
  || pass "no table or column names in the server log"
finish
