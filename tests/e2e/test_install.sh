# `make install` (packaging/install.sh) into a scratch DESTDIR, and what it installs: the
# systemd units pass `systemd-analyze verify` with no complaint, sysusers.d creates the
# dashid user and dashi group in a scratch root, the man pages format without warnings,
# and bash completion offers commands and the job ids of a real daemon.
. tests/e2e/lib.sh
DEST="$WORK/dest"
# install.sh directly (what `make install` runs): make would rebuild this tree with other flags.
sh packaging/install.sh "$BUILD" "$DEST" /usr
for f in usr/bin/dashid usr/bin/dashi lib/systemd/system/dashid.service lib/systemd/system/dashid.socket \
         usr/lib/sysusers.d/dashid.conf etc/dashid/dashid.conf usr/share/man/man8/dashid.8 \
         usr/share/man/man1/dashi.1 usr/share/bash-completion/completions/dashi \
         usr/lib/python3/dist-packages/dashi_client.py usr/share/doc/dashid/README.md usr/share/doc/dashid/cli.md; do
  [ -e "$DEST/$f" ] || fail "make install lacks /$f"
done
grep -q "^ExecStart=/usr/bin/dashid " "$DEST/lib/systemd/system/dashid.service" || fail "ExecStart with PREFIX=/usr"
sh packaging/install.sh "$BUILD" "$WORK/local" /usr/local
grep -q "^ExecStart=/usr/local/bin/dashid --foreground --config /usr/local/etc/dashid/dashid.conf" \
  "$WORK/local/usr/local/lib/systemd/system/dashid.service" || fail "ExecStart with PREFIX=/usr/local"
[ -f "$WORK/local/usr/local/etc/dashid/dashid.conf" ] || fail "config with PREFIX=/usr/local"
ok "install layout (PREFIX=/usr and /usr/local)"

# The config file installed is one the daemon accepts (socket and state from the command line).
start_daemon --config "$DEST/etc/dashid/dashid.conf"
"$DASHI" --json ping > "$WORK/ping.json" || fail "ping with the installed config"
stop_daemon
ok "the installed dashid.conf is valid"

if command -v systemd-analyze > /dev/null; then
  # verify checks that ExecStart's binary exists and that man: links resolve, so point
  # both at the scratch install; it exits 0 even on unknown keys, so any output fails.
  U="$WORK/units"; mkdir -p "$U"
  for f in dashid.socket dashid.service; do
    sed "s|/usr/bin/dashid|$DEST/usr/bin/dashid|" "$DEST/lib/systemd/system/$f" > "$U/$f"
  done
  (cd "$U" && MANPATH="$DEST/usr/share/man" systemd-analyze verify dashid.socket dashid.service) > "$WORK/verify.log" 2>&1 \
    || { cat "$WORK/verify.log"; fail "systemd-analyze verify"; }
  [ ! -s "$WORK/verify.log" ] || { cat "$WORK/verify.log"; fail "systemd-analyze verify complained"; }
  # A deliberately broken copy must be caught, or the check above proves nothing.
  sed -i "s/^ProtectSystem=strict/ProtectSystem=bogus/" "$U/dashid.service"
  (cd "$U" && MANPATH="$DEST/usr/share/man" systemd-analyze verify dashid.service) > "$WORK/verify2.log" 2>&1 || true
  grep -q "bogus" "$WORK/verify2.log" || fail "systemd-analyze does not report a bad unit here"
  ok "systemd-analyze verify dashid.socket dashid.service"
else
  echo "SKIP: systemd-analyze not installed (package systemd; make deps installs it)"
fi

if command -v systemd-sysusers > /dev/null; then
  mkdir -p "$WORK/sysroot/etc"
  systemd-sysusers --root="$WORK/sysroot" "$DEST/usr/lib/sysusers.d/dashid.conf" > /dev/null 2>&1 || fail "systemd-sysusers"
  grep -q "^dashid:x:[0-9]*:[0-9]*:dashid GPU job daemon:/var/lib/dashid:/usr/sbin/nologin$" "$WORK/sysroot/etc/passwd" \
    || fail "dashid user: $(cat "$WORK/sysroot/etc/passwd")"
  grep -q "^dashi:x:[0-9]*:dashid$" "$WORK/sysroot/etc/group" || fail "dashi group: $(cat "$WORK/sysroot/etc/group")"
  ok "sysusers.d: dashid user in the dashi group"
else
  echo "SKIP: systemd-sysusers not installed (package systemd)"
fi

if command -v groff > /dev/null; then
  for m in "$DEST/usr/share/man/man8/dashid.8" "$DEST/usr/share/man/man1/dashi.1"; do
    LC_ALL=C.UTF-8 groff -man -ww -z -Tutf8 "$m" > "$WORK/groff.log" 2>&1 || fail "groff $m"
    [ ! -s "$WORK/groff.log" ] || { cat "$WORK/groff.log"; fail "groff warnings in $m"; }
  done
  LC_ALL=C.UTF-8 groff -man -Tutf8 "$DEST/usr/share/man/man1/dashi.1" 2>/dev/null | sed 's/.\x08//g' > "$WORK/dashi.txt"
  for c in ping put get submit status show wait cancel list metrics hashes render plot compare export shutdown; do
    grep -q "^       $c" "$WORK/dashi.txt" || fail "dashi(1) does not describe $c"
  done
  ok "man pages format without warnings and cover every command"
else
  echo "SKIP: groff not installed (package groff-base)"
fi

# Completion, against a real daemon with two jobs.
start_daemon
"$DASHI" submit rollout --op tests/data/A.npy --z0 tests/data/z_t0000.npy --steps 3 --wait > /dev/null
"$DASHI" submit rollout --op tests/data/A.npy --z0 tests/data/z_t0000.npy --steps 4 --wait > /dev/null
complete_words() { # words... (the last one is the word being completed)
  bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _dashi; printf "%s\n" "${COMPREPLY[@]}"' \
    _ "$DEST/usr/share/bash-completion/completions/dashi" "$@"
}
[ "$(complete_words "$DASHI" pl)" = plot ] || fail "command completion: $(complete_words "$DASHI" pl)"
[ "$(complete_words "$DASHI" --json co | sort | tr '\n' ' ')" = "compare " ] || fail "after a global option"
[ "$(complete_words "$DASHI" show "" | sort | tr '\n' ' ')" = "1 2 " ] || fail "job ids: $(complete_words "$DASHI" show "")"
[ "$(complete_words "$DASHI" compare 1 "" | sort | tr '\n' ' ')" = "1 2 " ] || fail "second job id"
[ "$(complete_words "$DASHI" list --state ru)" = running ] || fail "state names"
[ "$(complete_words "$DASHI" submit r)" = rollout ] || fail "job kinds"
ok "bash completion: commands, job ids from the daemon, states, kinds"
stop_daemon
