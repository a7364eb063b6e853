#!/usr/bin/env bash
# The audit log: an entry for every decision, sealed at rest, hash-chained
# under the enclave's signed head; who reads what; `cdr audit --verify`
# fails after any record is edited, deleted, swapped or the log cut short
# (and passes on the untouched log); a tampered or truncated log, or a
# manifest put back, refuses the start; a crash between a commit and its
# entry is repaired; a whole ROOM folder put back, or forked, is refused
# by a client that saw a newer head.
. "$(dirname "$0")/lib.sh"

R="$T/room"
LOG="$R/state/audit.sealed"
new_room "$R" || { fail "room init"; finish; }
start_server "$R" URL || { fail "server start"; finish; }
user prov provider "$R" "$URL" && user prov2 provider "$R" "$URL" && user ana analyst "$R" "$URL" &&
  user aud auditor "$R" "$URL" && user eve analyst "$R" "$URL" || { fail "enroll"; finish; }
activate_contract "$R" prov prov2 ana aud eve || { fail "activate the contract"; finish; }
audit() { "$CDR" audit --profile "$@"; }

bash "$CDR_SOURCE_DIR/scripts/gen-patients.sh" 200 3 >"$T/p.csv"
printf 'k,v\n1,x\n' >"$T/t2.csv"
"$CDR" upload --profile prov patients "$T/p.csv" >/dev/null 2>&1 || fail "upload patients"
"$CDR" upload --profile prov2 other "$T/t2.csv" >/dev/null 2>&1 || fail "upload other"
"$CDR" grant --profile prov patients --to ana@example.org >/dev/null 2>&1 || fail "grant"
"$CDR" hide --profile prov patients sex >/dev/null 2>&1 || fail "hide"
SQL="SELECT count(*) FROM patients WHERE age > 40"
"$CDR" query --profile ana "$SQL" >/dev/null 2>&1 || fail "ana's query"
expect_error "ana may not read prov2's table" access_denied "$CDR" query --profile ana "SELECT * FROM other"
check "revoke eve" "$CDR" room revoke "$R" --name eve@example.org
for _ in $(seq 50); do grep -q "revocation list number 1" "$T/server.log" && break; sleep 0.1; done

# A refused open with a room certificate is logged; a grantee name far
# too long to keep is logged as its length and hash, and the room goes on.
expect_error "the revoked user is refused" cert_revoked "$CDR" query --profile eve "SELECT 1"
LONG=$(head -c 6000 /dev/zero | tr '\0' x)
expect_error "a 6000-byte grantee is refused (no member has that name)" not_a_member "$CDR" grant --profile prov patients --to "$LONG"
check "the enclave is still serving" "$CDR" query --profile ana "SELECT count(*) FROM patients"

# The auditor sees every entry, and the chain and every signature verify.
if audit aud --verify --format json >"$T/all.json" 2>"$T/verify.err"; then pass "cdr audit --verify passes on the untouched log"
else fail "verify: $(cat "$T/verify.err")"; fi
grep -q "^verified: entries 0 to" "$T/verify.err" && pass "verify says what it verified" || fail "no summary: $(cat "$T/verify.err")"
SIGS=$(sed -n 's/.*; \([0-9]*\) user signatures checked/\1/p' "$T/verify.err")
[ "${SIGS:-0}" -ge 10 ] && pass "user signatures checked: $SIGS" || fail "signatures checked: ${SIGS:-none}"
# any FILE FILTER: some entry of FILE (one JSON object a line) matches.
any() { jq -s -e "map(select($2)) | length > 0" "$1" >/dev/null; }
has() { any "$T/all.json" "$1"; }
has '.op=="start"' && pass "a start is logged" || fail "no start entry"
has '.op=="session_open" and .decision=="ok" and .subject=="ana@example.org" and (.open.certificate|length>0)' &&
  pass "an admitted session names its user and certificate" || fail "no session_open entry"
SHA=$(printf '%s' "$SQL" | sha256sum | cut -d' ' -f1)
has ".op==\"query\" and .decision==\"ok\" and .sql_sha256==\"$SHA\" and .rows==1 and .tables[0].owner==\"prov@example.org\"" &&
  pass "a query is logged with the SHA-256 of its SQL, its rows and its table's owner" || fail "no query entry"
has '.op=="query" and .decision=="refused" and .reason=="access_denied" and .subject=="ana@example.org"' &&
  pass "a denied query is logged with its reason" || fail "no denied query entry"
has '.op=="upload_commit" and .decision=="ok" and .rows==200 and .manifest_version>0' &&
  pass "an upload is logged with its commit" || fail "no upload entry"
has '.op=="grant" and .to=="ana@example.org"' && has '.op=="hide" and .column=="sex"' &&
  pass "grant and hide are logged" || fail "no grant or hide entry"
has '.op=="crl" and .crl_number==1 and .revoked==1' && pass "the revocation list is logged" || fail "no crl entry"
has '.op=="session_open" and .decision=="refused" and .reason=="cert_revoked" and .subject=="eve@example.org"' &&
  pass "a refused open is logged with its reason" || fail "no refused open entry"
has '.op=="grant" and .decision=="refused" and .to.bytes==6002 and (.to.sha256|length)==64' &&
  pass "an over-long value is logged as its length and hash" || fail "no reduced grant entry"
has '.op=="query" and (.request.signature|length>0) and (.user_key|length>0)' &&
  pass "a request entry carries the user's own signature" || fail "no request signature"
has '.op=="close" and .decision=="ok" and .subject=="ana@example.org"' && pass "each command closes its session" ||
  fail "no close entry"
grep -qF "$SQL" "$T/all.json" && fail "the SQL text is in the log" || pass "the SQL text is not in the log"
for s in patients ana@example.org "$SHA"; do
  grep -qF "$s" "$LOG" && fail "$s in plaintext in the stored log"
done
pass "the stored log holds no plaintext"

# Who sees what.
audit ana --format json >"$T/ana.json" 2>"$T/err" || fail "ana reads the log: $(cat "$T/err")"
any "$T/ana.json" '.subject=="prov2@example.org"' && fail "ana sees prov2's entries" ||
  pass "an analyst does not see other users' entries"
any "$T/ana.json" '.op=="query" and .subject=="ana@example.org"' && pass "an analyst sees its own" ||
  fail "ana does not see her own query"
audit prov --format json >"$T/prov.json" 2>"$T/err" || fail "prov reads the log"
any "$T/prov.json" '.op=="query" and .subject=="ana@example.org" and .decision=="ok"' &&
  pass "an owner sees queries on its table" || fail "prov does not see ana's query"
any "$T/prov.json" '.op=="query" and .reason=="access_denied"' &&
  fail "prov sees a query on prov2's table" || pass "an owner does not see queries on others' tables"
audit prov2 --format json >"$T/prov2.json" 2>"$T/err" || fail "prov2 reads the log"
any "$T/prov2.json" '.op=="query" and .reason=="access_denied" and .subject=="ana@example.org"' &&
  pass "an owner sees attempts to read its table" || fail "prov2 does not see the denied attempt"
audit aud --since 1h >/dev/null 2>"$T/since.err" && pass "--since 1h reads and verifies" || fail "since: $(cat "$T/since.err")"
audit aud --since 2100-01-01T00:00:00Z --verify >"$T/future.out" 2>"$T/since.err" && [ ! -s "$T/future.out" ] &&
  pass "--since in the future shows nothing and still verifies the head" || fail "since future: $(cat "$T/since.err")"

# Tampering with the stored log while the server runs.  Each change is
# undone in place afterwards (the records the reads themselves add are
# appended behind the change and must stay where the enclave wrote them).
rec_offsets() { # FILE: the offset of every record, one a line
  local f=$1 off=0 size len
  size=$(stat -c %s "$f")
  while [ "$off" -lt "$size" ]; do
    echo "$off"
    len=$(od -An -tu1 -j "$off" -N4 "$f" | awk '{print $1*16777216 + $2*65536 + $3*256 + $4}')
    off=$((off + 4 + len))
  done
}
cut_bytes() { # FILE FROM TO SAVE
  head -c "$2" "$1" >"$1.tmp"; tail -c +"$(($3 + 1))" "$1" >>"$1.tmp"
  tail -c +"$(($2 + 1))" "$1" | head -c "$(($3 - $2))" >"$4"; mv "$1.tmp" "$1"
}
paste_bytes() { # FILE AT SAVED
  head -c "$2" "$1" >"$1.tmp"; cat "$3" >>"$1.tmp"; tail -c +"$(($2 + 1))" "$1" >>"$1.tmp"; mv "$1.tmp" "$1"
}
mapfile -t OFF < <(rec_offsets "$LOG")
[ "${#OFF[@]}" -ge 20 ] && pass "the stored log has ${#OFF[@]} records" || fail "records: ${#OFF[@]}"

flip_byte "$LOG" $((OFF[5] + 30))
expect_error "an edited record fails verification" audit_invalid audit aud --verify
grep -q "entry 5 is damaged" "$T/err" && pass "and the error names the entry" || fail "edit: $(cat "$T/err")"
flip_byte "$LOG" $((OFF[5] + 30))
check "undone, the log verifies again" audit aud --verify

cut_bytes "$LOG" "${OFF[7]}" "${OFF[8]}" "$T/rec7"
expect_error "a deleted record fails verification" audit_invalid audit aud --verify
paste_bytes "$LOG" "${OFF[7]}" "$T/rec7"
check "re-inserted, the log verifies again" audit aud --verify

LA=$((OFF[11] - OFF[10])) LB=$((OFF[12] - OFF[11]))
cut_bytes "$LOG" "${OFF[11]}" "${OFF[12]}" "$T/rec11"
paste_bytes "$LOG" "${OFF[10]}" "$T/rec11"
expect_error "two swapped records fail verification" audit_invalid audit aud --verify
cut_bytes "$LOG" "${OFF[10]}" "$((OFF[10] + LB))" "$T/rec11b"
paste_bytes "$LOG" "$((OFF[10] + LA))" "$T/rec11b"
check "swapped back, the log verifies again" audit aud --verify

SIZE=$(stat -c %s "$LOG")
cut_bytes "$LOG" "${OFF[15]}" "$SIZE" "$T/tail"
expect_error "a truncated log fails verification" audit_invalid audit aud --verify
paste_bytes "$LOG" "${OFF[15]}" "$T/tail"
check "restored, the log verifies again" audit aud --verify

# Across restarts: the log survives and goes on.
stop_server "$SERVER_PID"
restart_server "$R" URL || { fail "restart"; finish; }
audit aud --verify --format json >"$T/all2.json" 2>"$T/err" && pass "after a restart the whole log verifies" ||
  fail "verify after restart: $(cat "$T/err")"
[ "$(jq -s 'map(select(.op=="start"))|length' "$T/all2.json")" = 2 ] && pass "both starts are logged" ||
  fail "starts: $(jq -s 'map(select(.op=="start"))|length' "$T/all2.json")"

# Tampered while stopped: the enclave refuses to start, and says why.
stop_server "$SERVER_PID"
mapfile -t OFF < <(rec_offsets "$LOG")
flip_byte "$LOG" $((OFF[3] + 30))
if restart_server "$R" URL 2>/dev/null; then fail "started on an edited log"; stop_server "$SERVER_PID"
else pass "an edited log refuses the start"; fi
grep -q "refusing to start: audit log entry 3 .*fails authentication" "$T/server.log" && pass "the log says which entry" ||
  fail "no reason: $(grep -i refusing "$T/server.log" | tail -2)"
flip_byte "$LOG" $((OFF[3] + 30))
# A record length within the format's cap (AUDIT_MAX_RECORD, 65664) but
# longer than any entry seals to, with bytes after it so that the record
# lies inside the file: refused as that entry's damage, not as an error
# without a reason.
SIZE=$(stat -c %s "$LOG")
dd if="$LOG" of="$T/len3" bs=1 skip="${OFF[3]}" count=4 status=none
printf '\x00\x01\x00\x40' | dd of="$LOG" bs=1 seek="${OFF[3]}" conv=notrunc status=none # 65600
head -c 70000 /dev/urandom >>"$LOG"
if restart_server "$R" URL 2>/dev/null; then fail "started on an over-long record"; stop_server "$SERVER_PID"
else pass "an over-long record refuses the start"; fi
grep -q "refusing to start: audit log entry 3 .*its length is impossible" "$T/server.log" &&
  pass "the log names the entry and its length" || fail "no reason: $(grep -i refusing "$T/server.log" | tail -2)"
dd if="$T/len3" of="$LOG" bs=1 seek="${OFF[3]}" conv=notrunc status=none
truncate -s "$SIZE" "$LOG"
cut_bytes "$LOG" "${OFF[4]}" "$(stat -c %s "$LOG")" "$T/tail2"
if restart_server "$R" URL 2>/dev/null; then fail "started on a truncated log"; stop_server "$SERVER_PID"
else pass "a log cut short before the manifest's record refuses the start"; fi
grep -q "refusing to start: the audit log is truncated" "$T/server.log" && pass "the log says it is truncated" ||
  fail "no reason: $(grep -i refusing "$T/server.log" | tail -2)"
paste_bytes "$LOG" "${OFF[4]}" "$T/tail2"

# A manifest put back: the log records a newer commit.
restart_server "$R" URL || { fail "restart after repair"; finish; }
stop_server "$SERVER_PID"
cp "$R/state/manifest.sealed" "$T/manifest.old"
restart_server "$R" URL || { fail "restart"; finish; }
"$CDR" grant --profile prov patients --to role:analyst >/dev/null 2>&1 || fail "second grant"
stop_server "$SERVER_PID"
cp "$R/state/manifest.sealed" "$T/manifest.new"
cp "$T/manifest.old" "$R/state/manifest.sealed"
if restart_server "$R" URL 2>/dev/null; then fail "started on an older manifest"; stop_server "$SERVER_PID"
else pass "an older manifest put back refuses the start"; fi
grep -q "refusing to start: the sealed manifest is older than the audit log" "$T/server.log" &&
  pass "the log says the manifest was put back" || fail "no reason: $(grep -i refusing "$T/server.log" | tail -2)"
cp "$T/manifest.new" "$R/state/manifest.sealed"

# A crash between the manifest's rename and its entry's append: the grant
# above was the last commit, so its entry is the last record but one (the
# command's close follows it); a crash right after the rename loses both.
mapfile -t OFF < <(rec_offsets "$LOG")
cut_bytes "$LOG" "${OFF[-2]}" "$(stat -c %s "$LOG")" "$T/last"
restart_server "$R" URL || { fail "restart after a lost commit entry"; finish; }
grep -q "re-appended audit entry $((${#OFF[@]} - 2))" "$T/server.log" && pass "the lost commit entry is re-appended from the manifest" ||
  fail "no repair: $(tail -5 "$T/server.log")"
check "and the log verifies" audit aud --verify

# A power loss during an unsynced append leaves a torn last record: the
# start cuts it off (only it) and says so; damage anywhere else still
# refuses the start (above).
torn_start() { # NAME REASON: restart, expect the repair with REASON, the cut at $1's offset
  restart_server "$R" URL || { fail "$1: no start: $(grep -i refusing "$T/server.log" | tail -1)"; return 1; }
  grep "removed a torn last audit record" "$T/server.log" | tail -1 | grep -q -- "$2" &&
    pass "$1: the torn record is removed, with the reason" || fail "$1: $(grep -i torn "$T/server.log" | tail -1)"
}
stop_server "$SERVER_PID"
mapfile -t OFF < <(rec_offsets "$LOG")
N_BEFORE=${#OFF[@]}
truncate -s $((OFF[-1] + 40)) "$LOG"
torn_start "a record cut mid-way" "the file ends in the middle of it" &&
  grep -q "byte ${OFF[-1]} of state/audit.sealed" "$T/server.log" && pass "at the record's own offset" ||
  fail "torn offset: $(grep -i torn "$T/server.log" | tail -1)"
check "the repaired log verifies" audit aud --verify
stop_server "$SERVER_PID"
mapfile -t OFF < <(rec_offsets "$LOG")
flip_byte "$LOG" $(($(stat -c %s "$LOG") - 5))
torn_start "a last record that fails authentication" "fails authentication" && check "and verifies" audit aud --verify
stop_server "$SERVER_PID"
head -c 3000 /dev/zero >>"$LOG"
torn_start "a zero-filled tail" "zeros where it should be" && check "and verifies" audit aud --verify
# The commit entry itself torn (the power went during the append after
# the manifest's rename): cut off, then re-appended from the manifest.
"$CDR" grant --profile prov patients --to role:auditor >/dev/null 2>&1 || fail "third grant"
stop_server "$SERVER_PID"
mapfile -t OFF < <(rec_offsets "$LOG")
truncate -s $((OFF[-2] + 100)) "$LOG"
torn_start "a torn commit entry" "the file ends in the middle of it" &&
  grep -q "re-appended audit entry $((${#OFF[@]} - 2))" "$T/server.log" && pass "and the commit entry is re-appended" ||
  fail "no re-append: $(tail -3 "$T/server.log")"
check "and the log verifies" audit aud --verify
# A damaged record that is not the last is tampering, not a power loss.
stop_server "$SERVER_PID"
mapfile -t OFF < <(rec_offsets "$LOG")
flip_byte "$LOG" $((OFF[-2] + 30))
if restart_server "$R" URL 2>/dev/null; then fail "started with a damaged record before the last"; stop_server "$SERVER_PID"
else pass "a damaged record before the last still refuses the start"; fi
flip_byte "$LOG" $((OFF[-2] + 30))
restart_server "$R" URL || { fail "restart after undoing"; finish; }

# The whole ROOM folder put back: only a client that saw more can tell.
stop_server "$SERVER_PID"
cp -a "$R" "$T/room.old"
restart_server "$R" URL || { fail "restart"; finish; }
"$CDR" query --profile ana "SELECT count(*) FROM patients" >/dev/null 2>&1 || fail "query before rollback"
"$CDR" query --profile ana "SELECT count(*) FROM patients" >/dev/null 2>&1 || fail "query before rollback"
stop_server "$SERVER_PID"
mv "$R" "$T/room.new"
cp -a "$T/room.old" "$R"
restart_server "$R" URL || { fail "restart on the old folder"; finish; }
expect_error "a client that saw a newer head refuses the rolled-back room" audit_rollback \
  "$CDR" query --profile ana "SELECT count(*) FROM patients"
grep -q "has seen" "$T/err" && pass "and says what it saw" || fail "rollback message: $(cat "$T/err")"
# Others go on in the old room until its log is as long as the one ana saw:
# a fork.
for _ in 1 2 3; do "$CDR" query --profile prov "SELECT count(*) FROM patients" >/dev/null 2>&1; done
expect_error "a client that saw another history refuses the forked room" audit_fork \
  "$CDR" query --profile ana "SELECT count(*) FROM patients"
stop_server "$SERVER_PID"
rm -rf "$R"
mv "$T/room.new" "$R"
restart_server "$R" URL || { fail "restart on the current folder"; finish; }
check "the current room is accepted again" "$CDR" query --profile ana "SELECT count(*) FROM patients"

# A signed head a client remembers covers only entries on disk: before
# answering with one, the enclave has cdrd sync the log (else a power
# loss could take entries a client remembers, and that client would then
# refuse the room).  A plain query changes no table, so no commit syncs
# anything: the fdatasync calls seen are the heads' (two: at connect and
# before close).
strace -f -qq -e trace=fdatasync -o "$T/sync.trace" -p "$SERVER_PID" &
STRACE=$!
for _ in $(seq 50); do grep -q "Status:" /proc/$SERVER_PID/status && [ "$(awk '/TracerPid/ {print $2}' /proc/$SERVER_PID/status)" != 0 ] && break; sleep 0.1; done
check "a query while cdrd is traced" "$CDR" query --profile ana "SELECT 1"
kill "$STRACE"; wait "$STRACE" 2>/dev/null
SYNCS=$(grep -c "fdatasync(" "$T/sync.trace")
[ "$SYNCS" -ge 2 ] && pass "the log is synced before each signed head ($SYNCS fdatasync calls)" ||
  fail "fdatasync calls during a query: $SYNCS"

# Concurrent commands of one user take turns on the remembered head (a
# lock beside it), so none stores an older head over a newer one.
PIDS=()
for i in 1 2 3 4 5 6; do
  "$CDR" query --profile ana "SELECT count(*) FROM patients" >"$T/conc.$i" 2>&1 &
  PIDS+=("$!")
done
CONC_OK=1
for p in "${PIDS[@]}"; do wait "$p" || CONC_OK=0; done
[ "$CONC_OK" = 1 ] && pass "six concurrent commands of one user all pass the head check" ||
  fail "concurrent: $(cat "$T"/conc.* | grep -v warning | head -3)"
HEADS=$(ls "$CDR_CONFIG_DIR"/heads/*.json)
[ -e "$HEADS.lock" ] && [ "$(stat -c %a "$HEADS.lock")" = 600 ] && pass "the head's lock file is private" ||
  fail "lock file: $(ls -l "$CDR_CONFIG_DIR"/heads/)"
# A command waits for the holder of the lock, then goes on.
: >"$T/order"
flock "$HEADS.lock" sh -c "sleep 2; echo released >>'$T/order'" &
HOLDER=$!
sleep 0.5
check "a command behind a held lock succeeds" "$CDR" query --profile ana "SELECT 1"
echo query >>"$T/order"
wait "$HOLDER"
expect_eq "it waited for the lock's release" "$(tr '\n' ' ' <"$T/order")" "released query "
# A lock that cannot be taken refuses the check instead of running it
# unlocked (the lock is opened with O_NOFOLLOW).
mv "$HEADS.lock" "$T/lock.saved"
ln -s "$T/lock.saved" "$HEADS.lock"
expect_error "a lock that cannot be opened refuses the command" io_error "$CDR" query --profile ana "SELECT 1"
grep -q "cannot make the lock" "$T/err" && pass "and says which lock" || fail "lock error: $(cat "$T/err")"
rm -f "$HEADS.lock"
mv "$T/lock.saved" "$HEADS.lock"
SEEN=$(jq -r .size "$HEADS")
"$CDR" audit --profile aud --format json >"$T/final.json" 2>/dev/null
NOW=$(jq -s 'length' "$T/final.json")
[ "$SEEN" -le "$NOW" ] && [ "$SEEN" -ge $((NOW - 12)) ] && pass "the remembered head is the newest one seen ($SEEN of $NOW)" ||
  fail "remembered $SEEN, log $NOW"
finish
