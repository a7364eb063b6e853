#!/usr/bin/env bash
# Abusive clients (tests/tools/abuse.c) against one server, each limit
# with its own error, while a legitimate client keeps being served:
#   - a 100 GB Content-Length and an endless chunked body: 413 too_large,
#     early, and no memory growth; a request body over the request cap:
#     413, one under it reaches the enclave;
#   - slowloris (headers one byte a second), a body one byte a second and
#     connections that send nothing: 408 when the deadline passes,
#     every connection closed by the server, and 503 busy for those past
#     the per-address connection limit;
#   - more connections than the per-address and the server-wide limits:
#     503 busy with a message naming which;
#   - a flood of replayed session setups from many threads (thousands of
#     sessions that are never used): the per-certificate cap evicts the
#     oldest, the enclave's memory stays flat.
# The attackers connect from other loopback addresses (127.0.0.2, ...)
# than the legitimate client (127.0.0.1), as other hosts would.  The only
# time bounds are generous ones ("answers within 30 s"); speed is bench/'s.
. "$(dirname "$0")/lib.sh"
# The abuse tool speaks plain HTTP on the socket: the server does too (loopback).
SERVE_ARGS=(--insecure-http)

ABUSE="$CDR_TEST_BIN_DIR/abuse"
asan=0
grep -q "__asan_init" "$CDR" 2>/dev/null && asan=1
if [ "$asan" = 1 ]; then FLOOD=400; else FLOOD=1500; fi

R="$T/room"
new_room "$R" || { fail "room init"; finish; }
start_server "$R" URL || { fail "server start"; finish; }
user prov provider "$R" "$URL" && user ana analyst "$R" "$URL" && user atk analyst "$R" "$URL" \
  || { fail "enroll"; finish; }
activate_contract "$R" prov ana atk || { fail "activate the contract"; finish; }
printf 'id,v\n1,a\n2,b\n3,c\n' >"$T/t.csv"
check "upload t" "$CDR" upload --profile prov t "$T/t.csv"
check "grant t" "$CDR" grant --profile prov t --to role:analyst
ENC=$(enclave_pid "$SERVER_PID")

# legit NAME: the legitimate analyst's query answers, within 30 s.
legit() {
  local got
  got=$(timeout 30 "$CDR" query --profile ana "SELECT count(*) FROM t" --format csv 2>"$T/legit.err" | tr -d '\r' | tail -n 1)
  if [ "$got" = "3" ]; then pass "$1"; else fail "$1: got [$got] $(grep -v 'simulated attestation' "$T/legit.err" | tail -2)"; fi
}
rss() { awk '/^VmRSS/ {print $2}' /proc/"$1"/status 2>/dev/null; }
hwm() { awk '/^VmHWM/ {print $2}' /proc/"$1"/status 2>/dev/null; }
# has FILE NAME PATTERN: the abuse output has a line matching PATTERN.
has() { if grep -qE -- "$3" "$1"; then pass "$2"; else fail "$2: $(grep -E '^(result|slow|huge|conns|holding|sessions|bigreq)' "$1" | tr '\n' '|')"; fi; }
# count FILE STATUS CODE MESSAGE-PART: how many connections got that answer.
count() { grep -E "^result: status=$2 code=$3 " "$1" | grep -F -- "$4" | sed -E 's/.* count=([0-9]+) .*/\1/' | head -1; }
# Reset cdrd's peak RSS (VmHWM), so that the next reading is this step's.
reset_peak() { echo 5 >/proc/"$SERVER_PID"/clear_refs 2>/dev/null; }

# ---- bodies: huge, endless, over the cap ----
HOST0=$(rss "$SERVER_PID"); reset_peak
"$ABUSE" huge "$URL" 127.0.0.2 length >"$T/huge1.out" 2>&1
has "$T/huge1.out" "a 100 GB Content-Length is refused at once (413 too_large)" \
  "^result: status=413 code=too_large count=1 message=request body larger than the limit"
"$ABUSE" huge "$URL" 127.0.0.2 chunked >"$T/huge2.out" 2>&1
has "$T/huge2.out" "an endless chunked body is refused (413 too_large)" \
  "^result: status=413 code=too_large count=1 message=request body larger than the limit"
SENT=$(sed -nE 's/^huge: chunked: sent ([0-9]+) .*/\1/p' "$T/huge2.out")
[ -n "$SENT" ] && [ "$SENT" -lt $((64 * 1024 * 1024)) ] && pass "the server stopped reading it ($SENT bytes sent)" \
  || fail "the endless body was read too far: [$SENT] bytes"
# A request body over the request cap (about 8 MiB), and one under it.
"$ABUSE" bigreq "$URL" 127.0.0.2 6500000 >"$T/big1.out" 2>&1
has "$T/big1.out" "a request body over the cap is refused (413 too_large)" "^result: status=413 code=too_large "
"$ABUSE" bigreq "$URL" 127.0.0.2 5000000 >"$T/big2.out" 2>&1
has "$T/big2.out" "a 6.7 MB request body is read and checked (the enclave knows no such session)" \
  "^result: status=403 code=session_unknown "
HOST1=$(rss "$SERVER_PID") PEAK=$(hwm "$SERVER_PID")
echo "# cdrd RSS ${HOST0} -> ${HOST1} KB, peak ${PEAK} KB during the oversized bodies and a 6.7 MB request"
if [ "$asan" = 1 ]; then
  pass "memory not measured under AddressSanitizer"
else
  # Bounded, not back to the start: malloc keeps freed memory in its
  # per-thread arenas for reuse.  Before the request cap an 80 MB body
  # alone took cdrd's peak past 250 MB.
  [ -n "$PEAK" ] && [ "$PEAK" -le $((HOST0 + 65536)) ] && pass "cdrd's peak stays within 64 MB of its start (${PEAK} KB)" \
    || fail "cdrd peak RSS ${PEAK} KB (start ${HOST0} KB)"
fi
legit "after the bodies the legitimate client is served"

# ---- slow clients: headers, body, nothing; the per-address limit ----
# Held connections send the start of a request and stop: busy ones, that
# the server cannot close to make room (it does close idle kept-alive
# ones).  Probes then ask for /v1/health.
# probe FILE STATUS CODE MESSAGE-PART: how many probes got that answer.
probe() { grep -E "^probe: status=$2 code=$3 " "$1" | grep -F -- "$4" | sed -E 's/.* count=([0-9]+) .*/\1/' | head -1; }
"$ABUSE" conns "$URL" 32 30 127.0.0.5 4 127.0.0.5 >"$T/conns1.out" 2>&1 &
p4=$!
"$ABUSE" slow "$URL" 127.0.0.2 48 40 headers >"$T/slow.out" 2>&1 &
p1=$!
"$ABUSE" slow "$URL" 127.0.0.3 6 40 body >"$T/slowbody.out" 2>&1 &
p2=$!
"$ABUSE" slow "$URL" 127.0.0.4 6 40 idle >"$T/idle.out" 2>&1 &
p3=$!
for _ in $(seq 300); do grep -q "^holding" "$T/conns1.out" && break; sleep 0.1; done
expect_eq "per-address limit: past 32 connections from one address, 503 busy" \
  "$(probe "$T/conns1.out" 503 busy "too many connections from your address; retry later")" "4"
legit "while slow clients hold connections (one address at its limit) the legitimate client is served"
wait $p1 $p2 $p3 $p4
cat "$T/slow.out" "$T/slowbody.out" "$T/idle.out" | grep -E '^(result|slow)' | sed 's/^/# /'
has "$T/slow.out" "slowloris: every connection is ended by the server" "^slow: ended by the server 48, still open 0"
expect_eq "slowloris: the 32 admitted get 408 for their unfinished headers" \
  "$(count "$T/slow.out" 408 request_timeout "no complete request headers within 10 seconds")" "32"
expect_eq "slowloris: the 16 past the per-address limit get 503 busy" \
  "$(count "$T/slow.out" 503 busy "too many connections from your address")" "16"
has "$T/slowbody.out" "a body sent a byte a second: 408 and closed" \
  "^result: status=408 code=request_timeout count=6 message=the request body arrives slower than"
has "$T/slowbody.out" "every slow body is ended by the server" "^slow: ended by the server 6, still open 0"
has "$T/idle.out" "connections that send nothing: 408 and closed" \
  "^result: status=408 code=request_timeout count=6 message=no complete request headers"
grep -E '^(probe|result|conns)' "$T/conns1.out" | sed 's/^/# /'
has "$T/conns1.out" "the connections held at the per-address limit are ended by the server (408)" \
  "^result: status=408 code=request_timeout count=32 message=no complete request headers"
legit "after the slow clients the legitimate client is served"

# ---- the server-wide connection limit ----
ADDRS=$(for i in $(seq 10 18); do printf '127.0.0.%d ' "$i"; done)
# shellcheck disable=SC2086
"$ABUSE" conns "$URL" 29 30 127.0.0.19 4 $ADDRS >"$T/conns2.out" 2>&1 &
p1=$!
for _ in $(seq 300); do grep -q "^holding" "$T/conns2.out" && break; sleep 0.1; done
expect_eq "server-wide limit: past 256 connections, 503 busy (server full)" \
  "$(probe "$T/conns2.out" 503 busy "the server has too many connections; retry later")" "4"
if timeout 30 "$CDR" query --profile ana "SELECT 1" >/dev/null 2>"$T/full.err"; then
  fail "a client arriving while the server is full was served"
else
  grep -q "busy" "$T/full.err" && pass "a client arriving while the server is full is told busy" \
    || fail "while full: $(grep -v 'simulated attestation' "$T/full.err" | tail -2)"
fi
wait $p1
grep -E '^(probe|result|conns)' "$T/conns2.out" | sed 's/^/# /'
has "$T/conns2.out" "the server ends every held connection" "^conns: 0 of 261 still open"
HELD=$(count "$T/conns2.out" 408 request_timeout "no complete request headers")
PAST=$(count "$T/conns2.out" 503 busy "the server has too many connections")
[ -n "$HELD" ] && [ -n "$PAST" ] && [ "$HELD" -le 256 ] && [ $((HELD + PAST)) -eq 261 ] \
  && pass "of 261 held connections at most 256 were admitted ($HELD, ended with 408), the rest got 503 busy ($PAST)" \
  || fail "held connections: [$HELD] ended with 408, [$PAST] with 503"
legit "once they are gone the legitimate client is served"

# ---- a flood of session setups: thousands of idle sessions ----
ENC0=$(rss "$ENC")
"$ABUSE" sessions "$URL" "$R/ca.crt" "$T/atk.key" "$T/atk.crt" 127.0.0.6 "$FLOOD" 8 >"$T/flood.out" 2>"$T/flood.err" &
p1=$!
sleep 1
rounds=0 bad=0
while kill -0 $p1 2>/dev/null || [ $rounds -lt 3 ]; do
  timeout 30 "$CDR" query --profile ana "SELECT count(*) FROM t" >/dev/null 2>"$T/legit.err" || bad=$((bad + 1))
  rounds=$((rounds + 1))
done
wait $p1
grep -E '^(result|sessions)' "$T/flood.out" | sed 's/^/# /'
expect_eq "during the flood every one of $rounds legitimate queries was answered" "$bad" "0"
has "$T/flood.out" "every replayed session setup got a session" "^result: status=200 code=- count=$FLOOD "
has "$T/flood.out" "the flooding certificate's first session was evicted (per-certificate cap)" \
  "^sessions: the first session afterwards: session_unknown"
ENC1=$(rss "$ENC")
echo "# cdr-enclave RSS ${ENC0} -> ${ENC1} KB after $FLOOD session setups"
if [ "$asan" = 1 ]; then
  pass "memory not measured under AddressSanitizer"
else
  [ -n "$ENC1" ] && [ "$ENC1" -le $((ENC0 + 16384)) ] && pass "cdr-enclave's memory stays flat (${ENC0} -> ${ENC1} KB)" \
    || fail "cdr-enclave RSS grew from ${ENC0} to ${ENC1} KB"
fi
check "the flooding user still opens a session of its own" "$CDR" query --profile atk "SELECT count(*) FROM t"
legit "after the flood the legitimate client is served"
finish
