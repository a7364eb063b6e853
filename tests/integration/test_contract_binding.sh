#!/usr/bin/env bash
# The active contract is bound to the attestation (issue 10 item 4,
# PROTOCOL 4.5): report_data covers the contract hash, so a host that
# names another contract than the one the enclave runs under is caught.
# Before version 1 is active the evidence binds 64 zeros (version 0);
# afterwards the hash members signed.  A proxy standing for the host
# rewrites the attestation answer's contract_sha256: every client check
# fails with attestation_report_data_mismatch, before and after
# activation.
. "$(dirname "$0")/lib.sh"
TOOL="$CDR_TEST_BIN_DIR/contract_tool"
SERVE_ARGS=(--insecure-http) # the proxy speaks plain HTTP on loopback

R="$T/room"
new_room "$R" || { fail "room init"; finish; }
start_server "$R" URL || { fail "server start"; finish; }
user prov provider "$R" "$URL" && user ana analyst "$R" "$URL" || { fail "enroll"; finish; }
ZERO=$(printf '%064d' 0)

check "attest before any contract" "$CDR" attest --profile prov --format json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["contract_version"]==0 and d["contract_sha256"]==sys.argv[2], d' \
  "$T/out" "$ZERO" && pass "no active version: the evidence binds version 0, 64 zeros" || fail "attest: $(cat "$T/out")"
M=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["measurement"])' "$T/out")

# start_proxy MODE VAR (as in test_tampering_proxy.sh)
start_proxy() {
  local ready="$T/mitm.$1"
  "$CDR_TEST_BIN_DIR/mitm" "$URL" "$1" "$ready" &
  SERVER_PIDS+=("$!")
  for _ in $(seq 50); do [ -s "$ready" ] && break; sleep 0.1; done
  printf -v "$2" '%s' "$(head -n 1 "$ready")"
}
start_proxy contract P
expect_error "a host naming a contract the enclave does not run under is refused" attestation_report_data_mismatch \
  "$CDR" attest "$P" --ca "$R/ca.crt"
grep -q "contract hash" "$T/err" && pass "the refusal says what the evidence does not bind" || fail "err: $(cat "$T/err")"

# Version 1, signed by both members: the evidence now binds its hash.
"$TOOL" draft "$R/ca.crt" "$M" 1 - "prov:provider,analyst:$T/prov.crt" "ana:analyst:$T/ana.crt" >"$T/v1.json" \
  || { fail "draft"; finish; }
H1=$(sha256sum "$T/v1.json" | cut -d' ' -f1)
"$CDR" contract propose --profile prov "$T/v1.json" >/dev/null 2>&1 && "$CDR" contract sign --profile prov "$H1" >/dev/null 2>&1 \
  && "$CDR" contract sign --profile ana "$H1" >/dev/null 2>&1 && pass "version 1 signed" || fail "sign version 1"
check "attest after activation" "$CDR" attest --profile ana --format json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["contract_version"]==1 and d["contract_sha256"]==sys.argv[2], d' \
  "$T/out" "$H1" && pass "the evidence binds version 1's hash" || fail "attest: $(cat "$T/out")"
check "attest table output" "$CDR" attest --profile ana
grep -q "^contract:     version 1, $H1" "$T/out" && pass "cdr attest shows the bound contract" || fail "$(cat "$T/out")"
expect_error "a rewritten contract hash is refused after activation too" attestation_report_data_mismatch \
  "$CDR" attest "$P" --ca "$R/ca.crt"
expect_error "and by a command that would send a query" attestation_report_data_mismatch \
  "$CDR" query "$P" --key "$T/ana.key" --cert "$T/ana.crt" "SELECT 1"
finish
