#!/usr/bin/env bash
# Release rules in mode list, through the real CLI and server
# (docs/RULES.md): SELECT DISTINCT of list columns over an inner join of
# two owners' tables on their join columns; the result compared with the
# same CSVs through the sqlite3 CLI; what a list rule refuses (the join
# column itself, aggregates, one table alone, a table joined to itself,
# an outer join, a hidden column, a subquery); and a list table cannot be
# combined with an aggregate one.
. "$(dirname "$0")/lib.sh"

R="$T/room"
new_room "$R" "List rules room" || { fail "room init"; finish; }
start_server "$R" URL || { fail "server start"; finish; }
user shop provider "$R" "$URL" && user bank provider "$R" "$URL" && user ana analyst "$R" "$URL" \
  || { fail "enroll"; finish; }
activate_contract "$R" shop bank ana || { fail "activate the contract"; finish; }

python3 - "$T" <<'EOF'
import sys
t = sys.argv[1]
with open(t + '/shop.csv', 'w') as f:
    f.write('email_hash,segment,age\n')
    for i in range(1, 31):
        f.write('h%02d,%s,%d\n' % (i, ['sport', 'books', 'garden'][i % 3], 20 + i))
with open(t + '/bank.csv', 'w') as f:
    f.write('email_hash,plan,income\n')
    for i in range(20, 41):
        f.write('h%02d,%s,%d\n' % (i, 'gold' if i % 2 else 'basic', 1000 * i))
EOF
printf '{"mode":"list","columns":{"email_hash":"join","segment":"list","age":"hidden"}}' >"$T/shop.json"
printf '{"mode":"list","columns":{"email_hash":"join","plan":"list"}}' >"$T/bank.json"
printf '{"mode":"aggregate","columns":{"email_hash":"privacy_unit","plan":"dimension"},"min_units":5}' >"$T/agg.json"
check "the shop uploads" "$CDR" upload --profile shop customers "$T/shop.csv"
check "the bank uploads" "$CDR" upload --profile bank clients "$T/bank.csv"
check "the bank uploads a second table" "$CDR" upload --profile bank accounts "$T/bank.csv"
check "the shop sets a list rule" "$CDR" rule --profile shop customers --file "$T/shop.json"
check "the bank sets a list rule" "$CDR" rule --profile bank clients --file "$T/bank.json"
check "the bank sets an aggregate rule on accounts" "$CDR" rule --profile bank accounts --file "$T/agg.json"

sqlite3 "$T/ref.db" <<EOF
.mode csv
.import $T/shop.csv customers
.import $T/bank.csv clients
EOF
L="SELECT DISTINCT c.segment, k.plan FROM customers c JOIN clients k ON k.email_hash = c.email_hash ORDER BY 1, 2"
got=$("$CDR" query --profile ana "$L" --format csv 2>"$T/qerr" | tail -n +2 | tr -d '\r')
want=$(sqlite3 -csv "$T/ref.db" "SELECT DISTINCT c.segment, k.plan FROM customers c JOIN clients k
                                  ON k.email_hash = c.email_hash ORDER BY 1, 2")
expect_eq "the list of matched segments and plans" "$got" "$want"
[ -n "$got" ] && pass "the list is not empty" || fail "empty list: $(cat "$T/qerr")"
got=$("$CDR" query --profile ana "SELECT c.segment FROM customers c JOIN clients k ON k.email_hash = c.email_hash ORDER BY 1" \
  --format csv 2>"$T/qerr" | tail -n +2 | tr -d '\r')
want=$(sqlite3 -csv "$T/ref.db" "SELECT DISTINCT c.segment FROM customers c JOIN clients k
                                  ON k.email_hash = c.email_hash ORDER BY 1")
expect_eq "a list query is always DISTINCT" "$got" "$want"

attack() {
  expect_error "$1" rule_violation "$CDR" query --profile ana "$2"
  grep -q "list rule of" "$T/err" && pass "$1: the refusal names the rule" || fail "$1: $(cat "$T/err")"
}
attack "selecting the join column" \
  "SELECT DISTINCT c.email_hash FROM customers c JOIN clients k ON k.email_hash = c.email_hash"
attack "an aggregate" \
  "SELECT c.segment, COUNT(*) FROM customers c JOIN clients k ON k.email_hash = c.email_hash GROUP BY c.segment"
attack "one table alone" "SELECT DISTINCT segment FROM customers"
attack "a table joined to itself" \
  "SELECT DISTINCT a.segment FROM customers a JOIN customers b ON b.email_hash = a.email_hash"
attack "an outer join" \
  "SELECT DISTINCT c.segment FROM customers c LEFT JOIN clients k ON k.email_hash = c.email_hash"
attack "filtering on the join column" \
  "SELECT DISTINCT c.segment FROM customers c JOIN clients k ON k.email_hash = c.email_hash WHERE c.email_hash = 'h21'"
attack "a subquery" \
  "SELECT DISTINCT c.segment FROM customers c JOIN (SELECT * FROM clients) k ON k.email_hash = c.email_hash"
expect_error "a list table with an aggregate one" rule_violation "$CDR" query --profile ana \
  "SELECT DISTINCT c.segment FROM customers c JOIN accounts a ON a.email_hash = c.email_hash"
grep -q "one mode" "$T/err" && pass "the refusal says a query combines one mode" || fail "modes: $(cat "$T/err")"
expect_error "a hidden column" sql_error "$CDR" query --profile ana \
  "SELECT DISTINCT c.age FROM customers c JOIN clients k ON k.email_hash = c.email_hash"
grep -q "20\|21\|sport" "$T/err" && fail "data in the error: $(cat "$T/err")" || pass "no data in the error"
finish
