#!/usr/bin/env bash
# The invitation bundle carries the room's active contract hash (PROTOCOL
# 4.4.1), taken from the attestation `cdr room invite --url` makes, and
# `cdr enroll BUNDLE` attests the server before it spends the token and
# refuses (invite_contract_mismatch) a room whose enclave binds another
# contract than the bundle names: a bundle edited to name another hash,
# or one made before a version was activated.  A bundle without the
# contract fields (an older cdr's) still enrolls, with a note.  The new
# profile pins the contract it enrolled under.
. "$(dirname "$0")/lib.sh"
TOOL="$CDR_TEST_BIN_DIR/contract_tool"

R="$T/room"
new_room "$R" || { fail "room init"; finish; }
start_server "$R" URL || { fail "server start"; finish; }
user prov provider "$R" "$URL" && user ana analyst "$R" "$URL" || { fail "enroll"; finish; }
ZERO=$(printf '%064d' 0)

# bundle_field BUNDLE KEY: one field of the bundle, decoded by 4.4.1 alone.
bundle_field() {
  python3 - "$1" "$2" <<'PY'
import base64, json, sys
body = sys.argv[1][len("cdr-invite-1:"):]
j = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
print(j.get(sys.argv[2], "(absent)"))
PY
}
# rebundle BUNDLE HASH|drop: the bundle with another contract hash, or none.
rebundle() {
  python3 - "$1" "$2" <<'PY'
import base64, json, sys
body = sys.argv[1][len("cdr-invite-1:"):]
j = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
if sys.argv[2] == "drop":
    del j["contract_sha256"], j["contract_version"]
else:
    j["contract_sha256"] = sys.argv[2]
t = json.dumps(j, separators=(",", ":")).encode()
print("cdr-invite-1:" + base64.urlsafe_b64encode(t).decode().rstrip("="))
PY
}
bundle() { "$CDR" room invite "$R" --role analyst --name "$1" --url "$URL" 2>/dev/null | tail -n 1; }

# Before any version: the bundle names version 0 and 64 zeros.
B0=$(bundle early@example.org)
expect_eq "a bundle made before version 1 names version 0" "$(bundle_field "$B0" contract_version)" 0
expect_eq "and the zero hash" "$(bundle_field "$B0" contract_sha256)" "$ZERO"

# Version 1 becomes active.
"$CDR" attest --profile prov --format json >"$T/att.json" 2>/dev/null
M=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["measurement"])' "$T/att.json")
"$TOOL" draft "$R/ca.crt" "$M" 1 - "prov:provider,analyst:$T/prov.crt" "ana:analyst:$T/ana.crt" >"$T/v1.json" \
  || { fail "draft"; finish; }
H1=$(sha256sum "$T/v1.json" | cut -d' ' -f1)
"$CDR" contract propose --profile prov "$T/v1.json" >/dev/null 2>&1 && "$CDR" contract sign --profile prov "$H1" >/dev/null 2>&1 \
  && "$CDR" contract sign --profile ana "$H1" >/dev/null 2>&1 && pass "version 1 active" || fail "activate version 1"

"$CDR" keygen "$T/early.key" >/dev/null 2>&1
expect_error "a bundle from before the activation is refused at enrollment" invite_contract_mismatch \
  "$CDR" enroll "$B0" --key "$T/early.key" --profile early
grep -q "runs under contract version 1 ($H1), the invitation names version 0" "$T/err" \
  && pass "the refusal names both contracts" || fail "err: $(cat "$T/err")"
[ ! -e "$T/early.crt" ] && pass "nothing saved" || fail "early.crt written"

"$CDR" room invite "$R" --role analyst --name bob@example.org --url "$URL" >"$T/inv.out" 2>&1 || fail "invite"
B=$(tail -n 1 "$T/inv.out")
expect_eq "the bundle names the active version" "$(bundle_field "$B" contract_version)" 1
expect_eq "and its hash" "$(bundle_field "$B" contract_sha256)" "$H1"
grep -q "confirm the room CA fingerprint and the contract hash with a member" "$T/inv.out" \
  && pass "the inviter is told to have the newcomer confirm the hash" || fail "invite: $(cat "$T/inv.out")"

"$CDR" keygen "$T/bob.key" >/dev/null 2>&1
expect_error "a bundle naming another contract is refused" invite_contract_mismatch \
  "$CDR" enroll "$(rebundle "$B" "${H1:1}0")" --key "$T/bob.key" --profile bob
[ ! -e "$T/bob.crt" ] && pass "nothing saved, the token not spent" || fail "bob.crt written"
check "the real bundle enrolls (its token was not spent)" "$CDR" enroll "$B" --key "$T/bob.key" --profile bob
expect_eq "the profile pins the contract it enrolled under" "$(cat "$CDR_CONFIG_DIR/profiles/bob.contract")" "1 $H1"

B2=$(bundle carol@example.org)
"$CDR" keygen "$T/carol.key" >/dev/null 2>&1
check "a bundle without contract fields (an older cdr's) still enrolls" \
  "$CDR" enroll "$(rebundle "$B2" drop)" --key "$T/carol.key" --profile carol
grep -q "names no contract hash" "$T/err" && grep -q "$H1" "$T/err" \
  && pass "with a note naming the room's contract" || fail "note: $(cat "$T/err")"
finish
