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
  sqlite3                     # the sqlite3 command-line tool: make bench's baseline; the reference of test_concurrency.sh
  libmicrohttpd-dev           # cdrd's HTTP server
  libjansson-dev              # JSON
  libcurl4-openssl-dev        # the client's HTTP
  softhsm2 libp11-dev libp11-kit-dev   # PKCS#11 CA key (SoftHSM2 by default)
  libengine-pkcs11-openssl    # libp11's OpenSSL engine: a user key in a PKCS#11 token (--key pkcs11:...)
  opensc                      # pkcs11-tool: makes the user keys in SoftHSM2 (tests/integration/test_keys.sh)
  libseccomp-dev              # enclave sandbox
  libcbor-dev                 # CBOR (attestation documents)
  libpg-query-dev             # the PostgreSQL parser: the enclave checks queries against release rules
  libprotobuf-c-dev           # protobuf-c.h, for libpg_query's parse tree (the runtime is inside libpg_query)
  clang                       # sanitizer and fuzz builds
  libfuzzer-14-dev            # libFuzzer for clang 14 (make fuzz)
  systemd strace              # tests/integration/test_deploy_systemd.sh: systemd-analyze verify/security, the unit's syscall filter against a traced run
  podman                      # tests/integration/test_deploy_container.sh: podman build --isolation chroot of deploy/container
  prometheus                  # promtool: checks cdrd's /metrics (tests/integration/test_metrics.sh)
  chromium                    # headless browser for the web console's test (tests/integration/test_console.sh)
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js and npm (tests/deploy's and tests/openapi's checks): Debian's, unless a node is
# already there (a machine may bring its own, with npm inside).
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm packages, each folder from its committed package-lock.json, when
# missing or older than the lock (tests/deploy: the Kubernetes schema check;
# tests/openapi: an OpenAPI validator and ajv; console: the web console's
# browser libraries, vendored into its bundle at build time, and
# playwright-core, which drives Debian's chromium in its test).  Nothing is
# fetched by the tests or at run time.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
for dir in tests/deploy tests/openapi console; do
  lock="$ROOT/$dir/package-lock.json"
  stamp="$ROOT/$dir/node_modules/.package-lock.json"
  if [ ! -f "$stamp" ] || [ "$lock" -nt "$stamp" ]; then
    echo "install-deps: npm ci in $dir" >&2
    (cd "$ROOT/$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
done
