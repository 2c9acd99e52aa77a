# End to end: the LES readback (docs/architecture.md "Threads", "The I/O thread"). The
# staging buffers are host-visible Vulkan memory and runs overlap: the summary says the
# f64 frames went from the GPU straight into staging (host_copies_per_frame 0) and that
# runs were submitted while an earlier one was in flight (runs_overlapped); f32 frames,
# widened on the host, count one copy each. The time counters the bench reads
# (gpu_thread_ms, readback_wait_ms, io_wait_ms) are present and bounded by the job's wall
# time, and a writer held back by a small pool and a slowed I/O thread counts its waits
# (io_wait_slices, io_wait_ms > 0), with the same trajectory as the unhindered run.
. tests/e2e/lib.sh
# --no-reuse: the runs repeat one another on purpose (reuse would answer them at once).
les() { "$DASHI" --json submit les --no-reuse --N 32 --seed 5 "$@"; }
metric() { json "$1" "int(d['metrics']['$2'])"; }
check() { # FILE PYTHON-CONDITION WHAT: the condition on the job record d holds
  json "$1" "$2" | grep -qx True || fail "$3: $(json "$1" "{k: v for k, v in d['metrics'].items() if not isinstance(v, list)}")"
}

start_daemon
les --steps 100 --save-every 1 --wait > "$WORK/a.json" || fail "the LES failed: $(cat "$WORK/a.json")"
"$DASHI" --json show "$(json "$WORK/a.json" "d['id']")" > "$WORK/a.json"
check "$WORK/a.json" "d['metrics']['host_copies_per_frame'] == 0" "f64 frames copied on the host"
check "$WORK/a.json" "d['metrics']['runs_overlapped'] >= 1 and d['metrics']['runs'] > d['metrics']['runs_overlapped']" \
  "no run was submitted while another was in flight"
check "$WORK/a.json" "all(0 <= d['metrics'][k] <= (d['ended_at'] - d['started_at']) * 1e3 + 1
  for k in ('gpu_thread_ms', 'readback_wait_ms', 'io_wait_ms'))" "time counters missing or beyond the wall time"
check "$WORK/a.json" "d['metrics']['readback_wait_ms'] <= d['metrics']['gpu_thread_ms']" \
  "more time waiting on the GPU than in the slices"
ok "f64 frames straight into staging ($(metric "$WORK/a.json" runs_overlapped) of $(metric "$WORK/a.json" runs) runs overlapped)"
REF=$(json "$WORK/a.json" "d['outputs']['trajectory']")

les --save-every 1 --steps 40 --precision f32 --wait > "$WORK/b.json" || fail "the f32 LES failed: $(cat "$WORK/b.json")"
"$DASHI" --json show "$(json "$WORK/b.json" "d['id']")" > "$WORK/b.json"
check "$WORK/b.json" "d['metrics']['host_copies_per_frame'] == 1" "f32 frames not counted as widened on the host"
ok "f32 frames: one host copy each (widened to f64)"
stop_daemon

# A 64 KiB pool (4 frames) and 40 ms before each write: the writer waits on I/O. The delay
# must exceed a step's time by far, or the pool never fills: 5 ms was less than a loaded
# CI machine's 17 ms per N=32 step on lavapipe, and the test failed there.
printf 'io_staging_bytes = 64K\n' > "$WORK/slow.conf"
export DASHI_IO_FAULT=delay_ms:40
start_daemon --config "$WORK/slow.conf"
unset DASHI_IO_FAULT
les --steps 100 --save-every 1 --wait > "$WORK/c.json" || fail "the held-back LES failed: $(cat "$WORK/c.json")"
"$DASHI" --json show "$(json "$WORK/c.json" "d['id']")" > "$WORK/c.json"
check "$WORK/c.json" "d['metrics']['io_wait_slices'] >= 1 and d['metrics']['io_wait_ms'] > 0" \
  "a writer held back by the pool counted no waits"
[ "$(json "$WORK/c.json" "d['outputs']['trajectory']")" = "$REF" ] || fail "the held-back trajectory differs"
ok "held back by a 64 KiB pool: $(metric "$WORK/c.json" io_wait_slices) waits on I/O, the same trajectory"
stop_daemon
