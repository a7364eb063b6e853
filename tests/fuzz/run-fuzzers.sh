#!/usr/bin/env bash
# run-fuzzers.sh BUILD SECONDS JOBS [TARGET...]
#
# Runs every libFuzzer target of a CDR_FUZZ build (BUILD/fuzz/fuzz_*), or
# the TARGETs named, for SECONDS each, JOBS at a time (`make fuzz`,
# .ci/run).  Each target starts from its checked-in seeds
# (tests/fuzz/corpus/<target>) and regressions
# (tests/fuzz/regressions/<target>) and grows a working corpus under
# BUILD/fuzz-corpus/<target> that later runs continue from.
#
# A crash, sanitizer report, failed invariant, leak, timeout (90 s per
# input) or out-of-memory (2 GiB) is a failure: its input is copied into
# tests/fuzz/regressions/<target>/, where ctest replays it from then on
# (commit it with the fix), and the script exits 1.  Logs:
# BUILD/fuzz-logs/<target>.log.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:?usage: run-fuzzers.sh BUILD SECONDS JOBS [TARGET...]}
SECONDS_EACH=${2:?seconds}
JOBS=${3:?jobs}
shift 3
SRC=tests/fuzz

if [ $# -gt 0 ]; then
  TARGETS=("$@")
else
  TARGETS=()
  for f in "$BUILD"/fuzz/fuzz_*; do [ -x "$f" ] && TARGETS+=("$(basename "$f")"); done
fi
[ ${#TARGETS[@]} -gt 0 ] || { echo "run-fuzzers: no fuzz targets in $BUILD/fuzz (build with -DCDR_FUZZ=ON)" >&2; exit 2; }
mkdir -p "$BUILD/fuzz-logs" "$BUILD/fuzz-corpus" "$BUILD/fuzz-artifacts"

# Sanitizer settings for the fuzzed process: any report is a crash.
export ASAN_OPTIONS="halt_on_error=1:abort_on_error=1:detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1:allocator_may_return_null=1"
export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1"

# Per-target libFuzzer options.
extra_flags() {
  case "$1" in
    # cdr_attest_verify_response prints the sim warning for every input.
    fuzz_client_responses) echo "-close_fd_mask=2" ;;
    # Frame streams and uploads need room for a few frames or rows.
    fuzz_ipc_frames|fuzz_enclave_ops|fuzz_csv) echo "-max_len=65536" ;;
    *) echo "" ;;
  esac
}

run_one() {
  local t=$1 bin="$BUILD/fuzz/$1" work="$BUILD/fuzz-corpus/$1" art="$BUILD/fuzz-artifacts/$1/"
  mkdir -p "$work" "$art" "$SRC/regressions/$t"
  # shellcheck disable=SC2046
  # -timeout must exceed the engine's own 30 s query time limit: a query
  # that runs until the enclave stops it is correct behaviour, not a hang.
  # (Instrumented builds are also far slower on large allocations: the SQL
  # regression timeout-e7518... takes about 40 s here and 0.3 s normally.)
  "$bin" -max_total_time="$SECONDS_EACH" -timeout=90 -report_slow_units=90 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$art" $(extra_flags "$t") "$work" "$SRC/corpus/$t" "$SRC/regressions/$t" \
    >"$BUILD/fuzz-logs/$t.log" 2>&1
  echo $? >"$BUILD/fuzz-logs/$t.rc"
}
export -f run_one extra_flags
export BUILD SECONDS_EACH SRC

echo "run-fuzzers: ${#TARGETS[@]} targets, ${SECONDS_EACH}s each, $JOBS at a time"
rm -rf "$BUILD/fuzz-artifacts"/*
printf '%s\n' "${TARGETS[@]}" | xargs -P "$JOBS" -I{} bash -c 'run_one {}'

status=0
printf '%-24s %8s %10s %8s %6s  %s\n' target runs exec/s cov corpus result
for t in "${TARGETS[@]}"; do
  log="$BUILD/fuzz-logs/$t.log"
  rc=$(cat "$BUILD/fuzz-logs/$t.rc" 2>/dev/null || echo "?")
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
  corp=$(grep -oE 'corp: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
  result=ok
  crashes=("$BUILD/fuzz-artifacts/$t"/*)
  if [ "$rc" != 0 ] || [ -e "${crashes[0]}" ]; then
    result="FAILED (rc $rc)"
    status=1
    for c in "${crashes[@]}"; do
      [ -e "$c" ] || continue
      cp "$c" "$SRC/regressions/$t/"
      result="$result, kept $SRC/regressions/$t/$(basename "$c")"
    done
  fi
  printf '%-24s %8s %10s %8s %6s  %s\n' "$t" "${runs:--}" "${eps:--}" "${cov:--}" "${corp:--}" "$result"
done
if [ "$status" -ne 0 ]; then
  for t in "${TARGETS[@]}"; do
    rc=$(cat "$BUILD/fuzz-logs/$t.rc" 2>/dev/null || echo "?")
    [ "$rc" = 0 ] && continue
    echo "---- $t (log: $BUILD/fuzz-logs/$t.log)"
    grep -E -A40 '^==[0-9]+==ERROR|fuzz invariant violated|runtime error|^SUMMARY|deadly signal|ERROR: libFuzzer' \
      "$BUILD/fuzz-logs/$t.log" | head -60
  done
fi
exit "$status"
