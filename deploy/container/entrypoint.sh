#!/bin/sh
# entrypoint.sh - the CDR image's entry point (deploy/container).
#
#   entrypoint.sh init    make the room at $CDR_ROOM if it is not there yet
#                         (name $CDR_ROOM_NAME, provider $CDR_ATTESTATION);
#                         the token PIN is $CDR_HSM_PIN when set (so no PIN
#                         file is written into the volume)
#   entrypoint.sh serve   `cdr serve $CDR_ROOM --listen $CDR_LISTEN`
#                         (default 0.0.0.0:8443), replacing this shell, so
#                         SIGTERM reaches cdrd; --ready-file $CDR_READY_FILE
#                         when set
#   entrypoint.sh run     init, then serve (a single container)
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
  "$BIN/cdr" room init "$ROOM" --name "${CDR_ROOM_NAME:-CDR room}" --attestation "${CDR_ATTESTATION:-sim}"
}

serve() {
  if [ -n "${CDR_READY_FILE:-}" ]; then
    exec "$BIN/cdr" serve "$ROOM" --listen "${CDR_LISTEN:-0.0.0.0:8443}" --ready-file "$CDR_READY_FILE"
  fi
  exec "$BIN/cdr" serve "$ROOM" --listen "${CDR_LISTEN:-0.0.0.0:8443}"
}

case "${1:-run}" in
init) init ;;
serve) serve ;;
run) init && serve ;;
*) echo "usage: entrypoint.sh [init|serve|run]" >&2; exit 2 ;;
esac
