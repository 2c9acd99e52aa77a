# End to end: `dashi study generalization` (docs/numerics.md "Generalization study") at a tiny
# size: its jobs are stored as sweeps (groups), and its table is the table of those stored
# runs: one row per operator class and number of training trajectories, each value the run's
# own summary metric.
. tests/e2e/lib.sh
start_daemon
"$DASHI" --json study generalization --N 16 --steps 8 --topk 8 --seeds 1 --operators full,banded:2 \
  --stabilize --name g > "$WORK/study.json" || fail "study: $(cat "$WORK/study.json")"
"$DASHI" --json list --group g-train1 > "$WORK/list.json" || fail "list --group g-train1"
for id in $(json "$WORK/list.json" "' '.join(str(j['id']) for j in d['jobs'])"); do
  "$DASHI" --json show "$id" > "$WORK/show$id.json" || fail "show $id"
done
"$PY" - "$WORK" <<'PY' || fail "the study's table"
import glob, json, sys
w = sys.argv[1]
t = json.load(open(f"{w}/study.json"))
rows = t["rows"]
assert sorted(r["operator"] for r in rows) == ["banded:2", "full"], rows
shows = {json.load(open(f))["id"]: json.load(open(f)) for f in glob.glob(f"{w}/show*.json")}
assert len(shows) == 2, shows.keys()
cols = ["eval.traj1.corr_mean", "eval.traj1.rel_l2_mean", "eval.traj1.time_to_corr_below_0.95",
        "eval.traj2.corr_mean", "eval.traj3.corr_mean", "eval.traj4.corr_mean", "train.spectral_radius"]
for r in rows:
    job = shows[r["id"]]
    assert job["params"]["stabilize"] is True and len(job["params"]["eval_traj"]) == 4, job["params"]
    for c in cols:
        assert r[c] == job["metrics"][c], (r["id"], c, r[c], job["metrics"][c])
    assert job["metrics"]["train.spectral_radius"] <= 1
print("study table:", [(r["operator"], round(r["eval.traj1.corr_mean"], 4)) for r in rows])
PY
ok "study generalization: a table of its stored, grouped runs"
# Every job of the study carries its tag: 2 LES + 3 perturbed LES + 2 trains.
"$DASHI" --json list --tag study-generalization > "$WORK/tagged.json" || fail "list --tag"
n=$(json "$WORK/tagged.json" "len(d['jobs'])")
[ "$n" = 7 ] || fail "list --tag study-generalization: $n jobs, expected 7"
ok "study generalization tags its 7 jobs study-generalization"
"$DASHI" study generalization --seeds 9 > "$WORK/bad.txt" 2>&1 && fail "--seeds 9 accepted"
grep -q seeds "$WORK/bad.txt" || fail "--seeds 9: $(cat "$WORK/bad.txt")"
ok "study generalization --seeds out of range refused naming seeds"
