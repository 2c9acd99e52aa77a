# Socket activation: a listening socket passed to dashid as fd 3 with LISTEN_FDS=1 and
# LISTEN_PID (tests/e2e/socket_activate.py plays systemd) is used instead of binding; the
# daemon leaves the socket file alone on exit so the next start serves the same socket;
# LISTEN_PID naming another process is ignored.
. tests/e2e/lib.sh
ACT="$WORK/activated.sock"
OWN="$WORK/own.sock"   # the --socket path: must stay unused when activated
export DASHI_SOCKET="$ACT"
LAUNCHER=
stop_child() { [ -f "$WORK/child.pid" ] && kill -TERM "$(cat "$WORK/child.pid")" 2>/dev/null; rm -f "$WORK/child.pid"; }
trap 'stop_child; [ -n "$LAUNCHER" ] && kill -KILL "$LAUNCHER" 2>/dev/null; cleanup' EXIT

wait_ping() { # waits for a daemon answering on $DASHI_SOCKET
  i=0
  until "$DASHI" --no-autostart --json ping > "$WORK/ping.json" 2>/dev/null; do
    i=$((i + 1)); [ $i -lt 300 ] || { cat "$WORK/dashid.log"; fail "no answer on $DASHI_SOCKET"; }
    sleep 0.1
  done
}
wait_pidfile() { i=0; while [ ! -f "$WORK/child.pid" ]; do i=$((i + 1)); [ $i -lt 100 ] || fail "no child"; sleep 0.1; done; }

"$PY" tests/e2e/socket_activate.py "$ACT" "$WORK/child.pid" 2 -- "$DASHID" --foreground --socket "$OWN" \
  --state-dir "$DASHI_STATE_DIR" >> "$WORK/launcher.log" 2>> "$WORK/dashid.log" &
LAUNCHER=$!
wait_pidfile
wait_ping
[ "$(json "$WORK/ping.json" "d['socket']")" = "$ACT" ] || fail "ping reports socket $(json "$WORK/ping.json" "d['socket']"), not $ACT"
[ ! -e "$OWN" ] || fail "activated daemon bound its own socket $OWN"
grep -q "listening on $ACT" "$WORK/dashid.log" || fail "log does not name the inherited socket"
ok "daemon serves the inherited socket (fd 3)"

"$DASHI" --no-autostart --json submit rollout --op tests/data/A.npy --z0 tests/data/z_t0000.npy --steps 5 --wait \
  > "$WORK/job.json" || { cat "$WORK/job.json"; fail "job through the activated socket"; }
ok "a job runs through the activated socket"

FIRST=$(cat "$WORK/child.pid"); rm -f "$WORK/child.pid"
kill -TERM "$FIRST"
wait_pidfile
[ -S "$ACT" ] || fail "the daemon removed the activated socket file on exit"
wait_ping   # the second start, on the same listening socket
[ "$(cat "$WORK/child.pid")" != "$FIRST" ] || fail "no second daemon"
"$DASHI" --no-autostart --json status 1 > "$WORK/st.json"
[ "$(json "$WORK/st.json" "d['state']")" = succeeded ] || fail "job 1 lost across restart"
ok "socket survives the daemon; a second start serves it"
stop_child
wait "$LAUNCHER" || { cat "$WORK/launcher.log"; fail "an activated daemon did not exit 0"; }
LAUNCHER=
grep -c "exit 0" "$WORK/launcher.log" | grep -qx 2 || fail "launcher: $(cat "$WORK/launcher.log")"
ok "both activated daemons stopped cleanly"

# LISTEN_PID naming another process: the daemon must bind --socket itself.
rm -f "$ACT"
"$PY" tests/e2e/socket_activate.py "$ACT" "$WORK/child.pid" 1 --wrong-pid -- "$DASHID" --foreground \
  --socket "$OWN" --state-dir "$DASHI_STATE_DIR" >> "$WORK/launcher.log" 2>> "$WORK/dashid.log" &
LAUNCHER=$!
wait_pidfile
export DASHI_SOCKET="$OWN"
wait_ping
[ "$(json "$WORK/ping.json" "d['socket']")" = "$OWN" ] || fail "with a foreign LISTEN_PID the daemon must bind $OWN"
stop_child
wait "$LAUNCHER" || fail "daemon with foreign LISTEN_PID did not exit 0"
LAUNCHER=
ok "LISTEN_PID of another process is ignored"
