# End to end: hostile and malformed input over the real socket (tests/e2e/hostile.py).
. tests/e2e/lib.sh
start_daemon
"$PY" -u tests/e2e/hostile.py "$DASHI_SOCKET" || { tail -n 20 "$WORK/dashid.log"; fail "hostile input"; }
kill -0 "$DAEMON_PID" || fail "daemon died"
stop_daemon
ok "daemon survived and shut down cleanly"
