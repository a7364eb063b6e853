#!/usr/bin/env bash
# Hardware attestation, as far as a machine without SEV-SNP, TDX or Nitro
# can take it (docs/ATTESTATION.md, "What is tested where"):
#   - `cdr room init --attestation P` records P in room.json and makes the
#     sim platform files for sim rooms only;
#   - cdrd passes room.json's provider (and --tsm-root) to the enclave it
#     starts, and each hardware provider fails at start with a clear
#     message when its hardware is missing: snp on a fake configfs-tsm tree
#     with the real SEV-SNP report gets as far as the sealing key, which
#     needs /dev/sev-guest;
#   - tdx on a fake tree starts with no sealing key: its state lasts one
#     run, and the next start removes it and makes a new identity;
#   - the connected channel (cdrd --enclave-unix / cdr-enclave
#     --listen-unix: the AF_UNIX stand-in of the vsock channel that Nitro
#     uses; no vsock transport here) carries a whole session: attest,
#     enroll, upload, query;
#   - cdrd refuses an enclave whose platform is not the room's;
#   - a 96-hex (hardware) expected measurement never matches sim.
. "$(dirname "$0")/lib.sh"

CDRD="$CDR_BIN_DIR/cdrd"
ENCLAVE="$CDR_BIN_DIR/cdr-enclave"
D="$CDR_SOURCE_DIR/tests/data/attest"

# run_cdrd ROOM LOG ARGS...: run cdrd until it is ready (URL and CDRD_PID
# set, returns 0) or exits (returns 1).
run_cdrd() {
  new_ready_file
  local room=$1 log=$2 ready=$READY_FILE; shift 2
  "$CDRD" --room "$room" --listen 127.0.0.1:0 --ready-file "$ready" "$@" >>"$log" 2>&1 &
  local pid=$!
  SERVER_PIDS+=("$pid")
  wait_ready "$pid" "$ready" 150 || return 1
  CDRD_PID=$pid
  trust_room_ca "$room"
  URL=$(head -n 1 "$ready")
}

# ---- room init --attestation ----
expect_error "unknown provider is a usage error" "must be sim, snp, tdx, nitro or auto" \
  "$CDR" room init "$T/bad" --attestation sev
[ -e "$T/bad" ] && fail "no folder after a usage error" || pass "no folder after a usage error"
check "room init --attestation snp" "$CDR" room init "$T/snp" --attestation snp
grep -q '"attestation": "snp"' "$T/snp/room.json" && pass "room.json names snp" || fail "room.json: $(cat "$T/snp/room.json")"
grep -q "attestation: *snp" "$T/out" && pass "init prints the provider" || fail "init output: $(cat "$T/out")"
[ ! -e "$T/snp/attestation" ] && pass "no sim platform files in a hardware room" || fail "sim files in an snp room"
check "room init --attestation nitro" "$CDR" room init "$T/nitro" --attestation nitro
grep -q "nitro offers no sealing key, so this room keeps nothing across enclave restarts" "$T/out" \
  && pass "init warns that a nitro room keeps nothing across restarts" || fail "nitro warning: $(cat "$T/out")"
check "room init --attestation auto" "$CDR" room init "$T/auto" --attestation auto

# ---- cdrd starts the enclave with the room's provider ----
mkdir -p "$T/tsm-empty"
if run_cdrd "$T/snp" "$T/snp.log" --tsm-root "$T/tsm-empty"; then
  fail "an snp room started on an empty configfs-tsm tree"
else
  pass "an snp room does not start without a report provider"
fi
grep -q "configfs-tsm" "$T/snp.log" && pass "it names configfs-tsm" || fail "snp log: $(tail -5 "$T/snp.log")"
[ -z "$(ls -A "$T/tsm-empty")" ] && pass "the private report entry was removed" || fail "left in tsm: $(ls "$T/tsm-empty")"

if run_cdrd "$T/nitro" "$T/nitro.log"; then
  fail "a nitro room started without /dev/nsm"
else
  pass "a nitro room does not start without /dev/nsm"
fi
grep -q "Nitro Secure Module" "$T/nitro.log" && pass "it names the Nitro Secure Module" \
  || fail "nitro log: $(tail -5 "$T/nitro.log")"

if run_cdrd "$T/auto" "$T/auto.log" --tsm-root "$T/no-such-tsm"; then
  fail "an auto room started without hardware"
else
  pass "an auto room does not fall back to sim"
fi
grep -q "no attestation hardware here" "$T/auto.log" && pass "it says there is no hardware" \
  || fail "auto log: $(tail -5 "$T/auto.log")"

# ---- snp on a fake configfs-tsm entry holding the real report ----
# fake_tsm_entry DIR PROVIDER OUTBLOB: a configfs-tsm report entry whose
# outblob is ready (real configfs makes it when it is read).
fake_tsm_entry() {
  mkdir -p "$1"
  printf '%s\n' "$2" >"$1/provider"
  printf '1\n' >"$1/generation"
  : >"$1/inblob"
  cp "$3" "$1/outblob"
}
E="$T/tsm/e0"
fake_tsm_entry "$E" sev_guest "$D/snp/report-gcp-milan.bin"
if [ -e /dev/sev-guest ]; then
  echo "# skipped: this machine has /dev/sev-guest, so the fake tree would not stop at the sealing key"
else
  "$ENCLAVE" --attestation snp --tsm-root "$T/tsm" --tsm-entry e0 --listen-unix "$T/snp.sock" 2>"$T/snp-enclave.log" &
  SERVER_PIDS+=("$!")
  if run_cdrd "$T/snp" "$T/snp2.log" --enclave-unix "$T/snp.sock"; then
    fail "an snp enclave started without /dev/sev-guest"
  else
    pass "an snp enclave on the fake tree stops at the sealing key"
  fi
  grep -q "sealing on SEV-SNP needs" "$T/snp-enclave.log" && pass "it says sealing needs /dev/sev-guest" \
    || fail "snp enclave log: $(tail -5 "$T/snp-enclave.log")"
  [ "$(stat -c %s "$E/inblob")" = "64" ] && pass "the enclave wrote 64 bytes of report_data" || fail "inblob size"
fi

# ---- tdx on a fake configfs-tsm entry: no sealing key, so every start is
# a new identity in an empty room ----
XE="$T/tsmx/e0"
fake_tsm_entry "$XE" tdx_guest "$D/tdx/tdx-quote.bin"
check "room init --attestation tdx" "$CDR" room init "$T/tdx" --attestation tdx
grep -q "tdx offers no sealing key" "$T/out" && pass "init warns that a tdx room keeps nothing" \
  || fail "tdx warning: $(cat "$T/out")"
# start_tdx N: a tdx enclave on the fake entry and its cdrd (URL, CDRD_PID, XPID).
start_tdx() {
  "$ENCLAVE" --attestation tdx --tsm-root "$T/tsmx" --tsm-entry e0 --listen-unix "$T/tdx$1.sock" \
    2>"$T/tdx-enclave$1.log" &
  XPID=$!
  SERVER_PIDS+=("$XPID")
  run_cdrd "$T/tdx" "$T/tdx$1.log" --enclave-unix "$T/tdx$1.sock"
}
# identity_of URL: the identity key the enclave reports at /v1/attest.
identity_of() {
  curl -sS -X POST -H 'Content-Type: application/json' \
    -d "{\"nonce\": \"$(head -c 32 /dev/urandom | base64 -w0)\"}" "$1/v1/attest" \
    | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["platform"], d["identity_public_key"])'
}
if start_tdx 1; then
  pass "a tdx room starts without a sealing key"
  grep -q "tdx offers no sealing key: this enclave's identity, tables and audit log last only as long as it runs" \
    "$T/tdx-enclave1.log" && pass "the enclave says its state lasts only this run" \
    || fail "tdx enclave log: $(tail -5 "$T/tdx-enclave1.log")"
  ID1=$(identity_of "$URL")
  expect_eq "the tdx enclave attests as tdx" "${ID1%% *}" "tdx"
  [ "$(stat -c %s "$XE/inblob")" = "64" ] && pass "it wrote 64 bytes of report_data" || fail "tdx inblob size"
  # The fake entry holds a real quote for other report_data: the client
  # refuses it (a real TDX guest makes a fresh quote for each inblob).
  expect_error "the fake tree's quote does not bind this enclave" attestation_ \
    env CDR_TDX_COLLATERAL="$D/tdx/collateral.json" "$CDR" attest "$URL"
  [ -s "$T/tdx/state/identity.sealed" ] && pass "the run's sealed identity is stored" || fail "no identity.sealed"
  [ -s "$T/tdx/state/audit.sealed" ] && pass "the run's audit log is stored" || fail "no audit.sealed"
  expect_eq "cdrd noted the platform as tdx" "$(cat "$T/tdx/state/platform")" "tdx"
  # Leftovers of this run that the next one must remove.
  mkdir -p "$T/tdx/state/tables"
  head -c 100 /dev/urandom >"$T/tdx/state/tables/0123456789abcdef0123456789abcdef.sealed"
  head -c 100 /dev/urandom >"$T/tdx/state/manifest.sealed"
  stop_server "$CDRD_PID" && pass "tdx cdrd stops" || fail "tdx cdrd did not stop"
  if start_tdx 2; then
    pass "the tdx room starts again"
    grep -q "ignoring the sealed identity of an earlier run: tdx keeps no state across restarts" \
      "$T/tdx-enclave2.log" && pass "the enclave ignores the earlier identity" \
      || fail "tdx enclave log 2: $(tail -5 "$T/tdx-enclave2.log")"
    grep -q "tdx keeps no state across enclave restarts: removed the earlier run's 4 sealed object(s)" \
      "$T/tdx2.log" && pass "cdrd removed the earlier run's identity, manifest, audit log and table" \
      || fail "tdx cdrd log 2: $(grep -i state "$T/tdx2.log")"
    [ ! -e "$T/tdx/state/tables/0123456789abcdef0123456789abcdef.sealed" ] && pass "the earlier table file is gone" \
      || fail "the earlier table file is left"
    ID2=$(identity_of "$URL")
    [ -n "${ID2#* }" ] && [ "${ID1#* }" != "${ID2#* }" ] && pass "the restarted enclave has a new identity key" \
      || fail "identity key unchanged across a tdx restart"
    TDX_PID=$CDRD_PID
    if run_cdrd "$T/tdx" "$T/tdx-dup.log" --enclave-unix "$T/no-enclave.sock"; then
      fail "a second cdrd started on a served room"
    else
      pass "a second cdrd on a served room is refused"
    fi
    grep -q "state is locked: another cdrd is serving this room" "$T/tdx-dup.log" && pass "it says the room is locked" \
      || fail "second cdrd log: $(tail -3 "$T/tdx-dup.log")"
    [ -s "$T/tdx/state/identity.sealed" ] && pass "the served room's state is untouched" || fail "state lost"
    stop_server "$TDX_PID" || fail "tdx cdrd 2 did not stop"
    # refused_start N WHAT MESSAGE: tdx start N refuses the state in
    # state/ (WHAT), says MESSAGE, and leaves the state as it was.
    refused_start() {
      if start_tdx "$1"; then
        fail "a tdx start deleted $2"; stop_server "$CDRD_PID"
      else
        pass "a tdx start refuses $2"
      fi
      grep -q "$3" "$T/tdx$1.log" && pass "it says why: $3" || fail "tdx log $1: $(tail -3 "$T/tdx$1.log")"
      [ -s "$T/tdx/state/identity.sealed" ] && pass "and keeps $2" || fail "$2 deleted"
    }
    # State sealed on a platform that keeps it (say an `auto` room that
    # ran on SEV-SNP) is never deleted by a tdx start.
    printf 'snp' >"$T/tdx/state/platform"
    refused_start 3 "state sealed on snp" \
      "state/ holds sealed state of a snp enclave, which this tdx enclave can never open"
    # State with no note: no tdx or nitro run leaves that, so it is kept.
    rm -f "$T/tdx/state/platform"
    refused_start 4 "state with no platform note" "state/ holds sealed state of an unrecorded earlier enclave"
  else
    fail "the tdx room did not start again: $(tail -5 "$T/tdx2.log")"
  fi
else
  fail "a tdx room on the fake tree did not start: $(tail -5 "$T/tdx1.log"; tail -5 "$T/tdx-enclave1.log")"
fi

# ---- the connected channel (AF_UNIX stand-in for vsock) ----
R="$T/room"
new_room "$R" || { fail "room init"; finish; }
"$ENCLAVE" --room "$R" --listen-unix "$T/e.sock" 2>"$T/enclave.log" &
EPID=$!
SERVER_PIDS+=("$EPID")
run_cdrd "$R" "$T/server.log" --enclave-unix "$T/e.sock" && pass "cdrd connects to a listening enclave" \
  || { fail "cdrd over --enclave-unix: $(tail -5 "$T/server.log")"; finish; }
grep -q "enclave connected: unix:" "$T/server.log" && pass "cdrd logs the connected enclave" || fail "server log"
[ ! -e "$T/e.sock" ] && pass "the enclave removed its socket once connected" || fail "socket left behind"

MEAS=$(sha256sum "$ENCLAVE" | cut -d' ' -f1)
check "attest over the connected channel" "$CDR" attest "$URL" --expect-measurement "$MEAS"
grep -q "platform: *sim" "$T/out" && pass "platform sim" || fail "attest output: $(cat "$T/out")"
# A minimum SEV-SNP TCB the user asks for cannot be met by a sim room; the
# same minimum as an environment default applies to SEV-SNP rooms only.
expect_error "--snp-min-tcb on a sim room is refused" attestation_tcb_too_low \
  "$CDR" attest "$URL" --snp-min-tcb snp=1
grep -q "a minimum SEV-SNP TCB was required (--snp-min-tcb), but the room attests as sim" "$T/err" \
  && pass "and says why" || fail "snp-min-tcb on sim: $(cat "$T/err")"
check "CDR_SNP_MIN_TCB is a default for SEV-SNP rooms only" env CDR_SNP_MIN_TCB=snp=1 "$CDR" attest "$URL"
expect_error "a hardware-length measurement never matches sim" attestation_measurement_mismatch \
  "$CDR" attest "$URL" --expect-measurement "$(printf '%096d' 0)"
expect_error "a measurement of another length is a usage error" "64 hex digits (sim) or 96" \
  "$CDR" attest "$URL" --expect-measurement abcd
check "provider enrolls" user hosp provider "$R" "$URL"
check "analyst enrolls" user ana analyst "$R" "$URL"
check "the members sign contract version 1" activate_contract "$R" hosp ana
printf 'id,x\n1,10\n2,32\n' >"$T/t.csv"
check "upload over the connected channel" "$CDR" upload --profile hosp t "$T/t.csv"
check "grant" "$CDR" grant --profile hosp t --to role:analyst
check "query over the connected channel" "$CDR" query --profile ana "SELECT sum(x) FROM t" --format csv
expect_eq "query result" "$(tail -n 1 "$T/out" | tr -d '\r')" "42"

stop_server "$CDRD_PID" && pass "cdrd stops" || fail "cdrd did not stop"
for _ in $(seq 50); do kill -0 "$EPID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$EPID" 2>/dev/null && fail "the enclave outlived its host" || pass "the enclave exits when the host hangs up"

# ---- the platform must be the room's ----
sed -i 's/"attestation": "sim"/"attestation": "nitro"/' "$R/room.json"
"$ENCLAVE" --room "$R" --listen-unix "$T/e2.sock" 2>"$T/enclave2.log" &
SERVER_PIDS+=("$!")
if run_cdrd "$R" "$T/server2.log" --enclave-unix "$T/e2.sock"; then
  fail "cdrd served a sim enclave for a nitro room"
else
  pass "cdrd refuses an enclave of another platform"
fi
grep -q "the enclave attests with sim, but the room is set up for nitro" "$T/server2.log" && pass "it says why" \
  || fail "server2 log: $(tail -5 "$T/server2.log")"
sed -i 's/"attestation": "nitro"/"attestation": "tpm"/' "$R/room.json"
if run_cdrd "$R" "$T/server3.log"; then fail "an unknown provider in room.json"; else pass "room.json with an unknown provider is refused"; fi

finish
