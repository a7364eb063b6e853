#!/usr/bin/env bash
# Clients pin (issue 10 items 4-5, "Another enclave"): a profile remembers
# the room CA's fingerprint, the platform and measurement, and the latest
# contract version it has seen, and every command that connects refuses a
# room that does not follow from them:
#   - the operator restarts the room with another cdr-enclave binary
#     (which, the sealed state being bound to the measurement, runs only
#     on state of its own): the member's next command fails with
#     measurement_unpinned against the measurement pinned at first use;
#     --expect-measurement gets one command past that pin without moving
#     it (and the room's history, the audit head seen, still refuses the
#     other state); after version 1, the handoff to a build it does not
#     list is refused, and that build on its own state is contract_unpinned;
#   - a new build is accepted by a contract version that lists it, signed
#     by the provider, and gets the room through the handoff (cdr serve
#     --upgrade-to): the member's next command follows the signed chain,
#     says in one line that the pin moved and what changed, and works;
#   - the operator restarts the room from scratch under another CA (what a
#     TDX or Nitro room, which seals nothing, allows): ca_unpinned.
. "$(dirname "$0")/lib.sh"
TOOL="$CDR_TEST_BIN_DIR/contract_tool"
SERVE_ARGS=(--insecure-http) # the CA swap below must reach attestation, not fail at TLS

R="$T/room"
new_room "$R" || { fail "room init"; finish; }
start_server "$R" URL || { fail "server start"; finish; }
user prov provider "$R" "$URL" && user ana analyst "$R" "$URL" || { fail "enroll"; finish; }
# (No contract is active until further down: the room serves contract
# operations only, and `cdr contract` is the command that connects.)
P="$CDR_CONFIG_DIR/profiles/ana.json"
check "ana's first command" "$CDR" contract --profile ana
M1=$(sha256sum "$CDR_BIN_DIR/cdr-enclave" | cut -d' ' -f1)
python3 - "$P" "$M1" "$(openssl x509 -in "$R/ca.crt" -outform DER | sha256sum | cut -d' ' -f1)" <<'PY' \
  && pass "the profile pinned the CA, the platform and the measurement" || fail "profile: $(cat "$P")"
import json, sys
p = json.load(open(sys.argv[1]))
assert p["attest_platform"] == "sim" and p["attest_measurement"] == sys.argv[2] and p["ca_sha256"] == sys.argv[3], p
PY

# Another enclave: the same binary plus one byte (another SHA-256, still runs).
cp "$CDR_BIN_DIR/cdr-enclave" "$T/other-enclave" && printf 'x' >>"$T/other-enclave"
M2=$(sha256sum "$T/other-enclave" | cut -d' ' -f1)
swap() { # swap ENCLAVE: restart the room with that cdr-enclave.  The
  # sealed state is bound to the measurement (docs/ATTESTATION.md "Sealing
  # and upgrades"): another build starts only on state of its own (the
  # room's is set aside, as an operator swapping builds would have to),
  # and the room's own build gets the room's state back.
  stop_server "$SERVER_PID"
  if [ "$1" = "$CDR_BIN_DIR/cdr-enclave" ]; then
    [ -d "$T/state.real" ] && { rm -rf "$R/state"; mv "$T/state.real" "$R/state"; }
  else
    [ -d "$T/state.real" ] || mv "$R/state" "$T/state.real"
  fi
  SERVE_ARGS=(--insecure-http --enclave "$1")
  restart_server "$R" URL || { fail "restart with $1"; finish; }
}
upgrade_to() { # upgrade_to ENCLAVE: hand the room's state to that build (the contract accepts it), serve with it
  stop_server "$SERVER_PID"
  "$CDR" serve "$R" --insecure-http --listen 127.0.0.1:0 --upgrade-to "$1" >>"$T/server.log" 2>&1 \
    && pass "the room is handed to $1" || fail "upgrade: $(tail -3 "$T/server.log")"
  SERVE_ARGS=(--insecure-http --enclave "$1")
  restart_server "$R" URL || { fail "restart with $1"; finish; }
}
swap "$T/other-enclave"
expect_error "another enclave is refused on the member's next command" measurement_unpinned \
  "$CDR" tables --profile ana
grep -q "$M2" "$T/err" && grep -q "pinned $M1" "$T/err" && pass "the refusal names both measurements" \
  || fail "err: $(cat "$T/err")"
expect_error "and on any other command" measurement_unpinned "$CDR" query --profile ana "SELECT v FROM t"
# The other build runs on state of its own: --expect-measurement gets a
# command past the measurement pin, and the room's history (the audit
# head this member saw) still refuses it.
expect_error "--expect-measurement gets past the pin; a build on other state is still refused" audit_rollback \
  "$CDR" tables --profile ana --expect-measurement "$M2"
expect_error "without moving the pin" measurement_unpinned "$CDR" tables --profile ana

# Version 1 with the real build only; the other build is then refused by
# the contract's list.
swap "$CDR_BIN_DIR/cdr-enclave"
"$TOOL" draft "$R/ca.crt" "$M1" 1 - "prov@example.org:provider,analyst:$T/prov.crt" "ana@example.org:analyst:$T/ana.crt" >"$T/v1.json" \
  || { fail "draft"; finish; }
H1=$(sha256sum "$T/v1.json" | cut -d' ' -f1)
"$CDR" contract propose --profile prov "$T/v1.json" >/dev/null 2>&1 && "$CDR" contract sign --profile prov "$H1" >/dev/null 2>&1 \
  && "$CDR" contract sign --profile ana "$H1" >/dev/null 2>&1 && pass "version 1 active" || fail "activate"
check "ana's next command pins version 1" "$CDR" tables --profile ana
expect_eq "the contract pin" "$(cat "$CDR_CONFIG_DIR/profiles/ana.contract")" "1 $H1"
cmp -s "$T/v1.json" "$CDR_CONFIG_DIR/profiles/ana.contract.json" && pass "with its document" || fail "no pinned document"
# A build version 1 does not list: the running enclave refuses to hand
# it the room, and on state of its own the member refuses it.
stop_server "$SERVER_PID"
if "$CDR" serve "$R" --insecure-http --listen 127.0.0.1:0 --upgrade-to "$T/other-enclave" >>"$T/server.log" 2>&1; then
  fail "the room was handed to a build the contract does not list"
else
  grep -q "does not accept measurement $M2" "$T/server.log" && pass "the handoff to a build version 1 does not list is refused" \
    || fail "upgrade: $(tail -3 "$T/server.log")"
fi
restart_server "$R" URL || { fail "restart"; finish; }
swap "$T/other-enclave"
expect_error "a build the pinned contract does not list, on other state, is refused" contract_unpinned \
  "$CDR" tables --profile ana

# The upgrade: version 2 accepts both builds (prov, the provider, signs).
swap "$CDR_BIN_DIR/cdr-enclave"
"$TOOL" draft "$R/ca.crt" "$M1,$M2" 2 "$H1" "prov@example.org:provider,analyst:$T/prov.crt" "ana@example.org:analyst:$T/ana.crt" >"$T/v2.json" \
  || { fail "draft v2"; finish; }
H2=$(sha256sum "$T/v2.json" | cut -d' ' -f1)
"$CDR" contract propose --profile prov "$T/v2.json" >/dev/null 2>&1 && "$CDR" contract sign --profile prov "$H2" >"$T/out" 2>&1 \
  && grep -q "now active" "$T/out" && pass "version 2 active" || fail "activate v2: $(cat "$T/out")"
upgrade_to "$T/other-enclave"
check "the new build, accepted by a signed version, works" "$CDR" tables --profile ana
grep -q "contract pin moved from version 1 to version 2 ($H2) in profile ana: members +0 -0, 0 changed; measurements changed" \
  "$T/err" && pass "one line says what changed" || fail "move: $(cat "$T/err")"
expect_eq "the pin moved" "$(cat "$CDR_CONFIG_DIR/profiles/ana.contract")" "2 $H2"
# A pin that does not start the room's chain (a fork) is refused everywhere.
printf '2 %064d\n' 0 >"$CDR_CONFIG_DIR/profiles/ana.contract"
expect_error "a contract that does not follow the pin is refused" contract_unpinned "$CDR" tables --profile ana
printf '2 %s\n' "$H2" >"$CDR_CONFIG_DIR/profiles/ana.contract"

# Another CA: the room started afresh under a CA the operator made.
stop_server "$SERVER_PID"
new_room "$T/other" "other" || { fail "other room"; finish; }
mv "$R" "$T/room.real"
cp -a "$T/other" "$R"
python3 - "$T/room.real/room.json" "$R/room.json" <<'PY'
import json, sys
real = json.load(open(sys.argv[1])); fake = json.load(open(sys.argv[2]))
fake["room_id"] = real["room_id"]  # the same room id, another CA
json.dump(fake, open(sys.argv[2], "w"))
PY
SERVE_ARGS=(--insecure-http)
if restart_server "$R" URL; then
  expect_error "a room under another CA is refused by the profile's pin" ca_unpinned "$CDR" tables --profile ana
else
  fail "the room under another CA did not start: $(tail -5 "$T/server.log")"
fi
finish
