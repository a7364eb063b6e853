#!/usr/bin/env bash
# demo.sh - the main job of CDR on embedded defaults (SoftHSM2 token, sim
# attestation, in-enclave SQLite), on loopback:
#   a room admin creates a room and invites three organisations;
#   three other organisations run history witnesses (f = 0, quorum 2);
#   the admin proposes the room contract, naming the witnesses, each
#   organisation reads it through the enclave and signs its hash, and it
#   becomes active;
#   St. Mary's Hospital (provider) uploads a patient CSV and an insurer
#   (provider) its claims, sharing the patient key; each owns its table
#   and sets an aggregate release rule on it (docs/RULES.md);
#   a research institute (analyst) lists what it can see, runs a joint
#   aggregate across both tables in which a small group is suppressed,
#   and has a row-level query refused with its reason;
#   the analyst's CLI prints the decrypted results;
#   the analyst verifies the audit log and asks the witnesses what they
#   hold.
# Run through `make demo`, which installs what is missing and builds first.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
CDR="$top/build/bin/cdr"
work=$(mktemp -d /tmp/cdr-demo.XXXXXX)
export CDR_CONFIG_DIR="$work/config"
export CDR_ALLOW_SIM=1
server=""
witnesses=()
cleanup() {
  local pid
  for pid in $server "${witnesses[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
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

step "Three other organisations start history witnesses (HTTPS; each prints its key fingerprint)"
# A throwaway TLS CA for the three witnesses on loopback; in a real room
# each witness has its own certificate from a CA its users trust.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=demo-witness-ca \
  -keyout "$work/wca.key" -out "$work/wca.crt" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
  -keyout "$work/wtls.key" -out "$work/wtls.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >"$work/wtls.ext"
openssl x509 -req -in "$work/wtls.csr" -CA "$work/wca.crt" -CAkey "$work/wca.key" -CAcreateserial -days 1 \
  -extfile "$work/wtls.ext" -out "$work/wtls.crt" 2>/dev/null
witness_urls=()
for n in 1 2 3; do
  "$CDR" witness serve --listen 127.0.0.1:0 --state "$work/witness$n" --allow-sim --tls-cert "$work/wtls.crt" \
    --tls-key "$work/wtls.key" --ready-file "$work/witness$n.ready" >"$work/witness$n.log" 2>&1 &
  witnesses+=("$!")
  for _ in $(seq 100); do [ -s "$work/witness$n.ready" ] && break; sleep 0.1; done
  witness_urls+=(--witness "$(head -n 1 "$work/witness$n.ready")")
  echo "witness $n: $(head -n 1 "$work/witness$n.ready"), $(grep -m1 '^witness key sha256:' "$work/witness$n.log")"
done

step "Room admin: propose the room contract (members' keys, names, roles; the CA; this enclave; the witnesses)"
measurement=$(sha256sum "$top/build/bin/cdr-enclave" | cut -d' ' -f1)
"$CDR" --quiet room propose "$work/room" --measurement "$measurement" "${witness_urls[@]}" \
  --witness-ca "$work/wca.crt" >"$work/propose.out"
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

step "Room admin: restart the server; the enclave takes up the contract's witnesses at start"
# A version that names witnesses takes effect at the next start: the
# enclave asks each witness for the latest head it holds before it
# serves, then has every batch of its log countersigned by a quorum.
kill -TERM "$server"
wait "$server" 2>/dev/null || true
rm -f "$work/ready"
# cdrd reaches the witnesses over HTTPS and trusts CURL_CA_BUNDLE for them.
CURL_CA_BUNDLE="$work/wca.crt" "$CDR" serve "$work/room" --listen "${url#*://}" --ready-file "$work/ready" \
  2>>"$work/server.log" &
server=$!
for _ in $(seq 300); do [ -s "$work/ready" ] && break; sleep 0.1; done
grep -m1 "witnesses confirmed the history" "$work/server.log" | sed 's/^.*\] //' || true

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

step "Analyst: verify the audit log, and ask each witness directly what it holds"
"$CDR" --quiet audit --verify --profile analyst --witness-ca "$work/wca.crt" >/dev/null

step "Done. The server log (the host's and the enclave's lines; no SQL, no data):"
sed 's/^/  /' "$work/server.log" | tail -n 8
