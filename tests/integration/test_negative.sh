#!/usr/bin/env bash
# Refusals a user can provoke through the CLI, each with its own error:
# enrollment tokens (wrong, reused, expired, unknown), certificates (another
# room's CA, expired), SQL that writes, ATTACHes, loads an extension or
# reads internals.  The server keeps serving after each.
. "$(dirname "$0")/lib.sh"

R="$T/room"; R2="$T/other-room"
new_room "$R" "Room one" && new_room "$R2" "Room two" || { fail "room init"; finish; }
start_server "$R" URL || { fail "server start"; finish; }
start_server "$R2" URL2 || { fail "second server start"; finish; }

"$CDR" keygen "$T/k.key" >/dev/null 2>&1
TOK=$(invite "$R" analyst "carol@example.org")
# Wrong secret: change one character of the secret part (third dot-separated field).
BAD=$(echo "$TOK" | awk -F. '{ s = $3; c = substr(s, 1, 1); c = (c == "A") ? "B" : "A"; $3 = c substr(s, 2); print }' OFS=.)
expect_error "wrong token secret" token_invalid "$CDR" enroll "$URL" --key "$T/k.key" --token "$BAD" --out "$T/k.crt"
UNK=$(echo "$TOK" | awk -F. '{ $2 = "00000000000000000000000000000000"; print }' OFS=.)
expect_error "unknown token id" token_unknown "$CDR" enroll "$URL" --key "$T/k.key" --token "$UNK" --out "$T/k.crt"
check "the right token still works after wrong attempts" "$CDR" enroll "$URL" --key "$T/k.key" --token "$TOK" --out "$T/k.crt" --profile carol
"$CDR" keygen "$T/k2.key" >/dev/null 2>&1
expect_error "reused token" token_used "$CDR" enroll "$URL" --key "$T/k2.key" --token "$TOK" --out "$T/k2.crt"
SHORT=$(invite "$R" analyst "dave@example.org" --ttl 1s)
sleep 2
expect_error "expired token" token_expired "$CDR" enroll "$URL" --key "$T/k2.key" --token "$SHORT" --out "$T/k2.crt"

# A token whose CA fingerprint is not the answering room's: the client refuses
# the answer (a swapped CA), even though that server accepted the token.
OTHER_FP=$(echo "$TOK" | cut -d. -f5)
T2=$(invite "$R2" analyst "frank@example.org" | awk -F. -v fp="$OTHER_FP" '{ $5 = fp; print }' OFS=.)
"$CDR" keygen "$T/f.key" >/dev/null 2>&1
expect_error "a room CA other than the token's is refused" ca_mismatch \
  "$CDR" enroll "$URL2" --key "$T/f.key" --token "$T2" --out "$T/f.crt"
[ ! -e "$T/f.crt" ] && pass "nothing saved after a CA mismatch" || fail "certificate saved despite the CA mismatch"

# A certificate from another room's CA.
FT=$(invite "$R2" analyst "mallory@example.org")
"$CDR" keygen "$T/m.key" >/dev/null 2>&1
check "enroll in the other room" "$CDR" enroll "$URL2" --key "$T/m.key" --token "$FT" --out "$T/m.crt" --profile mallory
expect_error "certificate from another room's CA" cert_untrusted \
  "$CDR" query "$URL" --key "$T/m.key" --cert "$T/m.crt" "SELECT 1"

# An expired certificate.
ET=$(invite "$R" analyst "erin@example.org" --cert-ttl 5s)
"$CDR" keygen "$T/e.key" >/dev/null 2>&1
check "enroll with a 5-second certificate" "$CDR" enroll "$URL" --key "$T/e.key" --token "$ET" --out "$T/e.crt"
for _ in $(seq 30); do openssl x509 -checkend 0 -noout -in "$T/e.crt" >/dev/null 2>&1 || break; sleep 0.5; done
sleep 1 # the enclave's clock reads whole seconds
expect_error "expired certificate" cert_expired "$CDR" query "$URL" --key "$T/e.key" --cert "$T/e.crt" "SELECT 1"

# SQL policy.
check "provider enrolls" user prov provider "$R" "$URL"
check "the members sign contract version 1 (erin's certificate expired)" \
  activate_contract "$R" --exclude erin@example.org prov carol
printf 'id,v\n1,10\n2,20\n' >"$T/t.csv"
check "upload" "$CDR" upload --profile prov t "$T/t.csv"
check "grant" "$CDR" grant --profile prov t --to carol@example.org
expect_error "INSERT is denied" sql_denied "$CDR" query --profile carol "INSERT INTO t VALUES (3, 30)"
expect_error "UPDATE is denied" sql_denied "$CDR" query --profile carol "UPDATE t SET v = 0"
expect_error "DELETE is denied" sql_denied "$CDR" query --profile carol "DELETE FROM t"
expect_error "DROP is denied" sql_denied "$CDR" query --profile carol "DROP TABLE t"
expect_error "CREATE is denied" sql_denied "$CDR" query --profile carol "CREATE TABLE x(a)"
expect_error "ATTACH is denied" sql_denied "$CDR" query --profile carol "ATTACH DATABASE '/tmp/x.db' AS x"
grep -q "ATTACH is not allowed" "$T/err" && pass "the denial says what and why" || fail "denial says why: $(cat "$T/err")"
expect_error "load_extension is denied" sql_denied "$CDR" query --profile carol "SELECT load_extension('/tmp/evil.so')"
expect_error "PRAGMA is denied" sql_denied "$CDR" query --profile carol "PRAGMA writable_schema = 1"
expect_error "sqlite_master is denied" sql_denied "$CDR" query --profile carol "SELECT * FROM sqlite_master"
expect_error "engine-state functions are denied" sql_denied "$CDR" query --profile carol "SELECT last_insert_rowid()"
expect_error "two statements are denied" sql_denied "$CDR" query --profile carol "SELECT 1; DROP TABLE t"
expect_error "SQL syntax error" sql_error "$CDR" query --profile carol "SELEC 1"
check "the table is intact after the refusals" "$CDR" query --profile carol "SELECT sum(v) FROM t" --format csv
expect_eq "sum after refusals" "$(tail -n 1 "$T/out" | tr -d "\r")" "30"
printf 'a,b\n1,2,3\n' >"$T/bad.csv"
expect_error "ragged CSV is refused" csv_invalid "$CDR" upload --profile prov bad "$T/bad.csv"
grep -q "line 2" "$T/err" && pass "CSV error names the line" || fail "CSV error names the line: $(cat "$T/err")"
expect_error "a table cannot be uploaded twice" table_exists "$CDR" upload --profile prov t "$T/t.csv"

# Malformed HTTP requests get JSON errors and the server keeps serving.
code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST -H 'Content-Type: application/json' --data '{"nonce": 5' "$URL/v1/attest")
expect_eq "malformed JSON status" "$code" "400"
grep -q '"error": *"bad_json"' "$T/body" && pass "malformed JSON error code" || fail "malformed JSON body: $(cat "$T/body")"
code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST -H 'Content-Type: application/json' --data '{"nonce": "AAAA"}' "$URL/v1/attest")
expect_eq "short nonce status" "$code" "400"
code=$(curl -s -o "$T/body" -w '%{http_code}' "$URL/v1/nope")
expect_eq "unknown route" "$code" "404"
code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
  -H 'Content-Length: 999999999999' --data '{}' "$URL/v1/request")
expect_eq "huge Content-Length" "$code" "413"
code=$(curl -s -o "$T/body" -w '%{http_code}' "$URL/v1/health")
expect_eq "still healthy" "$code" "200"
SECRET=$(echo "$TOK" | cut -d. -f3)
grep -qF "$SECRET" "$T/server.log" && fail "a token secret is in the server log" || pass "no token secret in the server log"
grep -qF "$(cat "$R/hsm/user-pin")" "$T/server.log" && fail "the PIN is in the server log" || pass "no PIN in the server log"
grep -qi "INSERT INTO\|ATTACH DATABASE" "$T/server.log" && fail "SQL text in the server log" || pass "no SQL text in the server log"
finish
