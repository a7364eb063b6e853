#!/usr/bin/env bash
# build-console.sh SRC OUT - assemble the web console's bundle (docs/CONSOLE.md):
# SRC/web as it is, plus the two browser scripts it uses from the npm
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
chmod -R u=rwX,go=rX "$out"
