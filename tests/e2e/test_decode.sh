# End to end: the decode job through the daemon on the refdata case. Reference mode
# reproduces summary.json and decode_omega_hat; dashi mode beats it; states and z0 can
# come from a rollout job still running (a dependency); bad arguments queue nothing.
. tests/e2e/lib.sh
start_daemon

"$PY" - "$WORK" <<'PY'
import sys, numpy as np
w = sys.argv[1]
d = 'tests/data/'
np.save(w + '/states.npy', np.stack([np.load(d + 'z_t0000.npy'), np.load(d + 'zhat_T.npy')]))
np.save(w + '/truth.npy', np.stack([np.load(d + 'omega_t0000.npy'), np.load(d + 'omega_t0300.npy')]))
np.save(w + '/bad_states.npy', np.zeros((2, 653)))
PY
MASK=$("$DASHI" put tests/data/mask_low.npy)
ANCH=$("$DASHI" put tests/data/anchor_idx.npy)
STATES=$("$DASHI" put "$WORK/states.npy")
TRUTH=$("$DASHI" put "$WORK/truth.npy")
Z0=$("$DASHI" put tests/data/z_t0000.npy)
A=$("$DASHI" put tests/data/A.npy)

"$DASHI" --json submit decode --anchors "$ANCH" --mask "$MASK" --states "$STATES" --truth "$TRUTH" --stride 300 \
  --truth-every 300 --mode reference --observer snapshots --wait > "$WORK/ref.json" || { cat "$WORK/ref.json"; fail "reference decode failed"; }
"$PY" - "$WORK/ref.json" <<'PY' || fail "reference metrics differ from summary.json"
import sys, json
d = json.load(open(sys.argv[1])); m = d['metrics']; s = json.load(open('tests/data/summary.json'))
assert d['state'] == 'succeeded' and d['mode'] == 'reference', d['state']
for mine, ref in [('relL2_0', 'relL2_0'), ('relL2_T', 'relL2_T'), ('corr_0', 'corr_0'), ('corr_T', 'corr_T'),
                  ('dE_T', 'dE_T'), ('dZ_T', 'dZ_T')]:
    rel = abs(m[mine] - s[ref]) / abs(s[ref])
    assert rel < 1e-9, (mine, m[mine], s[ref], rel)
PY
OH=$(json "$WORK/ref.json" "d['outputs']['omega_hat']")
"$DASHI" get "$OH" -o "$WORK/oh.npy" > /dev/null
"$PY" - "$WORK/oh.npy" <<'PY' || fail "omega_hat differs from decode_omega_hat"
import sys, numpy as np
a = np.load(sys.argv[1]); assert a.shape == (2, 64, 64), a.shape
for k, t in enumerate(['0000', '0300']):
    r = np.load('tests/data/decode_omega_hat_t%s.npy' % t)
    assert np.abs(a[k] - r).max() <= 1e-9 * np.abs(r).max(), t
PY
ok "reference decode reproduces summary.json and decode_omega_hat"

# The decoded fields of a decode job (observer snapshots: its omega_hat) are an atoms job's input too.
"$DASHI" --json submit atoms --from "$(json "$WORK/ref.json" "d['id']")" --wait > "$WORK/at.json" \
  || fail "atoms of a decode job: $(cat "$WORK/at.json")"
json "$WORK/at.json" "d['inputs']['from'] == '$OH' and d['metrics']['frames'] == 2 and d['metrics']['atoms_total'] > 0" \
  | grep -qx True || fail "atoms of the decoded frames: $(json "$WORK/at.json" "d['inputs'], d['metrics']")"
ok "atoms --from a decode job tracks its decoded fields ($(json "$WORK/at.json" "d['metrics']['atoms_total']") atoms)"

"$DASHI" --json submit decode --anchors "$ANCH" --mask "$MASK" --states "$STATES" --truth "$TRUTH" --stride 300 \
  --truth-every 300 --wait > "$WORK/dashi.json" || { cat "$WORK/dashi.json"; fail "dashi decode failed"; }
"$PY" - "$WORK/dashi.json" <<'PY' || fail "dashi mode does not beat the reference"
import sys, json
d = json.load(open(sys.argv[1])); m = d['metrics']; s = json.load(open('tests/data/summary.json'))
assert d['mode'] == 'dashi'
assert m['relL2_0'] < s['relL2_0'] and m['relL2_T'] < s['relL2_T'], m
assert m['closure_depth'] >= 1 and m['closure_converged'] == 1, m
PY
"$DASHI" --json metrics "$(json "$WORK/dashi.json" "d['id']")" --key closure.active > "$WORK/cl.json"
json "$WORK/cl.json" "d" | grep -q "closure.active" || fail "closure.active per level missing"
"$DASHI" --json metrics "$(json "$WORK/dashi.json" "d['id']")" --key closure.alive > "$WORK/alive.json"
"$PY" - "$WORK/dashi.json" "$WORK/alive.json" <<'PY' || fail "the last frame's annihilation trace is missing or inconsistent"
import sys, json
m = json.load(open(sys.argv[1]))['metrics']
series = json.load(open(sys.argv[2]))['metrics']['closure.alive']
alive = [v for _, v in sorted(zip(series['steps'], series['values']))]
assert len(alive) == min(m['closure_depth'], 16) + 1, (alive, m['closure_depth'])
assert alive[0] == m['filaments_born'] > 0 and alive[-1] == m['filaments_survived'], (alive, m)
assert all(b <= a for a, b in zip(alive, alive[1:])), alive
fr = [m[f'closure.alive_fraction.L{k}'] for k in range(1, 9)]
assert all(0 <= b <= a <= 1 for a, b in zip(fr, fr[1:])), fr
assert abs(fr[0] - alive[min(1, len(alive) - 1)] / alive[0]) < 1e-12, (fr, alive)
PY
ok "dashi decode beats the reference; closure statistics stored"

# States from a rollout job that has not finished: the decode waits for it.
"$DASHI" --json submit rollout --op "$A" --z0 "$Z0" --steps 300 --save-every 300 > "$WORK/ro.json"
RO=$(json "$WORK/ro.json" "d['id']")
"$DASHI" --json submit decode --anchors "$ANCH" --mask "$MASK" --states "$RO" --z0 "$Z0" --truth "$TRUTH" \
  --truth-every 300 --mode reference > "$WORK/dep.json" || { cat "$WORK/dep.json"; fail "dependent submit"; }
DEP=$(json "$WORK/dep.json" "d['id']")
"$DASHI" --json wait "$DEP" > "$WORK/dep_done.json" || { cat "$WORK/dep_done.json"; fail "dependent decode failed"; }
"$PY" - "$WORK/dep_done.json" <<'PY' || fail "decode of a rollout's states"
import sys, json
d = json.load(open(sys.argv[1])); m = d['metrics']; s = json.load(open('tests/data/summary.json'))
assert abs(m['relL2_0'] - s['relL2_0']) < 1e-9 * s['relL2_0'], m['relL2_0']
# The GPU rollout matches zhat_T to ~1e-10, so the t = 300 metrics agree closely.
assert abs(m['relL2_T'] - s['relL2_T']) < 1e-6 * s['relL2_T'], m['relL2_T']
PY
ok "decode of a running rollout's states (job dependency)"

"$DASHI" --json list --limit 1000 > "$WORK/before.json"
expect_error() { # code field args...
  code=$1; field=$2; shift 2
  rc=0; "$DASHI" --json submit decode "$@" > "$WORK/err.json" 2>/dev/null || rc=$?
  [ $rc -ne 0 ] || fail "submit $* should fail"
  [ "$(json "$WORK/err.json" "d['error']['code']")" = "$code" ] || fail "expected $code for $*: $(cat "$WORK/err.json")"
  [ "$(json "$WORK/err.json" "d['error']['field']")" = "$field" ] || fail "expected field $field for $*: $(cat "$WORK/err.json")"
}
expect_error E_BAD_VALUE states --anchors "$ANCH" --mask "$MASK" --states "$WORK/bad_states.npy"
expect_error E_MISSING_FIELD states --anchors "$ANCH" --mask "$MASK"
expect_error E_UNKNOWN_FIELD evry --anchors "$ANCH" --mask "$MASK" --states "$STATES" --evry 2
expect_error E_BAD_VALUE truth --anchors "$ANCH" --mask "$MASK" --states "$STATES" --truth "$TRUTH" --stride 300
expect_error E_BAD_VALUE observer --anchors "$ANCH" --mask "$MASK" --states "$STATES" --observer all
expect_error E_BAD_VALUE anchors --anchors "$MASK" --mask "$MASK" --states "$STATES"
"$DASHI" --json list --limit 1000 > "$WORK/after.json"
[ "$(json "$WORK/before.json" "len(d['jobs'])")" = "$(json "$WORK/after.json" "len(d['jobs'])")" ] \
  || fail "a rejected submit queued a job"
ok "bad parameters rejected, nothing queued"

stop_daemon
ok "clean shutdown"
