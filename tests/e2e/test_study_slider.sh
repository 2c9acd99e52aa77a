# End to end: the v5 fidelity slider (docs/numerics.md "Fidelity slider") and `dashi study
# slider` on a real daemon, tiny sizes (N = 32, 3 frames of horizon). Checks, from the
# daemon's stored metrics: relL2 at t = 0 non-increasing as the fidelity grows over 4
# settings, the fine end at most 1e-3 and far below the coarse end, and at the horizon the
# fine end below the atoms alone; the study's table equals
# the stored summaries; its LES rows agree with a numpy recomputation (spectral truncation
# of the truth's frame 0 as the coarse ic, zero-padded interpolation back to N); a rerun
# reuses every job and prints the same table; bad arguments are refused naming the field.
. tests/e2e/lib.sh
start_daemon
NAME=slider-e2e
"$DASHI" --json study slider --N 32 --steps 30 --save-every 10 --horizon 3 --fidelity 0,0.4,0.7,1 \
  --les-n 16 --name "$NAME" > "$WORK/study.json" || { cat "$WORK/study.json"; fail "study slider failed"; }
"$DASHI" --json list --group "$NAME" --limit 100 > "$WORK/group.json" || fail "list --group"
"$DASHI" --json list --tag study-slider --kind les --limit 100 > "$WORK/les.json" || fail "list --tag"
TRUTH=$(json "$WORK/study.json" "d['truth']")
COARSE=$(json "$WORK/study.json" "[r['id'] for r in d['rows'] if r['model']=='les'][0]")
for id in $(json "$WORK/group.json" "' '.join(str(j['id']) for j in d['jobs'])"); do
  "$DASHI" --json metrics "$id" > "$WORK/m$id.json" || fail "metrics $id"
done
for id in "$TRUTH" "$COARSE"; do
  "$DASHI" --json show "$id" > "$WORK/rec$id.json"
  "$DASHI" get "$(json "$WORK/rec$id.json" "d['outputs']['trajectory']")" -o "$WORK/traj$id.npy" > /dev/null || fail "get $id"
done
"$DASHI" get "$(json "$WORK/rec$COARSE.json" "d['params']['ic']")" -o "$WORK/ic.npy" > /dev/null || fail "get ic"
"$PY" - "$WORK" "$TRUTH" "$COARSE" <<'PY' || fail "slider properties"
import glob, json, sys, numpy as np
w, truth, coarse = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
study = json.load(open(f"{w}/study.json"))
group = json.load(open(f"{w}/group.json"))["jobs"]
runs = sorted(group, key=lambda j: j["params"]["fidelity"])
fid = [j["params"]["fidelity"] for j in runs]
assert fid == [0, 0.4, 0.7, 1], fid
assert all(j["kind"] == "atoms" and j["params"]["mode"] == "evolve" and j["params"]["from"] == truth for j in runs)
summ = {j["id"]: {k: v["values"][0] for k, v in json.load(open(f"{w}/m{j['id']}.json"))["metrics"].items()
                  if v["steps"] == [-1]} for j in runs}
rel0 = [summ[j["id"]]["relL2_0"] for j in runs]
modes = [summ[j["id"]]["residual_modes"] for j in runs]
# monotone slider and the fine end: properties of the stored metrics
assert all(b <= a for a, b in zip(rel0, rel0[1:])), rel0
assert rel0[-1] <= 1e-3 and rel0[0] > 100 * max(rel0[-1], 1e-12) and rel0[0] > rel0[1], rel0
# the channel's dynamics help: at the horizon the fine end is closer to the truth than the atoms alone
relT = [summ[j["id"]]["relL2_T"] for j in runs]
assert relT[-1] < relT[0], relT
assert modes[0] == 0 and all(b > a for a, b in zip(modes, modes[1:])) and modes[-1] == 32 * 32, modes
# the study's v5 rows are the stored summaries
v5 = {r["id"]: r for r in study["rows"] if r["model"] == "v5"}
assert set(v5) == {j["id"] for j in runs}
for j in runs:
    r, s = v5[j["id"]], summ[j["id"]]
    assert r["setting"] == j["params"]["fidelity"]
    for a, b in (("relL2_0", "relL2_0"), ("relL2_T", "relL2_T"), ("corr_T", "corr_T"), ("modes", "residual_modes"),
                 ("atoms", "atoms_final"), ("ms_per_frame", "ms_per_step")):
        assert r[a] == s[b], (a, r[a], s[b])
# the LES row, recomputed: ic = truth frame 0 truncated to 16, score at frames 0 and 3
T = np.load(f"{w}/traj{truth}.npy"); C = np.load(f"{w}/traj{coarse}.npy"); ic = np.load(f"{w}/ic.npy")
def resample(f, m):
    n = f.shape[0]; K = min(n, m) // 2 - 1
    F = np.fft.fft2(f) / n**2; G = np.zeros((m, m), complex)
    for my in range(-K, K + 1):
        for mx in range(-K, K + 1):
            G[my % m, mx % m] = F[my % n, mx % n]
    return np.real(np.fft.ifft2(G) * m**2)
assert np.abs(ic - resample(T[0], 16)).max() < 1e-12 * np.abs(T[0]).max()
assert np.abs(C[0] - ic).max() == 0
les = [r for r in study["rows"] if r["model"] == "les"]
assert len(les) == 1 and les[0]["id"] == coarse and les[0]["setting"] == 16 and les[0]["modes"] == 256
for frame, key in ((0, "relL2_0"), (3, "relL2_T")):
    up, t = resample(C[frame], 32), T[frame]
    rel = np.sqrt(((up - t) ** 2).sum() / (t ** 2).sum())
    assert abs(rel - les[0][key]) < 1e-9, (key, rel, les[0][key])
les_jobs = json.load(open(f"{w}/les.json"))["jobs"]
assert {j["id"] for j in les_jobs} == {truth, coarse}, les_jobs
print("relL2_0 by fidelity", [f"{x:.3g}" for x in rel0], "relL2_T", [f"{x:.3g}" for x in relT], "modes", modes, "LES N=16 relL2_T", f"{les[0]['relL2_T']:.3f}")
PY
ok "slider monotone at t=0, fine end exact; study table = stored metrics; LES rows recomputed"

# A rerun reuses every job and prints the same table.
"$DASHI" study slider --N 32 --steps 30 --save-every 10 --horizon 3 --fidelity 0,0.4,0.7,1 --les-n 16 \
  --name "$NAME" > "$WORK/again.txt" || fail "rerun"
"$DASHI" --json list --tag study-slider --limit 100 > "$WORK/all.json"
"$PY" - "$WORK" <<'PY' || fail "rerun did not reuse"
import json, sys
w = sys.argv[1]
jobs = json.load(open(f"{w}/all.json"))["jobs"]
study = json.load(open(f"{w}/study.json"))
first = {study["truth"]} | {r["id"] for r in study["rows"]}
again = [j for j in jobs if j["id"] not in first]
assert len(again) == len(first) and all(j.get("reused_from") for j in again), [(j["id"], j.get("reused_from")) for j in again]
PY
grep -q '^equal fidelity: LES N=16' "$WORK/again.txt" || { cat "$WORK/again.txt"; fail "no equal-fidelity line"; }
ok "rerun: every job reused, table printed"

rc=0; "$DASHI" study slider --fidelity 0,2 2> "$WORK/err.txt" || rc=$?
[ $rc -eq 1 ] && grep -q "fidelity" "$WORK/err.txt" || fail "bad --fidelity: rc $rc $(cat "$WORK/err.txt")"
rc=0; "$DASHI" study nosuch 2> "$WORK/err.txt" || rc=$?
[ $rc -eq 1 ] && grep -q "slider" "$WORK/err.txt" || fail "unknown study: rc $rc $(cat "$WORK/err.txt")"
rc=0; "$DASHI" --json submit atoms --from "$TRUTH" --mode evolve --fidelity 0.5 --background lowk > "$WORK/bad.json" || rc=$?
[ $rc -ne 0 ] && json "$WORK/bad.json" "d['error']['field']" | grep -qx fidelity || fail "fidelity with lowk: $(cat "$WORK/bad.json")"
ok "bad slider arguments refused naming the field"
stop_daemon
