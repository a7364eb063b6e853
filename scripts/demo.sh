#!/usr/bin/env bash
# demo.sh - the main job of CDR on embedded defaults (SoftHSM2 token, sim
# attestation, in-enclave SQLite), on loopback:
#   a room admin creates a room and invites two organisations;
#   the admin proposes the room contract, each organisation reads it
#   through the enclave and signs its hash, and it becomes active;
#   St. Mary's Hospital (provider) uploads a patient CSV, which it owns,
#   hides its free-text notes and lets analysts read the rest;
#   a research institute (analyst) lists what it can see and runs an
#   aggregate query;
#   the analyst's CLI prints the decrypted result.
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

step "Room admin: invite the hospital (provider) and the research analyst"
hosp_token=$("$CDR" room invite "$work/room" --role provider --name data@stmarys-hospital.example | tail -n 1)
ana_token=$("$CDR" room invite "$work/room" --role analyst --name analyst@research-institute.example | tail -n 1)
echo "(two one-time enrollment tokens issued)"

step "Room admin: start the server (host cdrd + enclave cdr-enclave)"
"$CDR" serve "$work/room" --listen 127.0.0.1:0 --ready-file "$work/ready" 2>"$work/server.log" &
server=$!
for _ in $(seq 100); do [ -s "$work/ready" ] && break; sleep 0.1; done
url=$(head -n 1 "$work/ready")
echo "listening on $url"

step "Hospital: make a key pair and enroll"
"$CDR" keygen "$work/hospital.key"
"$CDR" enroll "$url" --key "$work/hospital.key" --token "$hosp_token" --out "$work/hospital.crt" --profile hospital

step "Analyst: make a key pair and enroll"
"$CDR" keygen "$work/analyst.key"
"$CDR" enroll "$url" --key "$work/analyst.key" --token "$ana_token" --out "$work/analyst.crt" --profile analyst

step "Analyst: verify the enclave's attestation"
"$CDR" attest --profile analyst --expect-measurement "$(sha256sum "$top/build/bin/cdr-enclave" | cut -d' ' -f1)"

step "Room admin: propose the room contract (members' keys, names, roles; the CA; this enclave)"
measurement=$(sha256sum "$top/build/bin/cdr-enclave" | cut -d' ' -f1)
"$CDR" room propose "$work/room" --measurement "$measurement" >"$work/propose.out"
tail -n 3 "$work/propose.out"
hash=$(sed -n 's/.*contract hash \([0-9a-f]\{64\}\)$/\1/p' "$work/propose.out")
for _ in $(seq 100); do grep -q "contract version 1 ($hash) is pending" "$work/server.log" && break; sleep 0.1; done

step "Each organisation reads the contract through the enclave and signs its hash"
seen=""
for who in hospital analyst; do
  "$CDR" contract --profile "$who"
  seen="$seen $who:$("$CDR" contract --profile "$who" --format json 2>/dev/null |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["pending"]["sha256"])')"
  "$CDR" contract sign --profile "$who" "$hash" | head -n 1
done
echo "contract hash every member saw:$seen"
"$CDR" contract --profile analyst 2>/dev/null | head -n 1

step "Room admin: the members, their keys and where each stands in the contract"
for _ in $(seq 100); do grep -q '"version": 1' "$work/room/contract.json" 2>/dev/null && break; sleep 0.1; done
"$CDR" room members "$work/room" 2>/dev/null

step "Hospital: upload 5,000 patient records (encrypted to the enclave)"
bash "$top/scripts/gen-patients.sh" 5000 2026 >"$work/patients.csv"
"$CDR" upload --profile hospital patients "$work/patients.csv"
rm -f "$work/patients.csv"

step "Hospital: hide the free-text note column, then let analysts read the table"
"$CDR" hide --profile hospital patients note
"$CDR" grant --profile hospital patients --to role:analyst

step "Analyst: the tables it can see, and its access"
"$CDR" tables --profile analyst

step "Analyst: the hidden column stays in the enclave"
"$CDR" query --profile analyst "SELECT patient_id, note FROM patients LIMIT 3" || true

step "Analyst: aggregate query, decrypted only on the analyst's machine"
"$CDR" query --profile analyst --format table \
  "SELECT diagnosis, count(*) AS patients, round(avg(age), 1) AS mean_age,
          round(avg(systolic_bp), 1) AS mean_systolic_bp, round(sum(cost_eur), 2) AS total_cost_eur
     FROM patients GROUP BY diagnosis ORDER BY patients DESC"

step "Done. The server log (the host's and the enclave's lines; no SQL, no data):"
sed 's/^/  /' "$work/server.log" | tail -n 8
