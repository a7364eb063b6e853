#!/usr/bin/env bash
# Installs every Debian 12 package CDR needs to build, test and run.
# This is the one list of dependencies: the Makefile, `make demo`,
# `make test` and .ci/run all come through here.  Nothing else is
# downloaded, at build time or at run time.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config curl jq   # curl, jq: integration tests
  perl                        # scripts/checksrc.pl, the source checker (make test)
  help2man groff-base man-db  # cdr's man pages, made from its --help (scripts/gen-cli-docs.sh), and rendered in a test
  bash-completion zsh         # tests/integration/test_cli_docs.sh loads the completion scripts
  python3                     # tests/integration/test_contract_canonical.sh: an independent JSON encoder
  libssl-dev openssl          # all crypto, X.509, PEM, ASN.1
  libsqlite3-dev              # the SQL engine inside the enclave
  sqlite3                     # the sqlite3 command-line tool: make bench's baseline
  libmicrohttpd-dev           # cdrd's HTTP server
  libjansson-dev              # JSON
  libcurl4-openssl-dev        # the client's HTTP
  softhsm2 libp11-dev libp11-kit-dev   # PKCS#11 CA key (SoftHSM2 by default)
  libseccomp-dev              # enclave sandbox
  libcbor-dev                 # CBOR (attestation documents)
  clang                       # sanitizer and fuzz builds
  libfuzzer-14-dev            # libFuzzer for clang 14 (make fuzz)
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
