# End to end: evolve mode of the atoms job (docs/numerics.md "Evolve mode") on a
# real daemon: a short LES (N = 64, 11 saved frames), then its frame-0 atoms transported
# on the (lavapipe) GPU and put into the normal form at every step. Checks the stored
# atoms/lineage/audit against the rules (lineage by construction, Γ conservation), the
# eval metrics against a recomputation from field_final and the truth, determinism,
# the step axis (start + k·every), cancellation, and clear errors for bad arguments.
. tests/e2e/lib.sh
start_daemon
"$DASHI" --json submit les --N 64 --steps 100 --save-every 10 > "$WORK/les.json" || fail "les"
LES=$(json "$WORK/les.json" "d['id']")
# Submitted while the LES may still run: N, the frame count and dt·save_every come from its
# parameters, so the defaults (steps 10, dt_frame 0.1, kmax 32) resolve at submission.
"$DASHI" --json submit atoms --from "$LES" --mode evolve --background lowk --wait > "$WORK/ev.json" \
  || { cat "$WORK/ev.json"; fail "evolve job failed"; }
"$DASHI" --json wait "$LES" > "$WORK/les.json" || fail "les"
"$DASHI" get "$(json "$WORK/les.json" "d['outputs']['trajectory']")" -o "$WORK/traj.npy" > /dev/null || fail "get trajectory"
json "$WORK/ev.json" "d['state']=='succeeded' and d['mode']=='evolve' and d['params']['steps']==10 and abs(d['params']['dt_frame']-0.1)<1e-15 and d['params']['kmax']==32 and d['device'] is not None" \
  | grep -qx True || fail "record: $(cat "$WORK/ev.json")"
ID=$(json "$WORK/ev.json" "d['id']")
for o in atoms lineage atom_audit field_final; do
  "$DASHI" get "$(json "$WORK/ev.json" "d['outputs']['$o']")" -o "$WORK/$o.npy" > /dev/null || fail "get $o"
done
"$DASHI" --json metrics "$ID" > "$WORK/m.json"
"$DASHI" --json atoms "$ID" --limit 4096 > "$WORK/a.json"
"$DASHI" --json events "$ID" > "$WORK/events.json"
"$DASHI" --json audit "$ID" > "$WORK/audit.json"
"$PY" - "$WORK" > "$WORK/summary.txt" <<'PY' || fail "evolve outputs break the rules"
import json, sys, numpy as np
w = sys.argv[1]
A = np.load(f"{w}/atoms.npy"); L = np.load(f"{w}/lineage.npy"); U = np.load(f"{w}/atom_audit.npy")
F = np.load(f"{w}/field_final.npy"); T = np.load(f"{w}/traj.npy")
m = json.load(open(f"{w}/m.json"))["metrics"]
steps = sorted(set(A[:, 0].astype(int)))
assert steps == list(range(11)), steps
# stored rows = the atoms query
q = json.load(open(f"{w}/a.json"))
assert q["atoms_total"] == len(A) and q["steps"] == 11 and len(q["atoms"]) == len(A)
assert all(abs(x["gamma"] - r[3]) <= 1e-12 * r[3] and abs(x["cx"] - r[4]) < 1e-12 for x, r in zip(q["atoms"], A))
# per-step metrics present
for k in ("atoms.count", "atoms.description_length", "atoms.gamma_total", "eval.rel_l2", "eval.corr"):
    assert m[k]["steps"] == steps, k
for k in ("events.continuation", "events.merge", "events.split", "events.death", "events.birth",
          "audit.abs_residual", "audit.signed_residual"):
    assert m[k]["steps"] == steps[1:], k
assert [sum(A[:, 0] == s) for s in steps] == m["atoms.count"]["values"]
rel = m["eval.rel_l2"]["values"]; corr = m["eval.corr"]["values"]
assert all(np.isfinite(rel)) and rel[0] < 1.5, rel
# lineage by construction: every atom before the last step has out-edges, every later
# atom in-edges, no births; merge fractions sum to 1 per child, splits 0.5 per edge
nodes = {(int(r[0]), int(r[1])) for r in A}
par = {(int(r[0]), int(r[1])) for r in L}
chi = {(int(r[2]), int(r[3])) for r in L if r[3] >= 0}
assert par == {n for n in nodes if n[0] < 10} and chi == {n for n in nodes if n[0] > 0}
assert (L[:, 4] != 3).all() and (L[:, 2] == L[:, 0] + 1).all()
merge_in = {}
for r in L[L[:, 4] == 2]:
    merge_in[(r[2], r[3])] = merge_in.get((r[2], r[3]), 0) + r[5]
assert all(abs(v - 1) < 1e-12 for v in merge_in.values())
assert (L[L[:, 4] == 1][:, 5] == 0.5).all()
# Γ is conserved by transport, merge and split: Γ(k+1) = Γ(k) − Γ of the deaths at k
G = {s: A[A[:, 0] == s][:, 3].sum() for s in steps}
for s in steps[:-1]:
    dead = U[(U[:, 0] == s) & (U[:, 2] == 4)][:, 3].sum()   # residual −Γ per death
    assert abs(G[s + 1] - (G[s] + dead)) < 1e-12 * G[s], (s, G[s], G[s + 1], dead)
assert np.abs(U[U[:, 2] != 4][:, 3]).max(initial=0) < 1e-13
# eval recomputed: field_final against the last truth frame
t = T[10]
r = np.sqrt(((F - t) ** 2).sum() / (t ** 2).sum())
c = np.corrcoef(F.ravel(), t.ravel())[0, 1]
assert abs(r - rel[-1]) < 1e-9 and abs(c - corr[-1]) < 1e-9, (r, rel[-1], c, corr[-1])
assert abs(m["relL2_0"]["values"][0] - rel[0]) < 1e-15 and abs(m["relL2_T"]["values"][0] - rel[-1]) < 1e-15
assert abs(m["relL2_mean"]["values"][0] - np.mean(rel)) < 1e-12
ev = json.load(open(f"{w}/events.json"))["totals"]
assert ev["continuation"]["edges"] == int((L[:, 4] == 0).sum())
au = json.load(open(f"{w}/audit.json"))["summary"]
assert sum(v["nodes"] for v in au.values()) == len(U)
print(f"atoms/step {m['atoms.count']['values'][0]:.0f}->{m['atoms.count']['values'][-1]:.0f} "
      f"rel_l2 {rel[0]:.3f}->{rel[-1]:.3f} corr {corr[0]:.3f}->{corr[-1]:.3f} "
      + " ".join(f"{k}={ev[k]['events']}" for k in ("continuation", "merge", "split", "death")))
PY
ok "evolve (lowk background) stored, queryable, conserving, scored: $(cat "$WORK/summary.txt")"

# The background is the orthogonal projection of the step-0 error on |k| ≤ 8, so it can only
# lower the step-0 error: rel_l2(lowk) ≤ rel_l2(none), strictly unless that band is empty.
"$DASHI" --json submit atoms --from "$LES" --mode evolve --steps 1 --wait > "$WORK/none.json" || fail "background none"
"$DASHI" --json metrics "$(json "$WORK/none.json" "d['id']")" > "$WORK/mn.json"
"$PY" - "$WORK" <<'PY' || fail "the low-k background does not lower the step-0 error"
import json, sys
w = sys.argv[1]
lowk = json.load(open(f"{w}/m.json"))["metrics"]["eval.rel_l2"]["values"][0]
none = json.load(open(f"{w}/mn.json"))["metrics"]["eval.rel_l2"]["values"][0]
assert lowk < none, (lowk, none)
PY
"$DASHI" lineage "$ID" --atom 0:0 --depth 3 --dot | grep -q -- '->' || fail "lineage dot of an evolve job"
"$DASHI" --json submit atoms --from "$LES" --mode evolve --background lowk --no-reuse --wait > "$WORK/ev2.json" || fail "rerun"
for o in atoms lineage atom_audit field_final; do
  [ "$(json "$WORK/ev.json" "d['outputs']['$o']")" = "$(json "$WORK/ev2.json" "d['outputs']['$o']")" ] \
    || fail "output $o differs between two runs"
done
ok "evolve deterministic (identical outputs on a rerun)"

# The knobs and the step axis: start 2, every 3 → steps 2, 5, 8, 11, 14 (truth up to 10);
# a plain trajectory hash needs dt_frame.
TRAJ=$(json "$WORK/les.json" "d['outputs']['trajectory']")
"$DASHI" --json submit atoms --from "$TRAJ" --mode evolve --dt-frame 0.1 --start 2 --every 3 --steps 4 \
  --budget 12 --merge-dist 1.5 --split-elong 2.5 --substeps 2 --kmax 16 --wait > "$WORK/ev3.json" \
  || { cat "$WORK/ev3.json"; fail "evolve with knobs failed"; }
"$DASHI" get "$(json "$WORK/ev3.json" "d['outputs']['atoms']")" -o "$WORK/a3.npy" > /dev/null
"$DASHI" get "$(json "$WORK/ev3.json" "d['outputs']['lineage']")" -o "$WORK/l3.npy" > /dev/null
"$DASHI" get "$(json "$WORK/ev3.json" "d['outputs']['atom_audit']")" -o "$WORK/u3.npy" > /dev/null
"$DASHI" --json metrics "$(json "$WORK/ev3.json" "d['id']")" > "$WORK/m3.json"
"$PY" - "$WORK" > "$WORK/summary3.txt" <<'PY' || fail "knobs/step axis"
import json, sys, numpy as np
w = sys.argv[1]
A = np.load(f"{w}/a3.npy"); L = np.load(f"{w}/l3.npy")
m = json.load(open(f"{w}/m3.json"))["metrics"]
assert sorted(set(A[:, 0].astype(int))) == [2, 5, 8, 11, 14]
assert m["eval.rel_l2"]["steps"] == [2, 5, 8] and m["events.merge"]["steps"] == [5, 8, 11, 14]
assert abs(m["dt_step"]["values"][0] - 0.3) < 1e-15
# budget 12 first, then splitting may double it
assert all(c <= 24 for c in m["atoms.count"]["values"]), m["atoms.count"]
assert (L[:, 2] - L[:, 0] == 3).all()
kinds = {int(k) for k in L[:, 4]}
assert {1, 2, 4} <= kinds, kinds  # splits, merges and budget deaths all happened
U = np.load(f"{w}/u3.npy")
G = {s: A[A[:, 0] == s][:, 3].sum() for s in (2, 5, 8, 11, 14)}
for s in (2, 5, 8, 11):
    dead = U[(U[:, 0] == s) & (U[:, 2] == 4)][:, 3].sum()
    assert abs(G[s + 3] - (G[s] + dead)) < 1e-12 * G[s], (s, G, dead)
assert np.abs(U[U[:, 2] != 4][:, 3]).max() < 1e-13
print(f"counts {m['atoms.count']['values']} kinds {sorted(kinds)}")
PY
ok "start/every/steps on a plain hash with dt_frame, budget/merge/split knobs: $(cat "$WORK/summary3.txt")"

# Cancellation between slices: a long evolve stops promptly when cancelled (a budget bounds
# its disk estimate: without one, 100000 steps may hold N²/2 atoms each, beyond the reserve).
"$DASHI" --json submit atoms --from "$LES" --mode evolve --steps 100000 --budget 32 > "$WORK/long.json" || fail "long submit"
LONG=$(json "$WORK/long.json" "d['id']")
wait_state "$LONG" running
"$DASHI" cancel "$LONG" > /dev/null || fail "cancel"
wait_state "$LONG" cancelled
ok "a running evolve is cancelled between slices"

bad() { # expected-code expected-field args...
  code=$1; field=$2; shift 2
  rc=0; "$DASHI" --json submit atoms "$@" > "$WORK/bad.json" 2>/dev/null || rc=$?
  [ $rc -ne 0 ] || fail "accepted: $*"
  json "$WORK/bad.json" "d['error']['code']=='$code' and d['error']['field']=='$field' and len(d['error']['message'])>10" \
    | grep -qx True || fail "$*: $(cat "$WORK/bad.json")"
}
bad E_BAD_VALUE substeps --from "$LES" --mode evolve --substeps -1
bad E_BAD_VALUE substeps --from "$LES" --mode evolve --substeps 0
bad E_BAD_VALUE dt_frame --from "$LES" --mode evolve --dt-frame nan
bad E_BAD_VALUE dt_frame --from "$LES" --mode evolve --dt-frame 0
bad E_BAD_VALUE kmax --from "$LES" --mode evolve --kmax 33
bad E_BAD_VALUE steps --from "$LES" --mode evolve --steps 1000000000
bad E_BAD_VALUE start --from "$LES" --mode evolve --start 11
bad E_BAD_VALUE split_elong --from "$LES" --mode evolve --split-elong 0.5
bad E_BAD_VALUE gate --from "$LES" --mode evolve --gate 3
bad E_BAD_VALUE merge_dist --from "$LES" --merge-dist 0.5
bad E_MISSING_FIELD dt_frame --from "$TRAJ" --mode evolve
bad E_BAD_VALUE background --from "$LES" --mode evolve --background highk
"$DASHI" --no-autostart ping > /dev/null || fail "daemon down after bad arguments"
ok "bad evolve arguments refused with clear errors; daemon up"
stop_daemon
