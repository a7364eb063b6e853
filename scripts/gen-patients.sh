#!/usr/bin/env bash
# gen-patients.sh ROWS [SEED] - write a synthetic hospital CSV to stdout.
# Columns: patient_id,age,sex,diagnosis,systolic_bp,cost_eur,note
# Deterministic for a given seed; no real data.
set -euo pipefail
rows=${1:-1000}
seed=${2:-42}
awk -v n="$rows" -v seed="$seed" 'BEGIN {
  srand(seed);
  split("diabetes,hypertension,asthma,copd,\"heart failure\"", dx, ",");
  print "patient_id,age,sex,diagnosis,systolic_bp,cost_eur,note";
  for (i = 1; i <= n; i++) {
    d = dx[int(rand() * 5) + 1];
    age = 18 + int(rand() * 72);
    sex = (rand() < 0.5) ? "F" : "M";
    bp = 100 + int(rand() * 80);
    cost = sprintf("%.2f", 200 + rand() * 9800);
    note = (i % 7 == 0) ? "\"follow-up, cardiology\"" : "";
    printf "%d,%d,%s,%s,%d,%s,%s\n", 100000 + i, age, sex, d, bp, cost, note;
  }
}'
