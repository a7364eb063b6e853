#!/usr/bin/env bash
# Approved query templates through the real CLI and server
# (docs/RULES.md "Approved queries", PROTOCOL 4.7 op template): an
# analyst proposes a named text with :parameters; each owner of each
# table it reads sees the text and its hash, approves that hash (a wrong
# hash is refused) or rejects; it runs only once every owner approved,
# only for the members it names, with values bound (a value holding SQL
# is data); the result equals the sqlite3 CLI's on the same CSVs; a
# withdrawal stops it at once; it survives a restart; the audit log
# shows the owners the text.
. "$(dirname "$0")/lib.sh"

R="$T/room"
new_room "$R" "Templates room" || { fail "room init"; finish; }
start_server "$R" URL || { fail "server start"; finish; }
user hosp provider "$R" "$URL" && user ins provider "$R" "$URL" && user ana analyst "$R" "$URL" \
  && user bob analyst "$R" "$URL" || { fail "enroll"; finish; }
activate_contract "$R" hosp ins ana bob || { fail "activate the contract"; finish; }

python3 - "$T" <<'EOF'
import sys
t = sys.argv[1]
names = ["O'Brien", "Smith", "Jones", "x' OR 1=1 --y"]
with open(t + '/patients.csv', 'w') as f:
    f.write('patient_id,name,region,cost\n')
    for i in range(1, 41):
        name = names[i % 4] + ('' if i < 4 else str(i))
        if '"' in name or ',' in name:
            name = '"' + name.replace('"', '""') + '"'
        f.write('%d,%s,%s,%d\n' % (i, name, ['north', 'south', 'east'][i % 3], 100 * i))
with open(t + '/claims.csv', 'w') as f:
    f.write('patient_id,amount\n')
    for i in range(1, 61):
        f.write('%d,%d\n' % (i % 45 + 1, 7 * i))
EOF
check "the hospital uploads" "$CDR" upload --profile hosp patients "$T/patients.csv"
check "the insurer uploads" "$CDR" upload --profile ins claims "$T/claims.csv"
printf '{"mode":"template"}' >"$T/tmpl.json"
check "the hospital sets a template rule" "$CDR" rule --profile hosp patients --file "$T/tmpl.json"

SQL="SELECT p.region, COUNT(*) AS n, SUM(c.amount) AS total FROM patients p JOIN claims c ON c.patient_id = p.patient_id WHERE p.region = :region AND c.amount >= :min GROUP BY p.region"
check "the analyst proposes a template over both tables" \
  "$CDR" template --profile ana propose by_region "$SQL" --type min=integer --format json
python3 -c '
import json, sys
t = json.load(open(sys.argv[1]))["template"]
assert t["status"] == "pending", t
assert [o["owner"] for o in t["owners"]] == ["hosp@example.org", "ins@example.org"], t["owners"]
assert sorted(x["name"] for x in t["tables"]) == ["claims", "patients"], t["tables"]
assert t["params"] == [{"name": "region", "type": "text"}, {"name": "min", "type": "integer"}], t["params"]
assert t["for"] == ["ana@example.org"], t["for"]
' "$T/out" && pass "the enclave found the tables, their owners and the typed parameters" \
  || fail "propose answer: $(cat "$T/out")"

expect_error "a run before approval is refused" template_not_approved \
  "$CDR" query --profile ana --template by_region --param region=north --param min=0
expect_error "an ad-hoc query of the template table is still refused" rule_violation \
  "$CDR" query --profile ana "SELECT region FROM patients"

check "the hospital lists the proposals" "$CDR" template --profile hosp list --format json
HASH=$(python3 -c '
import json, sys
for t in json.load(open(sys.argv[1]))["templates"]:
    if t["name"] == "by_region":
        assert t["sql"] == sys.argv[2], t["sql"]
        print(t["sha256"])
' "$T/out" "$SQL")
[ ${#HASH} = 64 ] && pass "the owner sees the full text and its hash" || fail "list: $(cat "$T/out")"
check "the table view shows the text" "$CDR" template --profile hosp list
grep -qF "GROUP BY p.region" "$T/out" && grep -qF "$HASH" "$T/out" && pass "cdr template list prints text and hash" \
  || fail "list table: $(cat "$T/out")"

BAD=$(printf '%s' "$HASH" | tr '0123456789abcdef' '123456789abcdef0')
expect_error "approving another hash is refused" template_hash_mismatch \
  "$CDR" template --profile hosp approve by_region "$BAD"
expect_error "an analyst cannot approve" access_denied "$CDR" template --profile bob approve by_region "$HASH"
check "the hospital approves the hash it read" "$CDR" template --profile hosp approve by_region "$HASH"
expect_error "one owner of two is not enough" template_not_approved \
  "$CDR" query --profile ana --template by_region --param region=north --param min=0
check "the insurer approves" "$CDR" template --profile ins approve by_region "$HASH"

sqlite3 "$T/ref.db" <<EOF
.mode csv
.import $T/patients.csv patients
.import $T/claims.csv claims
EOF
run() { "$CDR" query --profile "$1" --format csv "${@:2}" 2>"$T/qerr" | tail -n +2 | tr -d '\r'; }
got=$(run ana --template by_region --param region=north --param min=100)
want=$(sqlite3 -csv "$T/ref.db" "SELECT p.region, COUNT(*), SUM(CAST(c.amount AS INTEGER)) FROM patients p
  JOIN claims c ON CAST(c.patient_id AS INTEGER) = CAST(p.patient_id AS INTEGER)
  WHERE p.region = 'north' AND CAST(c.amount AS INTEGER) >= 100 GROUP BY p.region")
expect_eq "the approved template's result equals sqlite3's" "$got" "$want"
[ -n "$got" ] && pass "the result is not empty" || fail "empty result: $(cat "$T/qerr")"

expect_error "a member the template does not name is refused" access_denied \
  "$CDR" query --profile bob --template by_region --param region=north --param min=0
expect_error "a value of the wrong type is refused, naming it" "params.min" \
  "$CDR" query --profile ana --template by_region --param region=north --param min=abc
expect_error "a missing parameter is refused, naming it" "params.min" \
  "$CDR" query --profile ana --template by_region --param region=north
expect_error "an unknown parameter is refused" "no parameter" \
  "$CDR" query --profile ana --template by_region --param region=north --param min=0 --param x=1

# Values are bound, never spliced: SQL in a value is a string to compare.
NSQL="SELECT name, cost FROM patients WHERE name = :name ORDER BY cost"
check "a name look-up is proposed" "$CDR" template --profile ana propose by_name "$NSQL" --for ana@example.org --for bob@example.org \
  --format json
H2=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["template"]["sha256"])' "$T/out")
check "its one owner approves" "$CDR" template --profile hosp approve by_name "$H2"
got=$(run bob --template by_name --param "name=x' OR 1=1 --")
expect_eq "an injection attempt returns nothing" "$got" ""
grep -q "cdr query:" "$T/qerr" && fail "the injection run failed: $(cat "$T/qerr")" || pass "the injection run succeeded"
got=$(run bob --template by_name --param "name=x' OR 1=1 --y")
expect_eq "the literal value matches its one row" "$got" "x' OR 1=1 --y,300"
got=$(run ana --template by_name --param "name=O'Brien4")
want=$(sqlite3 -separator , "$T/ref.db" "SELECT name, cost FROM patients WHERE name = 'O''Brien4'")
expect_eq "a quote in a value is data" "$got" "$want"
expect_eq "the row with the quote" "$got" "O'Brien4,400"

# What a proposal may not be.
expect_error "a write is refused" sql_denied "$CDR" template --profile ana propose wr "DELETE FROM patients"
expect_error "a positional parameter is refused" bad_request \
  "$CDR" template --profile ana propose pos "SELECT name FROM patients WHERE cost > ?"
expect_error "another member's name is taken" template_exists \
  "$CDR" template --profile bob propose by_region "SELECT name FROM patients"
expect_error "a table nobody shows the proposer is the uniform refusal" access_denied \
  "$CDR" template --profile ana propose probe "SELECT nosuch FROM claims"

# Persistence: the approvals survive a restart.
stop_server "$SERVER_PID"
restart_server "$R" URL || { fail "restart"; finish; }
got=$(run ana --template by_region --param region=north --param min=100)
want_region=$(sqlite3 -csv "$T/ref.db" "SELECT p.region, COUNT(*), SUM(CAST(c.amount AS INTEGER)) FROM patients p
  JOIN claims c ON CAST(c.patient_id AS INTEGER) = CAST(p.patient_id AS INTEGER)
  WHERE p.region = 'north' AND CAST(c.amount AS INTEGER) >= 100 GROUP BY p.region")
expect_eq "after a restart the approved template runs alike" "$got" "$want_region"

# A withdrawal by either owner is effective at once.
check "the insurer withdraws it" "$CDR" template --profile ins withdraw by_region
expect_error "a withdrawn template does not run" template_not_approved \
  "$CDR" query --profile ana --template by_region --param region=north --param min=0
check "the hospital rejects the look-up" "$CDR" template --profile hosp reject by_name
expect_error "a rejected template does not run" template_not_approved \
  "$CDR" query --profile bob --template by_name --param name=Smith

# An approval covers the owner who gave it: a table dropped and uploaded
# again by someone else is not covered.
check "a count of claims is proposed" "$CDR" template --profile ana propose nclaims "SELECT COUNT(*) FROM claims" \
  --format json
H3=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["template"]["sha256"])' "$T/out")
check "the insurer approves the count" "$CDR" template --profile ins approve nclaims "$H3"
expect_eq "the count runs" "$(run ana --template nclaims)" "60"
check "the insurer drops claims" "$CDR" drop --profile ins claims
check "the hospital uploads a table called claims" "$CDR" upload --profile hosp claims "$T/claims.csv"
expect_error "the new owner has not approved" template_not_approved "$CDR" query --profile ana --template nclaims
grep -q "now belongs to hosp@example.org" "$T/err" && pass "the refusal names the new owner" \
  || fail "owner change: $(cat "$T/err")"

# The audit log shows the owners the text, not only its hash.
check "the insurer reads the audit log" "$CDR" audit --profile ins --format json
python3 -c '
import json, sys, base64
text = open(sys.argv[1]).read()
assert "\"op\":\"template\"" in text, "no template entry"
assert "JOIN claims c ON c.patient_id = p.patient_id" in text, "no text"
assert "\"action\":\"approve\"" in text and "\"action\":\"withdraw\"" in text, "no approve/withdraw"
' "$T/out" && pass "the audit log shows the owner each action with the text" || fail "audit: $(head -c 800 "$T/out")"
finish
