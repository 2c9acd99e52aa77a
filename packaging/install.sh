#!/bin/sh
# `make install`: packaging/install.sh BUILD DESTDIR PREFIX
# Installs what a system install needs into DESTDIR (empty for the live system). With
# PREFIX=/usr (a distribution package) configuration goes to /etc and systemd units to
# /lib/systemd/system, as Debian 12 expects; with another prefix everything stays under it.
set -eu
BUILD=$1; DESTDIR=${2:-}; PREFIX=${3:-/usr/local}
if [ "$PREFIX" = /usr ]; then
  SYSCONFDIR=${SYSCONFDIR:-/etc}; UNITDIR=${UNITDIR:-/lib/systemd/system}
else
  SYSCONFDIR=${SYSCONFDIR:-$PREFIX/etc}; UNITDIR=${UNITDIR:-$PREFIX/lib/systemd/system}
fi
D=$DESTDIR
inst() { # mode source target
  install -D -m "$1" "$2" "$D$3"
}
inst 0755 "$BUILD/dashid" "$PREFIX/bin/dashid"
inst 0755 "$BUILD/dashi" "$PREFIX/bin/dashi"
inst 0644 packaging/dashid.service "$UNITDIR/dashid.service"
inst 0644 packaging/dashid.socket "$UNITDIR/dashid.socket"
inst 0644 packaging/dashid.sysusers "$PREFIX/lib/sysusers.d/dashid.conf"
inst 0644 packaging/dashid.conf "$SYSCONFDIR/dashid/dashid.conf"
inst 0644 packaging/man/dashid.8 "$PREFIX/share/man/man8/dashid.8"
inst 0644 packaging/man/dashi.1 "$PREFIX/share/man/man1/dashi.1"
inst 0644 packaging/bash-completion/dashi "$PREFIX/share/bash-completion/completions/dashi"
inst 0644 client/python/dashi_client.py "$PREFIX/lib/python3/dist-packages/dashi_client.py"
inst 0644 client/python/example.py "$PREFIX/share/doc/dashid/examples/example.py"
inst 0644 README.md "$PREFIX/share/doc/dashid/README.md"
for f in docs/*.md; do
  inst 0644 "$f" "$PREFIX/share/doc/dashid/$(basename "$f")"
done
# Units and the config file name the binary by its system path.
if [ "$PREFIX" != /usr ]; then
  sed -i -e "s|/usr/bin/dashid|$PREFIX/bin/dashid|" -e "s|/etc/dashid/|$SYSCONFDIR/dashid/|" \
    "$D$UNITDIR/dashid.service"
fi
