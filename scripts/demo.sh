#!/usr/bin/env bash
# demo.sh - the main job of CDR on embedded defaults (SoftHSM2 token, sim
# attestation, in-enclave SQLite), on loopback:
#   a room admin creates a room and invites three organisations;
#   the admin proposes the room contract, each organisation reads it
#   through the enclave and signs its hash, and it becomes active;
#   St. Mary's Hospital (provider) uploads a patient CSV and an insurer
#   (provider) its claims, sharing the patient key; each owns its table
#   and sets an aggregate release rule on it (docs/RULES.md);
#   a research institute (analyst) lists what it can see, runs a joint
#   aggregate across both tables in which a small group is suppressed,
#   and has a row-level query refused with its reason;
#   the analyst's CLI prints the decrypted results.
# Run through `make demo`, which installs what is missing and builds first.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
CDR="$top/build/bin/cdr"
work=$(mktemp -d /tmp/cdr-demo.XXXXXX)
export CDR_CONFIG_DIR="$work/config"
export CDR_ALLOW_SIM=1
server=""
cleanup() {
  if [ -n "$server" ]; then
    kill -TERM "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Room admin: create the data room (CA key generated inside SoftHSM2)"
"$CDR" room init "$work/room" --name "Cardiology research room"

step "Room admin: invite the hospital and the insurer (providers) and the research analyst"
hosp_token=$("$CDR" room invite "$work/room" --role provider --name data@stmarys-hospital.example | tail -n 1)
ins_token=$("$CDR" room invite "$work/room" --role provider --name claims@northwind-insurance.example | tail -n 1)
ana_token=$("$CDR" room invite "$work/room" --role analyst --name analyst@research-institute.example | tail -n 1)
echo "(three one-time enrollment tokens issued)"

step "Room admin: start the server (host cdrd + enclave cdr-enclave)"
"$CDR" serve "$work/room" --listen 127.0.0.1:0 --ready-file "$work/ready" 2>"$work/server.log" &
server=$!
for _ in $(seq 100); do [ -s "$work/ready" ] && break; sleep 0.1; done
url=$(head -n 1 "$work/ready")
echo "listening on $url"

step "Hospital: make a key pair and enroll"
"$CDR" keygen "$work/hospital.key"
"$CDR" enroll "$url" --key "$work/hospital.key" --token "$hosp_token" --out "$work/hospital.crt" --profile hospital

step "Insurer: make a key pair and enroll"
"$CDR" keygen "$work/insurer.key"
"$CDR" enroll "$url" --key "$work/insurer.key" --token "$ins_token" --out "$work/insurer.crt" --profile insurer

step "Analyst: make a key pair and enroll"
"$CDR" keygen "$work/analyst.key"
"$CDR" enroll "$url" --key "$work/analyst.key" --token "$ana_token" --out "$work/analyst.crt" --profile analyst

step "Analyst: verify the enclave's attestation"
"$CDR" attest --profile analyst --expect-measurement "$(sha256sum "$top/build/bin/cdr-enclave" | cut -d' ' -f1)"

echo "(from here on the demo runs cdr with --quiet: the sim warning above holds for every command)"

step "Room admin: propose the room contract (members' keys, names, roles; the CA; this enclave)"
measurement=$(sha256sum "$top/build/bin/cdr-enclave" | cut -d' ' -f1)
"$CDR" --quiet room propose "$work/room" --measurement "$measurement" >"$work/propose.out"
tail -n 3 "$work/propose.out"
hash=$(sed -n 's/.*contract hash \([0-9a-f]\{64\}\)$/\1/p' "$work/propose.out")
for _ in $(seq 100); do grep -q "contract version 1 ($hash) is pending" "$work/server.log" && break; sleep 0.1; done

step "Each organisation reads the contract through the enclave and signs its hash"
seen=""
# The whole draft once (the hospital's view); the others see the same
# hash, printed below, and sign it.
"$CDR" --quiet contract --profile hospital
for who in hospital insurer analyst; do
  seen="$seen $who:$("$CDR" --quiet contract --profile "$who" --format json 2>/dev/null |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["pending"]["sha256"])')"
  printf "%s: " "$who"; "$CDR" --quiet contract sign --profile "$who" "$hash" | head -n 1
done
echo "contract hash every member saw:$seen"
"$CDR" --quiet contract --profile analyst 2>/dev/null | head -n 1

step "Room admin: the members, their keys and where each stands in the contract"
for _ in $(seq 100); do grep -q '"version": 1' "$work/room/contract.json" 2>/dev/null && break; sleep 0.1; done
"$CDR" --quiet room members "$work/room" 2>/dev/null

step "Hospital: upload 5,000 patient records (encrypted to the enclave)"
bash "$top/scripts/gen-patients.sh" 5000 2026 >"$work/patients.csv"
"$CDR" --quiet upload --profile hospital patients "$work/patients.csv"
rm -f "$work/patients.csv"

step "Insurer: upload its claims, keyed by the same patient ids"
# Plans basic and premium for many patients; "experimental" for four only.
awk 'BEGIN {
  srand(7); print "patient_id,plan,amount_eur";
  for (i = 1; i <= 5000; i++) {
    if (i <= 4) { printf "%d,experimental,%.2f\n", 100000 + i, 20000 + rand() * 5000; continue }
    if (rand() < 0.4) continue;
    n = 1 + int(rand() * 3); plan = (i % 3 == 0) ? "premium" : "basic";
    for (k = 0; k < n; k++) printf "%d,%s,%.2f\n", 100000 + i, plan, 50 + rand() * 3000;
  }
}' >"$work/claims.csv"
"$CDR" --quiet upload --profile insurer claims "$work/claims.csv"
rm -f "$work/claims.csv"

step "Both owners set an aggregate release rule: at least 10 distinct patients behind every number"
cat >"$work/patients-rule.json" <<'RULE'
{"mode": "aggregate",
 "columns": {"patient_id": "privacy_unit", "diagnosis": "dimension", "sex": "dimension",
             "age": {"metric": ["avg", "count"], "bounds": [0, 120]},
             "cost_eur": {"metric": ["sum", "avg"], "bounds": [0, 10000]}, "note": "hidden"},
 "min_units": 10}
RULE
cat >"$work/claims-rule.json" <<'RULE'
{"mode": "aggregate",
 "columns": {"patient_id": "privacy_unit", "plan": "dimension",
             "amount_eur": {"metric": ["sum", "avg", "count"], "bounds": [0, 50000]}},
 "min_units": 10}
RULE
"$CDR" --quiet rule --profile hospital patients --file "$work/patients-rule.json"
"$CDR" --quiet rule --profile insurer claims --file "$work/claims-rule.json"
"$CDR" --quiet rule --profile analyst claims

step "Analyst: the tables it can query, under their owners' rules"
"$CDR" --quiet tables --profile analyst

step "Insurer (owner, reads its own rows): patients per plan"
"$CDR" --quiet query --profile insurer --format table \
  "SELECT plan, count(DISTINCT patient_id) AS patients FROM claims GROUP BY plan ORDER BY plan"

step "Analyst: joint aggregate across both owners' tables (the 4-patient plan is suppressed)"
"$CDR" --quiet query --profile analyst --format table \
  "SELECT c.plan, COUNT(DISTINCT p.patient_id) AS patients, COUNT(*) AS claims, SUM(c.amount_eur) AS claimed_eur
     FROM patients p JOIN claims c ON c.patient_id = p.patient_id
    GROUP BY c.plan ORDER BY c.plan"

step "Analyst: aggregate over the hospital's table alone"
"$CDR" --quiet query --profile analyst --format table \
  "SELECT diagnosis, COUNT(DISTINCT patient_id) AS patients, AVG(age) AS mean_age, SUM(cost_eur) AS total_cost_eur
     FROM patients GROUP BY diagnosis ORDER BY patients DESC"

step "Analyst: a row-level query is refused before it runs, with its reason"
"$CDR" --quiet query --profile analyst "SELECT patient_id, diagnosis FROM patients LIMIT 3" || true

step "Done. The server log (the host's and the enclave's lines; no SQL, no data):"
sed 's/^/  /' "$work/server.log" | tail -n 8
