# End to end: disk limits. The per-user quota (max_disk_bytes) refuses uploads and jobs
# that would pass it, with E_QUOTA (exit 6) naming the limit; other users are not held
# to it. On a small tmpfs as the state directory (skipped with a message where mount is
# not permitted): a job whose outputs would leave less than disk_reserve_bytes free is
# refused at submit; when the disk fills while a job runs, the job fails with E_IO, that
# failure is recorded and `wait` returns it; once space is back, jobs succeed again; the
# same for a trajectory whose write fails on the I/O thread.
. tests/e2e/lib.sh
need_second_user
npy() { "$PY" -c "import numpy as np; np.save('$1', np.arange($2, dtype=np.float64) + $3)"; }
# expect_quota FIELD FILE CMD...: CMD fails with exit 6 and E_QUOTA naming FIELD.
expect_quota() {
  field=$1 out=$2; shift 2
  rc=0; "$@" > "$out" 2>/dev/null || rc=$?
  [ $rc -eq 6 ] && [ "$(json "$out" "d['error']['code'], d['error']['field']")" = "E_QUOTA $field" ] \
    || fail "$*: expected E_QUOTA $field with exit 6, got $rc: $(cat "$out")"
}

# ---- the quota: 1 MiB of blobs for this user, none for the others
printf 'socket_mode = 0666\nlimit.%s.max_disk_bytes = 1M\n' "$(id -un)" > "$WORK/quota.conf"
start_daemon --config "$WORK/quota.conf"
npy "$WORK/big.npy" 262144 0      # 2 MiB
npy "$WORK/half.npy" 65536 0      # 512 KiB
npy "$WORK/more.npy" 65536 1      # another 512 KiB
expect_quota max_disk_bytes "$WORK/p.json" "$DASHI" --json put "$WORK/big.npy"
"$DASHI" put "$WORK/half.npy" > /dev/null || fail "an upload within the quota"
expect_quota max_disk_bytes "$WORK/p.json" "$DASHI" --json put "$WORK/more.npy"
as_nobody "$DASHI" --no-autostart put "$WORK/big.npy" > /dev/null || fail "another user has no quota"
ok "uploads past max_disk_bytes refused with E_QUOTA (exit 6), within it accepted"
# A trajectory of 301 64x64 frames (9.4 MiB) cannot fit; a small job's outputs can.
expect_quota max_disk_bytes "$WORK/s.json" "$DASHI" --json submit les --N 64 --steps 300 --save-every 1
"$DASHI" --json submit les --N 16 --steps 20 --save-every 0 --wait > "$WORK/s.json" || fail "a small job"
ok "a job whose outputs would pass the quota is refused at submit"
stop_daemon

# ---- a full disk
DISK="$WORK/disk"
mkdir "$DISK"
if ! mount -t tmpfs -o size=40m tmpfs "$DISK" 2>/dev/null; then
  echo "SKIP: cannot mount a tmpfs here (not root, or no CAP_SYS_ADMIN): the full-disk part is not run"
  exit 0
fi
trap 'if [ -n "$DAEMON_PID" ]; then kill -KILL "$DAEMON_PID" 2>/dev/null; wait "$DAEMON_PID" 2>/dev/null; fi;
      DAEMON_PID=; umount "$DISK" 2>/dev/null || true; cleanup' EXIT
export DASHI_STATE_DIR="$DISK/state"
printf 'disk_reserve_bytes = 4M\ncheckpoint_every_s = 0.3\n' > "$WORK/disk.conf"
start_daemon --config "$WORK/disk.conf"
[ "$(stat -c %s "$DASHI_STATE_DIR/reserve")" = 4194304 ] || fail "no 4 MiB reserve file in the state directory"
# 15,736 frames of 512x512 f8: a 33 GB trajectory, on a 40 MB file system.
expect_quota disk_reserve_bytes "$WORK/s.json" "$DASHI" --json submit les --N 512 --steps 15735 --save-every 1
ok "a 33 GB trajectory is refused at submit (disk_reserve_bytes)"

"$DASHI" --json submit les --N 64 --steps 1000000 --save-every 0 > "$WORK/j.json" || fail "submit"
J=$(json "$WORK/j.json" "d['id']")
wait_state "$J" running
sleep 1
dd if=/dev/zero of="$DISK/filler" bs=1M 2>/dev/null || true # until the disk is full
echo "# $(df -k "$DISK" | awk 'NR == 2 {print $4}') KiB left on the state file system"
rc=0; timeout 120 "$DASHI" --json wait "$J" > "$WORK/w.json" 2>/dev/null || rc=$?
[ $rc -ne 124 ] || fail "wait hung on a job that ran out of disk"
[ "$(json "$WORK/w.json" "d['state'], d['error']['code']")" = "failed E_IO" ] \
  || fail "the job should be failed with E_IO (wait exit $rc): $(cat "$WORK/w.json")"
"$DASHI" --json show "$J" > "$WORK/f.json"
[ "$(json "$WORK/f.json" "d['state']")" = failed ] || fail "the failure is not recorded: $(cat "$WORK/f.json")"
ok "a job that runs out of disk fails with E_IO, recorded; wait returns (exit $rc)"
rc=0; "$DASHI" --json submit les --N 16 --steps 20 --save-every 0 > "$WORK/s.json" 2>/dev/null || rc=$?
[ $rc -eq 6 ] || fail "a job submitted on a full disk: exit $rc: $(cat "$WORK/s.json")"
ok "a job submitted on a full disk is refused ($(json "$WORK/s.json" "d['error']['code'], d['error']['field']"))"

rm -f "$DISK/filler"
"$DASHI" --json submit les --N 16 --steps 20 --save-every 0 --no-reuse --wait > "$WORK/s.json" || fail "a job after space is back"
[ "$(json "$WORK/s.json" "d['state']")" = succeeded ] || fail "a job after space is back"
[ "$(stat -c %s "$DASHI_STATE_DIR/reserve")" = 4194304 ] || fail "the reserve file is not back"
ok "space back: jobs succeed again, the reserve is back"

# A trajectory is written on the I/O thread: its write failing there fails the job the same way,
# and frees its staging (the next job runs).
"$DASHI" --json submit les --N 32 --steps 200000 --save-every 100 > "$WORK/j.json" || fail "submit"
J=$(json "$WORK/j.json" "d['id']")
wait_state "$J" running
sleep 1
dd if=/dev/zero of="$DISK/filler" bs=1M 2>/dev/null || true
rc=0; timeout 120 "$DASHI" --json wait "$J" > "$WORK/w.json" 2>/dev/null || rc=$?
[ "$(json "$WORK/w.json" "d['state'], d['error']['code']")" = "failed E_IO" ] \
  || fail "a trajectory writer on a full disk should fail with E_IO (wait exit $rc): $(cat "$WORK/w.json")"
rm -f "$DISK/filler"
"$DASHI" --json submit les --N 16 --steps 20 --save-every 1 --wait > "$WORK/s.json" || fail "a job after it"
ok "a trajectory whose write fails on the I/O thread fails the job with E_IO; the next job succeeds"
stop_daemon
grep "released the reserve" "$WORK/dashid.log" || echo "# (the database found room without the reserve file)"
