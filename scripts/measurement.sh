#!/usr/bin/env bash
# measurement.sh - the expected sim measurement of this source tree:
# builds cdr-enclave alone, in its own build folder with the default
# configuration (gcc, RelWithDebInfo), and prints the SHA-256 of the
# binary, which is what the sim provider reports (src/enclave/attest_sim.c).
# The build is reproducible: the same commit gives the same bytes in any
# folder (CMakeLists.txt maps the source and build paths away), on a
# machine with the same toolchain and -dev packages.  So that a member on
# another machine knows what to install, it writes build-info.txt beside
# the binary: the commit, the toolchain and the versions of the Debian
# packages that were compiled or linked in.  The shared libraries
# cdr-enclave loads at run time (listed there) are NOT in the sim
# measurement: docs/ATTESTATION.md, "The expected measurement".
#
# Usage: scripts/measurement.sh [BUILD_DIR]   (default: build-measure)
# `make measurement` runs it.  Prints one line: "<64 hex>  cdr-enclave".
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bd=${1:-$top/build-measure}
case "$bd" in /*) ;; *) bd="$PWD/$bd" ;; esac

cmake -S "$top" -B "$bd" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCDR_SANITIZE=OFF -DCDR_FUZZ=OFF >/dev/null
cmake --build "$bd" --target cdr-enclave -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
bin="$bd/bin/cdr-enclave"
hash=$(sha256sum "$bin" | cut -d' ' -f1)

pkgver() { dpkg-query -W -f='${Package} ${Version}\n' "$@" 2>/dev/null || true; }
{
  echo "cdr-enclave sim measurement: $hash"
  echo "commit: $(git -C "$top" rev-parse HEAD 2>/dev/null || echo unknown)$(git -C "$top" diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "compiler: $(cc --version | head -n 1)"
  echo "linker: $(ld --version | head -n 1)"
  echo "cmake: $(cmake --version | head -n 1)"
  echo "built from (headers and static code):"
  pkgver gcc-12 binutils libc6-dev libssl-dev libsqlite3-dev libjansson-dev libseccomp-dev libcbor-dev | sed 's/^/  /'
  echo "loaded at run time (not in the sim measurement):"
  ldd "$bin" | awk '$3 ~ /^\// {print "  " $1 " => " $3}'
} >"$bd/build-info.txt"
echo "$hash  cdr-enclave"
