#!/usr/bin/env bash
# docs/openapi.json against the real cdrd: the real client (cdr) and curl
# drive every /v1 route, with good and bad requests, through a recording
# proxy (tests/openapi/record_proxy.js); tests/openapi/conform.js then
# checks each answer's status and body against the description's schema
# for that route and status (ajv, JSON Schema 2020-12), that every route
# of src/host/routes.c and every error code cdrd sends is described, and
# that every route answered 200 at least once.  The answers while the
# room's tables load (a CDR_TEST_LOAD_GATE start) are recorded and checked
# too.
# The proxy reaches cdrd over HTTPS (trusting the room CA); the client
# reaches the proxy in plain HTTP on loopback.
# Finally the checker itself must fail on a description that lacks a
# route or an error code.
. "$(dirname "$0")/lib.sh"

OA="$CDR_SOURCE_DIR/tests/openapi"
SPEC="$CDR_SOURCE_DIR/docs/openapi.json"
LOG="$T/answers.jsonl"
[ -d "$OA/node_modules/ajv" ] || { fail "tests/openapi/node_modules is missing: run scripts/install-deps.sh"; finish; }

R="$T/room"
new_room "$R" || { fail "room init"; finish; }
start_server "$R" URL || { fail "server start"; finish; }
case $URL in https://*) pass "cdrd serves HTTPS ($URL)" ;; *) fail "cdrd is not on HTTPS: $URL" ;; esac
node "$OA/record_proxy.js" "$URL" "$T/proxy.ready" "$LOG" 2>"$T/proxy.err" &
SERVER_PIDS+=("$!")
for _ in $(seq 100); do [ -s "$T/proxy.ready" ] && break; sleep 0.1; done
P=$(head -n 1 "$T/proxy.ready")
[ -n "$P" ] || { fail "the recording proxy did not start"; cat "$T/proxy.err"; finish; }

# req METHOD PATH [BODY]: one request through the proxy; prints the status.
req() {
  if [ $# -ge 3 ]; then
    curl -s -o "$T/body" -w '%{http_code}' -X "$1" -H 'Content-Type: application/json' --data-binary "$3" "$P$2"
  else
    curl -s -o "$T/body" -w '%{http_code}' -X "$1" "$P$2"
  fi
}

# The read-only routes.
expect_eq "GET /v1/health" "$(req GET /v1/health)" 200
expect_eq "GET /v1/ready" "$(req GET /v1/ready)" 200
expect_eq "GET /v1/room" "$(req GET /v1/room)" 200
expect_eq "GET /v1/openapi.json" "$(req GET /v1/openapi.json)" 200
cp "$T/body" "$T/openapi.served"
expect_eq "GET /console/info (cdrd's copy of the web console)" "$(req GET /console/info)" 200
cmp -s "$T/openapi.served" "$SPEC" && pass "GET /v1/openapi.json serves docs/openapi.json byte for byte" \
  || fail "the served description differs from docs/openapi.json"

# The protocol routes, through the real client: enroll, attest, session,
# request (ok and request_failed).
user prov provider "$R" "$P" && user ana analyst "$R" "$P" || { fail "enroll through the proxy"; finish; }
activate_contract "$R" prov ana || { fail "activate the contract"; finish; }
printf 'k,v\n1,a\n2,b\n' >"$T/t.csv"
check "upload through the proxy" "$CDR" upload --profile prov t "$T/t.csv"
check "attest through the proxy" "$CDR" attest --profile ana
"$CDR" query --profile ana "SELECT * FROM no_such_table" >/dev/null 2>&1 && fail "a query of a missing table succeeded"
expect_eq "a query of a missing table is answered 422 request_failed" \
  "$(jq -rs 'map(select(.path == "/v1/request" and .status == 422)) | .[0].body | fromjson | .error' "$LOG")" request_failed

# Bad requests, one per kind of refusal.
expect_eq "enroll: not JSON" "$(req POST /v1/enroll '{')" 400
expect_eq "enroll: missing fields" "$(req POST /v1/enroll '{}')" 400
tok='{"token_id":"00000000000000000000000000000000","csr":"-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n","mac":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}'
st=$(req POST /v1/enroll "$tok")
case $st in 400|403) pass "enroll: a made-up token is refused ($st $(jq -r .error "$T/body"))" ;; *) fail "enroll: made-up token got $st" ;; esac
expect_eq "attest: short nonce" "$(req POST /v1/attest '{"nonce":"AAAA"}')" 400
expect_eq "session: unsupported version" "$(req POST /v1/session '{"version":99}')" 400
expect_eq "session: version 1, fields missing" "$(req POST /v1/session '{"version":1}')" 400
sid=AAAAAAAAAAAAAAAAAAAAAA==
expect_eq "request: unknown session" \
  "$(req POST /v1/request "{\"session_id\":\"$sid\",\"seq\":1,\"timestamp\":$(date +%s),\"ciphertext\":\"AAAA\",\"signature\":\"AAAA\"}")" 403
expect_eq "request: unknown session is session_unknown" "$(jq -r .error "$T/body")" session_unknown
expect_eq "unknown path" "$(req GET /v1/nope)" 404
expect_eq "wrong method" "$(req DELETE /v1/health)" 405
expect_eq "wrong method on a POST route" "$(req GET /v1/session)" 405
# cdrd answers 413 before it reads the body and closes, which the proxy
# cannot pass on: this one goes to cdrd directly and is logged here.
head -c $((9 * 1024 * 1024)) /dev/zero | tr '\0' 'a' >"$T/big"
read -r st ctype < <(curl -s -o "$T/body" -w '%{http_code} %{content_type}\n' -X POST \
  -H 'Content-Type: application/json' --data-binary @"$T/big" "$URL/v1/request")
expect_eq "a body over the limit" "$st" 413
jq -nc --arg b "$(cat "$T/body")" --argjson s "$st" --arg ct "$ctype" \
  '{method: "POST", path: "/v1/request", status: $s, content_type: $ct, body: $b}' >>"$LOG"

# While the room loads: a start held by the test gate.
stop_server "$SERVER_PID" || fail "server stop"
touch "$T/gate"
CDR_TEST_LOAD_GATE="$T/gate" "$CDR" serve "$R" --listen "${URL#*://}" --ready-file "$T/ready.gated" \
  >"$T/gated.log" 2>&1 &
GPID=$!
SERVER_PIDS+=("$GPID")
for _ in $(seq 600); do grep -q "loading paused" "$T/gated.log" && break; kill -0 "$GPID" || break; sleep 0.1; done
grep -q "loading paused" "$T/gated.log" || { fail "the gated start did not pause"; tail -5 "$T/gated.log"; }
expect_eq "loading: /v1/health answers 200" "$(req GET /v1/health)" 200
expect_eq "loading: health says loading, and serving" \
  "$(jq -r '[.status, .phase, .ready, .serving] | join(" ")' "$T/body")" "loading loading false true"
expect_eq "loading: progress counts the table the manifest names, none loaded yet" \
  "$(jq -r '[.progress.tables_loaded, .progress.tables_total, .progress.bytes_loaded] | join(" ")' "$T/body")" "0 1 0"
[ "$(jq -r .progress.bytes_total "$T/body")" -gt 0 ] && pass "loading: bytes_total known" || fail "loading: bytes_total"
expect_eq "loading: /v1/ready answers 503" "$(req GET /v1/ready)" 503
expect_eq "loading: ready has the same shape" "$(jq -r '[.status, .progress.tables_total] | join(" ")' "$T/body")" "loading 1"
expect_eq "loading: with Retry-After" "$(tail -n 1 "$LOG" | jq -r .retry_after)" 2
expect_eq "loading: /v1/room answers 200 (the room serves while its tables load)" "$(req GET /v1/room)" 200
check "loading: attest through the proxy while the tables load" "$CDR" attest --profile ana
expect_eq "loading: /v1/openapi.json answers 200" "$(req GET /v1/openapi.json)" 200
[ -e "$T/ready.gated" ] && fail "the ready file was written before the load"
rm -f "$T/gate"
for _ in $(seq 600); do [ "$(req GET /v1/ready)" = 200 ] && break; kill -0 "$GPID" || break; sleep 0.1; done
expect_eq "loaded: /v1/ready answers 200" "$(req GET /v1/ready)" 200
expect_eq "loaded: every table loaded" "$(jq -r '[.status, .progress.tables_loaded, .progress.tables_total] | join(" ")' "$T/body")" "ok 1 1"
for _ in $(seq 100); do [ -s "$T/ready.gated" ] && break; sleep 0.1; done
[ -s "$T/ready.gated" ] && pass "the ready file is written once loaded" || fail "no ready file after the load"

# Every recorded answer against the description.
if node "$OA/conform.js" "$SPEC" "$LOG" "$CDR_SOURCE_DIR" >"$T/conform.out" 2>&1; then
  pass "every answer conforms to docs/openapi.json ($(tail -n 1 "$T/conform.out"))"
else
  fail "answers that do not conform:"; grep -v '^ok' "$T/conform.out" | head -20 | sed 's/^/    /'
fi

# The checker fails on a description that lacks a route or an error.
jq 'del(.paths["/v1/ready"])' "$SPEC" >"$T/no-ready.json"
node "$OA/conform.js" "$T/no-ready.json" "$LOG" "$CDR_SOURCE_DIR" >"$T/c1.out" 2>&1 \
  && fail "conform.js passed a description without /v1/ready" \
  || { grep -q "route GET /v1/ready of src/host/routes.c is missing" "$T/c1.out" && pass "a missing route fails the check" \
       || fail "a missing route failed for another reason"; }
jq '.components.schemas.Error.properties.error.enum -= ["session_unknown"]' "$SPEC" >"$T/no-code.json"
node "$OA/conform.js" "$T/no-code.json" "$LOG" "$CDR_SOURCE_DIR" >"$T/c2.out" 2>&1 \
  && fail "conform.js passed a description without session_unknown" \
  || { grep -q "lacks: session_unknown" "$T/c2.out" && grep -q "POST /v1/request -> 403.*must be equal to one of" "$T/c2.out" \
       && pass "a missing error code fails the check (and the answer that carried it)" \
       || fail "a missing error code failed for another reason"; }
finish
