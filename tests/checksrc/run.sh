#!/usr/bin/env bash
# The source checker (scripts/checksrc.pl) must catch each fault of the
# fixture tree: an include outside the table, a ../ include, a missing
# local header, a folder with no row, every banned call, a file and a
# function one line over their limits, and a file cycle; and nothing else
# (a function at the limit, snprintf, strtok_r, names in comments and
# strings, a static function sharing a name).  The expected output is
# exact, in tests/checksrc/expected.txt.
set -u
here=$(cd "$(dirname "$0")" && pwd)
checker="$here/../../scripts/checksrc.pl"
out=$(perl "$checker" --root "$here/fixture")
rc=$?
fail=0
if [ "$rc" -ne 1 ]; then
  echo "FAIL: checksrc exited $rc on the fixture (want 1)"
  fail=1
fi
if ! diff -u "$here/expected.txt" <(printf '%s\n' "$out"); then
  echo "FAIL: checksrc's report on the fixture differs from expected.txt (above)"
  fail=1
fi
perl "$checker" --root /nonexistent >/dev/null 2>&1
if [ $? -ne 2 ]; then
  echo "FAIL: checksrc on a missing tree should exit 2"
  fail=1
fi
if [ "$fail" -eq 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; fi
exit "$fail"
