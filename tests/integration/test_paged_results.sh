#!/usr/bin/env bash
# Paged results (PROTOCOL 4.7 "Paged results"; ARCHITECTURE "Paged results"):
# - a result of a few hundred MB (a cross join of a modest table) arrives
#   complete with `cdr query --out FILE` (row count and SHA-256 equal to
#   sqlite3's on the same data), while the peak RSS of cdr, cdrd and the
#   enclave stays well below the result's size;
# - a result past the room's result_bytes is still refused
#   (result_too_large), and one that fits one page is not paged;
# - a spooled page the host alters, swaps or deletes is refused
#   (cursor_page_invalid, naming the page) and the partial FILE removed;
# - an open cursor holds its member's query count (cap 1 with two
#   workers: a second query of that member waits, refused busy in the
#   audit log, until the cursor expires), and an expired cursor gives its
#   own error (cursor_expired).
# The host's disk holds only sealed pages, and none once a cursor is done.
. "$(dirname "$0")/lib.sh"

export CDR_ENCLAVE_WORKERS=2 # the per-member cap is then 1
R="$T/room"
new_room "$R" || { fail "room init"; finish; }
start_server "$R" URL || { fail "server start"; finish; }
user prov provider "$R" "$URL" && user ana analyst "$R" "$URL" && user aud auditor "$R" "$URL" ||
  { fail "enroll"; finish; }
activate_contract "$R" prov ana aud || { fail "activate the contract"; finish; }
asan=0
grep -q "__asan_init\|__tsan_init" "$CDR" 2>/dev/null && asan=1

# 2,000 rows of about 50 bytes; the cross join is 4,000,000 rows.  (No
# field needs quoting in CSV, where sqlite3 and cdr quote differently.)
N=2000
awk -v n=$N 'BEGIN { print "id,name,note"; for (i = 1; i <= n; i++)
  printf "%d,name-%05d,note_%05d_abcdefghijklmnopqrstuvwxyz\n", i, i, i }' >"$T/t.csv"
check "upload a modest table" "$CDR" upload --profile prov t "$T/t.csv"
check "analysts may read it" "$CDR" grant --profile prov t --to role:analyst

q() { "$CDR" query --profile "$1" "$2" --format csv 2>/dev/null | tr -d '\r' | tail -n 1; }
limit_of() { "$CDR" limits --profile ana --format json 2>/dev/null | jq -r ".$1"; }

# Defaults: 32 MiB in all.  A result past it is still refused, paged or not.
expect_error "a result past the room's result_bytes is refused" result_too_large \
  "$CDR" query --profile ana "SELECT a.id, a.name, a.note, b.id FROM t a, t b" --out "$T/refused.csv"
grep -q "larger than 33554432 bytes" "$T/err" && pass "... naming the limit" || fail "message: $(tail -1 "$T/err")"
[ ! -e "$T/refused.csv" ] && pass "... and --out FILE is not left behind" || fail "refused.csv exists"
[ -z "$(ls -A "$R/state/cursors")" ] && pass "... and its spooled pages are deleted" || fail "pages left: $(ls "$R/state/cursors" | wc -l)"

# The query runs once, spooling every page before it answers, within
# its time limit: ample here, for a loaded machine.
check "the admin allows large results" "$CDR" room limits "$R" --result-bytes 1024GiB --result-rows 100000000 \
  --query-time 10m
for _ in $(seq 100); do [ "$(limit_of result_rows)" = 100000000 ] && break; sleep 0.2; done
expect_eq "a member sees the new result limit" "$(limit_of result_bytes)" 1099511627776

# A small result is one answer, as before (no cursor).
"$CDR" query --profile ana "SELECT id, name FROM t WHERE id <= 3" --format json >"$T/small.json" 2>"$T/err" ||
  fail "small query: $(tail -1 "$T/err")"
jq -e '.row_count == 3 and (.rows | length) == 3 and (has("cursor") | not)' "$T/small.json" >/dev/null &&
  pass "a result that fits one page is not paged" || fail "small: $(cat "$T/small.json")"

# The reference: sqlite3 on the same CSV, same statement, same CSV form.
BIG="SELECT a.id, a.name, a.note, b.id AS id2 FROM t a, t b"
sqlite3 "$T/ref.db" "CREATE TABLE t(id INTEGER, name TEXT, note TEXT);" ".import --csv --skip 1 $T/t.csv t" ||
  fail "sqlite3 reference import"
sqlite3 -csv -header "$T/ref.db" "$BIG" >"$T/ref.csv" || fail "sqlite3 reference query"
# sqlite3 ends records with LF, cdr with CRLF (RFC 4180): compared without CR.
REF_ROWS=$(($(wc -l <"$T/ref.csv") - 1))
REF_SHA=$(sha256sum <"$T/ref.csv" | cut -d' ' -f1)
SIZE=$(stat -c %s "$T/ref.csv")
expect_eq "the reference has every row" "$REF_ROWS" $((N * N))
[ "$SIZE" -gt $((200 * 1000 * 1000)) ] && pass "the result is a few hundred MB ($((SIZE / 1000000)) MB of CSV)" ||
  fail "the result is only $SIZE bytes"

# Peak RSS, each process's own: cdr by /usr/bin/time; cdrd and the
# enclave by VmHWM, reset first where the kernel allows it.
ENC=$(enclave_pid "$SERVER_PID")
echo 5 >/proc/"$ENC"/clear_refs 2>/dev/null
echo 5 >/proc/"$SERVER_PID"/clear_refs 2>/dev/null
echo "# before: cdr-enclave VmHWM $(awk '/^VmHWM/ {print $2}' /proc/"$ENC"/status) KB, cdrd $(awk '/^VmHWM/ {print $2}' /proc/"$SERVER_PID"/status) KB"
/usr/bin/time -f "%M" -o "$T/rss" "$CDR" query --profile ana "$BIG" --out "$T/big.csv" --format csv \
  >"$T/out" 2>"$T/err"
rc=$?
CDR_PEAK=$(tail -n 1 "$T/rss")
ENC_PEAK=$(awk '/^VmHWM/ {print $2}' /proc/"$ENC"/status 2>/dev/null)
HOST_PEAK=$(awk '/^VmHWM/ {print $2}' /proc/"$SERVER_PID"/status 2>/dev/null)
echo "# $SIZE bytes; peak RSS: cdr ${CDR_PEAK} KB, cdrd ${HOST_PEAK} KB, cdr-enclave ${ENC_PEAK} KB"
[ "$rc" = 0 ] && pass "the paged query succeeds" || fail "the paged query: $(tail -2 "$T/err")"
expect_eq "every row arrived" "$(($(wc -l <"$T/big.csv") - 1))" "$REF_ROWS"
expect_eq "the rows are sqlite3's, in order (SHA-256)" "$(tr -d '\r' <"$T/big.csv" | sha256sum | cut -d' ' -f1)" "$REF_SHA"
PAGES=$("$CDR" audit --profile aud --format json 2>/dev/null | jq -s 'map(select(.op=="query" and .pages)) | last | .pages')
[ -n "$PAGES" ] && [ "$PAGES" -gt 40 ] && pass "it came in $PAGES pages (the audit log counts them)" ||
  fail "pages: [$PAGES]"
[ -z "$(ls -A "$R/state/cursors")" ] && pass "its pages are deleted once read" || fail "pages left on the host"
if [ "$asan" = 1 ]; then
  pass "peak memory not checked under a sanitizer"
else
  LIMIT=$((SIZE / 1024 / 3)) # a third of the result, in KB
  [ -n "$CDR_PEAK" ] && [ "$CDR_PEAK" -lt "$LIMIT" ] &&
    pass "cdr's peak RSS stays well below the result (${CDR_PEAK} KB)" || fail "cdr peak RSS ${CDR_PEAK} KB"
  [ -n "$ENC_PEAK" ] && [ "$ENC_PEAK" -lt "$LIMIT" ] &&
    pass "the enclave's peak RSS stays well below the result (${ENC_PEAK} KB)" || fail "enclave peak RSS ${ENC_PEAK} KB"
  [ -n "$HOST_PEAK" ] && [ "$HOST_PEAK" -lt "$LIMIT" ] &&
    pass "cdrd's peak RSS stays well below the result (${HOST_PEAK} KB)" || fail "cdrd peak RSS ${HOST_PEAK} KB"
fi

# The same rows as JSON, streamed to standard output, parse as one result.
MID="SELECT a.id, a.name, a.note FROM t a, t b WHERE b.id <= 200" # 400,000 rows, 10 pages or so
"$CDR" query --profile ana "$MID" --format json 2>"$T/err" | jq -c '[.row_count, (.rows | length), .rows[-1]]' \
  >"$T/mid.json" || fail "streamed JSON: $(tail -1 "$T/err")"
expect_eq "a paged result printed as JSON is one whole result" "$(cat "$T/mid.json")" '[400000,400000,[2000,"name-02000","note_02000_abcdefghijklmnopqrstuvwxyz"]]'

# ---- the host tampers with spooled pages ----
# CDR_TEST_CURSOR_GATE holds cdr before page 1 while the file exists.
GATE="$T/gate"
paged_bg() { # OUT: start the MID query to OUT in the background, held at the gate
  touch "$GATE"
  CDR_TEST_CURSOR_GATE="$GATE" "$CDR" query --profile ana "$MID" --out "$1" --format csv >/dev/null 2>"$1.err" &
  BG=$!
  for _ in $(seq 600); do [ -s "$1" ] && break; kill -0 "$BG" 2>/dev/null || break; sleep 0.1; done
}
page_file() { ls "$R/state/cursors" | grep -E "$1\\.sealed\$" | head -1; }
tamper() { # NAME OUT ACTION (which sets WANT, the page the refusal names)
  paged_bg "$2"
  local n; n=$(ls "$R/state/cursors" | wc -l)
  [ "$n" -ge 4 ] || { fail "$1: only $n pages spooled"; rm -f "$GATE"; wait "$BG"; return; }
  WANT=x
  eval "$3"
  rm -f "$GATE"
  wait "$BG"; local rc=$?
  if [ "$rc" != 0 ] && grep -q cursor_page_invalid "$2.err" && grep -q "page $WANT " "$2.err"; then pass "$1"
  else fail "$1 (rc $rc): $(tail -1 "$2.err")"; fi
  [ ! -e "$2" ] && pass "... and the partial FILE is removed" || fail "$2 left behind"
  [ -z "$(ls -A "$R/state/cursors")" ] && pass "... and the cursor's pages are deleted" || fail "pages left"
}
tamper "a flipped byte in spooled page 1 is refused, naming the page" "$T/flip.csv" \
  'flip_byte "$R/state/cursors/$(page_file 00000001)" 100; WANT=1'
tamper "page 2 put in page 1's place is refused" "$T/swap.csv" \
  'cp "$R/state/cursors/$(page_file 00000002)" "$R/state/cursors/$(page_file 00000001)"; WANT=1'
tamper "a result cut short (its last page deleted) is refused, naming the page" "$T/cut.csv" \
  'L=$(ls "$R/state/cursors" | sort | tail -1); rm -f "$R/state/cursors/$L"; WANT=$((16#${L:32:8}))'
check "the member's next query works" "$CDR" query --profile ana "SELECT count(*) FROM t"

# ---- idle cursors: they hold the member's cap, then expire ----
stop_server "$SERVER_PID" || fail "stop"
export CDR_CURSOR_IDLE_S=3
restart_server "$R" URL || { fail "restart"; finish; }
unset CDR_CURSOR_IDLE_S
[ -z "$(ls -A "$R/state/cursors")" ] && pass "a start leaves no spooled pages" || fail "pages after restart"
paged_bg "$T/idle.csv"
kill -0 "$BG" 2>/dev/null && pass "a paged read is open, held before its page 1" || fail "the paged read ended early"
# ana's cap is 1 (two workers): her cursor holds it, so this query is
# refused busy (cdr asks again) until the cursor has been idle 3 s.
check "ana's next query runs once her idle cursor has expired" "$CDR" query --profile ana "SELECT 41 + 1"
grep -q 42 "$T/out" && pass "... with its answer" || fail "answer: $(cat "$T/out")"
"$CDR" audit --profile aud --format json >"$T/audit.json" 2>"$T/err" || fail "audit: $(tail -1 "$T/err")"
jq -s -e 'map(select(.op=="query" and .decision=="refused" and .reason=="busy" and .subject=="ana@example.org"))
  | length > 0' "$T/audit.json" >/dev/null && pass "meanwhile the open cursor counted against her cap (busy)" ||
  fail "no busy refusal while the cursor was open"
rm -f "$GATE"
wait "$BG"; rc=$?
if [ "$rc" != 0 ] && grep -q cursor_expired "$T/idle.csv.err"; then pass "the expired cursor's next page is cursor_expired"
else fail "expired cursor (rc $rc): $(tail -1 "$T/idle.csv.err")"; fi
[ -z "$(ls -A "$R/state/cursors")" ] && pass "... and its pages are deleted" || fail "pages left after expiry"
check "a paged query still runs afterwards" "$CDR" query --profile ana "$MID" --out "$T/after.csv"
expect_eq "... complete" "$(($(wc -l <"$T/after.csv") - 1))" 400000

finish
