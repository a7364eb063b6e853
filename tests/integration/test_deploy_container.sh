#!/usr/bin/env bash
# deploy/container: make-rootfs.sh builds the image's root file system
# from this build; `podman build --isolation chroot` builds the image FROM
# scratch (no registry is reachable, and without chroot isolation a build
# step cannot run here); the image holds the three programs and its
# configuration is the one the Containerfile says.  Containers cannot run
# on these machines, so the image's entry point is then run natively
# inside the rootfs folder (chroot, as the image's user 10001, with only
# /proc and /dev/null and /dev/urandom brought in): `init` makes a room,
# `serve` starts it over HTTPS with a certificate the room CA issued for
# the names in CDR_TLS_NAME, /v1/health answers over TLS verified with the
# room CA, and a member enrolls, uploads and queries through it.  `config`
# shows how the TLS variables become cdrd's settings, and a wildcard
# address without them is refused naming the variables.  That also proves the rootfs is complete: in a
# chroot no library can come from the host.
. "$(dirname "$0")/lib.sh"

C="$CDR_SOURCE_DIR/deploy/container"
command -v podman >/dev/null || { fail "podman is not installed (scripts/install-deps.sh installs it)"; finish; }
[ "$(id -u)" -eq 0 ] || { fail "this test needs root (chroot, mount namespaces, podman's storage), as .ci/run runs"; finish; }

I="$T/image"
"$C/make-rootfs.sh" "$CDR_BIN_DIR" "$I" >"$T/rootfs.out" 2>&1 && pass "make-rootfs.sh: $(tail -n 1 "$T/rootfs.out")" \
  || { fail "make-rootfs.sh"; cat "$T/rootfs.out"; finish; }
RF="$I/rootfs"
for f in usr/local/bin/cdr usr/local/bin/cdrd usr/local/bin/cdr-enclave usr/lib/softhsm/libsofthsm2.so etc/softhsm/softhsm2.conf entrypoint.sh bin/sh; do
  [ -f "$RF/$f" ] || fail "rootfs lacks $f"
done
# Exactly ldd's libraries: every .so in the rootfs is in libs.txt (or the SoftHSM2 module).
EXTRA=$(cd "$RF" && find . -name '*.so*' -type f | sed 's#^\.##' | grep -vxF -f "$I/libs.txt" | grep -v '^/usr/lib/softhsm/libsofthsm2.so$')
expect_eq "the rootfs holds only the libraries ldd lists" "$EXTRA" ""

# The image.
TAG="localhost/cdr-test-$$:latest"
podman build --isolation chroot -f "$C/Containerfile" -t "$TAG" "$I" >"$T/podman.out" 2>&1 \
  && pass "podman build --isolation chroot" || { fail "podman build failed:"; tail -20 "$T/podman.out" | sed 's/^/    /'; finish; }
cleanup_image() { podman rmi -f "$TAG" >/dev/null 2>&1; cleanup; }
trap cleanup_image EXIT
podman image inspect "$TAG" --format '{{json .Config.Entrypoint}} {{.Config.User}} {{json .Config.Cmd}}' >"$T/inspect.out" 2>&1
expect_eq "the image's entry point, user and command" "$(cat "$T/inspect.out")" '["/entrypoint.sh"] 10001:10001 ["run"]'
podman save --format oci-archive -o "$T/image.tar" "$TAG" >/dev/null 2>&1 || fail "podman save"
mkdir -p "$T/oci" && tar -xf "$T/image.tar" -C "$T/oci"
LAYERS=$(for b in "$T"/oci/blobs/sha256/*; do tar -tzf "$b" 2>/dev/null || tar -tf "$b" 2>/dev/null; done)
for f in usr/local/bin/cdrd usr/local/bin/cdr-enclave usr/lib/softhsm/libsofthsm2.so entrypoint.sh; do
  grep -qx "\(\./\)\?$f" <<<"$LAYERS" && pass "the image's layer holds $f" || fail "the image lacks $f"
done

# The entry point, natively, inside the rootfs.
chmod 0711 "$T" "$I"
chown -R 10001:10001 "$RF/var/lib/cdr"
# in_rootfs CMD...: run the image's entry point in a private mount
# namespace, chrooted, as 10001, with the environment below plus RENV
# (VAR=VALUE words, which win).
RENV=()
in_rootfs() {
  unshare --mount --fork sh -c '
    set -e; rf=$1; shift
    mount -t proc proc "$rf/proc"
    for d in null urandom; do : >"$rf/dev/$d"; mount --bind /dev/$d "$rf/dev/$d"; done
    exec env -i CDR_ROOM=/var/lib/cdr/room CDR_ROOM_NAME="container room" "$@"' sh "$RF" \
    CDR_LISTEN=127.0.0.1:0 CDR_READY_FILE=/var/lib/cdr/ready "${RENV[@]}" \
    /usr/sbin/chroot --userspec=10001:10001 "$RF" /entrypoint.sh "$@"
}
RENV=(CDR_ROOM=/var/lib/cdr/room-placeholder CDR_HSM_PIN=change-me-before-applying)
in_rootfs init >"$T/init0.out" 2>&1; rc=$?
[ "$rc" = 2 ] && grep -q "still the placeholder" "$T/init0.out" && [ ! -e "$RF/var/lib/cdr/room-placeholder" ] \
  && pass "init refuses the placeholder PIN of secret.yaml" || fail "placeholder PIN (exit $rc): $(cat "$T/init0.out")"
RENV=()
in_rootfs init >"$T/init.out" 2>&1 && [ -f "$RF/var/lib/cdr/room/room.json" ] && pass "entrypoint.sh init made a room" \
  || { fail "entrypoint.sh init"; tail "$T/init.out"; finish; }
in_rootfs init >"$T/init2.out" 2>&1 && grep -q "room /var/lib/cdr/room exists" "$T/init2.out" && pass "init again keeps the room" \
  || fail "second init: $(cat "$T/init2.out")"
[ "$(stat -c %u "$RF/var/lib/cdr/room/state" 2>/dev/null || stat -c %u "$RF/var/lib/cdr/room/room.json")" = 10001 ] \
  && pass "the room belongs to the image's user" || fail "room owner: $(stat -c %u "$RF/var/lib/cdr/room/room.json")"

# TLS from the environment (checked with `config`, which starts nothing).
RENV=(CDR_LISTEN=0.0.0.0:8443)
in_rootfs config >"$T/cfg0.out" 2>&1
expect_eq "serve on 0.0.0.0 without CDR_TLS_NAME or CDR_TLS_CERT exits 2" "$?" 2
grep -q "set CDR_TLS_NAME" "$T/cfg0.out" && pass "and names the variables to set" || fail "message: $(cat "$T/cfg0.out")"
RENV=(CDR_LISTEN=0.0.0.0:8443 "CDR_TLS_NAME=room.example.org, cdr.default.svc 10.0.0.7")
in_rootfs config >"$T/cfg1.out" 2>&1 || fail "config with CDR_TLS_NAME: $(cat "$T/cfg1.out")"
expect_eq "CDR_TLS_NAME (commas and spaces) becomes one --tls-name each" "$(jq -c .tls_name "$T/cfg1.out")" \
  '["room.example.org","cdr.default.svc","10.0.0.7"]'
RENV=(CDR_LISTEN=0.0.0.0:8443 CDR_TLS_CERT=/var/lib/cdr/tls.crt CDR_TLS_KEY=/var/lib/cdr/tls.key)
in_rootfs config >"$T/cfg2.out" 2>&1 || fail "config with CDR_TLS_CERT: $(cat "$T/cfg2.out")"
expect_eq "CDR_TLS_CERT and CDR_TLS_KEY become --tls-cert and --tls-key" "$(jq -r '[.tls_cert, .tls_key] | join(" ")' "$T/cfg2.out")" \
  "/var/lib/cdr/tls.crt /var/lib/cdr/tls.key"
RENV=(CDR_LISTEN=0.0.0.0:8443 CDR_TLS_CERT=/var/lib/cdr/tls.crt)
in_rootfs config >"$T/cfg3.out" 2>&1
expect_eq "CDR_TLS_CERT without CDR_TLS_KEY is refused (exit 2)" "$?" 2
grep -q -- "--tls-cert and --tls-key go together" "$T/cfg3.out" && pass "naming the pair" || fail "message: $(cat "$T/cfg3.out")"

RENV=("CDR_TLS_NAME=room.example.org,127.0.0.1")
in_rootfs serve >>"$T/server.log" 2>&1 &
NS_PID=$!
SERVER_PIDS+=("$NS_PID")
wait_ready "$NS_PID" "$RF/var/lib/cdr/ready" 300 || { fail "entrypoint.sh serve did not start"; tail "$T/server.log"; finish; }
URL=$(head -n 1 "$RF/var/lib/cdr/ready")
# cdrd: the descendant of the background job (bash, unshare, then the exec chain) named cdrd.
descendants() { local c; for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do echo "$c"; descendants "$c"; done; }
CDRD=$(for p in $(descendants "$NS_PID"); do [ "$(cat /proc/"$p"/comm 2>/dev/null)" = cdrd ] && echo "$p"; done | head -n 1)
SERVER_PIDS=("$CDRD" "${SERVER_PIDS[@]}")
case $URL in https://*) pass "the entry point serves HTTPS ($URL)" ;; *) fail "not HTTPS: $URL" ;; esac
expect_eq "GET /v1/health answers over TLS, verified with the room CA" \
  "$(curl -sS --cacert "$RF/var/lib/cdr/room/ca.crt" "$URL/v1/health" | jq -r .status)" "ok"
openssl x509 -in "$RF/var/lib/cdr/room/tls/server.crt" -noout -ext subjectAltName >"$T/san" 2>&1
grep -q "DNS:room.example.org" "$T/san" && grep -q "IP Address:127.0.0.1" "$T/san" \
  && pass "the room CA issued the certificate for CDR_TLS_NAME's names" || fail "SAN: $(cat "$T/san")"
grep -q "running as root" "$T/server.log" && fail "cdrd ran as root" || pass "cdrd runs as the image's user"
user prov provider "$RF/var/lib/cdr/room" "$URL" || fail "enroll against the rootfs's server"
activate_contract "$RF/var/lib/cdr/room" prov || fail "activate the contract"
printf 'id,v\n1,20\n2,22\n' >"$T/t.csv"
"$CDR" upload --profile prov t "$T/t.csv" >/dev/null 2>&1 || fail "upload"
expect_eq "a query answers" "$("$CDR" query --profile prov "SELECT sum(v) FROM t" --format csv 2>&1 | tr -d '\r' | tail -n 1)" "42"
[ -n "$CDRD" ] && stop_server "$CDRD" && pass "cdrd stops on SIGTERM" || fail "cdrd ($CDRD) did not stop"
finish
