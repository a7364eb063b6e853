#!/usr/bin/env bash
# The room contract through the CLI (issue 10): a member proposes version
# 1 (`cdr contract propose`), every member reads it through the secure
# channel (`cdr contract`) and signs its hash (`cdr contract sign`); it
# activates only when cdr-gov-1's signers have all signed.  A signature
# over another hash (contract_mismatch) or by a key outside the version
# (not_a_member) is refused; a repeated signature changes nothing.  The
# operator's shortcut: a version without the only provider and with the
# operator's key as provider, signed by that key and the other member,
# never activates without the provider.  The chain and the pending
# version survive a restart (they are sealed commits).
. "$(dirname "$0")/lib.sh"
TOOL="$CDR_TEST_BIN_DIR/contract_tool"

R="$T/room"
new_room "$R" || { fail "room init"; finish; }
start_server "$R" URL || { fail "server start"; finish; }
user prov provider "$R" "$URL" && user ana analyst "$R" "$URL" && user eve provider "$R" "$URL" \
  || { fail "enroll"; finish; }

"$CDR" attest --profile prov >"$T/attest.out" 2>&1
M=$(awk '/^measurement:/ {print $2}' "$T/attest.out")
[ ${#M} -eq 64 ] && pass "the enclave's measurement" || { fail "measurement: $(cat "$T/attest.out")"; finish; }

# Version 1: prov provides and analyses, ana analyses (eve is not in it).
"$TOOL" draft "$R/ca.crt" "$M" 1 - "prov:provider,analyst:$T/prov.crt" "ana:analyst:$T/ana.crt" >"$T/v1.json" \
  && pass "draft version 1" || { fail "draft version 1"; finish; }
H1=$(sha256sum "$T/v1.json" | cut -d' ' -f1)

expect_error "nothing pending: a signature is refused" contract_no_pending "$CDR" contract sign --profile ana "$H1"
# A pin with no active version in the room (a host restarted from a sealed
# state from before activation): refused, for reading and before signing.
printf '1 %064d\n' 0 >"$CDR_CONFIG_DIR/profiles/ana.contract"
expect_error "a pinned profile refuses a room with no active version" contract_unpinned "$CDR" contract --profile ana
grep -q "no active contract version, but this profile pinned version 1" "$T/err" \
  && pass "the refusal names the pinned version" || fail "unpinned: $(cat "$T/err")"
expect_error "and refuses to sign there" contract_unpinned "$CDR" contract sign --profile ana "$H1"
rm -f "$CDR_CONFIG_DIR/profiles/ana.contract"
check "prov proposes version 1" "$CDR" contract propose --profile prov "$T/v1.json"
grep -q "\"sha256\":\"$H1\"" "$T/out" && pass "the enclave names the proposal by its hash" || fail "propose: $(cat "$T/out")"

check "ana reads the pending version" "$CDR" contract --profile ana
grep -q "pending contract: version 1, hash $H1" "$T/out" && grep -q "^no active contract" "$T/out" \
  && pass "ana sees version 1 pending, nothing active" || fail "contract: $(cat "$T/out")"
PROVFP=$(openssl x509 -in "$T/prov.crt" -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1)
grep -q "prov .*key $PROVFP  analyst,provider  (unconfirmed)" "$T/out" \
  && pass "members are shown with key fingerprints and roles, unconfirmed at first" || fail "members: $(cat "$T/out")"
grep -q "ana .*key [0-9a-f]\{64\}  analyst$" "$T/out" && pass "the user's own key is not marked" \
  || fail "own key: $(cat "$T/out")"
expect_error "a confirmation needs a 64-hex fingerprint" "64 hex digits" \
  "$CDR" contract confirm --profile ana prov@example.org abc
check "ana confirms prov's key out of band" "$CDR" contract confirm --profile ana prov@example.org "$PROVFP"
"$CDR" contract --profile ana >"$T/out" 2>&1
grep -q "prov .*key $PROVFP  analyst,provider$" "$T/out" && pass "a confirmed key is no longer marked" \
  || fail "after confirm: $(cat "$T/out")"

WRONG=$(printf '%064d' 0)
expect_error "a signature over another hash is refused" contract_mismatch "$CDR" contract sign --profile ana "$WRONG"
expect_error "a key outside the version cannot sign" not_a_member "$CDR" contract sign --profile eve "$H1"
check "prov signs" "$CDR" contract sign --profile prov "$H1"
grep -q '"missing":1' "$T/out" && grep -q '"result":"added"' "$T/out" && pass "one signature still missing" \
  || fail "sign: $(cat "$T/out")"
check "prov signs again" "$CDR" contract sign --profile prov "$H1"
grep -q '"result":"repeated"' "$T/out" && grep -q '"missing":1' "$T/out" && pass "a repeated signature changes nothing" \
  || fail "repeat: $(cat "$T/out")"
"$CDR" contract --profile ana --format json >"$T/c.json" 2>"$T/err"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["active"] is None and d["pending"]["missing"]==1' "$T/c.json" \
  && pass "not active with one signature missing" || fail "state: $(cat "$T/c.json" "$T/err")"
check "ana signs" "$CDR" contract sign --profile ana "$H1"
grep -q "now active" "$T/out" && pass "version 1 is active once every member signed" || fail "activate: $(cat "$T/out")"
check "the active version" "$CDR" contract --profile prov
grep -q "active contract: version 1, hash $H1" "$T/out" && pass "members see version 1 active" \
  || fail "contract: $(cat "$T/out")"
expect_error "a key outside the active version is refused at open" not_a_member "$CDR" contract --profile eve
expect_error "no pending version after activation" contract_no_pending "$CDR" contract sign --profile ana "$H1"
expect_error "a non-member cannot propose once a version is active" not_a_member \
  "$CDR" contract propose --profile eve "$T/v1.json"

# The operator's shortcut: version 2 drops prov (the only provider) and
# makes eve (the operator's key) a provider.  eve and ana sign; prov never does.
"$TOOL" draft "$R/ca.crt" "$M" 2 "$H1" "ana:analyst:$T/ana.crt" "eve:provider,analyst:$T/eve.crt" >"$T/v2.json" \
  || fail "draft version 2"
H2=$(sha256sum "$T/v2.json" | cut -d' ' -f1)
check "ana proposes version 2" "$CDR" contract propose --profile ana "$T/v2.json"
check "eve signs version 2" "$CDR" contract sign --profile eve "$H2"
check "ana signs version 2" "$CDR" contract sign --profile ana "$H2"
grep -q '"missing":1' "$T/out" && ! grep -q "now active" "$T/out" && pass "without the provider it does not activate" \
  || fail "sign v2: $(cat "$T/out")"

stop_server "$SERVER_PID"
restart_server "$R" URL || { fail "restart"; finish; }
"$CDR" contract --profile ana --format json >"$T/c.json" 2>"$T/err"
python3 - "$T/c.json" "$H1" "$H2" <<'PY' && pass "the chain and the pending version survive a restart" || fail "after restart: $(cat "$T/c.json" "$T/err")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["active"]["sha256"] == sys.argv[2] and d["active"]["version"] == 1
assert len(d["active"]["signatures"]) == 2
assert d["pending"]["sha256"] == sys.argv[3] and d["pending"]["missing"] == 1
PY
# Pins: ana's profile pinned version 1 when it first saw it active.
check "ana's pinned version 1 still follows" "$CDR" contract --profile ana
grep -q "^1 $H1$" "$CDR_CONFIG_DIR/profiles/ana.contract" && pass "the profile pins version 1 and its hash" \
  || fail "pin: $(cat "$CDR_CONFIG_DIR/profiles/ana.contract" 2>&1)"
# A proper version 2 (eve added as analyst): prov (the provider) and eve sign.
"$TOOL" draft "$R/ca.crt" "$M" 2 "$H1" "prov:provider,analyst:$T/prov.crt" "ana:analyst:$T/ana.crt" \
  "eve:analyst:$T/eve.crt" >"$T/v2b.json" || fail "draft version 2b"
H2B=$(sha256sum "$T/v2b.json" | cut -d' ' -f1)
check "ana proposes version 2 with eve" "$CDR" contract propose --profile ana "$T/v2b.json"
check "eve signs it" "$CDR" contract sign --profile eve "$H2B"
grep -q '"missing":1' "$T/out" && ! grep -q "now active" "$T/out" \
  && pass "a later version is not active with the provider's signature missing" || fail "v2b eve: $(cat "$T/out")"
check "prov signs it: active" "$CDR" contract sign --profile prov "$H2B"
grep -q "now active" "$T/out" || fail "v2b: $(cat "$T/out")"
check "ana's next read follows the signed chain" "$CDR" contract --profile ana
grep -q "contract pin moved from version 1 to version 2 ($H2B)" "$T/err" && pass "one line says the pin moved" \
  || fail "pin move: $(cat "$T/err")"
# A pin the room's chain does not follow (another room's, or a fork).
printf '1 %064d\n' 0 >"$CDR_CONFIG_DIR/profiles/prov.contract"
expect_error "a room whose contract does not follow the pin is refused" contract_unpinned "$CDR" contract --profile prov
expect_error "by every command that connects, not only contract" contract_unpinned "$CDR" tables --profile prov
rm -f "$CDR_CONFIG_DIR/profiles/prov.contract" "$CDR_CONFIG_DIR/profiles/prov.contract.json"

"$CDR" audit --profile prov --format json >"$T/audit.json" 2>"$T/err" || true
grep -q "contract_sha256" "$T/audit.json" && pass "contract operations are audit entries" || fail "audit: $(head -c 600 "$T/audit.json") $(cat "$T/err")"
finish
