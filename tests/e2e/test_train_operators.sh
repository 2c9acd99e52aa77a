# End to end: train on several trajectories, operator classes and stabilize (docs/numerics.md
# "Several trajectories", "Operator classes and stabilisation"), checked against numpy on the
# stored proxies. Tiny N (32, 40 steps) and topk 16: one daemon, seconds per job on lavapipe.
. tests/e2e/lib.sh
start_daemon
for s in 0 1 2; do
  "$DASHI" --json submit les --N 32 --steps 40 --seed $s > "$WORK/l$s.json" || fail "les $s"
done
L0=$(json "$WORK/l0.json" "d['id']"); L1=$(json "$WORK/l1.json" "d['id']"); L2=$(json "$WORK/l2.json" "d['id']")
train() { # OUT ARGS...: submit a train, wait, fetch A and the proxies
  out=$1; shift
  "$DASHI" --json submit train --topk 16 "$@" --wait > "$WORK/$out.json" || fail "train $*: $(cat "$WORK/$out.json")"
  for o in A Z Z_traj2; do
    h=$(json "$WORK/$out.json" "d['outputs'].get('$o', '')")
    [ -z "$h" ] || "$DASHI" get "$h" -o "$WORK/$out.$o.npy" > /dev/null || fail "get $o of $out"
  done
}

# One operator on the transitions of two trajectories, none across their boundary: A is the
# ridge solution of the summed normal equations of each trajectory's own pairs, and differs
# from the fit of the concatenation (which would add the pair last-of-0 -> first-of-1).
train two --traj "$L0,$L1" --eval-traj "$L2"
json "$WORK/two.json" "d['params']['traj'] == [$L0, $L1] and sorted(d['inputs']) == ['eval_traj1', 'traj', 'traj2']" \
  | grep -qx True || fail "two trajectories recorded: $(json "$WORK/two.json" "d['params'], d['inputs']")"
"$PY" - "$WORK/two" <<'PY' || fail "the fit on two trajectories"
import json, sys, numpy as np
w = sys.argv[1]
d = json.load(open(w + ".json")); m = d["metrics"]
A, Z1, Z2 = (np.load(f"{w}.{o}.npy") for o in ("A", "Z", "Z_traj2"))
assert Z1.shape == Z2.shape == (41, A.shape[0]), (Z1.shape, Z2.shape, A.shape)
lam = 1e-3; I = np.eye(A.shape[0])
fit = lambda X, Y: np.linalg.solve(X.T @ X + lam * I, X.T @ Y)
G = Z1[:-1].T @ Z1[:-1] + Z2[:-1].T @ Z2[:-1]
ref = np.linalg.solve(G + lam * I, Z1[:-1].T @ Z1[1:] + Z2[:-1].T @ Z2[1:])
err = np.linalg.norm(A - ref) / np.linalg.norm(ref)
assert err < 1e-8, err
Zc = np.vstack([Z1, Z2]); cross = fit(Zc[:-1], Zc[1:])
gap = np.linalg.norm(cross - ref) / np.linalg.norm(ref)
assert gap > 1e3 * max(err, 1e-12), (gap, err)  # the test could tell the two apart
assert m["train.trajectories"] == 2 and m["train.transitions"] == 80, m
assert m["train.pooled.spans"] == 2 and m["eval.pooled.spans"] == 1
assert abs(m["train.pooled.proxy_error_mean"] - (m["train.proxy_error_mean"] + m["train.traj2.proxy_error_mean"]) / 2) < 1e-15
assert m["eval.pooled.corr_mean"] == m["eval.traj1.corr_mean"]
print(f"two trajectories: |A - ref| = {err:.1e}, concatenated fit differs by {gap:.1e}")
PY
ok "traj [a, b]: A = the summed normal equations of each trajectory's own transitions"

# banded:K: zero outside the band, each column the ridge fit on its band alone.
train band --traj "$L0" --operator banded:3
"$PY" - "$WORK/band" <<'PY' || fail "the banded operator"
import json, sys, numpy as np
w = sys.argv[1]
A, Z = np.load(w + ".A.npy"), np.load(w + ".Z.npy")
D = A.shape[0]; K = 3
i, j = np.indices(A.shape)
assert np.all(A[np.abs(i - j) > K] == 0) and np.count_nonzero(A[np.abs(i - j) <= K]) > 0
X, Y = Z[:-1], Z[1:]
for c in range(D):
    S = slice(max(0, c - K), min(D, c + K + 1))
    a = np.linalg.solve(X[:, S].T @ X[:, S] + 1e-3 * np.eye(S.stop - S.start), X[:, S].T @ Y[:, c])
    assert np.allclose(A[S, c], a, rtol=1e-8, atol=1e-12), c
m = json.load(open(w + ".json"))["metrics"]
rho = max(abs(np.linalg.eigvals(A)))
assert abs(m["train.spectral_radius"] - rho) < 1e-9, (m["train.spectral_radius"], rho)
assert abs(m["train.fit_residual"] - np.linalg.norm(X @ A - Y) / np.linalg.norm(Y)) < 1e-9
PY
ok "operator banded:3: A banded, columns = their band's ridge fit, radius and residual of that A"

train low --traj "$L0" --operator lowrank:5
"$PY" -c "import numpy as np; r = np.linalg.matrix_rank(np.load('$WORK/low.A.npy')); assert r == 5, r" \
  || fail "lowrank:5 rank"
json "$WORK/low.json" "d['metrics']['rank'] == 5 and d['params']['operator'] == 'lowrank:5'" | grep -qx True \
  || fail "lowrank record"
ok "operator lowrank:5: A of rank 5"

# stabilize: the stored A's spectrum (numpy's eigenvalues) is inside the closed unit disc;
# the unstable eigenvalues of the plain fit moved radially, the others kept, the change reported.
train plain --traj "$L0" --operator banded:2
train stab --traj "$L0" --operator banded:2 --stabilize
"$PY" - "$WORK" <<'PY' || fail "stabilize"
import json, sys, numpy as np
w = sys.argv[1]
A0, A1 = np.load(f"{w}/plain.A.npy"), np.load(f"{w}/stab.A.npy")
m0, m1 = (json.load(open(f"{w}/{n}.json"))["metrics"] for n in ("plain", "stab"))
e0, e1 = np.linalg.eigvals(A0), np.linalg.eigvals(A1)
assert max(abs(e0)) > 1 and m0["train.unstable"] == 1, max(abs(e0))  # there was something to move
assert max(abs(e1)) <= 1, max(abs(e1))
assert m1["train.unstable"] == 0 and m1["train.spectral_radius"] <= 1
assert abs(m1["train.spectral_radius_unstabilized"] - max(abs(e0))) < 1e-9
assert m1["train.stabilize_moved"] == np.sum(abs(e0) > 1)
kept0, kept1 = np.sort_complex(e0[abs(e0) <= 1]), np.sort_complex(e1[abs(e1) < 1 - 1e-8])
assert len(kept0) == len(kept1) and np.allclose(kept0, kept1, atol=1e-8)
moved = np.sort(abs(e1[abs(e1) >= 1 - 1e-8]))
assert np.allclose(moved, 1 - 1e-9, atol=1e-8), moved
assert abs(m1["train.stabilize_rel_change"] - np.linalg.norm(A1 - A0) / np.linalg.norm(A0)) < 1e-9
print(f"stabilize: radius {max(abs(e0)):.6f} -> {max(abs(e1)):.12f}, "
      f"{m1['train.stabilize_moved']:.0f} moved, change {m1['train.stabilize_rel_change']:.2e}")
PY
ok "stabilize: every eigenvalue of the stored A inside the unit disc, the stable ones kept"

for bad in "banded:x" "lowrank:0" "banded:999" "sparse:3"; do
  "$DASHI" --json submit train --traj "$L0" --topk 16 --operator "$bad" > "$WORK/bad.json" 2>&1 \
    && fail "operator $bad accepted"
  grep -q '"field": *"operator"\|operator' "$WORK/bad.json" || fail "operator $bad: $(cat "$WORK/bad.json")"
done
"$DASHI" submit train --traj "$L0" --operator lowrank:3 --rank 2 > "$WORK/bad.txt" 2>&1 && fail "rank disagreement"
grep -q 'operator' "$WORK/bad.txt" || fail "rank disagreement: $(cat "$WORK/bad.txt")"
ok "bad operator classes refused naming operator"
