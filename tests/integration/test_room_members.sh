#!/usr/bin/env bash
# `cdr room members ROOM` (issue 14): every certificate the room issued,
# with its key fingerprint and role, marked as in the active contract,
# pending only, or in neither, from the copy of the contract cdrd keeps
# (ROOM/contract.json, written from the enclave's IPC_CONTRACT_NOTICE at
# load and at every change; an untrusted display copy, which it says).
. "$(dirname "$0")/lib.sh"
TOOL="$CDR_TEST_BIN_DIR/contract_tool"

R="$T/room"
new_room "$R" || { fail "room init"; finish; }
start_server "$R" URL || { fail "server start"; finish; }
for u in prov:provider ana:analyst eve:analyst carol:auditor; do
  user "${u%%:*}" "${u#*:}" "$R" "$URL" || { fail "enroll ${u%%:*}"; finish; }
done
keyfp() { openssl x509 -in "$T/$1.crt" -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1; }

[ -s "$R/contract.json" ] && grep -q '"note": "untrusted copy' "$R/contract.json" \
  && pass "cdrd keeps the contract the enclave reported, marked as an untrusted copy" || fail "no ROOM/contract.json"
check "members before any contract" "$CDR" room members "$R" --format json
python3 - "$T/out" <<'PY' && pass "four certificates, none in a contract yet" || fail "members: $(cat "$T/out")"
import json, sys
m = json.load(open(sys.argv[1]))
assert sorted(x["name"] for x in m) == ["ana@example.org", "carol@example.org", "eve@example.org", "prov@example.org"], m
assert all(x["contract"] == "none" for x in m), m
PY

M=$("$CDR" attest --profile prov --format json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["measurement"])')
"$TOOL" draft "$R/ca.crt" "$M" 1 - "prov@example.org:provider,analyst:$T/prov.crt" "ana@example.org:analyst:$T/ana.crt" \
  >"$T/v1.json" || { fail "draft"; finish; }
H1=$(sha256sum "$T/v1.json" | cut -d' ' -f1)
"$CDR" contract propose --profile prov "$T/v1.json" >/dev/null 2>&1 && "$CDR" contract sign --profile prov "$H1" >/dev/null 2>&1 \
  && "$CDR" contract sign --profile ana "$H1" >/dev/null 2>&1 && pass "version 1 active" || fail "activate"
"$TOOL" draft "$R/ca.crt" "$M" 2 "$H1" "prov@example.org:provider,analyst:$T/prov.crt" "ana@example.org:analyst:$T/ana.crt" \
  "eve@example.org:analyst:$T/eve.crt" >"$T/v2.json" || { fail "draft v2"; finish; }
"$CDR" contract propose --profile ana "$T/v2.json" >/dev/null 2>&1 && pass "version 2 (adds eve) pending" || fail "propose v2"

check "members with a contract" "$CDR" room members "$R" --format json
python3 - "$T/out" "$(keyfp prov)" "$(keyfp eve)" <<'PY' && pass "active, pending and none, each with its key and roles" \
  || fail "members: $(cat "$T/out")"
import json, sys
m = {x["name"]: x for x in json.load(open(sys.argv[1]))}
assert m["prov@example.org"]["contract"] == "active" and m["prov@example.org"]["contract_roles"] == "analyst,provider"
assert m["prov@example.org"]["key_sha256"] == sys.argv[2] and m["prov@example.org"]["role"] == "provider"
assert m["ana@example.org"]["contract"] == "active"
assert m["eve@example.org"]["contract"] == "pending" and m["eve@example.org"]["key_sha256"] == sys.argv[3]
assert m["carol@example.org"]["contract"] == "none" and m["carol@example.org"]["contract_roles"] == ""
PY
check "csv" "$CDR" room members "$R" --format csv
head -n 1 "$T/out" | tr -d '\r' | grep -qx "name,role,key_sha256,contract,contract_roles" \
  && grep -q "^eve@example.org,analyst,$(keyfp eve),pending," "$T/out" && pass "csv: header and rows" \
  || fail "csv: $(cat "$T/out")"
check "table" "$CDR" room members "$R"
grep -q "carol@example.org" "$T/out" && grep -q "active version 1, pending version 2" "$T/err" \
  && pass "table: rows, and which versions the server reported" || fail "table: $(cat "$T/out" "$T/err")"
expect_error "an unknown format is a usage error" "format" "$CDR" room members "$R" --format xml
finish
