# End to end: checkpoints and `dashi resume`. A rollout interrupted by kill -9 (last
# periodic checkpoint) and one interrupted by SIGTERM (checkpoint at the stop) are
# resumed after a restart; their hashes, saved states and z_final equal an uninterrupted
# run's, bit for bit (outputs are content-addressed: equal hashes, equal bytes). Only the owner or
# root may resume, and only an interrupted job with a checkpoint.
. tests/e2e/lib.sh
need_second_user
start_shared_daemon 'checkpoint_every_s = 0.3'
# An orthogonal operator (D = 128): the state neither grows nor decays, so every hash
# differs and a resume from the wrong step or state cannot go unnoticed.
"$PY" -c "
import numpy as np
q, _ = np.linalg.qr(np.random.default_rng(11).standard_normal((128, 128)))
np.save('$WORK/q.npy', q); np.save('$WORK/z.npy', np.random.default_rng(12).standard_normal(128))"
A=$("$DASHI" put "$WORK/q.npy")
Z=$("$DASHI" put "$WORK/z.npy")
# field ID EXPR: EXPR over the job's record
field() { "$DASHI" --json show "$1" > "$WORK/f.json"; json "$WORK/f.json" "$2"; }
# Steps for at least 6 s of GPU time on this machine (release or sanitizer build, GPU or
# lavapipe), so the job is still running when it is interrupted, even on a loaded machine.
"$DASHI" --json submit rollout --op "$A" --z0 "$Z" --steps 300 --wait > "$WORK/cal.json" || fail "calibration run"
STEPS=$(json "$WORK/cal.json" "max(600, min(2000000, int(d['metrics']['steps_per_s'] * 6) // 100 * 100))")
echo "# $STEPS steps ($(json "$WORK/cal.json" "d['metrics']['steps_per_s']") steps/s in the calibration run)"
# About 20 saved states, at steps a checkpoint rarely falls on.
submit() { "$DASHI" --json submit rollout --op "$A" --z0 "$Z" --steps $STEPS --hash-every 10 --save-every $((STEPS / 20 + 3)) --no-reuse "$@"; }

submit --wait > "$WORK/ref.json" || fail "reference run failed"
REF=$(json "$WORK/ref.json" "d['id']")
"$DASHI" --json hashes "$REF" > "$WORK/ref_h.json"
[ "$(json "$WORK/ref_h.json" "len(d['hashes'])")" = $((STEPS / 10)) ] || fail "reference hashes"
[ "$(json "$WORK/ref_h.json" "len(set(h['hash'] for h in d['hashes']))")" = $((STEPS / 10)) ] || fail "hashes repeat"
ok "uninterrupted reference run"

# A job keeps only its latest checkpoint (about 6 s of run at checkpoint_every_s = 0.3 wrote
# ~20): every blob file on disk is referenced by the database (an upload, an input or
# output, or some job's current checkpoint); superseded checkpoints are gone.
"$PY" - "$DASHI_STATE_DIR" <<'PY' || fail "superseded checkpoints left in the blob store"
import os, sqlite3, sys
state = sys.argv[1]
db = sqlite3.connect(f"file:{state}/dashid.db?mode=ro", uri=True)
refs = {r[0] for r in db.execute("SELECT hash FROM blobs UNION SELECT hash FROM job_blobs "
                                  "UNION SELECT checkpoint FROM jobs WHERE checkpoint IS NOT NULL")}
files = {f[:-4] for _, _, fs in os.walk(f"{state}/blobs") for f in fs if f.endswith(".npy")}
orphans = files - refs
assert not orphans, f"{len(orphans)} unreferenced blob files: {sorted(orphans)[:3]}"
print(f"# {len(files)} blob files, all referenced")
PY
ok "superseded checkpoints are removed from the blob store"

# same_as_ref ID: the job's hashes and outputs (z_final, states) equal the reference's.
same_as_ref() {
  "$DASHI" --json show "$1" > "$WORK/s.json"
  [ "$(json "$WORK/s.json" "d['state']")" = succeeded ] || fail "job $1 did not succeed: $(cat "$WORK/s.json")"
  [ "$(json "$WORK/s.json" "sorted(d['outputs'].items())")" = "$(json "$WORK/ref.json" "sorted(d['outputs'].items())")" ] \
    || fail "job $1: outputs differ from the uninterrupted run's"
  "$DASHI" --json hashes "$1" > "$WORK/h.json"
  "$PY" - "$WORK/h.json" "$WORK/ref_h.json" <<'PY' || fail "job $1: hashes differ from the uninterrupted run's"
import json, sys
a, b = (json.load(open(p))['hashes'] for p in sys.argv[1:3])
key = lambda h: (h['step'], h['traj'])
assert sorted(a, key=key) == sorted(b, key=key), (len(a), len(b))
PY
}

# ---- kill -9 after a periodic checkpoint
submit > "$WORK/k.json"
K=$(json "$WORK/k.json" "d['id']")
kill9_after_checkpoint "$K" 0
start_daemon --config "$WORK/dashid.conf"
[ "$(field "$K" "d['state']")" = interrupted ] || fail "killed job should be interrupted: $(json "$WORK/f.json" "d['state'], d['progress'], d['checkpoint']")"
CK=$(json "$WORK/f.json" "d['checkpoint']['step']")
[ "$CK" -gt 0 ] && [ "$CK" -lt $STEPS ] || fail "checkpoint step $CK"
ok "kill -9: job interrupted with its checkpoint at step $CK"

rc=0; as_nobody "$DASHI" --json --no-autostart resume "$K" > "$WORK/p.json" 2>/dev/null || rc=$?
[ $rc -eq 2 ] && [ "$(json "$WORK/p.json" "d['error']['code']")" = E_PERMISSION ] \
  || fail "another user's resume should be E_PERMISSION (exit 2), got $rc: $(cat "$WORK/p.json")"
rc=0; "$DASHI" --json resume "$REF" > "$WORK/p.json" 2>/dev/null || rc=$?
[ $rc -eq 2 ] && [ "$(json "$WORK/p.json" "d['error']['code']")" = E_STATE ] || fail "resuming a finished job: E_STATE"
ok "resume refused to other users and for finished jobs"

"$DASHI" --json resume "$K" > "$WORK/r.json" || fail "resume failed: $(cat "$WORK/r.json")"
[ "$(json "$WORK/r.json" "d['state']")" = queued ] || fail "a resumed job is queued first"
"$DASHI" --json wait "$K" > /dev/null || fail "resumed job failed: $(field "$K" "d['error']")"
same_as_ref "$K"
field "$K" "[e['state'] for e in d['events']]" | grep -qx "\['queued', 'running', 'interrupted', 'queued', 'running', 'succeeded'\]" \
  || fail "events of a resumed job: $(json "$WORK/f.json" "d['events']")"
ok "kill -9 + resume: hashes, states and z_final identical to the uninterrupted run"

# ---- SIGTERM: the running job checkpoints as it stops
submit > "$WORK/t.json"
T=$(json "$WORK/t.json" "d['id']")
i=0
until [ "$(field "$T" "d['progress']['step'] > $STEPS // 10")" = True ]; do
  i=$((i + 1)); [ $i -lt 300 ] || fail "no progress within 30 s"; sleep 0.1
done
stop_daemon
start_daemon --config "$WORK/dashid.conf"
[ "$(field "$T" "d['state']")" = interrupted ] || fail "SIGTERM: job should be interrupted"
[ "$(json "$WORK/f.json" "d['checkpoint']['step'] == d['progress']['step'] and d['progress']['step'] < $STEPS")" = True ] \
  || fail "SIGTERM: the checkpoint should be at the last step reached: $(json "$WORK/f.json" "d['checkpoint'], d['progress']")"
"$DASHI" --json resume "$T" > /dev/null || fail "resume after SIGTERM"
"$DASHI" --json wait "$T" > /dev/null || fail "resumed job failed"
same_as_ref "$T"
ok "SIGTERM + resume: checkpoint at the stop, identical results"

# A job with no checkpoint cannot be resumed: killed (-9) before its first one.
printf 'socket_mode = 0666\ncheckpoint_every_s = 3600\n' > "$WORK/rare.conf"
stop_daemon
start_daemon --config "$WORK/rare.conf"
"$DASHI" --json submit rollout --op "$A" --z0 "$Z" --steps 1000000000 --hash-every 0 > "$WORK/n.json"
N=$(json "$WORK/n.json" "d['id']")
wait_state "$N" running
kill -KILL "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null || true; DAEMON_PID=
start_daemon --config "$WORK/dashid.conf"
rc=0; "$DASHI" --json resume "$N" > "$WORK/p.json" 2>/dev/null || rc=$?
[ $rc -eq 2 ] && [ "$(json "$WORK/p.json" "d['error']['code']")" = E_STATE ] \
  || fail "a job without a checkpoint: E_STATE, got $rc: $(cat "$WORK/p.json")"
ok "no checkpoint, no resume"
stop_daemon
