# End to end: an atoms job (track mode, docs/numerics.md "Atoms and threads") over a real LES
# trajectory (N=64, 300 steps, every step saved) through the daemon, with `--from JOBID`; then the
# atoms, lineage, events and audit queries, checked against the job's own outputs.
. tests/e2e/lib.sh
start_daemon
"$DASHI" --json submit les --N 64 --steps 300 --save-every 1 > "$WORK/les.json" || fail "les submit"
LES=$(json "$WORK/les.json" "d['id']")
# Submitted while the LES runs: it waits for it (job dependency), then tracks every frame,
# on the GPU path (carrier, labelling and reductions in Vulkan: lavapipe here).
"$DASHI" --json submit atoms --from "$LES" --carrier gpu --wait > "$WORK/atoms.json" \
  || { cat "$WORK/atoms.json"; fail "atoms job failed"; }
json "$WORK/atoms.json" "d['state']=='succeeded' and d['mode']=='track' and d['metrics']['carrier_on_gpu']==1" \
  | grep -qx True || fail "record: $(cat "$WORK/atoms.json")"
ID=$(json "$WORK/atoms.json" "d['id']")
for o in atoms lineage atom_audit; do
  "$DASHI" get "$(json "$WORK/atoms.json" "d['outputs']['$o']")" -o "$WORK/$o.npy" > /dev/null || fail "get $o"
done
ok "atoms job on LES job $LES (301 frames) succeeded"

"$DASHI" --json metrics "$ID" > "$WORK/m.json"
"$DASHI" --json atoms "$ID" --step 300 > "$WORK/a300.json"
"$DASHI" --json atoms "$ID" --limit 5 > "$WORK/a5.json"
"$DASHI" --json events "$ID" > "$WORK/ev.json"
"$DASHI" --json events "$ID" --kind split --limit 4096 > "$WORK/split.json"
"$DASHI" --json audit "$ID" > "$WORK/audit.json"
"$PY" - "$WORK" > "$WORK/summary.txt" <<'PY' || fail "atoms tables and queries disagree"
import json, sys, numpy as np
w = sys.argv[1]
A = np.load(f"{w}/atoms.npy"); L = np.load(f"{w}/lineage.npy"); U = np.load(f"{w}/atom_audit.npy")
m = json.load(open(f"{w}/m.json"))["metrics"]
steps = np.unique(A[:, 0])
assert len(steps) == 301 and steps[0] == 0 and steps[-1] == 300, steps
count = m["atoms.count"]["values"]
assert len(count) == 301 and sum(count) == len(A), (len(count), sum(count), len(A))
# ranks: Γ descending within each step, idx 0..n-1
for s in (0, 150, 300):
    g = A[A[:, 0] == s]
    assert (g[:, 1] == np.arange(len(g))).all() and (np.diff(g[:, 3]) <= 0).all()
    assert set(np.abs(g[:, 2])) <= {1.0} and (g[:, 3] > 0).all() and (g[:, 9] >= 1).all()
a300 = json.load(open(f"{w}/a300.json"))
g = A[A[:, 0] == 300]
assert len(a300["atoms"]) == len(g) and a300["atoms_total"] == len(A) and a300["steps"] == 301
assert all(abs(x["gamma"] - r[3]) <= 1e-12 * r[3] and x["sigma"] == r[2] for x, r in zip(a300["atoms"], g))
a5 = json.load(open(f"{w}/a5.json"))
assert [(x["step"], x["idx"]) for x in a5["atoms"]] == [(int(r[0]), int(r[1])) for r in A[:5]], a5["atoms"]
# every atom of steps 0..299 has an out-edge, every atom of 1..300 an in-edge
kinds = ["continuation", "split", "merge", "birth", "death"]
par = {(int(r[0]), int(r[1])) for r in L if r[1] >= 0}
chi = {(int(r[2]), int(r[3])) for r in L if r[3] >= 0}
nodes = {(int(r[0]), int(r[1])) for r in A}
assert {n for n in nodes if n[0] < 300} == par and {n for n in nodes if n[0] > 0} == chi
ev = json.load(open(f"{w}/ev.json"))
tot = ev["totals"]
for k, name in enumerate(kinds):
    assert tot[name]["edges"] == int((L[:, 4] == k).sum()), name
    series = m[f"events.{name}"]["values"]
    assert len(series) == 300 and sum(series) == tot[name]["events"], (name, sum(series), tot[name])
sp = json.load(open(f"{w}/split.json"))
assert all(e["kind"] == "split" for e in sp["edges"]) and len(sp["edges"]) == min(tot["split"]["edges"], 4096)
# split fractions of a parent whose out-edges are all splits sum to 1
out = {}
for r in L:
    if r[1] >= 0:
        out.setdefault((r[0], r[1]), []).append(r)
for k, es in out.items():
    if all(e[4] == 1 for e in es):
        assert abs(sum(e[5] for e in es) - 1) < 1e-9, es
au = json.load(open(f"{w}/audit.json"))
assert sum(v["nodes"] for v in au["summary"].values()) == len(U)
assert abs(au["summary"]["birth"]["signed_residual_sum"] - U[U[:, 2] == 3][:, 4].sum()) < 1e-9
print(f"atoms={len(A)} frames=301 per_frame_mean={len(A)/301:.1f} edges={len(L)} "
      + " ".join(f"{n}={tot[n]['events']}" for n in kinds))
PY
ok "atoms/events/audit queries agree with the outputs and metrics: $(cat "$WORK/summary.txt")"

# lineage: descendants of the strongest atom of step 0 within 3 steps; its ancestors back
"$DASHI" --json lineage "$ID" --atom 0:0 --descendants --depth 3 > "$WORK/lin.json"
json "$WORK/lin.json" "len(d['edges'])>0 and all(e['parent_step']<=2 and e['child_step']<=3 for e in d['edges'])" \
  | grep -qx True || fail "descendants: $(cat "$WORK/lin.json")"
C=$(json "$WORK/lin.json" "[e for e in d['edges'] if e['child_idx']>=0][-1]['child_step']"):$(json "$WORK/lin.json" "[e for e in d['edges'] if e['child_idx']>=0][-1]['child_idx']")
"$DASHI" --json lineage "$ID" --atom "$C" --ancestors > "$WORK/anc.json"
json "$WORK/anc.json" "any(e['parent_step']==0 and e['parent_idx']==0 for e in d['edges'])" | grep -qx True \
  || fail "ancestors of $C do not reach 0:0: $(cat "$WORK/anc.json")"
"$DASHI" lineage "$ID" --atom 0:0 --depth 2 --dot > "$WORK/lin.dot"
head -1 "$WORK/lin.dot" | grep -q '^digraph lineage' && grep -q -- '->' "$WORK/lin.dot" || fail "dot output"
"$DASHI" events "$ID" --kind merge > /dev/null || fail "events text"
"$DASHI" audit "$ID" --limit 3 > /dev/null || fail "audit text"
ok "lineage descendants/ancestors/dot"

# Same input, same DAG: a second track of the same trajectory stores identical outputs;
# one with the default carrier (auto: the host path on a CPU device like lavapipe, the
# GPU path on a GPU) gives the same atoms and DAG (the GPU's exact fixed-point sums and
# the host's ordered double sums differ in the last bits of Γ, centroids and moments).
"$DASHI" --json submit atoms --from "$LES" --carrier gpu --no-reuse --wait > "$WORK/atoms2.json" || fail "second atoms job"
"$DASHI" --json submit atoms --from "$LES" --wait > "$WORK/atoms3.json" || fail "atoms job, carrier auto"
"$DASHI" --json ping > "$WORK/ping.json"
json "$WORK/atoms3.json" "d['params']['carrier']=='auto' and d['metrics']['carrier_on_gpu']==(0 if $(json "$WORK/ping.json" "d['is_cpu']") else 1)" \
  | grep -qx True || fail "carrier auto: $(json "$WORK/atoms3.json" "d['params'], d['metrics']['carrier_on_gpu']")"
for o in atoms lineage atom_audit; do
  [ "$(json "$WORK/atoms.json" "d['outputs']['$o']")" = "$(json "$WORK/atoms2.json" "d['outputs']['$o']")" ] \
    || fail "output $o differs between two runs"
  "$DASHI" get "$(json "$WORK/atoms3.json" "d['outputs']['$o']")" -o "$WORK/${o}_3.npy" > /dev/null || fail "get $o"
done
"$PY" - "$WORK" <<'PY' || fail "the GPU and the host path give different atoms or lineage"
import sys, numpy as np
w = sys.argv[1]
for o, exact in [("atoms", [0, 1, 2, 9]), ("lineage", [0, 1, 2, 3, 4]), ("atom_audit", [0, 1, 2])]:
    g, h = np.load(f"{w}/{o}.npy"), np.load(f"{w}/{o}_3.npy")
    assert g.shape == h.shape, (o, g.shape, h.shape)
    assert np.array_equal(g[:, exact], h[:, exact]), o          # steps, indices, signs, cells, kinds
    scale = np.maximum(np.abs(g).max(axis=0), 1.0)
    assert (np.abs(g - h) <= 1e-9 * scale).all(), (o, (np.abs(g - h) / scale).max())
PY
ok "threading deterministic (identical outputs on a rerun; the host path gives the same atoms and DAG)"

# The annihilation trace (docs/numerics.md "Filament survival"): the GPU path traces on the
# host from the same frames, so both paths give the same counts, and they are counts.
"$PY" - "$WORK/atoms2.json" "$WORK/atoms3.json" <<'PY' || fail "the trace differs between the GPU and the host path"
import json, sys
g, h = (json.load(open(f))['metrics'] for f in sys.argv[1:])
keys = ['filaments_born', 'filaments_survived', 'annihilation_level_mean', 'closure_depth_mean', 'closure_depth_max']
keys += [f'closure.alive_fraction.L{k}' for k in range(1, 9)]
assert all(g[k] == h[k] for k in keys), [(k, g.get(k), h.get(k)) for k in keys]
assert 0 < g['filaments_survived'] <= g['filaments_born'], g
fr = [g[f'closure.alive_fraction.L{k}'] for k in range(1, 9)]
assert all(0 <= b <= a <= 1 for a, b in zip(fr, fr[1:])), fr
PY
ok "the annihilation trace is the same on both paths"

# `trace off`: the GPU path runs no closure on the host. The same atoms, DAG and depths; no
# trace metrics (its speed is a benchmark's matter, not a test's).
"$DASHI" --json submit atoms --from "$LES" --carrier gpu --trace off --wait > "$WORK/atoms4.json" \
  || fail "atoms job, trace off: $(cat "$WORK/atoms4.json")"
for o in atoms lineage atom_audit; do
  [ "$(json "$WORK/atoms.json" "d['outputs']['$o']")" = "$(json "$WORK/atoms4.json" "d['outputs']['$o']")" ] \
    || fail "output $o differs with trace off"
done
"$DASHI" --json metrics "$(json "$WORK/atoms4.json" "d['id']")" > "$WORK/m4.json" || fail "metrics, trace off"
"$PY" - "$WORK/atoms2.json" "$WORK/atoms4.json" "$WORK/m4.json" <<'PY' || fail "trace off"
import json, sys
g, o = (json.load(open(f))['metrics'] for f in sys.argv[1:3])
for k in ['closure_depth_mean', 'closure_depth_max', 'frames', 'atoms_total']:
    assert g[k] == o[k], (k, g[k], o[k])
for k in ['filaments_born', 'filaments_survived', 'annihilation_level_mean', 'closure.alive_fraction.L1']:
    assert k not in o, (k, o[k])
text = open(sys.argv[3]).read()
assert 'atoms.closure_depth' in text and 'atoms.filaments_born' not in text, text[:300]
PY
ok "trace off: same atoms, DAG and depths, no trace metrics"

rc=0; "$DASHI" --json atoms "$LES" > "$WORK/bad.json" 2>/dev/null || rc=$?
[ "$(json "$WORK/bad.json" "d['error']['field']")" = id ] || fail "atoms on a non-atoms job accepted"
rc=0; "$DASHI" --json submit atoms --from "$LES" --mode sideways > "$WORK/bad2.json" 2>/dev/null || rc=$?
[ "$(json "$WORK/bad2.json" "d['error']['field']")" = mode ] || fail "unknown mode accepted"
ok "queries on other kinds and unknown modes refused"
stop_daemon
