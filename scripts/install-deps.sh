#!/usr/bin/env bash
# Installs every Debian 12 package CDR needs to build, test and run.
# This is the one list of dependencies: the Makefile, `make demo`,
# `make test` and .ci/run all come through here.  Nothing else is
# downloaded, at build time or at run time.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config curl jq   # curl, jq: integration tests
  perl                        # scripts/checksrc.pl, the source checker (make test)
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
  prometheus                  # promtool: checks cdrd's /metrics (tests/integration/test_metrics.sh)
  nodejs                      # runs the OpenAPI validator and ajv of tests/openapi (npm ci below)
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian's nodejs comes without npm (a package of its own); some builds
# of nodejs carry it.
if ! command -v npm >/dev/null 2>&1; then
  echo "install-deps: installing npm" >&2
  $SUDO apt-get install -y -qq --no-install-recommends npm >/dev/null
fi

# The npm packages of tests/openapi (an OpenAPI validator, ajv), exactly
# as package-lock.json pins them, when node_modules is missing or was
# installed from another lock file.  Nothing is fetched by the tests.
openapi_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../tests/openapi" && pwd)"
lock_sum=$(sha256sum "$openapi_dir/package-lock.json" | cut -d' ' -f1)
stamp="$openapi_dir/node_modules/.cdr-lock.sha256"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_sum" ]; then
  echo "install-deps: npm ci in tests/openapi" >&2
  (cd "$openapi_dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  echo "$lock_sum" > "$stamp"
fi
