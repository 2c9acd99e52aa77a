#!/bin/sh
# End to end: a job's GPU time survives restarts. An interrupted job resumed while another
# job of its user (a higher priority) holds the GPU stays queued; when the daemon restarts,
# it is re-queued from its stored row, and its gpu_seconds (acct, fair share) go on from
# the stored value instead of starting again from 0.
. tests/e2e/lib.sh
printf 'checkpoint_every_s = 0.3\n' > "$WORK/dashid.conf"
gpu_seconds() { "$DASHI" --no-autostart --json show "$1" > "$WORK/show.json"; json "$WORK/show.json" "d['gpu_seconds']"; }
until_gpu_seconds() { # ID PYTHON-CONDITION-ON-g: polls (at most ~180 s)
  i=0
  while g=$(gpu_seconds "$1") && ! "$PY" -c "import sys; g = $g; sys.exit(0 if $2 else 1)"; do
    i=$((i + 1)); [ $i -lt 900 ] || fail "job $1: gpu_seconds $g never satisfied $2"
    sleep 0.2
  done
}
start_daemon --config "$WORK/dashid.conf"
"$DASHI" --json submit les --N 32 --steps 100000000 --save-every 0 > "$WORK/a.json"
A=$(json "$WORK/a.json" "d['id']")
wait_state "$A" running
# Its first slice (the start: kernels, plans) is long under the sanitizers; run until its GPU
# time is well past that, so a count restarted from 0 cannot catch up within a slice or two.
until_gpu_seconds "$A" "g > 0"
START=$(gpu_seconds "$A")
until_gpu_seconds "$A" "g > 3 * $START"
stop_daemon # A is interrupted with its checkpoint and its GPU time
start_daemon --config "$WORK/dashid.conf"
G1=$(gpu_seconds "$A")
"$DASHI" --json submit les --N 32 --steps 100000000 --save-every 0 --priority 5 > "$WORK/b.json"
B=$(json "$WORK/b.json" "d['id']")
wait_state "$B" running
"$DASHI" resume "$A" > /dev/null || fail "resume $A"
sleep 1
"$DASHI" --json status "$A" > "$WORK/as.json"
[ "$(json "$WORK/as.json" "d['state']")" = queued ] || fail "job $A should wait behind $B: $(cat "$WORK/as.json")"
stop_daemon # B is interrupted, A stays queued

start_daemon --config "$WORK/dashid.conf" # A is re-queued from its row and runs
until_gpu_seconds "$A" "g != $G1" # its first slice after the restart is recorded
G2=$(gpu_seconds "$A")
"$PY" -c "import sys; sys.exit(0 if $G2 > $G1 else 1)" \
  || fail "after the restart job $A has $G2 GPU seconds, fewer than the $G1 it had before"
ok "a re-queued job's GPU time goes on from the stored $G1 s (now $G2 s; its first slice took $START s)"
"$DASHI" cancel "$A" > /dev/null
stop_daemon
