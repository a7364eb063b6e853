#!/usr/bin/env bash
# The whole path a user walks, through the real CLI and server: room init,
# invites, serve, keygen (EC and RSA), enroll, attest, upload, query with
# each output format, profiles, and a clean stop on SIGTERM.
. "$(dirname "$0")/lib.sh"

R="$T/room"
check "room init" new_room "$R" "Flow test room"
grep -q "room id" "$T/init.out" && pass "init prints the room id" || fail "init prints the room id"
grep -qiE "([0-9A-F]{2}:){31}[0-9A-F]{2}" "$T/init.out" && pass "init prints the CA fingerprint" || fail "init prints the CA fingerprint"
[ "$(stat -c %a "$R/hsm/user-pin")" = "600" ] && pass "generated PIN file is 0600" || fail "generated PIN file is 0600"

start_server "$R" URL || { fail "server start"; finish; }
pass "server started at $URL"

check "provider enrolls (EC)" user hosp provider "$R" "$URL"
check "analyst enrolls (EC)" user ana analyst "$R" "$URL"
check "analyst enrolls (RSA 3072)" user rsa analyst "$R" "$URL" --type rsa --bits 3072
# Until contract version 1 is active nobody is a member: the room serves
# contract operations only, whatever the certificate's role.
printf 'id\n1\n' >"$T/early.csv"
expect_error "before version 1 a provider cannot upload" contract_not_active "$CDR" upload --profile hosp early "$T/early.csv"
grep -q "its members must sign version 1" "$T/err" && pass "the refusal says what to do" || fail "refusal: $(cat "$T/err")"
expect_error "nor an analyst list tables" contract_not_active "$CDR" tables --profile ana
check "but the contract can be read" "$CDR" contract --profile ana
check "the members sign contract version 1" activate_contract "$R" hosp ana rsa
[ "$(stat -c %a "$T/ana.key")" = "600" ] && pass "key file is 0600" || fail "key file is 0600"
openssl x509 -in "$T/ana.crt" -noout -subject | grep -q "role = analyst" && pass "role is in the certificate" \
  || fail "role is in the certificate"

MEAS=$(sha256sum "$CDR_BIN_DIR/cdr-enclave" | cut -d' ' -f1)
check "attest with the expected measurement" "$CDR" attest "$URL" --expect-measurement "$MEAS"
grep -q "$MEAS" "$T/out" && pass "attest prints the measurement" || fail "attest prints the measurement"
grep -qi "sim" "$T/err" && pass "attest warns that sim is not hardware-backed" || fail "sim warning"
expect_error "attest with a wrong measurement" attestation_measurement_mismatch \
  "$CDR" attest "$URL" --expect-measurement "$(printf '%064d' 0)"
CDR_ALLOW_SIM= expect_error "sim refused unless allowed" attestation_sim_not_allowed "$CDR" attest "$URL"

bash "$CDR_SOURCE_DIR/scripts/gen-patients.sh" 2000 7 >"$T/patients.csv"
check "provider uploads a CSV (explicit URL --key --cert form)" \
  "$CDR" upload "$URL" --key "$T/hosp.key" --cert "$T/hosp.crt" patients "$T/patients.csv"
grep -q "2000" "$T/out" && pass "upload reports 2000 rows" || fail "upload reports 2000 rows: $(cat "$T/out")"
expect_error "analysts cannot read it before a grant" access_denied "$CDR" query --profile ana "SELECT count(*) FROM patients"
check "provider grants analysts read access" "$CDR" grant --profile hosp patients --to role:analyst

SQL="SELECT diagnosis, count(*) AS n, sum(age) AS total_age FROM patients GROUP BY diagnosis ORDER BY diagnosis"
{ echo "diagnosis,n,total_age"
  tail -n +2 "$T/patients.csv" | awk -F, '{ d = $4; gsub(/"/, "", d); n[d]++; s[d] += $2 }
    END { for (d in n) printf "%s,%d,%d\n", d, n[d], s[d] }' | LC_ALL=C sort; } >"$T/expected.csv"

check "analyst queries through the profile" "$CDR" query --profile ana "$SQL" --format csv
tr -d "\r" <"$T/out" | cmp -s - "$T/expected.csv" && pass "aggregate result equals the independent computation" \
  || { fail "aggregate result"; diff "$T/out" "$T/expected.csv" | head; }

[ "$(grep -c $'\r$' "$T/out")" = "$(wc -l <"$T/out")" ] && pass "csv records end with CRLF (RFC 4180)" || fail "csv line endings"

check "RSA analyst queries (explicit form)" "$CDR" query "$URL" --key "$T/rsa.key" --cert "$T/rsa.crt" "$SQL" --format csv
tr -d "\r" <"$T/out" | cmp -s - "$T/expected.csv" && pass "RSA user's result is the same" || fail "RSA user's result"

check "default profile (first enrolled) queries with SQL alone" "$CDR" query "SELECT count(*) FROM patients" --format csv
expect_eq "count through the default profile" "$(tail -n 1 "$T/out" | tr -d "\r")" "2000"

check "json format" "$CDR" query --profile ana "SELECT 1 AS one, 'x,y' AS s, NULL AS z" --format json
grep -q '"row_count": *1' "$T/out" && grep -q '"x,y"' "$T/out" && pass "json output carries the values" \
  || fail "json output: $(cat "$T/out")"
check "table format" "$CDR" query --profile ana "SELECT 1 AS one" --format table
grep -q "one" "$T/out" && grep -q "(1 row" "$T/out" && pass "table output has header and row count" \
  || fail "table output: $(cat "$T/out")"
check "csv quoting" "$CDR" query --profile ana "SELECT 'a\"b' AS q, 'c,d' AS r" --format csv
expect_eq "RFC 4180 quoting" "$(tail -n 1 "$T/out" | tr -d "\r")" '"a""b","c,d"'

expect_error "an analyst cannot upload" role_forbidden "$CDR" upload --profile ana other "$T/patients.csv"

ENC=$(enclave_pid "$SERVER_PID")
stop_server "$SERVER_PID" && pass "SIGTERM stops the server" || fail "SIGTERM stops the server"
wait "$SERVER_PID"; rc=$?
expect_eq "server exit status" "$rc" "0"
[ -n "$ENC" ] && ! kill -0 "$ENC" 2>/dev/null && pass "enclave stopped with the host" || fail "enclave stopped with the host"
grep -q "$T/ana.key\|BEGIN PRIVATE" "$T/server.log" && fail "server log mentions key material" || pass "server log has no key material"
grep -q "SELECT" "$T/server.log" && fail "server log contains SQL text" || pass "server log has no SQL text"
finish
