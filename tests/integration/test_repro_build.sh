#!/bin/bash
# test_repro_build.sh - the same commit builds a byte-identical cdr-enclave
# in any folder, so members can reproduce the sim measurement a room
# reports (issue: "a measurement members can reproduce").  Two copies of
# the source tree at paths of different lengths, one built in a folder
# inside its tree and one outside, through scripts/measurement.sh (what
# `make measurement` runs): the printed measurements agree, equal the
# SHA-256 of each binary, and neither binary holds its folder's path.
# Also: build-info.txt names the commit, the compiler and what the sim
# measurement does not cover.  Takes two builds of cdr-enclave.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

A="$T/a"
B="$T/a-much-longer-folder-name/b"
mkdir -p "$A" "$B"
copy_tree() { # the tracked files (and new ones not ignored) as they are now
  (cd "$CDR_SOURCE_DIR" && git ls-files -z -co --exclude-standard | xargs -0 cp --parents -t "$1" 2>/dev/null)
}
if ! git -C "$CDR_SOURCE_DIR" rev-parse --git-dir >/dev/null 2>&1; then
  fail "the source folder is a git checkout (needed to copy the tree)"
  finish
fi
copy_tree "$A"
copy_tree "$B"
[ -f "$A/CMakeLists.txt" ] && [ -f "$B/src/enclave/main.c" ] && pass "source tree copied twice" \
  || fail "source tree copied twice"

# Neither copy is a git checkout: build-info.txt says the commit is unknown.
ma=$(bash "$A/scripts/measurement.sh" "$A/build-measure" 2>"$T/err.a") || { fail "measurement.sh in A"; tail -5 "$T/err.a"; }
mb=$(bash "$B/scripts/measurement.sh" "$T/elsewhere/bbuild" 2>"$T/err.b") || { fail "measurement.sh in B"; tail -5 "$T/err.b"; }
ha=$(sha256sum "$A/build-measure/bin/cdr-enclave" | cut -d' ' -f1)
hb=$(sha256sum "$T/elsewhere/bbuild/bin/cdr-enclave" | cut -d' ' -f1)
expect_eq "measurement.sh prints the binary's SHA-256 (A)" "$ma" "$ha  cdr-enclave"
expect_eq "measurement.sh prints the binary's SHA-256 (B)" "$mb" "$hb  cdr-enclave"
[[ "$ha" =~ ^[0-9a-f]{64}$ ]] && pass "the measurement is 64 hex digits" || fail "the measurement is 64 hex digits ($ha)"
expect_eq "two folders build the same cdr-enclave" "$ha" "$hb"

# The fault this guards against: the build path embedded in the binary.
n=$(grep -c -a -F "$T" "$A/build-measure/bin/cdr-enclave" "$T/elsewhere/bbuild/bin/cdr-enclave" | awk -F: '{s += $2} END {print s + 0}')
expect_eq "no build path in either binary" "$n" "0"

info="$A/build-measure/build-info.txt"
grep -q "^cdr-enclave sim measurement: $ha$" "$info" && pass "build-info.txt records the measurement" \
  || fail "build-info.txt records the measurement"
grep -q "^compiler: " "$info" && grep -q "^  libssl-dev " "$info" && pass "build-info.txt names the toolchain and packages" \
  || fail "build-info.txt names the toolchain and packages"
grep -q "^loaded at run time (not in the sim measurement):" "$info" && grep -q "libcrypto.so.3 => /" "$info" \
  && pass "build-info.txt lists the shared libraries the measurement does not cover" \
  || fail "build-info.txt lists the shared libraries the measurement does not cover"
finish
