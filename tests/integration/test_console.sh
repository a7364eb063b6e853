#!/usr/bin/env bash
# The web console (docs/CONSOLE.md) in headless Chromium, against a real
# `cdr serve`, through `cdr console` (console/test/console.test.mjs drives
# the browser with playwright-core):
#   - cdr console --version prints the bundle hash, equal to the coreutils
#     recipe over the served folder; the CSP on every answer; the relay's
#     refusals of a foreign Host, Origin and a non-JSON POST;
#   - in the browser: sim refused until allowed, a wrong token refused
#     (token_invalid, nothing kept), enrollment, attestation and the room
#     screen, the key not extractable, an upload whose progress bar is seen
#     to advance, tables, a query compared with SQLite's answer, the CSV
#     download, a refused query (access_denied), the audit log verified;
#   - interop both ways with the CLI (identical results); a contract
#     version signed in the browser and by the CLI member, then active;
#   - a tampered attestation (tests/tools/mitm.c, mode attest) refused
#     before anything is sent; after the room is handed to another
#     enclave binary (cdr serve --upgrade-to, the contract accepting it)
#     the pinned measurement refuses the room;
#   - cdrd's own copy at its URL (same CSP) says it trusts the operator,
#     and refuses to sign a pending contract version with no request sent;
#   - the member's console shows what version 2 changes, confirms a key
#     out of band (a wrong fingerprint refused) and signs version 2;
#   - every request the page makes goes to its own origin; a screenshot of
#     each main screen under BUILD/console-screenshots.
# Chromium that cannot start fails the test (it is never skipped).
. "$(dirname "$0")/lib.sh"

BUILD_DIR=$(cd "$CDR_BIN_DIR/.." && pwd)
SHOTS="$BUILD_DIR/console-screenshots"
NODE_TEST="$CDR_SOURCE_DIR/console/test/console.test.mjs"
BUNDLE_DIR="$BUILD_DIR/share/cdr/console"

# ---- the bundle and its hash ----
ver=$("$CDR" console --version 2>&1)
want=$(cd "$BUNDLE_DIR" && find . -type f -printf '%P\n' | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -d' ' -f1)
[ "${ver%% *}" = "$want" ] && pass "cdr console --version prints the bundle hash of docs/CONSOLE.md" \
  || fail "cdr console --version: [$ver], want $want"
cp -R "$BUNDLE_DIR" "$T/bundle2" && printf ' ' >>"$T/bundle2/app.css"
ver2=$("$CDR" console --version --bundle "$T/bundle2" 2>&1)
[ -n "$ver2" ] && [ "${ver2%% *}" != "$want" ] && pass "a changed file changes the bundle hash" || fail "bundle hash of a changed copy: $ver2"
expect_error "a non-loopback --listen is refused" "loopback address only" "$CDR" console --listen 0.0.0.0:0

# ---- a room, a CLI member, and the console ----
R="$T/room"
new_room "$R" || { fail "room init"; finish; }
start_server "$R" URL || { fail "server start"; finish; }
user cli provider "$R" "$URL" || { fail "enroll cli"; finish; }
BUNDLE=$("$CDR" room invite "$R" --role provider --name "browser@example.org" --url "$URL" 2>"$T/inv.err" | tail -n 1)
BUNDLE2=$("$CDR" room invite "$R" --role provider --name "browser2@example.org" --url "$URL" 2>>"$T/inv.err" | tail -n 1)
case "$BUNDLE$BUNDLE2" in cdr-invite-1:*cdr-invite-1:*) pass "invitation bundles made" ;; *) fail "invite: $(cat "$T/inv.err")"; finish ;; esac
MEASUREMENT=$("$CDR" attest --profile cli --format json 2>/dev/null | jq -r .measurement)

start_console() { # VAR [args]: start cdr console on an ephemeral port; VAR = its URL
  local var=$1; shift
  new_ready_file
  "$CDR" console --listen 127.0.0.1:0 --ready-file "$READY_FILE" "$@" >>"$T/console.log" 2>&1 &
  SERVER_PIDS+=("$!")
  wait_ready "$!" "$READY_FILE" 300 || { echo "cdr console did not start:"; tail "$T/console.log"; return 1; }
  printf -v "$var" '%s' "$(head -n 1 "$READY_FILE")"
}
start_console CONSOLE || { fail "cdr console start"; finish; }
pass "cdr console listens at $CONSOLE"
hp=${CONSOLE#http://}; hp=${hp%/}

# ---- the relay's own refusals (curl as a foreign page would send) ----
hdrs=$(curl -s -D - -o /dev/null "$CONSOLE")
grep -qi "^content-security-policy: default-src 'none'; script-src 'self';" <<<"$hdrs" \
  && ! grep -qi "unsafe-inline\|unsafe-eval" <<<"$hdrs" && pass "the page carries a strict CSP" || fail "CSP: $hdrs"
code=$(curl -s -o "$T/r" -w '%{http_code}' -H "Host: evil.example:${hp#*:}" "${CONSOLE}v1/room")
[ "$code" = 403 ] && grep -q "Host header" "$T/r" && pass "a foreign Host is refused (DNS rebinding)" || fail "foreign Host: $code $(cat "$T/r")"
code=$(curl -s -o "$T/r" -w '%{http_code}' -H "Origin: http://evil.example" -H 'Content-Type: application/json' -d '{}' "${CONSOLE}v1/attest")
[ "$code" = 403 ] && grep -q "another origin" "$T/r" && pass "a foreign Origin is refused" || fail "foreign Origin: $code $(cat "$T/r")"
code=$(curl -s -o "$T/r" -w '%{http_code}' -H 'Content-Type: text/plain' -d '{}' "${CONSOLE}v1/attest")
[ "$code" = 403 ] && grep -q "application/json" "$T/r" && pass "a non-JSON POST is refused" || fail "text/plain POST: $code $(cat "$T/r")"
code=$(curl -s -o "$T/r" -w '%{http_code}' "${CONSOLE}v1/room")
[ "$code" = 409 ] && pass "no room to relay to before enrollment" || fail "relay before a room: $code $(cat "$T/r")"
code=$(curl -s -o /dev/null -w '%{http_code}' --path-as-is "${CONSOLE}js/../../index.html")
[ "$code" = 404 ] && pass "no path outside the bundle" || fail "path traversal: $code"

# ---- the relay pins TLS: to a profile's room CA, or to the invitation's ----
start_console CONSOLE_P --profile cli || { fail "cdr console --profile"; finish; }
curl -s "${CONSOLE_P}console/info" | jq -e --arg u "$URL" '.target == $u and .profile == "cli"' >/dev/null \
  && pass "cdr console --profile relays to the profile's room" || fail "console info: $(curl -s "${CONSOLE_P}console/info")"
curl -s "${CONSOLE_P}v1/room" | jq -e '.room_id' >/dev/null && pass "the relay reaches the room over the profile's TLS" \
  || fail "relay through the profile: $(curl -s "${CONSOLE_P}v1/room")"
code=$(curl -s -o "$T/r" -w '%{http_code}' -H 'Content-Type: application/json' -d "{\"url\":\"https://127.0.0.1:1\",\"ca\":\"\"}" "${CONSOLE_P}console/room")
[ "$code" = 409 ] && pass "a console bound to a profile refuses another room" || fail "rebinding a profile's console: $code $(cat "$T/r")"
new_room "$T/other" "other room" || fail "second room"
start_console CONSOLE_X || { fail "cdr console"; finish; }
other_ca=$(openssl x509 -in "$T/other/ca.crt" -outform DER | base64 -w0)
curl -s -o /dev/null -H 'Content-Type: application/json' -d "{\"url\":\"$URL\",\"ca\":\"$other_ca\"}" "${CONSOLE_X}console/room"
code=$(curl -s -o "$T/r" -w '%{http_code}' "${CONSOLE_X}v1/room")
[ "$code" = 502 ] && jq -e '.error == "tls_verify_failed"' "$T/r" >/dev/null \
  && pass "the relay refuses a server whose TLS certificate is not of the invitation's CA" || fail "relay with another CA: $code $(cat "$T/r")"

# ---- a tampering proxy for attestation, and a second console behind it ----
"$CDR_TEST_BIN_DIR/mitm" "$URL" attest "$T/mitm.ready" >>"$T/mitm.log" 2>&1 &
SERVER_PIDS+=("$!")
for _ in $(seq 100); do [ -s "$T/mitm.ready" ] && break; sleep 0.1; done
MITM=$(head -n 1 "$T/mitm.ready")
start_console CONSOLE_MITM || { fail "second cdr console"; finish; }

# ---- test data: a CSV of a few chunks, and SQLite's answers ----
{
  echo "id,region,amount"
  for i in $(seq 1 120000); do echo "$i,r$((i % 7)),$(( (i * 37) % 1000 ))"; done
} >"$T/sales.csv"
Q="SELECT region, count(*) AS n, sum(amount) AS total FROM sales GROUP BY region ORDER BY region"
sqlite3 "$T/ref.db" "CREATE TABLE sales(id INTEGER, region TEXT, amount INTEGER);" ".import --csv --skip 1 $T/sales.csv sales"
sqlite3 -csv -header "$T/ref.db" "$Q" >"$T/expected.csv"
printf 'a,b\n1,2\n3,4,5\n' >"$T/ragged.csv"
printf 'k,v\n1,one\n2,"two, quoted"\n3,\n' >"$T/cli.csv"
# (the CLI member uploads cli_table and cli_private, and grants the first
# to the browser's member, in the browser test once the contract is active)

# another enclave binary (one byte more): its measurement, accepted by the
# contract the test signs, but not the one the browser pinned
cp "$CDR_BIN_DIR/cdr-enclave" "$T/cdr-enclave" && printf 'x' >>"$T/cdr-enclave"
MEASUREMENT2=$(sha256sum "$T/cdr-enclave" | cut -d' ' -f1)

BUNDLE3=$("$CDR" room invite "$R" --role provider --name "browser3@example.org" --url "$URL" 2>>"$T/inv.err" | tail -n 1)
case $BUNDLE3 in cdr-invite-1:*) ;; *) fail "invite browser3: $(cat "$T/inv.err")" ;; esac
export BUNDLE3 HOST_URL="$URL/"
mkdir -p "$SHOTS"
export ROOM="$R" MEASUREMENT2 URL BACKUP_PASS="correct horse battery staple"

export CONSOLE CONSOLE_MITM MITM BUNDLE BUNDLE2 MEASUREMENT SHOTS CDR Q
export CLI_CSV="$T/cli.csv" RAGGED_CSV="$T/ragged.csv" SALES_CSV="$T/sales.csv" EXPECTED_CSV="$T/expected.csv" PROFILE_DIR="$T/chromium-profile" WORK="$T"
node "$NODE_TEST" main >"$T/node.out" 2>&1
grep -q '^ok - ' "$T/node.out" || { fail "the browser test printed no result"; cat "$T/node.out"; }
while read -r line; do case $line in "ok - "*) pass "${line#ok - }" ;; "FAIL - "*) fail "${line#FAIL - }" ;; esac; done <"$T/node.out"

# ---- cdrd's own copy at its URL (the browser part ran in the main phase) ----
code=$(curl -s -o "$T/r" -w '%{http_code}' "$URL/console/info")
[ "$code" = 200 ] && jq -e '.served_by == "cdrd"' "$T/r" >/dev/null && pass "cdrd's /console/info says it is the host's copy" \
  || fail "cdrd /console/info: $code $(cat "$T/r")"
code=$(curl -s -o "$T/r" -w '%{http_code}' --path-as-is "$URL/js/../../room.json")
[ "$code" = 404 ] && pass "cdrd serves nothing outside the bundle" || fail "cdrd path traversal: $code"

# ---- the same room with another enclave: the pinned measurement refuses it ----
# The sealed state is bound to the measurement: the other build gets the
# room through the handoff, which the contract signed above allows
# (docs/ATTESTATION.md "Sealing and upgrades").
stop_server "$SERVER_PID"
"$CDR" serve "$R" --listen 127.0.0.1:0 --upgrade-to "$T/cdr-enclave" >>"$T/server.log" 2>&1 \
  && pass "the room is handed to the other enclave (the contract accepts it)" || fail "upgrade: $(tail -3 "$T/server.log")"
SERVE_ARGS=(--enclave "$T/cdr-enclave")
restart_server "$R" URL || { fail "restart with another enclave"; finish; }
node "$NODE_TEST" measurement >"$T/node2.out" 2>&1
grep -q '^ok - ' "$T/node2.out" || { fail "the browser test (measurement) printed no result"; cat "$T/node2.out"; }
while read -r line; do case $line in "ok - "*) pass "${line#ok - }" ;; "FAIL - "*) fail "${line#FAIL - }" ;; esac; done <"$T/node2.out"
finish
