# The Debian package: packaging/debian/ builds with `dpkg-buildpackage -us -uc -b` from a
# clean copy of the source tree, and the .deb unpacked into a scratch root (dpkg -x) holds
# what README.md's install section promises; its maintainer scripts create the users.
# Skipped (with a message) only when dpkg-dev or debhelper is not installed.
set -eu
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok - $*"; }
for tool in dpkg-buildpackage dh dpkg-deb; do
  command -v "$tool" > /dev/null || { echo "SKIP: $tool not installed (make deps installs dpkg-dev and debhelper)"; exit 0; }
done
WORK=$(mktemp -d /tmp/dashi-deb.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
SRC="$WORK/dashid-0.1.0"
mkdir -p "$SRC"
# The tracked and new source files only: no build trees, no editor leftovers.
if git rev-parse --is-inside-work-tree > /dev/null 2>&1; then
  # (a tracked file deleted in the work tree is not copied; the build says if it mattered)
  git ls-files -co --exclude-standard -z | grep -zv '^build' | xargs -0 cp --parents -t "$SRC" 2> /dev/null || true
  [ -f "$SRC/Makefile" ] || fail "copying the source tree"
else
  tar -cf - --exclude='./build*' --exclude=./.git . | tar -xf - -C "$SRC" || fail "copying the source tree"
fi
cp -r packaging/debian "$SRC/debian"
(cd "$SRC" && DEB_BUILD_OPTIONS="parallel=$(nproc) noddebs" dpkg-buildpackage -us -uc -b > "$WORK/build.log" 2>&1) \
  || { tail -n 40 "$WORK/build.log"; fail "dpkg-buildpackage failed"; }
DEB=$(ls "$WORK"/dashid_0.1.0-1_*.deb)
ok "dpkg-buildpackage built $(basename "$DEB")"

ROOT="$WORK/root"
dpkg -x "$DEB" "$ROOT"
for f in usr/bin/dashid usr/bin/dashi lib/systemd/system/dashid.service lib/systemd/system/dashid.socket \
         usr/lib/sysusers.d/dashid.conf etc/dashid/dashid.conf usr/share/man/man8/dashid.8.gz \
         usr/share/man/man1/dashi.1.gz usr/share/bash-completion/completions/dashi \
         usr/lib/python3/dist-packages/dashi_client.py usr/share/doc/dashid/README.md \
         usr/share/doc/dashid/cli.md usr/share/doc/dashid/protocol.md usr/share/doc/dashid/copyright; do
  [ -e "$ROOT/$f" ] || [ -e "$ROOT/$f.gz" ] || fail "package lacks /$f"   # dh_compress gzips long docs
done
[ -x "$ROOT/usr/bin/dashid" ] && [ -x "$ROOT/usr/bin/dashi" ] || fail "binaries not executable"
"$ROOT/usr/bin/dashid" --version | grep -q "0.1.0" || fail "packaged dashid --version"
"$ROOT/usr/bin/dashi" --help | grep -q "plot" || fail "packaged dashi --help"
ok "layout: binaries, units, sysusers, config, man pages, completion, Python module, docs"

dpkg-deb -f "$DEB" Depends | grep -q "libuv1" || fail "Depends lacks the shared libraries: $(dpkg-deb -f "$DEB" Depends)"
dpkg-deb -e "$DEB" "$WORK/control"
grep -q "^/etc/dashid/dashid.conf$" "$WORK/control/conffiles" || fail "dashid.conf is not a conffile"
grep -q "systemd-sysusers" "$WORK/control/postinst" || fail "postinst does not create the users"
grep -q "dashid.socket" "$WORK/control/postinst" || fail "postinst does not enable the socket unit"
sh -n "$WORK/control/postinst" || fail "postinst syntax"
ok "control: Depends, conffiles, postinst (users, socket unit)"

# The packaged sysusers file creates the dashid user and the dashi group in a scratch root.
if command -v systemd-sysusers > /dev/null; then
  mkdir -p "$ROOT/etc"
  systemd-sysusers --root="$ROOT" "$ROOT/usr/lib/sysusers.d/dashid.conf" > /dev/null 2>&1 \
    || fail "systemd-sysusers on the packaged file"
  grep -q "^dashid:" "$ROOT/etc/passwd" || fail "no dashid user"
  grep -q "^dashi:.*:dashid" "$ROOT/etc/group" || fail "dashid is not in group dashi"
  ok "sysusers creates dashid and dashi"
else
  echo "SKIP: systemd-sysusers not installed"
fi
