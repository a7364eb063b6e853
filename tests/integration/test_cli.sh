#!/usr/bin/env bash
# The CLI as a script sees it (issue 14, "A CLI that scripts well"): exit
# statuses by class, each from a real failing command; failures as one
# JSON object on stderr with --format json; one --format vocabulary;
# --quiet and a single sim warning; JSON numbers in their shortest form;
# semicolon- and tab-delimited CSV refused; `cdr profile`; `cdr room
# invites` and --cancel.
. "$(dirname "$0")/lib.sh"

# expect_status NAME STATUS CMD...: the command must exit with STATUS.
expect_status() {
  local name=$1 want=$2; shift 2
  "$@" >"$T/out" 2>"$T/err"
  local got=$?
  if [ "$got" = "$want" ]; then pass "$name"; else fail "$name: exit $got, want $want"; sed 's/^/    /' "$T/err" | tail -3; fi
}
# json_err FIELD: the field of the JSON object on the last line of $T/err.
json_err() { python3 -c 'import json,sys; d=json.loads(open(sys.argv[1]).read().splitlines()[-1]); print(d[sys.argv[2]])' "$T/err" "$1"; }

R="$T/room"
check "room init" new_room "$R" "CLI test room"
start_server "$R" URL || { fail "server start"; finish; }
check "provider enrolls" user hosp provider "$R" "$URL"
check "analyst enrolls" user ana analyst "$R" "$URL"
check "the members sign contract version 1" activate_contract "$R" hosp ana

# ---- exit statuses, one real failure of each class ----
expect_status "usage error exits 2" 2 "$CDR" query --profile ana
expect_status "an unknown --format exits 2" 2 "$CDR" tables --profile ana --format xml
expect_status "the room refusing (sql_error) exits 3" 3 "$CDR" query --profile ana "SELEKT 1"
grep -q "sql_error" "$T/err" && pass "the refusal names sql_error" || fail "the refusal names sql_error"
expect_status "the room refusing (access_denied) exits 3" 3 "$CDR" query --profile ana "SELECT * FROM nothere"
# A port nothing listens on: bind one, note it, close it.
DEAD=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
expect_status "an unreachable room exits 4" 4 "$CDR" query "http://127.0.0.1:$DEAD" --key "$T/ana.key" \
  --cert "$T/ana.crt" "SELECT 1"
grep -q "network_error" "$T/err" && pass "the network failure names network_error" || fail "names network_error"
CDR_ALLOW_SIM= expect_status "attestation refused (sim not allowed) exits 5" 5 "$CDR" query --profile ana "SELECT 1"
expect_status "a wrong measurement exits 5" 5 "$CDR" attest "$URL" --expect-measurement "$(printf '%064d' 0)"
expect_status "a missing CSV file exits 6" 6 "$CDR" upload --profile hosp t "$T/missing.csv"
expect_status "a missing key file exits 6" 6 "$CDR" query "$URL" --key "$T/none.key" --cert "$T/ana.crt" "SELECT 1"
expect_status "a missing profile exits 6" 6 "$CDR" query --profile nobody "SELECT 1"
expect_status "success exits 0" 0 "$CDR" query --profile ana "SELECT 1" --format csv

# ---- --format json failures are one JSON object on stderr ----
expect_status "json: refused" 3 "$CDR" query --profile ana "SELEKT 1" --format json
expect_eq "json error code" "$(json_err error)" "sql_error"
expect_eq "json exit field" "$(json_err exit)" "3"
expect_status "json with --quiet" 3 "$CDR" --quiet query --profile ana "SELEKT 1" --format json
expect_eq "json error with --quiet is the only stderr line" "$(wc -l <"$T/err")" "1"
expect_eq "json error with --quiet" "$(json_err error)" "sql_error"
expect_status "json: usage" 2 "$CDR" query --format json
expect_eq "json usage code" "$(json_err error)" "usage"
expect_status "json: network" 4 "$CDR" tables "http://127.0.0.1:$DEAD" --key "$T/ana.key" --cert "$T/ana.crt" -f json
expect_eq "json network code" "$(json_err error)" "network_error"
"$CDR" room invites "$T/no-such-$(printf '\377')room" --format json >/dev/null 2>"$T/err"
python3 -c 'import json,sys; d=json.loads(open(sys.argv[1],"rb").read().decode("ascii")); assert d["exit"]==6, d' "$T/err" \
  && pass "json: a message that is not UTF-8 is still one ASCII JSON object" || fail "json non-UTF-8: $(cat -v "$T/err")"
expect_status "text failure without --format json" 3 "$CDR" query --profile ana "SELEKT 1" --format csv
grep -q "^cdr query: " "$T/err" && pass "text failure is a line" || fail "text failure is a line"

# ---- one --format vocabulary ----
bash "$CDR_SOURCE_DIR/scripts/gen-patients.sh" 50 3 >"$T/p.csv"
check "upload" "$CDR" upload --profile hosp patients "$T/p.csv"
for f in table csv json text; do
  check "tables --format $f" "$CDR" tables --profile hosp --format "$f"
  check "audit --format $f" "$CDR" audit --profile hosp --format "$f"
  check "query --format $f" "$CDR" query --profile hosp "SELECT 1" --format "$f"
done
"$CDR" tables --profile hosp --format csv >"$T/t.csv" 2>/dev/null
head -n 1 "$T/t.csv" | tr -d '\r' | grep -qx "name,owner,rows,access,unavailable,columns" \
  && pass "tables csv header" || fail "tables csv header: $(head -n 1 "$T/t.csv")"
grep -q "^patients,.*,50,owner," "$T/t.csv" && pass "tables csv row" || fail "tables csv row: $(cat "$T/t.csv")"
"$CDR" audit --profile hosp --format csv >"$T/a.csv" 2>/dev/null
head -n 1 "$T/a.csv" | tr -d '\r' | grep -qx "index,time,op,decision,reason,subject,role,serial,tables,sql_sha256" \
  && pass "audit csv header" || fail "audit csv header: $(head -n 1 "$T/a.csv")"
grep -q ",upload_commit,ok,.*,patients," "$T/a.csv" && pass "audit csv has the upload" || fail "audit csv upload row: $(cat "$T/a.csv")"
"$CDR" tables --profile hosp --format json >"$T/t.json" 2>/dev/null
python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))[0]["name"] == "patients"' "$T/t.json" \
  && pass "tables json parses" || fail "tables json parses"

check "attest --format json" "$CDR" attest --profile hosp --format json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["verified"] is True and d["platform"]=="sim" and len(d["measurement"])==64' \
  "$T/out" && pass "attest json" || fail "attest json: $(cat "$T/out")"
check "attest --format csv" "$CDR" attest --profile hosp --format csv
grep -q "^platform,sim" "$T/out" && pass "attest csv" || fail "attest csv: $(cat "$T/out")"
expect_status "attest --evidence takes no csv" 2 "$CDR" attest --evidence "$T/p.csv" --platform snp --format csv

# ---- --quiet, and one sim warning per command ----
"$CDR" audit --profile hosp --format json >/dev/null 2>"$T/err"
expect_eq "one sim warning for a command that attests twice" "$(grep -c 'simulated attestation' "$T/err")" "1"
"$CDR" --quiet query --profile hosp "SELECT 1" --format csv >"$T/out" 2>"$T/err"
expect_eq "--quiet: no warning" "$(wc -c <"$T/err")" "0"
expect_eq "--quiet: data still printed" "$(tail -n 1 "$T/out" | tr -d '\r')" "1"
"$CDR" query --quiet --profile ana "SELEKT 1" >/dev/null 2>"$T/err"
grep -q "sql_error" "$T/err" && pass "--quiet keeps errors" || fail "--quiet keeps errors"
grep -q "simulated" "$T/err" && fail "--quiet after the command drops the warning" \
  || pass "--quiet after the command drops the warning"
CDR_ALLOW_SIM= "$CDR" query --quiet --profile ana --allow-sim "SELECT 1" --format csv >/dev/null 2>"$T/err"
expect_eq "--quiet among the options" "$(wc -c <"$T/err")" "0"

# ---- JSON numbers: shortest round trip, the same in CSV and table ----
Q="SELECT 4865.1 AS a, 0.1 + 0.2 AS b, 1e300 * 10 AS c, 2.0 AS d, 1.0/3 AS e"
"$CDR" query --profile ana "$Q" --format json >"$T/n.json" 2>/dev/null
grep -q '"rows":\[\[4865.1,0.30000000000000004,1e301,2.0,0.3333333333333333\]\]' "$T/n.json" \
  && pass "json reals in shortest form" || fail "json reals: $(cat "$T/n.json")"
python3 -c '
import json,sys
r = json.load(open(sys.argv[1]))["rows"][0]
assert r == [4865.1, 0.1 + 0.2, 1e301, 2.0, 1.0/3], r' "$T/n.json" && pass "json reals read back exactly" \
  || fail "json reals read back exactly"
"$CDR" query --profile ana "$Q" --format csv >"$T/n.csv" 2>/dev/null
expect_eq "csv reals the same" "$(tail -n 1 "$T/n.csv" | tr -d '\r')" "4865.1,0.30000000000000004,1e301,2.0,0.3333333333333333"
"$CDR" query --profile ana "SELECT 1e-7 AS f" --format csv >"$T/n.csv" 2>/dev/null
expect_eq "csv small exponent as JSON writes it" "$(tail -n 1 "$T/n.csv" | tr -d '\r')" "1e-7"

# ---- CSV delimiter check ----
printf 'id;name;age\n1;a;3\n' >"$T/semi.csv"
printf 'id\tname\n1\ta\n' >"$T/tab.csv"
expect_status "semicolon-delimited CSV refused" 6 "$CDR" upload --profile hosp semi "$T/semi.csv"
grep -q "semicolon-delimited" "$T/err" && pass "the refusal says semicolon-delimited" || fail "semicolon message"
grep -q "convert" "$T/err" && pass "the refusal says how to convert" || fail "convert hint"
expect_status "tab-delimited CSV refused" 6 "$CDR" upload --profile hosp tabbed "$T/tab.csv"
grep -q "tab-delimited" "$T/err" && pass "the refusal says tab-delimited" || fail "tab message"
expect_status "--delimiter ';' refused with the hint" 2 "$CDR" upload --profile hosp semi "$T/semi.csv" --delimiter ';'
grep -q "convert" "$T/err" && pass "--delimiter ';' says convert" || fail "--delimiter ';' says convert"
check "--delimiter , uploads a one-column file holding ;" "$CDR" upload --profile hosp semi "$T/semi.csv" --delimiter ,
check "the one-column table is there" "$CDR" query --profile hosp "SELECT count(*) FROM semi" --format csv
printf 'id,name\n1,a;b\n' >"$T/ok.csv"
check "a comma CSV with ; in the data uploads" "$CDR" upload --profile hosp okt "$T/ok.csv"

# ---- cdr profile ----
check "profile list" "$CDR" profile list
grep -qE "^\* +\| hosp +\| $URL" "$T/out" && pass "list marks the default (first enrolled)" || fail "list: $(cat "$T/out")"
grep -q "ana" "$T/out" && pass "list shows ana" || fail "list shows ana"
check "profile list --format json" "$CDR" profile list --format json
python3 -c '
import json,sys
l = json.load(open(sys.argv[1]))
d = {p["name"]: p for p in l}
assert d["hosp"]["default"] is True and d["ana"]["default"] is False and d["ana"]["url"] == sys.argv[2]
assert len(d["ana"]["room_id"]) == 32' "$T/out" "$URL" && pass "list json" || fail "list json: $(cat "$T/out")"
check "profile use ana" "$CDR" profile use ana
check "profile show (the default)" "$CDR" profile show
grep -q "^name *ana$" "$T/out" && pass "show gives the new default" || fail "show: $(cat "$T/out")"
FP=$(openssl x509 -in "$T/ana.crt" -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1)
grep -q "^key_fingerprint *$FP$" "$T/out" && pass "show gives the key fingerprint" || fail "key fingerprint"
grep -q "^key *$T/ana.key$" "$T/out" && pass "show gives the key's path" || fail "key path"
KEYBODY=$(grep -v -- "-----" "$T/ana.key" | head -n 1)
grep -qF "$KEYBODY" "$T/out" && fail "show prints the key" || pass "show never prints the key"
check "profile show hosp --format json" "$CDR" profile show hosp --format json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["name"]=="hosp" and d["default"] is False' \
  "$T/out" && pass "show json" || fail "show json"
expect_status "profile use of no profile" 6 "$CDR" profile use nobody
expect_status "profile with no command" 2 "$CDR" profile
check "query through the new default" "$CDR" query "SELECT 1" --format csv

# ---- cdr room invites / --cancel ----
TOK1=$(invite "$R" analyst "carol@example.org")
TOK2=$(invite "$R" auditor "dave@example.org" --ttl 2h)
check "room invites" "$CDR" room invites "$R"
grep -qE "carol@example.org +\| analyst" "$T/out" && pass "invites lists carol" || fail "invites: $(cat "$T/out")"
grep -qE "dave@example.org +\| auditor" "$T/out" && pass "invites lists dave" || fail "invites lists dave"
SECRET1=$(echo "$TOK1" | cut -d. -f3)
grep -qF "$SECRET1" "$T/out" && fail "invites prints a token secret" || pass "invites never prints a token"
grep -q "hosp@example.org" "$T/out" && fail "invites lists a used token" || pass "used tokens are not listed"
check "room invites --format json" "$CDR" room invites "$R" --format json
ID2=$(python3 -c 'import json,sys; print([t["token_id"] for t in json.load(open(sys.argv[1])) if t["name"]=="dave@example.org"][0])' "$T/out")
check "cancel by name" "$CDR" room invites "$R" --cancel carol@example.org
check "cancel by id" "$CDR" room invites "$R" --cancel "$ID2"
"$CDR" keygen "$T/carol.key" >/dev/null 2>&1
expect_error "a cancelled token fails enrollment" token_unknown \
  "$CDR" enroll "$URL" --key "$T/carol.key" --token "$TOK1" --out "$T/carol.crt" --profile carol
expect_status "and exits 3" 3 "$CDR" enroll "$URL" --key "$T/carol.key" --token "$TOK2" --out "$T/dave.crt" --profile dave
check "room invites after the cancels" "$CDR" room invites "$R" --format csv
expect_eq "no open invitations left" "$(wc -l <"$T/out")" "1"
expect_status "cancelling an unknown invitation" 6 "$CDR" room invites "$R" --cancel nobody@example.org
grep -q "no open invitation" "$T/err" && pass "says no open invitation" || fail "says no open invitation"

finish
