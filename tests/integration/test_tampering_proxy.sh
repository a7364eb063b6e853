#!/usr/bin/env bash
# The CLI itself must refuse results that the host or network forged: a
# proxy between `cdr` and the server flips a ciphertext bit, replays an
# earlier answer, or flips the status; each time `cdr query` fails with
# response_forged and prints no result.  The same proxy passing traffic
# unchanged shows the setup works.
. "$(dirname "$0")/lib.sh"
# The proxy speaks plain HTTP on the socket: the server does too (loopback).
SERVE_ARGS=(--insecure-http)

R="$T/room"
new_room "$R" || { fail "room init"; finish; }
start_server "$R" URL || { fail "server start"; finish; }
user prov provider "$R" "$URL" && user ana analyst "$R" "$URL" || { fail "enroll"; finish; }
activate_contract "$R" prov ana || { fail "activate the contract"; finish; }
printf 'k,v\n1,SECRETVALUE\n' >"$T/t.csv"
"$CDR" upload --profile prov t "$T/t.csv" >/dev/null 2>&1 || fail "upload"
"$CDR" grant --profile prov t --to role:analyst >/dev/null 2>&1 || fail "grant"

# start_proxy MODE VAR: sets VAR to the proxy URL.
start_proxy() {
  local ready="$T/mitm.$1"
  "$CDR_TEST_BIN_DIR/mitm" "$URL" "$1" "$ready" &
  SERVER_PIDS+=("$!")
  for _ in $(seq 50); do [ -s "$ready" ] && break; sleep 0.1; done
  printf -v "$2" '%s' "$(head -n 1 "$ready")"
}

start_proxy none P_NONE
check "through an honest proxy the query works" \
  "$CDR" query "$P_NONE" --key "$T/ana.key" --cert "$T/ana.crt" "SELECT v FROM t" --format csv
grep -q SECRETVALUE "$T/out" && pass "honest proxy: result decrypted" || fail "honest proxy result"

start_proxy flip P_FLIP
expect_error "a flipped response bit is refused by the CLI" response_forged \
  "$CDR" query "$P_FLIP" --key "$T/ana.key" --cert "$T/ana.crt" "SELECT v FROM t" --format csv
[ ! -s "$T/out" ] && pass "no result printed for the forged answer" || fail "output printed: $(cat "$T/out")"

start_proxy replay P_REPLAY
"$CDR" query "$P_REPLAY" --key "$T/ana.key" --cert "$T/ana.crt" "SELECT 'first'" >/dev/null 2>&1
expect_error "an earlier answer replayed to a new request is refused by the CLI" response_forged \
  "$CDR" query "$P_REPLAY" --key "$T/ana.key" --cert "$T/ana.crt" "SELECT v FROM t" --format csv
grep -q first "$T/out" && fail "the replayed result was printed" || pass "the replayed result was not printed"

start_proxy status P_STATUS
expect_error "a success turned into a failure is refused by the CLI" response_forged \
  "$CDR" query "$P_STATUS" --key "$T/ana.key" --cert "$T/ana.crt" "SELECT v FROM t"
grep -q "forged by the proxy" "$T/err" && fail "the clear-text message was believed" || pass "the clear-text message was not shown as the reason"
finish
