#!/bin/bash
# test_install.sh - `make install` honours PREFIX and DESTDIR on every
# call, whatever prefix the build folder was first configured with (the
# CMake cache used to keep the first one, so PREFIX was ignored after any
# earlier build).  Installs this test run's build folder twice, to two
# prefixes, then once staged under DESTDIR; cdr's man pages and shell
# completion (scripts/gen-cli-docs.sh) and the web console's bundle are
# installed with the programs.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BUILD_DIR=$(cd "$CDR_BIN_DIR/.." && pwd)
inst() { make -s -C "$CDR_SOURCE_DIR" install BUILD="$BUILD_DIR" "$@" >"$T/out" 2>&1; }

for p in "$T/first" "$T/second"; do
  if inst PREFIX="$p"; then pass "make install PREFIX=$(basename "$p")"; else fail "make install PREFIX=$p"; tail -5 "$T/out"; fi
  for b in cdr cdrd cdr-enclave; do
    [ -x "$p/bin/$b" ] && pass "$b installed under $(basename "$p")/bin" || fail "$b installed under $p/bin"
  done
done
p="$T/second"
[ -f "$p/share/man/man1/cdr.1" ] && [ -f "$p/share/man/man1/cdr-query.1" ] && pass "cdr's man pages installed" \
  || fail "cdr's man pages installed under $p/share/man/man1"
MANPATH="$p/share/man" man -w cdr-profile >/dev/null 2>&1 && pass "man finds cdr-profile in the installed tree" \
  || fail "man finds cdr-profile in the installed tree"
[ -f "$p/share/bash-completion/completions/cdr" ] && pass "bash completion installed" || fail "bash completion installed"
[ -f "$p/share/zsh/vendor-completions/_cdr" ] && pass "zsh completion installed" || fail "zsh completion installed"
[ -f "$p/share/cdr/console/index.html" ] && [ -f "$p/share/cdr/console/vendor/x509.js" ] && pass "the web console's bundle installed" \
  || fail "the web console's bundle installed under $p/share/cdr/console"
inst_hash=$("$p/bin/cdr" console --version 2>&1)
build_hash=$("$CDR" console --version 2>&1)
[ -n "$inst_hash" ] && [ "${inst_hash%% *}" = "${build_hash%% *}" ] && [ "${inst_hash#*  }" != "${build_hash#*  }" ] \
  && pass "the installed cdr serves the installed bundle, with the build's hash" \
  || fail "installed console bundle: [$inst_hash] vs build [$build_hash]"
cmp -s "$T/first/bin/cdr-enclave" "$CDR_BIN_DIR/cdr-enclave" && pass "the installed enclave is the one built" \
  || fail "the installed enclave is the one built"

if DESTDIR="$T/stage" inst PREFIX=/opt/cdr-test; then pass "make install with DESTDIR"; else fail "make install with DESTDIR"; tail -5 "$T/out"; fi
[ -x "$T/stage/opt/cdr-test/bin/cdrd" ] && pass "DESTDIR stages under the prefix" || fail "DESTDIR stages under the prefix"
[ ! -e /opt/cdr-test ] && pass "nothing written to the real prefix" || fail "nothing written to the real prefix"
finish
