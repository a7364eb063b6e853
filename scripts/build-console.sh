#!/usr/bin/env bash
# build-console.sh SRC OUT - assemble the web console's bundle (docs/CONSOLE.md):
# SRC/web as it is, plus the browser scripts it uses from the npm
# packages pinned in SRC/package-lock.json (installed into SRC/node_modules
# by scripts/install-deps.sh with `npm ci`) and their licences, into OUT.
# Nothing is downloaded here.  `cdr console --version` hashes OUT.
set -euo pipefail
src=$1 out=$2
nm="$src/node_modules"
vendor=(
  "reflect-metadata/Reflect.js:Reflect.js"
  "reflect-metadata/LICENSE:reflect-metadata-LICENSE.txt"
  "@peculiar/x509/build/x509.js:x509.js"
  "@peculiar/x509/LICENSE:x509-LICENSE.txt"
  "asn1js/build/index.es.js:asn1js.js"
  "asn1js/LICENSE:asn1js-LICENSE.txt"
  "pvtsutils/build/index.es.js:pvtsutils.js"
  "pvtsutils/LICENSE:pvtsutils-LICENSE.txt"
  "pvutils/build/utils.es.js:pvutils.js"
  "pvutils/LICENSE:pvutils-LICENSE.txt"
)
for v in "${vendor[@]}"; do
  if [ ! -f "$nm/${v%%:*}" ]; then
    echo "build-console: $nm/${v%%:*} is missing: run scripts/install-deps.sh (npm ci in console/)" >&2
    exit 1
  fi
done
rm -rf "$out"
mkdir -p "$out/vendor"
cp -R "$src/web/." "$out/"
for v in "${vendor[@]}"; do
  cp "$nm/${v%%:*}" "$out/vendor/${v##*:}"
done
# asn1js (the DER of the key backup, js/backup.js) is an ES module that
# imports its two helpers by package name, which a browser cannot resolve
# without an import map (an inline script, which the CSP forbids): point
# exactly those two imports at the vendored files, and fail otherwise.
a="$out/vendor/asn1js.js"
[ "$(grep -c "^import \* as pvtsutils from 'pvtsutils';\$\|^import \* as pvutils from 'pvutils';\$" "$a")" = 2 ] \
  || { echo "build-console: $a does not import pvtsutils and pvutils as expected" >&2; exit 1; }
sed -i -e "s|^import \* as pvtsutils from 'pvtsutils';\$|import * as pvtsutils from './pvtsutils.js';|" \
  -e "s|^import \* as pvutils from 'pvutils';\$|import * as pvutils from './pvutils.js';|" "$a"
if grep -n "^import\|^export .* from '[^.]" "$out/vendor/pvtsutils.js" "$out/vendor/pvutils.js" "$a" | grep -v "from '\./pv"; then
  echo "build-console: a vendored module imports something not vendored" >&2; exit 1
fi
chmod -R u=rwX,go=rX "$out"
