#!/usr/bin/env bash
# Release rules in mode dp, through the real CLI and server (docs/RULES.md
# "Differential privacy"): the owner sets a dp rule with epsilon_per_query
# 0.1 and epsilon_total 0.3; an analyst's COUNT and SUM answers are within
# a bound of the truth (computed here with the sqlite3 CLI, per privacy
# unit and clamped as the rule says) that the mechanism passes with
# probability above 1 - 1e-6; the same query again is answered the same,
# at no cost; the fourth distinct query finds the budget spent
# (budget_exhausted), and so it stays across a restart and an
# `upload --replace`; `cdr rule` shows 0.3 of 0.3 spent; every charge is
# an audit entry; selecting the unit is refused.  On the code before dp
# was wired, every dp query was refused (rule_violation, "not executed
# yet").
. "$(dirname "$0")/lib.sh"

R="$T/room"
new_room "$R" "DP room" || { fail "room init"; finish; }
start_server "$R" URL || { fail "server start"; finish; }
user hosp provider "$R" "$URL" && user ana analyst "$R" "$URL" || { fail "enroll"; finish; }
activate_contract "$R" hosp ana || { fail "activate the contract"; finish; }

# 1000 patients, one or two visits each; a patient's total cost can pass
# the rule's bound of 100, which clamps it.
python3 - "$T" <<'EOF'
import sys
t = sys.argv[1]
regions = ['north', 'south', 'east', 'west']
with open(t + '/visits.csv', 'w') as f:
    f.write('patient_id,region,cost\n')
    for i in range(1, 1001):
        f.write('%d,%s,%d\n' % (i, regions[i % 4], (i * 37) % 90))
        if i % 3 == 0:
            f.write('%d,%s,%d\n' % (i, regions[i % 4], (i * 11) % 60))
EOF
cat >"$T/rule.json" <<'EOF'
{"mode": "dp",
 "columns": {"patient_id": "privacy_unit", "region": "dimension",
             "cost": {"metric": ["sum", "count", "avg"], "bounds": [0, 100]}},
 "epsilon_per_query": 0.1, "epsilon_total": 0.3, "max_groups_per_unit": 1}
EOF
check "the hospital uploads visits" "$CDR" upload --profile hosp visits "$T/visits.csv"
check "the hospital sets its dp rule" "$CDR" rule --profile hosp visits --file "$T/rule.json"

# The truth, per privacy unit as the mechanism counts it: COUNT(*) counts
# patients, SUM(cost) adds each patient's own total clamped to [0, 100].
sqlite3 "$T/ref.db" <<EOF
.mode csv
.import $T/visits.csv visits
EOF
ref() { sqlite3 -csv "$T/ref.db" "$1"; }
true_n=$(ref "SELECT COUNT(DISTINCT patient_id) FROM visits")
true_sum=$(ref "SELECT SUM(MIN(MAX(s, 0), 100)) FROM (SELECT patient_id, SUM(CAST(cost AS INTEGER)) s FROM visits
                GROUP BY patient_id)")
true_north=$(ref "SELECT COUNT(DISTINCT patient_id) FROM visits WHERE region = 'north'")
q() { "$CDR" query --profile ana "$1" --format csv 2>"$T/qerr" | tail -n +2 | tr -d '\r'; }

# The bound.  Each answer is the truth plus discrete Laplace noise of
# scale b = max_groups_per_unit x bound x q / epsilon_per_query (RULES.md;
# q = 1 noisy number in each query here): b = 1 x 1 x 1 / 0.1 = 10 for a
# count, 1 x 100 x 1 / 0.1 = 1000 for the sum.  P(|noise| >= t) <=
# 2 exp(-t / b), so t = b ln(2 / 1e-7) = 16.82 b fails with probability
# below 1e-7 per answer: below 1e-6 for the three answers checked here.
within() { # NAME GOT TRUTH SCALE
  python3 - "$@" <<'EOF'
import math, sys
name, got, truth, b = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
t = b * math.log(2 / 1e-7)
try:
    g = float(got)
except ValueError:
    print("FAIL - %s: no number in [%s]" % (name, got)); sys.exit(1)
if abs(g - truth) <= t:
    print("ok - %s (%s, truth %g, bound %.1f)" % (name, got, truth, t))
else:
    print("FAIL - %s: %s is %g from the truth %g, bound %.1f" % (name, got, abs(g - truth), truth, t)); sys.exit(1)
EOF
  if [ $? -eq 0 ]; then PASSED=$((PASSED + 1)); else FAILED=$((FAILED + 1)); fi
}

Q1="SELECT COUNT(*) AS n FROM visits"
n1=$(q "$Q1")
[ -n "$n1" ] || fail "the first dp query: $(cat "$T/qerr")"
within "a noisy count of patients" "$n1" "$true_n" 10
n1b=$(q "select count(*) as n from visits")
expect_eq "the same query again gets the same answer (from the cache)" "$n1b" "$n1"
check "the rule shows what is spent" "$CDR" rule --profile ana visits --format json
grep -q '"epsilon_spent":"0.1"' "$T/out" && grep -q '"epsilon_left":"0.2"' "$T/out" \
  && pass "the repeat cost nothing: 0.1 spent, 0.2 left" || fail "budget after a repeat: $(cat "$T/out")"
s2=$(q "SELECT SUM(cost) AS s FROM visits")
within "a noisy sum of clamped per-patient totals" "$s2" "$true_sum" 1000
n3=$(q "SELECT COUNT(*) AS n FROM visits WHERE region = 'north'")
within "a noisy count with a filter" "$n3" "$true_north" 10
Q4="SELECT SUM(cost) AS s FROM visits WHERE region = 'south'"
expect_error "the fourth distinct query finds the budget spent" budget_exhausted "$CDR" query --profile ana "$Q4"
grep -q "0 of 0.3 is left" "$T/err" && grep -q "visits" "$T/err" \
  && pass "the refusal names the table and what is left" || fail "exhausted: $(cat "$T/err")"
check "the owner shows the rule" "$CDR" rule --profile hosp visits
grep -q "privacy budget: epsilon 0.3 of 0.3 spent, 0 left" "$T/out" && pass "cdr rule shows 0.3 of 0.3 spent" \
  || fail "rule: $(cat "$T/out")"
expect_error "selecting the unit" rule_violation "$CDR" query --profile ana "SELECT patient_id FROM visits"
grep -q "privacy unit" "$T/err" && pass "the refusal names the privacy unit" || fail "unit: $(cat "$T/err")"

check "the owner reads the audit log" "$CDR" audit --profile hosp --format json
charges=$(grep -o '"op":"dp_charge"' "$T/out" | wc -l)
expect_eq "one audit entry per charge" "$charges" "3"
grep -q '"epsilon":"0.1"' "$T/out" && grep -q '"epsilon_left":"0"' "$T/out" \
  && pass "the entries carry the charge and what is left" || fail "audit: $(head -c 800 "$T/out")"

# The budget is sealed: a restart does not give it back (not even for a
# query asked before: the cache is memory only, so it would be a new one).
stop_server "$SERVER_PID" || fail "stop"
restart_server "$R" URL || { fail "restart"; finish; }
expect_error "after a restart the budget is still spent" budget_exhausted "$CDR" query --profile ana "$Q4"
expect_error "after a restart an earlier query is not free" budget_exhausted "$CDR" query --profile ana "$Q1"
# It belongs to the table's name: a replacement does not refill it.
check "the owner replaces visits" "$CDR" upload --profile hosp visits "$T/visits.csv" --replace
expect_error "after upload --replace the budget is still spent" budget_exhausted \
  "$CDR" query --profile ana "SELECT COUNT(cost) AS c FROM visits"
check "after the replacement the rule shows" "$CDR" rule --profile ana visits
grep -q "privacy budget: epsilon 0.3 of 0.3 spent, 0 left" "$T/out" && pass "still 0.3 of 0.3 spent" \
  || fail "rule after replace: $(cat "$T/out")"

grep -q "visits\|patient_id" "$T/server.log" && fail "table or column names in the server log" \
  || pass "no table or column names in the server log"
finish
