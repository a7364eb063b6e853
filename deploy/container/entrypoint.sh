#!/bin/sh
# entrypoint.sh - the CDR image's entry point (deploy/container).
#
#   entrypoint.sh init    make the room at $CDR_ROOM if it is not there yet
#                         (name $CDR_ROOM_NAME, provider $CDR_ATTESTATION);
#                         the token PIN is $CDR_HSM_PIN when set (so no PIN
#                         file is written into the volume)
#   entrypoint.sh serve   `cdr serve $CDR_ROOM --listen $CDR_LISTEN ...`
#                         (default 0.0.0.0:8443) over HTTPS, replacing this
#                         shell, so SIGTERM reaches cdrd
#   entrypoint.sh config  print the settings `serve` would use (cdrd
#                         --check-config: JSON on stdout, exit 0; exit 2
#                         naming a bad setting) and start nothing
#   entrypoint.sh run     init, then serve (a single container)
#
# TLS (cdrd serves HTTPS only; docs/DEPLOY.md, "TLS"): one of
#   CDR_TLS_NAME   the DNS names and IP addresses clients reach the room
#                  by, separated by commas or spaces ("room.example.org,
#                  cdr.default.svc"): the room CA issues the server
#                  certificate for them (--tls-name, one per name)
#   CDR_TLS_CERT, CDR_TLS_KEY   your own PEM certificate (chain) and its
#                  unencrypted key, files readable by the image's user
#                  (--tls-cert, --tls-key)
# On a wildcard address (0.0.0.0, [::]) one of them is required.
# Further settings: CDR_READY_FILE (--ready-file), and CDR_CONFIG, a cdrd
# JSON settings file (--config; keys in `cdr serve --help`), which the
# variables above override.
#
# CDR_BIN (default /usr/local/bin) names the binaries' folder; the tests
# set it to run this script natively against the image's rootfs.
# Only shell built-ins and cdr: the image has no other tools.
set -eu
ROOM=${CDR_ROOM:-/var/lib/cdr/room}
BIN=${CDR_BIN:-/usr/local/bin}

init() {
  if [ -f "$ROOM/room.json" ]; then
    echo "entrypoint: room $ROOM exists"
    return 0
  fi
  # deploy/k8s/secret.yaml ships this placeholder; a token PIN anyone can
  # read in the repository would guard the room CA's key with nothing.
  if [ "${CDR_HSM_PIN:-}" = "change-me-before-applying" ]; then
    echo "entrypoint: CDR_HSM_PIN is still the placeholder of deploy/k8s/secret.yaml; set a random PIN (openssl rand -hex 16)" >&2
    exit 2
  fi
  "$BIN/cdr" room init "$ROOM" --name "${CDR_ROOM_NAME:-CDR room}" --attestation "${CDR_ATTESTATION:-sim}"
}

# serve [--check-config]: exec cdr serve with the settings from the
# environment (the positional parameters are rebuilt as its arguments).
serve() {
  extra=${1:-}
  listen=${CDR_LISTEN:-0.0.0.0:8443}
  set --
  if [ -n "${CDR_CONFIG:-}" ]; then
    set -- "$@" --config "$CDR_CONFIG"
  fi
  set -- "$@" --listen "$listen"
  # Split CDR_TLS_NAME at commas and white space, without globbing.
  set -f
  old_ifs=$IFS
  IFS=", 	
"
  for name in ${CDR_TLS_NAME:-}; do
    set -- "$@" --tls-name "$name"
  done
  IFS=$old_ifs
  set +f
  if [ -n "${CDR_TLS_CERT:-}" ]; then
    set -- "$@" --tls-cert "$CDR_TLS_CERT"
  fi
  if [ -n "${CDR_TLS_KEY:-}" ]; then
    set -- "$@" --tls-key "$CDR_TLS_KEY"
  fi
  if [ -n "${CDR_READY_FILE:-}" ]; then
    set -- "$@" --ready-file "$CDR_READY_FILE"
  fi
  if [ -z "${CDR_TLS_NAME:-}${CDR_TLS_CERT:-}${CDR_CONFIG:-}" ]; then
    case $listen in
    0.0.0.0:* | "[::]":*)
      echo "entrypoint: cdrd serves HTTPS on $listen: set CDR_TLS_NAME to the names clients reach the room by" \
        "(comma-separated), or CDR_TLS_CERT and CDR_TLS_KEY to your own certificate (docs/DEPLOY.md, \"TLS\")" >&2
      exit 2
      ;;
    esac
  fi
  if [ -n "$extra" ]; then
    set -- "$@" "$extra"
  fi
  exec "$BIN/cdr" serve "$ROOM" "$@"
}

case "${1:-run}" in
init) init ;;
serve) serve ;;
config) serve --check-config ;;
run) init && serve ;;
*) echo "usage: entrypoint.sh [init|serve|config|run]" >&2; exit 2 ;;
esac
