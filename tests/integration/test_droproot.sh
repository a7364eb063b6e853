#!/usr/bin/env bash
# cdrd started as root gives root up (src/host/privdrop.c): it runs as
# the owner of the room folder (or --user NAME) with every uid and gid
# (real, effective, saved, filesystem) that user's and no supplementary
# group, and so does the enclave it starts (which is also filtered and
# holds no capability).  A port below 1024 is still bound (root comes back
# for the bind only).  Refused: --user root, an unknown user, and a user
# that cannot use the room (fail closed, with the reason).  A room that
# root owns keeps cdrd root, with a warning (privdrop.c says why).
#
# Only root can test a switch of user.  Run as anyone else, the test says
# so and checks what it can: --user naming someone else is refused, and a
# server runs as the invoking user.
. "$(dirname "$0")/lib.sh"

# ids PID: "Uid:<4 uids> Gid:<4 gids> Groups:<list>" of a process.
ids() {
  awk '$1 == "Uid:" || $1 == "Gid:" || $1 == "Groups:" { $1 = $1; printf "%s%s", sep, $0; sep = " " }' \
    /proc/"$1"/status
}
status_field() { awk -v f="$2:" '$1 == f { print $2 }' /proc/"$1"/status 2>/dev/null; }

# run_cdrd LOG ARGS...: cdrd in the foreground; its exit status.
run_cdrd() {
  local log=$1; shift
  timeout 60 "$CDR_BIN_DIR/cdrd" "$@" >"$log" 2>&1
}

if [ "$(id -u)" != 0 ]; then
  echo "# not root (uid $(id -u)): dropping root cannot be tested here; checking only that --user is refused"
  echo "# for another user and that the server runs as the invoking user"
  R="$T/room"
  new_room "$R" || { fail "room init"; finish; }
  if run_cdrd "$T/other.log" --room "$R" --listen 127.0.0.1:0 --user root; then
    fail "a non-root cdrd accepted --user root"
  else
    grep -q "only a cdrd started as root can switch" "$T/other.log" && pass "--user for another user is refused" \
      || fail "--user refusal: $(tail -3 "$T/other.log")"
  fi
  start_server "$R" URL || { fail "server start"; finish; }
  expect_eq "the host runs as the invoking user" "$(status_field "$SERVER_PID" Uid)" "$(id -u)"
  finish
fi

SVC=nobody
SVC_UID=$(id -u "$SVC" 2>/dev/null) && SVC_GID=$(getent group "$(id -gn "$SVC")" | cut -d: -f3)
[ -n "$SVC_UID" ] && [ -n "$SVC_GID" ] && [ "$SVC_UID" != 0 ] || { fail "no unprivileged user '$SVC' here"; finish; }
as_svc() { setpriv --reuid="$SVC_UID" --regid="$SVC_GID" --clear-groups "$@"; }

# The service user must be able to run the build's programs (cdrd starts
# the enclave after switching).
as_svc test -x "$CDR_BIN_DIR/cdr-enclave" && pass "$SVC can run the enclave program" \
  || { fail "$SVC cannot execute $CDR_BIN_DIR/cdr-enclave (the build directory must be readable by other users)"; finish; }

# A room that belongs to the service user, in a folder it can reach.
chmod 711 "$T"
D="$T/svc"
mkdir -p "$D"
R="$D/room"
new_room "$R" || { fail "room init"; finish; }
chown -R "$SVC_UID:$SVC_GID" "$D"
# Sanitizer reports of processes that run as the service user go where
# it can write; finish() looks for them in $T.
SVC_ASAN="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}log_path=$D/sanitizer"
SVC_UBSAN="${UBSAN_OPTIONS:-}${UBSAN_OPTIONS:+:}log_path=$D/sanitizer"
collect_reports() { for f in "$D"/sanitizer.*; do [ -e "$f" ] && cp "$f" "$T/"; done; }

# start_svc_server VAR LISTEN: cdr serve on the service user's room; VAR
# gets the URL, SERVER_PID the pid.
start_svc_server() {
  new_ready_file "$D"
  local ready=$READY_FILE
  ASAN_OPTIONS="$SVC_ASAN" UBSAN_OPTIONS="$SVC_UBSAN" \
    "$CDR" serve "$R" --listen "$2" --ready-file "$ready" >>"$T/svc.log" 2>&1 &
  local pid=$!
  SERVER_PIDS+=("$pid")
  wait_ready "$pid" "$ready"
  case $? in
  1) echo "server died:"; tail -20 "$T/svc.log"; return 1 ;;
  2) echo "server did not become ready"; tail -20 "$T/svc.log"; return 1 ;;
  esac
  SERVER_PID=$pid
  printf -v "$1" '%s' "$(head -n 1 "$ready")"
}

WANT="Uid: $SVC_UID $SVC_UID $SVC_UID $SVC_UID Gid: $SVC_GID $SVC_GID $SVC_GID $SVC_GID Groups:"
start_svc_server URL 127.0.0.1:0 || { fail "server start as root on $SVC's room"; collect_reports; finish; }
expect_eq "the host runs as $SVC, every uid and gid, no groups" "$(ids "$SERVER_PID")" "$WANT"
EP=$(enclave_pid "$SERVER_PID")
[ -n "$EP" ] && pass "found the enclave ($EP)" || fail "no enclave"
expect_eq "the enclave runs as $SVC too" "$(ids "$EP")" "$WANT"
expect_eq "the enclave holds no capability" "$(status_field "$EP" CapEff)" 0000000000000000
expect_eq "the enclave is filtered" "$(status_field "$EP" Seccomp)" 2
grep -q "running as user $SVC (uid $SVC_UID, gid $SVC_GID), not root" "$T/svc.log" && pass "the host says whom it runs as" \
  || fail "no 'running as' line: $(grep cdrd "$T/svc.log" | tail -3)"

# The room works: enrollment signs with the token, uploads are stored in
# state/, all as the service user.
tok=$(as_svc "$CDR" room invite "$R" --role provider --name prov@example.org 2>/dev/null | tail -n 1)
"$CDR" keygen "$T/prov.key" >/dev/null 2>&1
check "enroll against the dropped host" "$CDR" enroll "$URL" --key "$T/prov.key" --token "$tok" --out "$T/prov.crt" --profile prov
ROOM_ADMIN=(as_svc) # `cdr room propose` as the room folder's owner
check "the member signs contract version 1" activate_contract "$R" prov
ROOM_ADMIN=()
printf 'k,v\n1,a\n2,b\n3,c\n' >"$T/t.csv"
check "upload" "$CDR" upload --profile prov t "$T/t.csv"
expect_eq "query" "$("$CDR" query --profile prov "SELECT count(*) FROM t" --format csv 2>/dev/null | tr -d '\r' | tail -n 1)" 3
BAD=$(find "$D" ! -user "$SVC_UID" -newer "$T/t.csv" 2>/dev/null | head -3)
[ -z "$BAD" ] && pass "every file the server wrote belongs to $SVC" || fail "files not $SVC's: $BAD"
stop_server "$SERVER_PID" && pass "clean stop" || fail "clean stop"

# A port below 1024: root comes back for the bind only.
started=""
for p in 987 913 871 799 733 677; do
  if start_svc_server URL "127.0.0.1:$p" 2>/dev/null; then started=$p; break; fi
done
if [ -n "$started" ]; then
  pass "serves on privileged port $started"
  expect_eq "and runs as $SVC there too" "$(ids "$SERVER_PID")" "$WANT"
  expect_eq "answers on port $started" "$("$CDR" query "$URL" --key "$T/prov.key" --cert "$T/prov.crt" \
    "SELECT count(*) FROM t" --format csv 2>/dev/null | tr -d '\r' | tail -n 1)" 3
  stop_server "$SERVER_PID" || fail "clean stop"
else
  fail "could not start on any privileged port: $(tail -3 "$T/svc.log")"
fi

# Refusals, each before anything is served.
if run_cdrd "$T/root.log" --room "$R" --listen 127.0.0.1:0 --user root; then fail "--user root accepted"; else
  grep -q "that is root" "$T/root.log" && pass "--user root is refused" || fail "--user root: $(tail -3 "$T/root.log")"
fi
if run_cdrd "$T/nouser.log" --room "$R" --listen 127.0.0.1:0 --user cdr-no-such-user-x; then fail "unknown user accepted"; else
  grep -q "no such user" "$T/nouser.log" && pass "an unknown --user is refused" || fail "unknown user: $(tail -3 "$T/nouser.log")"
fi
# A room the chosen user cannot use: fail closed, saying why.
RR="$T/rootroom"
new_room "$RR" || fail "root room init"
if run_cdrd "$T/cannot.log" --room "$RR" --listen 127.0.0.1:0 --user "$SVC"; then fail "$SVC served a room it cannot read"; else
  grep -q "cdrd runs as user $SVC: the room folder and everything in it must be that user's" "$T/cannot.log" \
    && pass "a room the user cannot use: refused, with the reason" || fail "unusable room: $(tail -3 "$T/cannot.log")"
fi
# A room that root owns, without --user: root stays, with the warning.
start_server "$RR" URL2 || { fail "server on a root-owned room"; collect_reports; finish; }
expect_eq "a root-owned room keeps the host root" "$(status_field "$SERVER_PID" Uid)" 0
grep -q "running as root: the room folder $RR belongs to root" "$T/server.log" && pass "and it warns" \
  || fail "no warning: $(grep cdrd "$T/server.log" | tail -3)"

collect_reports
finish
