#!/usr/bin/env bash
# run.sh [BUILD_DIR] - the CDR benchmark (bench/README.md): every figure
# and its baseline measured side by side in one run on this machine, a
# table on standard output, bench/results.json, and a markdown table to
# paste into bench/README.md.
#
# Parts (BENCH_PARTS, default all five, in this order):
#   sessions  session setups per second, EC and RSA users   (bench_session)
#   queries   SELECT 1 per second through CDR and through a plain
#             HTTP + SQLite server, with 1, 8 and 32 client threads
#   upload    `cdr upload` of a CSV vs sqlite3's .import of the same file;
#             the enclave's peak RSS against the file's size
#   join      an aggregate over a join of BENCH_JOIN_ROWS rows through CDR
#             vs sqlite3 on the same data; the enclave's peak RSS
#   isolation one member's SELECT 1 p99 latency (1 client thread) while
#             another member runs heavy queries back to back, against
#             max(its idle p99, 10 ms)
# Each part runs on a room and server of its own, stopped before the next
# part, so that one enclave's peak RSS is one part's.
#
# Knobs (environment):
#   BENCH_QUICK=1          small sizes and short windows: a check that it all works
#   BENCH_UPLOAD_MB        CSV size for the upload, MiB (1024; quick 64)
#   BENCH_JOIN_ROWS        rows of the large joined table (10000000; quick 1000000)
#   BENCH_JOIN_KEYS        rows of the small joined table (1000)
#   BENCH_JOIN_RUNS        runs of the join query; the best counts (3)
#   BENCH_JOIN_SQL         the join query (default below)
#   BENCH_SECONDS          measure window of each throughput figure (10; quick 3)
#   BENCH_ROUNDS           rounds of the session, query and upload figures, CDR and
#                          baseline alternating; the best of each counts (2; quick 1)
#   BENCH_THREADS          client thread counts for SELECT 1 ("1 8 32")
#   BENCH_SESSION_THREADS  client threads opening sessions (4)
#   BENCH_RSA_BITS         RSA user key size (2048)
#   BENCH_RESULTS          where results.json goes (bench/results.json)
#   BENCH_TMP              where the rooms and CSV files go (/tmp); needs
#                          about 3 x BENCH_UPLOAD_MB of free space
#   BENCH_KEEP=1           keep the work folder (logs, rooms, CSV files)
#   BENCH_COMMIT           the commit to record (default: git rev-parse of the tree)
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$(cd "${1:-$SRC/build}" && pwd)
CDR=$BUILD/bin/cdr
BB=$BUILD/bench
for f in "$CDR" "$BB/bench_query" "$BB/bench_session" "$BB/baseline_server" "$BB/bench_gen_csv" "$BB/bench_report"; do
  [ -x "$f" ] || { echo "bench: $f is missing; build first (make bench)" >&2; exit 1; }
done
command -v sqlite3 >/dev/null || { echo "bench: the sqlite3 command-line tool is missing (scripts/install-deps.sh)" >&2; exit 1; }

QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then d_upload=64 d_rows=1000000 d_secs=3 d_rounds=1; else d_upload=1024 d_rows=10000000 d_secs=10 d_rounds=2; fi
UPLOAD_MB=${BENCH_UPLOAD_MB:-$d_upload}
JOIN_ROWS=${BENCH_JOIN_ROWS:-$d_rows}
JOIN_KEYS=${BENCH_JOIN_KEYS:-1000}
JOIN_RUNS=${BENCH_JOIN_RUNS:-3}
BSECS=${BENCH_SECONDS:-$d_secs}
ROUNDS=${BENCH_ROUNDS:-$d_rounds}
THREADS_LIST=${BENCH_THREADS:-1 8 32}
SESSION_THREADS=${BENCH_SESSION_THREADS:-4}
RSA_BITS=${BENCH_RSA_BITS:-2048}
PARTS=${BENCH_PARTS:-sessions queries upload join isolation}
RESULTS=${BENCH_RESULTS:-$SRC/bench/results.json}

# The data: shapes in bench/gen_csv.c.  The same schema is declared to
# `cdr upload --schema` and to sqlite3's CREATE TABLE, so both store the
# same types.
PATIENTS_SCHEMA="patient_id INTEGER, age INTEGER, sex TEXT, diagnosis TEXT, systolic_bp INTEGER, cost_eur REAL, note TEXT"
VISITS_SCHEMA="visit_id INTEGER, patient_key INTEGER, cost_eur REAL"
REGIONS_SCHEMA="patient_key INTEGER, region TEXT"
# An aggregate over a join of every row of visits with regions (SQLite
# scans visits and looks each row up in an automatic index on regions; the
# same plan in both).  No GROUP BY: SQLite's GROUP BY sorts every joined
# row, which for 10 million rows takes 10-20 s here and would put the
# query too near the enclave's 30 s limit (bench/README.md).
JOIN_SQL=${BENCH_JOIN_SQL:-"SELECT count(*) AS visits, sum(v.cost_eur) AS total, avg(v.cost_eur) AS mean, sum(r.region = 'north') AS north FROM visits v JOIN regions r ON r.patient_key = v.patient_key"}
# sqlite3 runs with the enclave's engine settings that change speed
# (src/enclave/engine_sqlite.c): an in-memory database and temporary
# b-trees (the join's automatic index) in memory.  secure_delete, also
# set in the enclave, is part of CDR's cost and not copied.
SQLITE_SETTINGS="PRAGMA temp_store = MEMORY;"

W=$(mktemp -d "${BENCH_TMP:-/tmp}/cdr-bench.XXXXXX")
FIG=$W/figures
export CDR_CONFIG_DIR=$W/config CDR_ALLOW_SIM=1
unset CDR_HSM_PIN
PIDS=()

note() { echo "bench: $*" >&2; }
# The drivers' stderr (sim attestation warnings, setup failures) goes to
# driver.log in the part's folder; its last lines explain a failure.
driver_failed() { note "$1 failed: $2"; tail -n 3 "$3" | sed 's/^/    /' >&2; }
fig() { echo "$1 $2" >>"$FIG"; }
# kv LINE KEY: the value of KEY=value in a driver's output line.
kv() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p" | head -n 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

stop_pid() {
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
  local pid
  for pid in "${PIDS[@]:-}"; do [ -n "$pid" ] && stop_pid "$pid"; done
  if [ "${BENCH_KEEP:-0}" = 1 ]; then note "work folder kept: $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT

# start_room NAME USER:ROLE:KEYTYPE... : a new room in $W/NAME, its
# server (URL in $URL, cdrd's pid in $SERVER_PID), and each user enrolled
# as $W/NAME/USER.key/.crt (KEYTYPE ec or rsa).
start_room() {
  local name=$1 dir=$W/$1 spec user role type tok; shift
  mkdir -p "$dir"
  "$CDR" room init "$dir/room" --name "bench $name" >"$dir/init.log" 2>&1 || { cat "$dir/init.log"; return 1; }
  # Plain HTTP on loopback, like the baseline server: both sides over the
  # same transport (bench/README.md).
  "$CDR" serve "$dir/room" --listen 127.0.0.1:0 --ready-file "$dir/ready" --insecure-http >"$dir/server.log" 2>&1 &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  for _ in $(seq 600); do
    [ -s "$dir/ready" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { tail -20 "$dir/server.log"; return 1; }
    sleep 0.1
  done
  [ -s "$dir/ready" ] || { note "server of $name did not start"; return 1; }
  URL=$(head -n 1 "$dir/ready")
  for spec in "$@"; do
    IFS=: read -r user role type <<<"$spec"
    if [ "$type" = rsa ]; then
      "$CDR" keygen "$dir/$user.key" --type rsa --bits "$RSA_BITS" >/dev/null 2>&1
    else
      "$CDR" keygen "$dir/$user.key" >/dev/null 2>&1
    fi
    tok=$("$CDR" room invite "$dir/room" --role "$role" --name "$user@bench.example" 2>/dev/null | tail -n 1)
    "$CDR" enroll "$URL" --key "$dir/$user.key" --token "$tok" --out "$dir/$user.crt" --profile "$name-$user" \
      >"$dir/enroll.log" 2>&1 || { cat "$dir/enroll.log"; return 1; }
  done
}

# enclave_hwm_kb PID: the peak RSS (VmHWM, kB) of cdrd PID's child, the enclave.
enclave_hwm_kb() {
  local child
  child=$(cat /proc/"$1"/task/*/children 2>/dev/null | tr ' ' '\n' | grep -m1 .) || return 1
  awk '/^VmHWM:/ { print $2 }' /proc/"$child"/status
}

stop_room() { stop_pid "$SERVER_PID"; }

# sqlite_run DB SCRIPT: run sqlite3 on DB with SCRIPT; its output, with
# "T <epoch seconds>" marks (.system date) and its own "VmHWM: N kB".
sqlite_run() { sqlite3 -batch "$1" <"$2"; }

# ---------------------------------------------------------------- parts

# run_driver NAME LOG CMD...: run a load driver (its stderr to LOG) and
# keep its ops/s under NAME if it is the best so far; flush_best writes
# the best of each name (and its median latency) as figures.
declare -A BEST=() BEST_P50=()
run_driver() {
  local name=$1 log=$2 out v
  shift 2
  if out=$("$@" 2>>"$log"); then
    echo "  $out" >&2
    v=$(kv "$out" ops_per_s)
    if [ -z "${BEST[$name]:-}" ] || awk -v a="$v" -v b="${BEST[$name]}" 'BEGIN { exit !(a > b) }'; then
      BEST[$name]=$v
      BEST_P50[$name]=$(kv "$out" p50_ms)
    fi
  else
    driver_failed "$name" "$out" "$log"
  fi
}
flush_best() {
  local name
  for name in "${!BEST[@]}"; do
    fig "$name" "${BEST[$name]}"
    fig "${name}_p50_ms" "${BEST_P50[$name]}"
  done
  BEST=()
  BEST_P50=()
}

part_sessions() {
  local d=$W/sessions kind r
  start_room sessions ec:analyst:ec rsa:analyst:rsa || return 1
  for ((r = 1; r <= ROUNDS; r++)); do
    for kind in ec rsa; do
      note "sessions: $kind users, $SESSION_THREADS client threads, ${BSECS}s (round $r of $ROUNDS)"
      run_driver "session_$kind" "$d/driver.log" "$BB/bench_session" --url "$URL" --ca "$d/room/ca.crt" \
        --user "$d/$kind.key:$d/$kind.crt" --threads "$SESSION_THREADS" --seconds "$BSECS" --label "session_$kind"
    done
  done
  flush_best
  fig session_threads "$SESSION_THREADS"
  fig rsa_bits "$RSA_BITS"
  stop_room
}

part_queries() {
  local d=$W/queries t users=() bpid burl i r
  start_room queries a1:analyst:ec a2:analyst:ec a3:analyst:ec a4:analyst:ec || return 1
  for i in 1 2 3 4; do users+=(--user "$d/a$i.key:$d/a$i.crt"); done
  "$BB/baseline_server" --listen 127.0.0.1:0 --ready-file "$d/base.ready" 2>"$d/base.log" &
  bpid=$!
  PIDS+=("$bpid")
  for _ in $(seq 100); do [ -s "$d/base.ready" ] && break; sleep 0.1; done
  burl=$(head -n 1 "$d/base.ready")
  for t in $THREADS_LIST; do
    for ((r = 1; r <= ROUNDS; r++)); do
      note "queries: SELECT 1 with $t client threads, ${BSECS}s, plain and CDR (round $r of $ROUNDS)"
      # Alternate the order, so that neither side always runs second.
      if ((r % 2)); then
        query_plain "$d" "$burl" "$t"
        query_secure "$d" "$t" "${users[@]}"
      else
        query_secure "$d" "$t" "${users[@]}"
        query_plain "$d" "$burl" "$t"
      fi
    done
  done
  flush_best
  stop_pid "$bpid"
  stop_room
}
# query_plain DIR URL THREADS / query_secure DIR THREADS USER-ARGS...
query_plain() {
  run_driver "query_plain_$3" "$1/driver.log" "$BB/bench_query" --plain --url "$2" --threads "$3" \
    --seconds "$BSECS" --sql "SELECT 1"
}
query_secure() {
  local d=$1 t=$2
  shift 2
  run_driver "query_secure_$t" "$d/driver.log" "$BB/bench_query" --url "$URL" --ca "$d/room/ca.crt" "$@" \
    --threads "$t" --seconds "$BSECS" --sql "SELECT 1"
}

# best_of OLD NEW: the smaller number (OLD may be empty); max_of: the larger.
best_of() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || (b != "" && b + 0 < a + 0)) print b; else print a }'; }
max_of() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || (b != "" && b + 0 > a + 0)) print b; else print a }'; }

part_upload() {
  local d=$W/upload csv out t0 t1 rows="" bytes hwm r got best_sqlite="" best_cdr="" max_hwm="" max_sqlite_hwm=""
  mkdir -p "$d"
  csv=$d/patients.csv
  note "upload: generating a ${UPLOAD_MB} MiB CSV"
  "$BB/bench_gen_csv" patients $((UPLOAD_MB * 1048576)) >"$csv"
  bytes=$(stat -c %s "$csv")
  fig upload_bytes "$bytes"
  cat >"$d/import.sql" <<EOF
$SQLITE_SETTINGS
CREATE TABLE patients($PATIENTS_SCHEMA);
.system echo T \$(date +%s.%N)
.import --csv --skip 1 $csv patients
.system echo T \$(date +%s.%N)
SELECT 'R ' || count(*) FROM patients;
.system grep VmHWM /proc/\$PPID/status
EOF
  # Rounds alternate sqlite3 and CDR; each CDR round has a fresh room and
  # enclave, so that its peak RSS is that upload's alone.
  for ((r = 1; r <= ROUNDS; r++)); do
    note "upload: sqlite3 .import into :memory: (round $r of $ROUNDS)"
    out=$(sqlite_run :memory: "$d/import.sql")
    got=$(awk '/^T / { t[n++] = $2 } END { printf "%.3f", t[1] - t[0] }' <<<"$out")
    rows=$(awk '/^R / { print $2 }' <<<"$out")
    echo "  sqlite3: $rows rows in $got s" >&2
    best_sqlite=$(best_of "$best_sqlite" "$got")
    max_sqlite_hwm=$(max_of "$max_sqlite_hwm" "$(awk '/^VmHWM:/ { print $2 }' <<<"$out")")

    start_room "upload$r" prov:provider:ec || return 1
    note "upload: cdr upload, declared schema (round $r of $ROUNDS)"
    t0=$(now)
    if out=$("$CDR" upload --profile "upload$r-prov" patients "$csv" --schema "$PATIENTS_SCHEMA" \
               2>"$W/upload$r/upload.err"); then
      t1=$(now)
      got=$(elapsed "$t0" "$t1")
      echo "  $(head -n 1 <<<"$out") in $got s" >&2
      best_cdr=$(best_of "$best_cdr" "$got")
      [ "$(sed -n 's/^uploaded table [^:]*: \([0-9]*\) rows$/\1/p' <<<"$out")" = "$rows" ] ||
        note "upload: CDR and sqlite3 disagree on the row count ($out; sqlite3 $rows)"
    else
      note "upload failed: $(tail -n 3 "$W/upload$r/upload.err")"
    fi
    hwm=$(enclave_hwm_kb "$SERVER_PID") && max_hwm=$(max_of "$max_hwm" "$hwm")
    stop_room
    rm -rf "$W/upload$r/room/state/tables" # the sealed copy of the CSV
  done
  fig upload_rows "$rows"
  fig upload_sqlite_s "$best_sqlite"
  fig upload_cdr_s "$best_cdr"
  fig upload_rss_kb "$max_hwm"
  fig upload_sqlite_rss_kb "$max_sqlite_hwm"

  note "upload: sqlite3 .import into a file database (reference)"
  out=$(sqlite_run "$d/patients.db" "$d/import.sql")
  fig upload_sqlite_file_s "$(awk '/^T / { t[n++] = $2 } END { printf "%.3f", t[1] - t[0] }' <<<"$out")"
  rm -f "$d/patients.db" "$csv"
}

part_join() {
  local d=$W/join out hwm line i
  mkdir -p "$d"
  note "join: generating $JOIN_ROWS visits over $JOIN_KEYS patients"
  "$BB/bench_gen_csv" visits "$JOIN_ROWS" "$JOIN_KEYS" >"$d/visits.csv"
  "$BB/bench_gen_csv" regions "$JOIN_KEYS" >"$d/regions.csv"
  fig join_rows "$JOIN_ROWS"
  fig join_keys "$JOIN_KEYS"
  fig join_bytes $(($(stat -c %s "$d/visits.csv") + $(stat -c %s "$d/regions.csv")))
  fig join_sql "$JOIN_SQL"
  fig join_runs "$JOIN_RUNS"

  note "join: sqlite3 (:memory:), best of $JOIN_RUNS"
  {
    echo "$SQLITE_SETTINGS"
    echo "CREATE TABLE visits($VISITS_SCHEMA);"
    echo "CREATE TABLE regions($REGIONS_SCHEMA);"
    echo ".import --csv --skip 1 $d/visits.csv visits"
    echo ".import --csv --skip 1 $d/regions.csv regions"
    echo ".timer on"
    for ((i = 0; i < JOIN_RUNS; i++)); do echo "$JOIN_SQL;"; done
    echo ".timer off"
    echo ".system grep VmHWM /proc/\$PPID/status"
  } >"$d/join.sql"
  out=$(sqlite_run :memory: "$d/join.sql")
  fig join_sqlite_s "$(awk '/^Run Time: real/ { if (n++ == 0 || $4 < m) m = $4 } END { printf "%.3f", m }' <<<"$out")"
  fig join_sqlite_rss_kb "$(awk '/^VmHWM:/ { print $2 }' <<<"$out")"
  fig join_sqlite_result_rows "$(grep -vc -e '^Run Time' -e '^VmHWM' <<<"$out" | awk -v r="$JOIN_RUNS" '{ print $1 / r }')"
  echo "  sqlite3: $(grep -m1 -v -e '^Run Time' -e '^VmHWM' <<<"$out")" >&2

  start_room join prov:provider:ec || return 1
  d=$W/join
  note "join: cdr upload of both tables"
  "$CDR" upload --profile join-prov visits "$d/visits.csv" --schema "$VISITS_SCHEMA" >"$d/upload.log" 2>&1 &&
    "$CDR" upload --profile join-prov regions "$d/regions.csv" --schema "$REGIONS_SCHEMA" >>"$d/upload.log" 2>&1 ||
    { note "join: upload failed: $(cat "$d/upload.log")"; stop_room; return 0; }
  note "join: CDR, best of $JOIN_RUNS"
  if out=$("$BB/bench_query" --url "$URL" --ca "$d/room/ca.crt" --user "$d/prov.key:$d/prov.crt" --runs "$JOIN_RUNS" \
             --sql "$JOIN_SQL" 2>>"$d/driver.log"); then
    echo "  $out" >&2
    fig join_cdr_s "$(kv "$out" best_s)"
    fig join_result_rows "$(kv "$out" rows)"
  else
    driver_failed "join query" "$out" "$d/driver.log"
  fi
  hwm=$(enclave_hwm_kb "$SERVER_PID") && fig join_rss_kb "$hwm"
  stop_room
  rm -f "$d/visits.csv" "$d/regions.csv"
}

# The heavy member's query: a recursive count that runs about a second
# (it reads no table, so only the engine's own scheduling is measured).
ISO_SQL=${BENCH_ISOLATION_SQL:-WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000) SELECT count(*) FROM c}

part_isolation() {
  local d=$W/isolation out idle busy hpid
  start_room isolation heavy:analyst:ec light:analyst:ec || return 1
  fig isolation_heavy_sql "$ISO_SQL"
  note "isolation: the light member's SELECT 1, idle, ${BSECS}s"
  if ! out=$("$BB/bench_query" --url "$URL" --ca "$d/room/ca.crt" --user "$d/light.key:$d/light.crt" --threads 1 \
    --seconds "$BSECS" --sql "SELECT 1" 2>>"$d/driver.log"); then
    driver_failed "isolation (idle)" "$out" "$d/driver.log"
    stop_room
    return 1
  fi
  idle=$(kv "$out" p99_ms)
  # The heavy member's queries, back to back, for longer than the window.
  "$BB/bench_query" --url "$URL" --ca "$d/room/ca.crt" --user "$d/heavy.key:$d/heavy.crt" --runs 100000 \
    --sql "$ISO_SQL" >/dev/null 2>>"$d/driver.log" &
  hpid=$!
  PIDS+=("$hpid")
  sleep 2
  note "isolation: the light member's SELECT 1 while the heavy member's queries run, ${BSECS}s"
  if out=$("$BB/bench_query" --url "$URL" --ca "$d/room/ca.crt" --user "$d/light.key:$d/light.crt" --threads 1 \
    --seconds "$BSECS" --sql "SELECT 1" 2>>"$d/driver.log"); then
    busy=$(kv "$out" p99_ms)
    fig isolation_idle_p99_ms "$idle"
    fig isolation_base_p99_ms "$(max_of "$idle" 10)"
    fig isolation_busy_p99_ms "$busy"
  else
    driver_failed "isolation (busy)" "$out" "$d/driver.log"
  fi
  stop_pid "$hpid"
  stop_room
}

# ---------------------------------------------------------------- run

fig date "$(date -u +%Y-%m-%d)"
fig commit "${BENCH_COMMIT:-$(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$SRC" diff --quiet HEAD 2>/dev/null || echo -dirty)}"
fig nproc "$(nproc)"
fig cpu "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
fig quick "$QUICK"
fig bench_seconds "$BSECS"
fig rounds "$ROUNDS"
note "work folder $W; parts: $PARTS"
for part in $PARTS; do
  case $part in
    sessions | queries | upload | join | isolation) "part_$part" || note "part $part failed" ;;
    *) note "unknown part $part" ;;
  esac
done
mkdir -p "$(dirname "$RESULTS")"
"$BB/bench_report" "$FIG" "$RESULTS" "$BUILD/bench/last-run.md"
note "wrote $RESULTS and $BUILD/bench/last-run.md (add the latter to bench/README.md)"
