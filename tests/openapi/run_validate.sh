#!/usr/bin/env bash
# ctest openapi/validate: docs/openapi.json is a valid OpenAPI 3.1
# description for @apidevtools/swagger-parser (the OpenAPI schema and
# every $ref), and the validator is live: a copy with a response's
# required "description" removed is refused.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
spec="$here/../../docs/openapi.json"
[ -d "$here/node_modules/@apidevtools/swagger-parser" ] || { echo "FAIL - run scripts/install-deps.sh (npm ci)"; exit 1; }
node "$here/validate.js" "$spec" || exit 1
tmp=$(mktemp /tmp/cdr-openapi.XXXXXX.json)
trap 'rm -f "$tmp"' EXIT
jq 'del(.paths["/v1/room"].get.responses["200"].description)' "$spec" >"$tmp"
if node "$here/validate.js" "$tmp" 2>"$tmp.err"; then
  echo "FAIL - the validator accepted a response without its description"; rm -f "$tmp.err"; exit 1
fi
grep -q "required property 'description'" "$tmp.err" && echo "ok - a broken copy is refused: $(head -c 120 "$tmp.err")"
st=$?
rm -f "$tmp.err"
exit $st
