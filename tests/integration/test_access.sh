#!/usr/bin/env bash
# Tables belong to their providers, through the real CLI and server: an
# upload is readable by its owner only; grants by name (with --columns) and
# by role; hidden columns against SELECT *, a join, a subquery, a CTE, a
# window function and a USING join; revoke-grant; only the owner may grant,
# hide, replace or drop; a replacement keeps the grants; `cdr tables` for
# owner, analyst and auditor.
. "$(dirname "$0")/lib.sh"

R="$T/room"
new_room "$R" "Access test room" || { fail "room init"; finish; }
start_server "$R" URL || { fail "server start"; finish; }
user hosp provider "$R" "$URL" && user clinic provider "$R" "$URL" && user ana analyst "$R" "$URL" \
  && user bob analyst "$R" "$URL" && user carol analyst "$R" "$URL" && user audit auditor "$R" "$URL" \
  || { fail "enroll"; finish; }
activate_contract "$R" hosp clinic ana bob carol audit || { fail "activate the contract"; finish; }

for c in tables grant revoke-grant hide drop upload; do
  "$CDR" "$c" --help >"$T/out" 2>&1 && grep -q "Usage: cdr $c" "$T/out" && pass "cdr $c --help" || fail "cdr $c --help"
done

printf 'id,name,ssn,diagnosis,age\n1,Alice,111-11-1111,flu,34\n2,Bob,222-22-2222,asthma,51\n3,Carol,333-33-3333,flu,27\n' >"$T/p.csv"
check "the hospital uploads patients (explicit URL --key --cert form)" \
  "$CDR" upload "$URL" --key "$T/hosp.key" --cert "$T/hosp.crt" patients "$T/p.csv"
check "the owner reads everything" "$CDR" query --profile hosp "SELECT ssn FROM patients WHERE id = 2" --format csv
expect_eq "owner's value" "$(tail -n 1 "$T/out" | tr -d "\r")" "222-22-2222"

# Nobody else, by default.
expect_error "an analyst without a grant is denied" access_denied "$CDR" query --profile ana "SELECT count(*) FROM patients"
grep -q "no access to table patients (no such table: patients, or one you may not read" "$T/err" \
  && pass "the denial names the table, not its owner (the same as for a missing table)" \
  || fail "denial text: $(cat "$T/err")"
expect_error "another provider without a grant is denied" access_denied \
  "$CDR" query --profile clinic "SELECT diagnosis FROM patients"

# A grant by name, for some columns.
check "grant ana three columns" "$CDR" grant "$URL" --key "$T/hosp.key" --cert "$T/hosp.crt" patients \
  --to ana@example.org --columns id,diagnosis,age
grep -q "granted ana@example.org read access to table patients: columns id, diagnosis, age" "$T/out" \
  && pass "grant says what it granted" || fail "grant output: $(cat "$T/out")"
check "ana reads the granted columns" "$CDR" query --profile ana \
  "SELECT diagnosis, count(*) AS n, sum(age) AS a FROM patients GROUP BY diagnosis ORDER BY diagnosis" --format csv
expect_eq "ana's aggregate" "$(tr -d '\r' <"$T/out" | tr '\n' ' ')" "diagnosis,n,a asthma,1,51 flu,2,61 "
expect_error "ana is denied a column she was not granted" access_denied \
  "$CDR" query --profile ana "SELECT name FROM patients"
grep -q "no access to column patients.name: your grant on patients does not include it" "$T/err" \
  && pass "the denial names the column" || fail "denial text: $(cat "$T/err")"
expect_error "ana's SELECT * is denied" access_denied "$CDR" query --profile ana "SELECT * FROM patients"
expect_error "ana cannot reach name through a WHERE clause" access_denied \
  "$CDR" query --profile ana "SELECT count(*) FROM patients WHERE name = 'Alice'"

# A whole-table grant, then a hidden column.
printf 'patient_id,cost\n1,100\n3,20\n' >"$T/v.csv"
check "the hospital uploads visits" "$CDR" upload --profile hosp visits "$T/v.csv"
check "grant bob every column of patients" "$CDR" grant --profile hosp patients --to bob@example.org
check "grant bob visits" "$CDR" grant --profile hosp visits --to bob@example.org
check "bob reads ssn before it is hidden" "$CDR" query --profile bob "SELECT ssn FROM patients WHERE id = 1" --format csv
check "the owner hides ssn" "$CDR" hide --profile hosp patients ssn
grep -q "column patients.ssn is hidden" "$T/out" && pass "hide says so" || fail "hide output: $(cat "$T/out")"
expect_error "SELECT * by bob is denied" access_denied "$CDR" query --profile bob "SELECT * FROM patients"
grep -q "no access to column patients.ssn: the column is hidden by its owner" "$T/err" \
  && pass "the denial names the hidden column" || fail "denial text: $(cat "$T/err")"
expect_error "a join cannot read the hidden column" access_denied "$CDR" query --profile bob \
  "SELECT p.ssn, v.cost FROM patients p JOIN visits v ON v.patient_id = p.id"
expect_error "a join condition cannot test it" access_denied "$CDR" query --profile bob \
  "SELECT v.cost FROM visits v JOIN patients p ON p.id = v.patient_id AND p.ssn LIKE '1%'"
expect_error "a USING join cannot test it" access_denied "$CDR" query --profile bob \
  "SELECT name FROM patients JOIN (SELECT '111-11-1111' AS ssn) USING (ssn)"
expect_error "a subquery cannot read it" access_denied "$CDR" query --profile bob \
  "SELECT name FROM patients WHERE id IN (SELECT id FROM patients WHERE ssn > '2')"
expect_error "a CTE cannot read it" access_denied "$CDR" query --profile bob \
  "WITH s AS (SELECT ssn FROM patients) SELECT count(*) FROM s"
expect_error "a window function cannot read it" access_denied "$CDR" query --profile bob \
  "SELECT name, rank() OVER (ORDER BY ssn) FROM patients"
expect_error "pragma_table_info is denied" sql_denied "$CDR" query --profile bob \
  "SELECT * FROM pragma_table_info('patients')"
check "bob still reads the rest, joined" "$CDR" query --profile bob \
  "SELECT p.name, v.cost FROM patients p JOIN visits v ON v.patient_id = p.id ORDER BY p.id" --format csv
expect_eq "bob's join" "$(tr -d '\r' <"$T/out" | tr '\n' ' ')" "name,cost Alice,100 Carol,20 "
check "the owner still reads the hidden column" "$CDR" query --profile hosp "SELECT count(ssn) FROM patients" --format csv

# A grant to a role.
expect_error "carol has no grant yet" access_denied "$CDR" query --profile carol "SELECT diagnosis FROM patients"
check "grant role:analyst two columns" "$CDR" grant --profile hosp patients --to role:analyst --columns diagnosis,age
check "carol reads through the role grant" "$CDR" query --profile carol "SELECT max(age) FROM patients" --format csv
expect_eq "carol's value" "$(tail -n 1 "$T/out" | tr -d "\r")" "51"
expect_error "the role grant does not cover id" access_denied "$CDR" query --profile carol "SELECT id FROM patients"
expect_error "the role grant does not reach providers" access_denied \
  "$CDR" query --profile clinic "SELECT diagnosis FROM patients"
check "revoke-grant role:analyst" "$CDR" revoke-grant --profile hosp patients --to role:analyst
grep -q "revoked the grant of role:analyst on table patients" "$T/out" && pass "revoke-grant says so" \
  || fail "revoke-grant output: $(cat "$T/out")"
expect_error "carol is denied again" access_denied "$CDR" query --profile carol "SELECT diagnosis FROM patients"
expect_error "revoking a grant that does not exist" not_found \
  "$CDR" revoke-grant --profile hosp patients --to role:analyst

# Only the owner manages a table; only providers own tables.
expect_error "another provider cannot drop it" access_denied "$CDR" drop --profile clinic patients
grep -q "table patients belongs to hosp@example.org: only its owner can drop it" "$T/err" \
  && pass "the refusal names table and owner" || fail "drop refusal: $(cat "$T/err")"
expect_error "another provider cannot replace it" access_denied \
  "$CDR" upload --profile clinic patients "$T/p.csv" --replace
expect_error "another provider cannot grant on it" access_denied \
  "$CDR" grant --profile clinic patients --to clinic@example.org
expect_error "another provider cannot hide its columns" access_denied "$CDR" hide --profile clinic patients name
expect_error "another provider cannot upload over it" table_exists "$CDR" upload --profile clinic patients "$T/p.csv"
expect_error "an analyst cannot grant" role_forbidden "$CDR" grant --profile ana patients --to bob@example.org
expect_error "an auditor cannot query" role_forbidden "$CDR" query --profile audit "SELECT 1"
expect_error "a grant naming a missing column" not_found \
  "$CDR" grant --profile hosp patients --to ana@example.org --columns id,nope
expect_error "a grant to an unknown role" bad_request "$CDR" grant --profile hosp patients --to role:admin
expect_error "--columns needs names" "expected\|comma-separated" \
  "$CDR" grant --profile hosp patients --to ana@example.org --columns id,,age

# cdr tables.
check "the owner lists its tables" "$CDR" tables --profile hosp
grep -q "^patients  owner hosp@example.org  3 rows  your access: owner" "$T/out" && pass "owner's table line" \
  || fail "owner's tables: $(cat "$T/out")"
grep -qE "^ +ssn +TEXT +\(hidden\)" "$T/out" && pass "the hidden column is marked" || fail "hidden mark: $(cat "$T/out")"
grep -q "grants: ana@example.org (id, diagnosis, age); bob@example.org (all columns)" "$T/out" \
  && pass "the owner sees the grants" || fail "grants line: $(cat "$T/out")"
check "ana lists hers" "$CDR" tables --profile ana
grep -q "^patients  owner hosp@example.org  3 rows  your access: some columns" "$T/out" && pass "ana's table line" \
  || fail "ana's tables: $(cat "$T/out")"
grep -qE "^ +name +TEXT +\(not granted\)" "$T/out" && pass "ungranted columns are marked" \
  || fail "not granted mark: $(cat "$T/out")"
grep -q "visits\|grants:" "$T/out" && fail "ana sees what she should not: $(cat "$T/out")" \
  || pass "ana sees neither visits nor the grants"
check "the auditor lists tables" "$CDR" tables --profile audit
grep -q "^no tables" "$T/out" && pass "the auditor sees none" || fail "auditor's tables: $(cat "$T/out")"
check "json format" "$CDR" tables --profile bob --format json
grep -q '"name":"visits"' "$T/out" && grep -q '"access":"all"' "$T/out" && pass "bob's list as JSON" \
  || fail "json list: $(cat "$T/out")"

# Replace by the owner: new rows; grants and the hidden flag carry over.
printf 'id,name,ssn,diagnosis,age\n7,Gina,777-77-7777,gout,60\n8,Hal,888-88-8888,gout,40\n' >"$T/p2.csv"
printf 'id,name\n1,2,3\n' >"$T/bad.csv"
expect_error "a failed replacement is refused" csv_invalid "$CDR" upload --profile hosp patients "$T/bad.csv" --replace
check "the old table is intact after it" "$CDR" query --profile ana "SELECT count(*) FROM patients" --format csv
expect_eq "old row count" "$(tail -n 1 "$T/out" | tr -d "\r")" "3"
check "the owner replaces patients" "$CDR" upload --profile hosp patients "$T/p2.csv" --replace
grep -q "replaced table patients: 2 rows" "$T/out" && pass "upload --replace says so" || fail "replace output: $(cat "$T/out")"
check "ana's grant survives and she sees the new data" "$CDR" query --profile ana \
  "SELECT diagnosis, sum(age) FROM patients GROUP BY diagnosis" --format csv
expect_eq "ana's new aggregate" "$(tail -n 1 "$T/out" | tr -d "\r")" "gout,100"
expect_error "ssn is still hidden" access_denied "$CDR" query --profile bob "SELECT ssn FROM patients"
expect_error "replacing a table that does not exist" not_found \
  "$CDR" upload --profile hosp nothere "$T/p2.csv" --replace

# Drop by the owner.
check "the owner drops patients" "$CDR" drop --profile hosp patients
grep -q "dropped table patients" "$T/out" && pass "drop says so" || fail "drop output: $(cat "$T/out")"
expect_error "the table is gone" access_denied "$CDR" query --profile ana "SELECT count(*) FROM patients"
check "ana's list is empty" "$CDR" tables --profile ana
grep -q "^no tables" "$T/out" && pass "nothing left for ana" || fail "ana's tables after drop: $(cat "$T/out")"
check "the name is free again" "$CDR" upload --profile clinic patients "$T/p.csv"

grep -q "patients\|ssn\|diagnosis" "$T/server.log" && fail "table or column names in the server log" \
  || pass "no table or column names in the server log"
finish
