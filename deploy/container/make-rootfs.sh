#!/bin/sh
# make-rootfs.sh BIN_DIR OUT - the root file system of the CDR image
# (deploy/container/Containerfile builds FROM scratch and copies OUT/rootfs
# in, since no base image can be pulled where CDR is built and tested).
#
# OUT/rootfs gets: cdr, cdrd and cdr-enclave from BIN_DIR; exactly the
# shared libraries `ldd` lists for them, for the SoftHSM2 module and for
# /bin/sh (the entrypoint script's shell), at the paths ldd names; the
# SoftHSM2 module at the path rooms record (CDR_SOFTHSM_MODULE) and
# /etc/softhsm/softhsm2.conf; /etc/passwd and /etc/group with the
# service user cdr (10001); empty /tmp, /dev, /proc and /var/lib/cdr
# (the room volume's mount point); and entrypoint.sh.  No CA certificates:
# cdrd and cdr-enclave make no outgoing TLS connection.  OUT/libs.txt
# lists the libraries copied.  Needs ldd, cp, sort.
set -eu
[ $# -eq 2 ] || { echo "usage: make-rootfs.sh BIN_DIR OUT" >&2; exit 2; }
BIN=$1 OUT=$2
HERE=$(cd "$(dirname "$0")" && pwd)
SOFTHSM=/usr/lib/softhsm/libsofthsm2.so
R="$OUT/rootfs"
rm -rf "$R"
mkdir -p "$R/usr/local/bin" "$R/bin" "$R/etc/softhsm" "$R/tmp" "$R/dev" "$R/proc" "$R/var/lib/cdr" "$R/usr/lib/softhsm"
chmod 1777 "$R/tmp"
for p in cdr cdrd cdr-enclave; do
  [ -x "$BIN/$p" ] || { echo "make-rootfs.sh: $BIN/$p is missing: build first" >&2; exit 1; }
  cp "$BIN/$p" "$R/usr/local/bin/$p"
done
[ -e "$SOFTHSM" ] || { echo "make-rootfs.sh: $SOFTHSM is missing (Debian package softhsm2)" >&2; exit 1; }
cp -L "$SOFTHSM" "$R$SOFTHSM"
cp -L /bin/sh "$R/bin/sh"

# Every "=> /path" and every bare "/path" ldd prints (the loader).
: >"$OUT/libs.txt"
for f in "$R/usr/local/bin/cdr" "$R/usr/local/bin/cdrd" "$R/usr/local/bin/cdr-enclave" "$R$SOFTHSM" "$R/bin/sh"; do
  ldd "$f" | awk '/=> \// {print $3} /^[ \t]*\/[^ ]+ \(/ {print $1}' >>"$OUT/libs.txt"
done
sort -u -o "$OUT/libs.txt" "$OUT/libs.txt"
while read -r lib; do
  mkdir -p "$R$(dirname "$lib")"
  cp -L "$lib" "$R$lib"
done <"$OUT/libs.txt"
# Debian's merged /usr: /lib64 and /lib are links into /usr; ldd names the
# loader as /lib64/..., which the copy above made a real folder: fine.

cat >"$R/etc/softhsm/softhsm2.conf" <<'CONF'
# SoftHSM2's default configuration; a CDR room uses its own
# (ROOM/hsm/softhsm2.conf, through SOFTHSM2_CONF).
directories.tokendir = /var/lib/cdr/softhsm-tokens/
objectstore.backend = file
log.level = ERROR
slots.removable = false
CONF
printf 'root:x:0:0:root:/:/bin/sh\ncdr:x:10001:10001:CDR:/var/lib/cdr:/bin/sh\n' >"$R/etc/passwd"
printf 'root:x:0:\ncdr:x:10001:\n' >"$R/etc/group"
cp "$HERE/entrypoint.sh" "$R/entrypoint.sh"
chmod 0755 "$R/entrypoint.sh" "$R/bin/sh" "$R/usr/local/bin/"*
echo "make-rootfs.sh: $R ($(wc -l <"$OUT/libs.txt") libraries)"
