# Running out of device memory fails the job that asked for it, with an E_DEVICE_MEMORY
# error that says so, and costs nothing else: a rollout running beside it finishes, later
# jobs run, the daemon keeps serving.
#
# The shortage is real, not simulated: lavapipe's device memory is the daemon's own
# address space, so the release daemon runs under `ulimit -v` set to what it used for a
# warm-up (measured in the same run) plus a margin far below what an N=1024 LES needs
# (~270 MiB). The job passes admission (the estimate fits lavapipe's 2 GiB heap) and its
# vkAllocateMemory fails. Release build: ASan reserves terabytes of address space.
. tests/e2e/lib.sh
REL=${DASHI_RELEASE_BUILD:-build}
[ -x "$REL/dashid" ] || fail "$REL/dashid missing: make test builds it"
DASHID="$(pwd)/$REL/dashid"
DASHI="$(pwd)/$REL/dashi"
MARGIN_KB=180000

start_limited() { # address-space limit in KiB, or "unlimited"
  ( ulimit -v "$1"; exec "$DASHID" --foreground --socket "$DASHI_SOCKET" --state-dir "$DASHI_STATE_DIR" \
      >> "$WORK/dashid.log" 2>&1 ) &
  DAEMON_PID=$!
  i=0
  while ! "$DASHI" --no-autostart ping > /dev/null 2>&1; do
    i=$((i + 1)); [ $i -lt 300 ] || { cat "$WORK/dashid.log"; fail "daemon did not start"; }
    kill -0 "$DAEMON_PID" 2>/dev/null || { cat "$WORK/dashid.log"; fail "daemon exited during startup"; }
    sleep 0.1
  done
}

A=tests/data/A.npy
Z=tests/data/z_t0000.npy
warm_up() { # the jobs whose footprint the limit is based on
  "$DASHI" --json submit les --N 64 --steps 4 --save-every 2 --wait > "$WORK/w1.json" || fail "warm-up LES"
  "$DASHI" --json submit rollout --op "$HA" --z0 "$HZ" --steps 50 --wait > "$WORK/w2.json" || fail "warm-up rollout"
}

# 1. Measure: the peak address space of a warm daemon.
start_limited unlimited
HA=$("$DASHI" put "$A"); HZ=$("$DASHI" put "$Z")
warm_up
PEAK_KB=$(awk '/^VmPeak:/ {print $2}' "/proc/$DAEMON_PID/status")
stop_daemon
LIMIT_KB=$((PEAK_KB + MARGIN_KB))
ok "warm daemon peaks at $PEAK_KB KiB of address space; limit $LIMIT_KB KiB"

# 2. The same daemon (same state directory) under the limit.
start_limited "$LIMIT_KB"
warm_up
ROLL=$("$DASHI" --json submit rollout --op "$HA" --z0 "$HZ" --steps 4000 --hash-every 1000 \
  | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["id"])')
rc=0
"$DASHI" --json submit les --N 1024 --steps 2 --wait > "$WORK/big.json" || rc=$?
[ $rc -ne 0 ] || fail "an N=1024 LES succeeded under a $LIMIT_KB KiB limit (the test needs it to run out)"
[ "$(json "$WORK/big.json" "d['state']")" = failed ] || { cat "$WORK/big.json"; fail "big job not failed"; }
[ "$(json "$WORK/big.json" "d['error']['code']")" = E_DEVICE_MEMORY ] \
  || { cat "$WORK/big.json"; fail "big job failed with another code"; }
json "$WORK/big.json" "d['error']['message']" | grep -q "device memory" \
  || { cat "$WORK/big.json"; fail "the message does not say device memory"; }
[ -n "$(json "$WORK/big.json" "d['device']")" ] || fail "the failed job does not record its device"
ok "the N=1024 LES fails: $(json "$WORK/big.json" "d['error']['message']")"

kill -0 "$DAEMON_PID" || fail "the daemon died"
"$DASHI" --json wait "$ROLL" > "$WORK/roll.json" || { cat "$WORK/roll.json"; fail "the rollout beside it failed"; }
[ "$(json "$WORK/roll.json" "d['state']")" = succeeded ] || fail "rollout not succeeded"
ok "the rollout running beside it succeeded"

# Nothing was lost to the failure: the same small jobs still fit under the same limit.
warm_up
[ "$(json "$WORK/w1.json" "d['state']")" = succeeded ] || fail "LES after the failure"
[ "$(json "$WORK/w2.json" "d['state']")" = succeeded ] || fail "rollout after the failure"
"$DASHI" --no-autostart ping > /dev/null || fail "ping after the failure"
ok "later jobs run under the same limit and the daemon keeps serving"
stop_daemon
