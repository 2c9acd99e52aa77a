# The daemon's shutdown is valgrind-clean: a release dashid under memcheck serves a
# ping, an upload and a small rollout, loses its device (injected, DASHI_VK_FAULT) during
# a second one and re-creates it for a third, then stops on SIGTERM with no definite leaks
# and no invalid accesses (the lavapipe driver's own allocations are suppressed by library
# in tests/valgrind.supp). Uses the release build (ASan and valgrind do not mix).
. tests/e2e/lib.sh
REL=${DASHI_RELEASE_BUILD:-build}
[ -x "$REL/dashid" ] || fail "$REL/dashid missing: make test builds it"
command -v valgrind > /dev/null || fail "valgrind is not installed (make deps)"
DASHI_VK_FAULT=device_lost:usr1 valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite \
  --error-exitcode=99 --suppressions=tests/valgrind.supp --log-file="$WORK/valgrind.log" \
  "$REL/dashid" --foreground --socket "$DASHI_SOCKET" --state-dir "$DASHI_STATE_DIR" >> "$WORK/dashid.log" 2>&1 &
DAEMON_PID=$!
i=0
while ! "$DASHI" --no-autostart ping > /dev/null 2>&1; do
  i=$((i + 1)); [ $i -lt 1200 ] || { cat "$WORK/dashid.log"; fail "daemon under valgrind did not start"; }
  sleep 0.25
done
put_reference_rollout
"$DASHI" --json submit rollout --op "$A" --z0 "$Z" --steps 3 --wait > "$WORK/r.json" || fail "rollout under valgrind"
kill -USR1 "$DAEMON_PID" # the next queue submission returns VK_ERROR_DEVICE_LOST
"$DASHI" --json submit rollout --op "$A" --z0 "$Z" --steps 3 --no-reuse --wait > "$WORK/lost.json" || true
[ "$(json "$WORK/lost.json" "d['state']")" = interrupted ] || { cat "$WORK/lost.json"; fail "no device loss under valgrind"; }
i=0
until [ "$("$DASHI" --json --no-autostart ping | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["device_resets"])')" = 1 ]; do
  i=$((i + 1)); [ $i -lt 600 ] || fail "the device was not re-created under valgrind"
  sleep 0.25
done
"$DASHI" --json submit rollout --op "$A" --z0 "$Z" --steps 3 --no-reuse --wait > "$WORK/r2.json" || fail "rollout after the recovery"
kill -TERM "$DAEMON_PID"
rc=0; wait "$DAEMON_PID" || rc=$?; DAEMON_PID=
[ $rc -eq 0 ] || { cat "$WORK/valgrind.log"; fail "valgrind reported errors or leaks (exit $rc)"; }
ok "valgrind-clean shutdown, a device loss and its recovery included"
