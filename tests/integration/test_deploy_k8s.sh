#!/usr/bin/env bash
# deploy/k8s: every manifest is valid offline against the Kubernetes API
# schemas that the npm package kubernetes-models ships (tests/deploy,
# installed by scripts/install-deps.sh with npm ci): JSON-schema
# validation plus an unknown-field check.  A misspelled field, a wrong
# enum value and an unknown kind in temp copies must each be refused with
# a message naming them; and the pieces fit together (the Secret's key is
# the one the pods read, the volume claim is mounted where the room is,
# cdrd gets its TLS names from the ConfigMap and the probes speak HTTPS).
. "$(dirname "$0")/lib.sh"

D="$CDR_SOURCE_DIR/tests/deploy"
K="$CDR_SOURCE_DIR/deploy/k8s"
[ -d "$D/node_modules/kubernetes-models" ] \
  || { fail "tests/deploy/node_modules is missing: run scripts/install-deps.sh (npm ci in tests/deploy)"; finish; }
validate() { node "$D/validate-k8s.mjs" "$@"; }

validate "$K"/*.yaml >"$T/ok.out" 2>&1 && grep -q "^ok: 6 objects valid" "$T/ok.out" \
  && pass "deploy/k8s: 6 objects valid ($(cat "$T/ok.out"))" || { fail "deploy/k8s is not valid"; sed 's/^/    /' "$T/ok.out"; }
for kind in StatefulSet Service Secret NetworkPolicy ConfigMap; do
  grep -q "^kind: $kind$" "$K"/*.yaml && pass "a $kind is there" || fail "no $kind in deploy/k8s"
done

# Refusals, on temp copies, checked in one run (each run compiles the
# package's declarations, which takes seconds): each file's own lines.
sed 's/^  replicas: 1$/  replcas: 1/' "$K/statefulset.yaml" >"$T/typo.yaml"
! cmp -s "$T/typo.yaml" "$K/statefulset.yaml" || fail "the typo was not made"
sed 's/readOnlyRootFilesystem: true/readOnlyRootFilesytem: true/' "$K/statefulset.yaml" >"$T/typo2.yaml"
sed 's/protocol: TCP/protocol: TCPX/' "$K/networkpolicy.yaml" >"$T/enum.yaml"
sed 's/^kind: Secret$/kind: Secrett/' "$K/secret.yaml" >"$T/kind.yaml"
sed '/^  selector:$/,/^      app.kubernetes.io\/name: cdr$/d' "$K/statefulset.yaml" >"$T/req.yaml"
sed '0,/scheme: HTTPS/s//scheme: HTTPX/' "$K/statefulset.yaml" >"$T/scheme.yaml"
validate "$T/typo.yaml" "$T/typo2.yaml" "$T/enum.yaml" "$T/kind.yaml" "$T/req.yaml" "$T/scheme.yaml" >"$T/bad.out" 2>&1
expect_eq "the validator fails on the bad copies" "$?" "1"
# refused NAME FILE TEXT: a line of FILE's says TEXT.
refused() {
  grep -F "$2: " "$T/bad.out" | grep -qF -- "$3" && pass "$1" || { fail "$1 (expected: $3)"; grep -F "$2: " "$T/bad.out" | sed 's/^/    /'; }
}
refused "a misspelled field (spec.replcas) is refused, by name" "$T/typo.yaml" "'\"replcas\"' does not exist in type 'IStatefulSetSpec'"
refused "a misspelled field deep in a container is refused" "$T/typo2.yaml" "readOnlyRootFilesytem"
refused "a value outside the schema's enum is refused" "$T/enum.yaml" "protocol must be equal to one of the allowed values"
refused "an unknown kind is refused" "$T/kind.yaml" "unknown apiVersion/kind v1/Secrett"
refused "a missing required field (spec.selector) is refused" "$T/req.yaml" "schema: data/spec must have required property selector"
refused "a probe scheme other than HTTP/HTTPS is refused" "$T/scheme.yaml" "readinessProbe/httpGet/scheme must be equal to one of the allowed values"

# The pieces fit.
SECRET_KEY=$(awk '/^stringData:/{f=1;next} f&&/^  [a-z]+:/{sub(":.*","");gsub(" ","");print;exit}' "$K/secret.yaml")
grep -A2 "name: cdr-token-pin" "$K/statefulset.yaml" | grep -q "key: $SECRET_KEY" && pass "the pods read the Secret's key ($SECRET_KEY)" \
  || fail "the StatefulSet does not read key $SECRET_KEY of cdr-token-pin"
# TLS: the serving container gets CDR_TLS_NAME from the ConfigMap's
# TLS_NAME (without it entrypoint.sh refuses 0.0.0.0), both probes use
# HTTPS, readiness waits for the load.
awk '/^        - name: cdrd$/{f=1} f' "$K/statefulset.yaml" >"$T/cdrd.yaml"
grep -A4 "name: CDR_TLS_NAME" "$T/cdrd.yaml" | grep -q "key: TLS_NAME" && grep -q '^  TLS_NAME: "[^"]' "$K/configmap.yaml" \
  && pass "cdrd's CDR_TLS_NAME comes from the ConfigMap's TLS_NAME" || fail "CDR_TLS_NAME is not wired to the ConfigMap"
expect_eq "both probes use scheme HTTPS" "$(grep -c "scheme: HTTPS" "$T/cdrd.yaml")" 2
grep -A3 "readinessProbe:" "$T/cdrd.yaml" | grep -q "path: /v1/ready" && pass "readiness is /v1/ready" || fail "readiness probe path"
grep -q "^  replicas: 1$" "$K/statefulset.yaml" && pass "one replica (a room is locked to one cdrd)" || fail "replicas is not 1"
grep -A1 "name: room$" "$K/statefulset.yaml" | grep -q "mountPath: /var/lib/cdr" && grep -q "^  volumeClaimTemplates:" "$K/statefulset.yaml" \
  && pass "the room volume claim is mounted at /var/lib/cdr" || fail "room volume not mounted from a claim template"
finish
