#!/usr/bin/env bash
# `cdr room propose ROOM --witness URL ... --witness-faults F` (issue 13):
# each witness is asked for its key (GET /v1/witness/key) and the draft
# names its URL and key fingerprint, sorted by key; n >= 3f + 1 is
# enforced with a message that says why; a URL that is not https://, an
# unreachable witness, one named twice and a witness whose TLS certificate
# is not trusted are refused, each naming what was wrong; a next version
# keeps the witnesses unless told otherwise.  The running room is not
# needed: the draft is made from the room folder.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/witness_lib.sh"

R="$T/room"
new_room "$R" || { fail "room init"; finish; }
start_server "$R" URL || { fail "server start"; finish; }
user prov provider "$R" "$URL" || { fail "enroll"; finish; }
M=$("$CDR" attest --profile prov 2>/dev/null | awk '/^measurement:/ {print $2}')
for i in 0 1 2 3; do start_witness $i || { fail "witness $i"; finish; }; done
grep -q "^witness key sha256: [0-9a-f]\{64\}$" "$T/witness0.log" && pass "cdr witness serve prints its fingerprint" \
  || fail "fingerprint: $(head -3 "$T/witness0.log")"

check "a draft with four witnesses, f = 1" "$CDR" room propose "$R" --measurement "$M" \
  --witness "${WURL[0]}" --witness "${WURL[1]}/" --witness "${WURL[2]}" --witness "${WURL[3]}" --witness-faults 1
python3 - "$R/proposal.json" "${WURL[@]}" "$(witness_fp 0)" "$(witness_fp 1)" "$(witness_fp 2)" "$(witness_fp 3)" <<'PY' \
  && pass "the draft names each URL with its witness's key, sorted by key, and f" || fail "draft: $(cat "$R/proposal.json")"
import json, sys
d = json.load(open(sys.argv[1]))
urls, fps = sys.argv[2:6], sys.argv[6:10]
want = sorted(({"key_sha256": f, "url": u} for u, f in zip(urls, fps)), key=lambda w: w["key_sha256"])
assert d["witnesses"] == want, d["witnesses"]
assert d["witness_faults"] == 1
PY
grep -q "witnesses: 4, tolerating 1 faulty, quorum 3" "$T/err" && grep -q "key sha256 $(witness_fp 2)" "$T/err" \
  && pass "propose says the quorum and each fingerprint to confirm" || fail "propose stderr: $(cat "$T/err")"

expect_error "three witnesses cannot tolerate one fault" "needs at least 4 witnesses (n >= 3f + 1" \
  "$CDR" room propose "$R" --measurement "$M" --witness "${WURL[0]}" --witness "${WURL[1]}" --witness "${WURL[2]}" \
  --witness-faults 1
check "three witnesses, f = 0" "$CDR" room propose "$R" --measurement "$M" --witness "${WURL[0]}" \
  --witness "${WURL[1]}" --witness "${WURL[2]}"
[ "$(jq '.witnesses | length' "$R/proposal.json")" = 3 ] && [ "$(jq 'has("witness_faults")' "$R/proposal.json")" = false ] \
  && grep -q "quorum 2" "$T/err" && pass "three witnesses, quorum 2, no witness_faults written" \
  || fail "f=0 draft: $(cat "$R/proposal.json")"
expect_error "plain http is refused" "a witness URL is https://" \
  "$CDR" room propose "$R" --measurement "$M" --witness "http://${WURL[0]#https://}"
expect_error "a witness named twice" "are the same witness" \
  "$CDR" room propose "$R" --measurement "$M" --witness "${WURL[0]}" --witness "${WURL[0]}/"
stop_witness 3
expect_error "a witness that does not answer" "cannot get the key of witness ${WURL[3]}" \
  "$CDR" room propose "$R" --measurement "$M" --witness "${WURL[3]}"
expect_error "a witness whose TLS certificate is not trusted" "TLS verification failed" \
  env CURL_CA_BUNDLE="$R/ca.crt" "$CDR" room propose "$R" --measurement "$M" --witness "${WURL[0]}"
check "--witness-ca names the witnesses' CA" env CURL_CA_BUNDLE= "$CDR" room propose "$R" --measurement "$M" \
  --witness "${WURL[0]}" --witness-ca "$T/wca.crt"
expect_error "--witness-faults without witnesses" "needs at least 4 witnesses" \
  "$CDR" room propose "$R" --measurement "$M" --witness-faults 1
expect_error "--witness-faults takes a number" "a number from 0" \
  "$CDR" room propose "$R" --measurement "$M" --witness-faults x

# A next version keeps the witnesses; --no-witnesses drops them.
check "version 1 with three witnesses" "$CDR" room propose "$R" --measurement "$M" --witness "${WURL[0]}" \
  --witness "${WURL[1]}" --witness "${WURL[2]}"
cp "$R/proposal.json" "$T/v1.json"
check "version 2 from it" "$CDR" room propose "$R" --previous "$T/v1.json"
expect_eq "version 2 keeps the witnesses" "$(jq -c .witnesses "$R/proposal.json")" "$(jq -c .witnesses "$T/v1.json")"
check "version 2 without witnesses" "$CDR" room propose "$R" --previous "$T/v1.json" --no-witnesses
expect_eq "--no-witnesses drops them" "$(jq -c .witnesses "$R/proposal.json")" "[]"
finish
