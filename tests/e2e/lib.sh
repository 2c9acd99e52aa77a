# Shared helpers of the end-to-end tests: a real dashid on a real socket in a scratch
# directory, driven through the real dashi client. Sourced by tests/e2e/test_*.sh.
set -eu
BUILD=${1:-${DASHI_TEST_BUILD:-build/san}}
DASHID="$(pwd)/$BUILD/dashid"
DASHI="$(pwd)/$BUILD/dashi"
PY=/usr/bin/python3
WORK=$(mktemp -d /tmp/dashi-e2e.XXXXXX)
chmod 755 "$WORK"
export DASHI_SOCKET="$WORK/dashid.sock"
export DASHI_STATE_DIR="$WORK/state"
DAEMON_PID=

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok - $*"; }

start_daemon() { # extra dashid args...
  env LD_PRELOAD="${DASHI_TEST_PRELOAD:-}" "$DASHID" --foreground --socket "$DASHI_SOCKET" --state-dir "$DASHI_STATE_DIR" "$@" >> "$WORK/dashid.log" 2>&1 &
  DAEMON_PID=$!
  i=0
  while ! "$DASHI" --no-autostart ping > /dev/null 2>&1; do
    i=$((i + 1))
    [ $i -lt 300 ] || { cat "$WORK/dashid.log"; fail "daemon did not start"; }
    kill -0 "$DAEMON_PID" 2>/dev/null || { cat "$WORK/dashid.log"; fail "daemon exited during startup"; }
    sleep 0.1
  done
}

stop_daemon() { # SIGTERM and wait; fails if the daemon does not exit cleanly
  [ -n "$DAEMON_PID" ] || return 0
  kill -TERM "$DAEMON_PID"
  rc=0; wait "$DAEMON_PID" || rc=$?
  DAEMON_PID=
  [ $rc -eq 0 ] || { tail -n 30 "$WORK/dashid.log"; fail "daemon exited with status $rc"; }
}

cleanup() {
  if [ -n "$DAEMON_PID" ]; then kill -KILL "$DAEMON_PID" 2>/dev/null || true; wait "$DAEMON_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# kill9_after_checkpoint ID MIN: polls (at most ~60 s) until job ID has a checkpoint past
# step MIN, then kills the daemon with -9 (the job must not finish first).
kill9_after_checkpoint() {
  i=0
  while :; do
    past=$("$DASHI" --json --no-autostart show "$1" | "$PY" -c "import json,sys; d=json.load(sys.stdin)
print('finished' if d['state'] == 'succeeded' else (d['checkpoint'] or {}).get('step', 0) > $2)")
    [ "$past" != True ] || break
    [ "$past" != finished ] || fail "job $1 finished before a checkpoint past step $2: give it more steps"
    i=$((i + 1)); [ $i -lt 600 ] || fail "job $1: no checkpoint past step $2 within 60 s"
    sleep 0.1
  done
  kill -KILL "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null || true; DAEMON_PID=
}

# json FILE EXPR: evaluates a Python expression over the parsed JSON document `d`.
# The chunk-tree address of a file (docs/storage.md), by tests/e2e/dashi_wire.py.
blob_address() { "$PY" -c "import sys; sys.path.insert(0, 'tests/e2e'); from dashi_wire import blob_address as a; print(a(open(sys.argv[1], 'rb').read()))" "$1"; }
json() { "$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }

# wait_state ID STATE: polls until the job is in STATE (at most ~60 s).
wait_state() {
  i=0
  while :; do
    "$DASHI" --json --no-autostart status "$1" > "$WORK/status.json"
    [ "$(json "$WORK/status.json" "d['state']")" = "$2" ] && return 0
    i=$((i + 1)); [ $i -lt 600 ] || fail "job $1 never became $2"
    sleep 0.1
  done
}

# The second local user of the multi-user tests is nobody (uid 65534), reached with setpriv.
need_second_user() {
  command -v setpriv > /dev/null || fail "setpriv (util-linux) is needed to act as a second user"
}
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }

# start_shared_daemon [CONFIG_LINE...]: a daemon other users may reach (socket_mode =
# 0666), configured by $WORK/dashid.conf with the lines given.
start_shared_daemon() {
  printf 'socket_mode = 0666\n' > "$WORK/dashid.conf"
  for line in "$@"; do printf '%s\n' "$line" >> "$WORK/dashid.conf"; done
  start_daemon --config "$WORK/dashid.conf"
}

# put_reference_rollout: uploads refdata's operator and first proxy (tests/data); A and Z
# hold their hashes.
put_reference_rollout() {
  A=$("$DASHI" put tests/data/A.npy)
  Z=$("$DASHI" put tests/data/z_t0000.npy)
}

# submit_endless_rollout FILE: a rollout of A from Z that runs until it is cancelled or the
# daemon stops (10^9 steps, a hash every 10^6); its record goes to FILE.
submit_endless_rollout() {
  "$DASHI" --json submit rollout --op "$A" --z0 "$Z" --steps 1000000000 --hash-every 1000000 > "$1"
}

# random_rollout_inputs D SEED: a small random operator $WORK/aD.npy (D×D, N(0,1)/8) and
# state $WORK/zD.npy (D), drawn in that order from numpy's default_rng(SEED).
random_rollout_inputs() {
  "$PY" -c "
import numpy as np
r = np.random.default_rng($2)
np.save('$WORK/a$1.npy', r.standard_normal(($1, $1)) / 8); np.save('$WORK/z$1.npy', r.standard_normal($1))"
}
