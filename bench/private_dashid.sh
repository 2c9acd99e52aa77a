# Sourced by the bench scripts: a private dashid of $BUILD in a scratch directory $WORK, on
# $DEVICE, with the extra dashid arguments given; stopped and removed at exit.
# Sets DASHI, DASHID, WORK, PID and exports DASHI_SOCKET and DASHI_STATE_DIR.
start_private_dashid() { # extra dashid args...
  DASHI="$(cd "$BUILD" && pwd)/dashi"
  DASHID="$(cd "$BUILD" && pwd)/dashid"
  WORK=$(mktemp -d)
  export DASHI_SOCKET="$WORK/dashid.sock"
  export DASHI_STATE_DIR="$WORK/state"
  "$DASHID" --foreground --socket "$DASHI_SOCKET" --state-dir "$DASHI_STATE_DIR" --device "$DEVICE" "$@" \
    > "$WORK/dashid.log" 2>&1 &
  PID=$!
  trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$WORK"' EXIT
  i=0
  until "$DASHI" --no-autostart ping > /dev/null 2>&1; do
    i=$((i + 1))
    if [ $i -gt 300 ] || ! kill -0 $PID 2>/dev/null; then cat "$WORK/dashid.log" >&2; exit 1; fi
    sleep 0.1
  done
}
