# End to end: a resumed LES has exactly the outputs of an unbroken run. The same job is
# run unbroken, then again with the daemon killed (-9) once a checkpoint past step 0
# exists, and resumed after a restart: omega_final, trajectory, energy and enstrophy
# have the same blob hashes (equal bytes), and the energy/enstrophy metrics are the same
# series, one value per step, none missing or repeated.
. tests/e2e/lib.sh
printf 'checkpoint_every_s = 0.3\n' > "$WORK/dashid.conf"
start_daemon --config "$WORK/dashid.conf"
field() { "$DASHI" --json show "$1" > "$WORK/f.json"; json "$WORK/f.json" "$2"; }

# Steps for about 4 s of run on this machine (release or sanitizer build, GPU or lavapipe).
"$DASHI" --json submit les --N 64 --steps 40 --save-every 0 --wait > "$WORK/cal.json" || fail "calibration run"
STEPS=$(json "$WORK/cal.json" "max(300, min(200000, int(d['metrics']['steps_per_s'] * 4) // 10 * 10))")
# About 12 frames, saved at steps a checkpoint rarely falls on.
SAVE=$((STEPS / 12 + 1))
echo "# $STEPS steps, a frame every $SAVE ($(json "$WORK/cal.json" "d['metrics']['steps_per_s']") steps/s)"
submit() { "$DASHI" --json submit les --N 64 --steps $STEPS --save-every $SAVE --seed 5 --no-reuse "$@"; }
outputs() { json "$1" "' '.join(f'{k}={v}' for k, v in sorted(d['outputs'].items()))"; }

submit --wait > "$WORK/ref.json" || fail "reference run failed"
REF=$(json "$WORK/ref.json" "d['id']")
FRAMES=$((STEPS / SAVE + 1))
[ "$(json "$WORK/ref.json" "sorted(d['outputs'])")" = "['energy', 'enstrophy', 'omega_final', 'trajectory']" ] \
  || fail "reference outputs: $(outputs "$WORK/ref.json")"
ok "unbroken reference run ($FRAMES frames)"

submit > "$WORK/k.json"
K=$(json "$WORK/k.json" "d['id']")
kill9_after_checkpoint "$K" "$SAVE"
start_daemon --config "$WORK/dashid.conf"
[ "$(field "$K" "d['state']")" = interrupted ] || fail "killed job should be interrupted"
CK=$(json "$WORK/f.json" "d['checkpoint']['step']")
[ "$CK" -gt "$SAVE" ] && [ "$CK" -lt "$STEPS" ] || fail "checkpoint step $CK"
ok "kill -9 at checkpoint step $CK of $STEPS"

"$DASHI" --json resume "$K" > /dev/null || fail "resume failed"
"$DASHI" --json wait "$K" > "$WORK/r.json" || fail "resumed job failed: $(json "$WORK/r.json" "d.get('error')")"
[ "$(outputs "$WORK/r.json")" = "$(outputs "$WORK/ref.json")" ] \
  || fail "outputs of the resumed job differ from the unbroken run's:
  resumed:  $(outputs "$WORK/r.json")
  unbroken: $(outputs "$WORK/ref.json")"
"$DASHI" get "$(json "$WORK/r.json" "d['outputs']['trajectory']")" -o "$WORK/traj.npy" > /dev/null || fail "get trajectory"
"$PY" -c "import numpy as np; a = np.load('$WORK/traj.npy'); assert a.shape == ($FRAMES, 64, 64), a.shape" \
  || fail "trajectory shape"
ok "resumed outputs identical to the unbroken run's (same hashes, $FRAMES frames)"

for key in energy enstrophy; do
  "$DASHI" --json metrics "$REF" --key $key > "$WORK/m_ref.json"
  "$DASHI" --json metrics "$K" --key $key > "$WORK/m_k.json"
  "$PY" - "$WORK/m_ref.json" "$WORK/m_k.json" $key $STEPS <<'PY' || fail "$key metrics of the resumed job"
import json, sys
a, b = (json.load(open(p))['metrics'][sys.argv[3]] for p in sys.argv[1:3])
n = int(sys.argv[4]) + 1
assert len(a['values']) == n and a == b, (len(a['values']), len(b['values']), n)
PY
done
ok "energy and enstrophy metrics: the unbroken run's series"

# Nothing of the job's partial outputs is left once it has succeeded.
[ -z "$(ls "$DASHI_STATE_DIR/blobs/tmp" | grep "^part-job-$K-" || true)" ] || fail "partial outputs left behind"
stop_daemon
