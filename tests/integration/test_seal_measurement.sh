#!/usr/bin/env bash
# Sealing is bound to the enclave's measurement (sim as on SEV-SNP,
# docs/ATTESTATION.md "Sealing and upgrades"): a cdr-enclave whose
# measurement differs from the one that sealed the room cannot read its
# sealed state.  The other build here is this build's cdr-enclave with
# one byte appended (a valid executable whose SHA-256, the sim
# measurement, differs: what a one-define rebuild gives, without a second
# build on a shared machine).  It is refused before anything is unsealed,
# with sealed_for_another_enclave naming both measurements; no file of
# ROOM/state changes; the original binary then starts the room with
# every table.
. "$(dirname "$0")/lib.sh"

R="$T/room"
new_room "$R" || { fail "room init"; finish; }
start_server "$R" URL || { fail "server start"; finish; }
user prov provider "$R" "$URL" || { fail "enroll"; finish; }
activate_contract "$R" prov || { fail "activate the contract"; finish; }
printf 'k,v\n1,a\n2,b\n3,c\n' >"$T/a.csv"
printf 'n\n10\n20\n' >"$T/b.csv"
"$CDR" upload --profile prov alpha "$T/a.csv" >/dev/null 2>&1 || fail "upload alpha"
"$CDR" upload --profile prov beta "$T/b.csv" >/dev/null 2>&1 || fail "upload beta"
q() { "$CDR" query --profile prov "$1" --format csv 2>"$T/qerr" | tr -d '\r' | tail -n +2; }
expect_eq "alpha before" "$(q "SELECT count(*) FROM alpha")" "3"
OURS=$(sha256sum "$CDR_BIN_DIR/cdr-enclave" | cut -d' ' -f1)
stop_server "$SERVER_PID"

# The blob the host stores names the measurement its root is wrapped for.
head -c 8 "$R/state/identity.sealed" | grep -q "CDRROOT1" && pass "the sealed identity carries the wrapped root" \
  || fail "no root header in state/identity.sealed"

OTHER="$T/other/cdr-enclave"
mkdir -p "$T/other"
cp "$CDR_BIN_DIR/cdr-enclave" "$OTHER"
printf '\0' >>"$OTHER"
THEIRS=$(sha256sum "$OTHER" | cut -d' ' -f1)
[ "$OURS" != "$THEIRS" ] && pass "the other build has another measurement" || fail "same measurement"

(cd "$R/state" && find . -type f -exec sha256sum {} + | sort) >"$T/sums.before"
: >"$T/server.log"
SERVE_ARGS=(--enclave "$OTHER")
if start_server "$R" URL2 >/dev/null 2>&1; then
  fail "another build started the room"
  stop_server "$SERVER_PID"
else
  pass "another build does not start the room"
fi
SERVE_ARGS=()
grep -q "sealed_for_another_enclave" "$T/server.log" && pass "refused as sealed_for_another_enclave" \
  || fail "no sealed_for_another_enclave: $(tail -5 "$T/server.log")"
grep -q "belongs to enclave measurement $OURS, not this one ($THEIRS)" "$T/server.log" \
  && pass "the refusal names both measurements" || fail "measurements not named: $(grep -i measurement "$T/server.log" | tail -3)"
grep -q "or hand it to this one from that one (--upgrade-to PATH)" "$T/server.log" && pass "cdrd says what to do" \
  || fail "cdrd's line: $(tail -3 "$T/server.log")"
grep -q "manifest version" "$T/server.log" && fail "the other build loaded the manifest" \
  || pass "nothing was loaded"
(cd "$R/state" && find . -type f -exec sha256sum {} + | sort) >"$T/sums.after"
cmp -s "$T/sums.before" "$T/sums.after" && pass "no file of the sealed state changed" \
  || fail "state changed: $(diff "$T/sums.before" "$T/sums.after")"

# (A header rewritten to claim the other measurement authenticates under
# no key: tests/unit/test_ca_bind.c.)  The original build: every table.
restart_server "$R" URL || { fail "the original build starts the room again"; finish; }
expect_eq "alpha after" "$(q "SELECT count(*) FROM alpha")" "3"
expect_eq "beta after" "$(q "SELECT sum(n) FROM beta")" "30"
finish
