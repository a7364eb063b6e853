# lib.sh - shared helpers for the integration tests (sourced).
#
# Each test gets its own temporary folder ($T), starts its own server on an
# ephemeral loopback port, and stops only the processes it started, by pid.
# Environment from ctest: CDR_SOURCE_DIR, CDR_BIN_DIR, CDR_TEST_BIN_DIR.

set -uo pipefail

: "${CDR_SOURCE_DIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${CDR_BIN_DIR:=$CDR_SOURCE_DIR/build/bin}"
: "${CDR_TEST_BIN_DIR:=$CDR_SOURCE_DIR/build/tests}"
CDR="$CDR_BIN_DIR/cdr"
T=$(mktemp -d /tmp/cdr-it.XXXXXX)
export CDR_CONFIG_DIR="$T/config"
export CDR_ALLOW_SIM=1
unset CDR_HSM_PIN
SERVER_PIDS=()
SERVE_ARGS=()
PASSED=0
FAILED=0

# Sanitizer builds (make test-sanitize): every process that inherits this
# environment writes its ASan/LSan/UBSan report to $T/sanitizer.<pid>
# rather than to a stderr that may be a log nobody reads.  cdr-enclave
# does not inherit it (cdrd starts it with an empty environment), so its
# reports go to its stderr, which is cdrd's: the server log.  finish()
# fails the test on either.  Harmless in other builds.
export ASAN_OPTIONS="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}log_path=$T/sanitizer"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-}${UBSAN_OPTIONS:+:}log_path=$T/sanitizer"
export TSAN_OPTIONS="${TSAN_OPTIONS:-}${TSAN_OPTIONS:+:}log_path=$T/sanitizer"

stop_servers() {
  local pid
  for pid in "${SERVER_PIDS[@]:-}"; do
    [ -n "$pid" ] || continue
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
  done
}

cleanup() {
  stop_servers
  rm -rf "$T"
}
trap cleanup EXIT

# sanitizer_reports: print every sanitizer report of this test's processes,
# and every enclave the seccomp filter killed; succeeds if there is none.
sanitizer_reports() {
  local f found=0
  for f in "$T"/sanitizer.*; do
    [ -e "$f" ] || continue
    found=1
    echo "sanitizer report ($f):"; sed 's/^/    /' "$f" | head -60
  done
  for f in "$T"/*.log; do
    [ -e "$f" ] || continue
    if grep -qE '^==[0-9]+==ERROR: |^SUMMARY: (Address|Leak|UndefinedBehavior|Thread)Sanitizer|: runtime error: |^WARNING: ThreadSanitizer' "$f"; then
      found=1
      echo "sanitizer report in $f:"
      grep -E -A30 '^==[0-9]+==ERROR: |: runtime error: |^WARNING: ThreadSanitizer' "$f" | head -60 | sed 's/^/    /'
    fi
    # SIGSYS: the enclave made a call its seccomp filter forbids.
    if grep -q "killed by signal 31" "$f"; then
      found=1
      echo "the enclave was killed by its seccomp filter (SIGSYS) in $f:"
      grep "killed by signal 31" "$f" | sed 's/^/    /'
    fi
  done
  [ "$found" -eq 0 ]
}

pass() { PASSED=$((PASSED + 1)); echo "ok - $1"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL - $1"; }

# finish: stop the servers (their exit-time leak checks write reports
# too), fail on any sanitizer report, print the summary line and exit with
# the right status.
finish() {
  stop_servers
  sanitizer_reports || fail "sanitizer reports (above)"
  echo "$PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ]
  exit $?
}

# check NAME CMD...: the command must succeed.
check() {
  local name=$1; shift
  if "$@" >"$T/out" 2>"$T/err"; then pass "$name"; else fail "$name"; sed 's/^/    /' "$T/err" | tail -5; fi
}

# expect_error NAME CODE CMD...: the command must fail and say CODE on stderr.
expect_error() {
  local name=$1 code=$2; shift 2
  if "$@" >"$T/out" 2>"$T/err"; then
    fail "$name (succeeded, expected $code)"
  elif grep -q -- "$code" "$T/err"; then
    pass "$name"
  else
    fail "$name (expected $code)"; sed 's/^/    /' "$T/err" | tail -5
  fi
}

# expect_eq NAME GOT WANT
expect_eq() {
  if [ "$2" == "$3" ]; then pass "$1"; else fail "$1: got [$2], want [$3]"; fi
}

# new_room DIR [NAME]: create a room (quietly).
new_room() {
  "$CDR" room init "$1" --name "${2:-test room}" >"$T/init.out" 2>&1 || { cat "$T/init.out"; return 1; }
}

# invite ROOM ROLE NAME [extra args]: print the token.
invite() {
  local room=$1 role=$2 name=$3; shift 3
  "$CDR" room invite "$room" --role "$role" --name "$name" "$@" 2>/dev/null | tail -n 1
}

# start_server ROOM VAR [HOST:PORT]: start `cdr serve` (default on an
# ephemeral port); sets VAR to the URL and records the pid (the host
# process cdrd; it execs in place).  Pass the old URL's address to restart
# where the profiles expect it: restart_server ROOM VAR.
# TLS: the server speaks HTTPS with a certificate the room CA issues for
# its listen address (127.0.0.1), unless the test sets SERVE_ARGS (extra
# `cdr serve` arguments for every start, e.g. (--insecure-http) for a
# test whose tools speak plain HTTP on the socket).  Each started room's
# CA is added to $T/ca-bundle.pem, exported as CURL_CA_BUNDLE, so that
# the curl command line (and a cdr with no CA of its own) trusts it.
# new_ready_file [DIR]: READY_FILE, a path in DIR ($T) that no earlier
# start used (a file left by one would read as ready at once: $RANDOM
# names collide over many restarts).
READY_SEQ=0
new_ready_file() {
  READY_SEQ=$((READY_SEQ + 1))
  READY_FILE="${1:-$T}/ready.$READY_SEQ"
  rm -f "$READY_FILE"
}

# wait_ready PID READY [TRIES]: wait (0.1 s a try, 1200 by default) for
# the server PID to write its ready file READY.  0 ready, 1 it exited,
# 2 it was still not ready.
wait_ready() {
  for _ in $(seq "${3:-1200}"); do
    [ -s "$2" ] && return 0
    kill -0 "$1" 2>/dev/null || return 1
    sleep 0.1
  done
  [ -s "$2" ] && return 0 || return 2
}

start_server() {
  new_ready_file
  local room=$1 ready=$READY_FILE listen=${3:-127.0.0.1:0}
  "$CDR" serve "$room" --listen "$listen" --ready-file "$ready" "${SERVE_ARGS[@]}" >>"$T/server.log" 2>&1 &
  local pid=$!
  SERVER_PIDS+=("$pid")
  # Up to 120 s: loading a room with large sealed tables under the
  # sanitizers takes tens of seconds.  The wait ends as soon as the server
  # is ready or has died, so a normal start costs no more.
  wait_ready "$pid" "$ready"
  case $? in
  1) echo "server died:"; tail -20 "$T/server.log"; return 1 ;;
  2) echo "server did not become ready"; tail -20 "$T/server.log"; return 1 ;;
  esac
  SERVER_PID=$pid
  trust_room_ca "$room"
  printf -v "$2" '%s' "$(head -n 1 "$ready")"
}

# trust_room_ca ROOM: add ROOM/ca.crt to $T/ca-bundle.pem (once) and
# export that as CURL_CA_BUNDLE (for a test that starts cdrd itself).
trust_room_ca() {
  grep -qxF "$(sed -n 2p "$1/ca.crt")" "$T/ca-bundle.pem" 2>/dev/null || cat "$1/ca.crt" >>"$T/ca-bundle.pem"
  export CURL_CA_BUNDLE="$T/ca-bundle.pem"
}

# restart_server ROOM VAR: start again on the address VAR holds.
restart_server() {
  local url=${!2}
  start_server "$1" "$2" "${url#*://}"
}

# flip_byte FILE OFFSET: XOR one bit of the byte at OFFSET, so the file
# always changes (writing a fixed value would not when it is already there).
flip_byte() {
  local f=$1 at=$2 old
  old=$(od -An -tu1 -j "$at" -N1 "$f" | tr -d ' ')
  printf "$(printf '\\%03o' $(( old ^ 1 )))" | dd of="$f" bs=1 seek="$at" conv=notrunc status=none
}

# stop_server PID: SIGTERM, and wait for a clean exit (up to a minute: a
# sanitizer build on a loaded machine takes seconds to stop, and a restart
# on the same port fails while the old server still holds it; the wait
# ends as soon as the server has gone).
stop_server() {
  kill -TERM "$1" 2>/dev/null
  for _ in $(seq 600); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  return 1
}

# enclave_pid HOSTPID: the enclave is the host's only child.
enclave_pid() {
  cat /proc/"$1"/task/*/children 2>/dev/null | tr ' ' '\n' | grep -m1 .
}

# user NAME ROLE ROOM URL [keygen args]: keygen + invite + enroll into $T/NAME.{key,crt},
# with a profile named NAME.
user() {
  local name=$1 role=$2 room=$3 url=$4; shift 4
  "$CDR" keygen "$T/$name.key" "$@" >/dev/null 2>&1 || return 1
  local tok
  tok=$(invite "$room" "$role" "$name@example.org")
  "$CDR" enroll "$url" --key "$T/$name.key" --token "$tok" --out "$T/$name.crt" --profile "$name" >"$T/enroll.out" 2>&1 \
    || { cat "$T/enroll.out"; return 1; }
}

# propose_contract ROOM [cdr room propose options]: the room admin drafts the room contract's next
# version with `cdr room propose ROOM` (every certificate the room issued
# and has not revoked, with its key, name and role; the running enclave's
# measurement; the version after the active one in ROOM/contract.json,
# else version 1) and waits until cdrd has handed it to the enclave
# (ROOM/contract.json shows it pending).  Sets CONTRACT_HASH.  A test
# whose room folder belongs to another user sets ROOM_ADMIN to the
# command prefix that runs `cdr room` as that user.
ROOM_ADMIN=()
propose_contract() {
  local room=$1 prev=() h=""
  shift
  if python3 - "$room/contract.json" "$T/contract.prev.json" <<'PY' 2>/dev/null; then prev=(--previous "$T/contract.prev.json"); fi
import json, sys
a = json.load(open(sys.argv[1])).get("active")
if not a:
    sys.exit(1)
open(sys.argv[2], "w").write(a["document"])
PY
  "${ROOM_ADMIN[@]}" "$CDR" room propose "$room" "${prev[@]}" "$@" >"$T/contract.propose" 2>&1 || { cat "$T/contract.propose"; return 1; }
  h=$(sed -n 's/.*contract hash \([0-9a-f]\{64\}\)$/\1/p' "$T/contract.propose")
  [ ${#h} -eq 64 ] || { echo "propose_contract: no hash in:"; cat "$T/contract.propose"; return 1; }
  for _ in $(seq 300); do
    grep -q "\"sha256\": \"$h\"" "$room/contract.json" 2>/dev/null && break
    sleep 0.1
  done
  grep -q "\"sha256\": \"$h\"" "$room/contract.json" || { echo "propose_contract: $h never pending"; return 1; }
  CONTRACT_HASH=$h
}

# sign_contract PROFILE [cdr options]: PROFILE signs CONTRACT_HASH (its
# answer in $T/contract.sign; "now active" once the version is active).
sign_contract() {
  local prof=$1
  shift
  "$CDR" contract sign --profile "$prof" "$@" "$CONTRACT_HASH" >"$T/contract.sign" 2>&1 \
    || { echo "sign_contract: $prof cannot sign $CONTRACT_HASH:"; cat "$T/contract.sign"; return 1; }
}

# activate_contract ROOM [--exclude X]... NAME...: make the room's next contract version
# active, as its members would: propose_contract ROOM (leaving out each
# member X, e.g. one whose certificate expired), then each profile NAME
# signs it.  NAME... must hold every signer cdr-gov-1 asks for: for
# version 1 every enrolled member, for a later one every provider of the
# active version and every member the version adds (PROTOCOL 8.6).  A
# NAME of the form PROFILE@/CONFIG/DIR is a profile kept in another
# CDR_CONFIG_DIR.  Until version 1 is active a room serves contract
# operations only (contract_not_active), so every test calls this once
# its members are enrolled:
#   user prov provider "$R" "$URL" && user ana analyst "$R" "$URL" || { fail "enroll"; finish; }
#   activate_contract "$R" prov ana || { fail "activate the contract"; finish; }
# Fails (printing why) unless the version is active at the end.
activate_contract() {
  local room=$1 n ex=()
  shift
  while [ "${1:-}" = --exclude ]; do ex+=(--exclude "$2"); shift 2; done
  propose_contract "$room" "${ex[@]}" || return 1
  for n in "$@"; do
    case $n in
    *@/*) CDR_CONFIG_DIR=${n#*@} sign_contract "${n%%@*}" || return 1 ;;
    *) sign_contract "$n" || return 1 ;;
    esac
  done
  grep -q "now active" "$T/contract.sign" || { echo "activate_contract: $CONTRACT_HASH is not active:"; cat "$T/contract.sign"; return 1; }
}
