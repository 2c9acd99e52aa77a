# End to end: `dashi study closure` (docs/numerics.md "Closure depth across runs") at a tiny size:
# its jobs are stored as sweeps (a pipeline group and an atoms group per N), each value of its
# table is the stored summary of one of those jobs (checked here against `dashi metrics`, and the
# LES depths against the atoms jobs' per-frame series), the survival curve is a fraction that
# never rises with the level, and a rerun answers from the stored jobs.
. tests/e2e/lib.sh
start_daemon
"$DASHI" --json study closure --N 32,64 --steps 12 --seeds 2 --topk 16 --decode-every 6 --name c > "$WORK/study.json" \
  || fail "study: $(cat "$WORK/study.json")"
for id in $(json "$WORK/study.json" "' '.join(str(r[k]) for r in d['rows'] for k in ('atoms', 'decode'))"); do
  "$DASHI" --json metrics "$id" > "$WORK/m$id.json" || fail "metrics $id"
done
"$DASHI" --json list --group c-N32 > "$WORK/g32.json" || fail "list --group c-N32"
"$DASHI" --json list --group c-N64-atoms > "$WORK/g64a.json" || fail "list --group c-N64-atoms"
"$PY" - "$WORK" <<'PY' || fail "the study's table"
import json, sys
w = sys.argv[1]
t = json.load(open(f"{w}/study.json"))
rows, means = t["rows"], t["means"]
assert [(r["N"], r["seed"]) for r in rows] == [(32, 0), (32, 1), (64, 0), (64, 1)], rows
def metrics(i):
    return json.load(open(f"{w}/m{i}.json"))["metrics"]
def summary(i, k):
    s = metrics(i)[k]
    assert s["steps"] == [-1], (i, k, s)
    return s["values"][0]
alive = [f"closure.alive_fraction.L{k}" for k in range(1, 7)]
for r in rows:
    a, d = r["atoms"], r["decode"]
    assert r["les.closure_depth_mean"] == summary(a, "closure_depth_mean"), r
    assert r["les.closure_depth_max"] == summary(a, "closure_depth_max"), r
    assert r["decoded.closure_depth_mean"] == summary(d, "closure_depth_mean"), r
    assert r["decoded.closure_depth_max"] == summary(d, "closure_depth_max"), r
    assert r["annihilation_level_mean"] == summary(a, "annihilation_level_mean"), r
    for k in alive:
        assert r[k] == summary(a, k), (r, k)
    per_frame = metrics(a)["atoms.closure_depth"]["values"]
    assert len(per_frame) == 13, per_frame        # every LES frame (steps 12: frames 0..12)
    assert abs(sum(per_frame) / len(per_frame) - r["les.closure_depth_mean"]) < 1e-12, (per_frame, r)
    assert max(per_frame) == r["les.closure_depth_max"], (per_frame, r)
    assert min(r[k] for k in ("les.closure_depth_mean", "les.closure_depth_max", "decoded.closure_depth_mean",
                              "decoded.closure_depth_max")) >= 1, r
    f = [r[k] for k in alive]
    assert all(0 <= b <= a <= 1 for a, b in zip(f, f[1:])) and f[0] <= 1, f
    assert r["annihilation_level_mean"] >= 1, r
for m in means:
    mine = [r for r in rows if r["N"] == m["N"]]
    for k in ["les.closure_depth_mean", "decoded.closure_depth_mean"] + alive:
        assert abs(m[k] - sum(r[k] for r in mine) / len(mine)) < 1e-12, (m, k)
g32 = json.load(open(f"{w}/g32.json"))["jobs"]
assert sorted(j["id"] for j in g32) == sorted(r["pipeline"] for r in rows if r["N"] == 32), g32
g64a = json.load(open(f"{w}/g64a.json"))["jobs"]
assert sorted(j["id"] for j in g64a) == sorted(r["atoms"] for r in rows if r["N"] == 64), g64a
print("K mean:", [(m["N"], round(m["les.closure_depth_mean"], 3), round(m["decoded.closure_depth_mean"], 3)) for m in means])
PY
ok "study closure: every row's K and survival values are its jobs' stored metrics"

"$DASHI" --json study closure --N 32,64 --steps 12 --seeds 2 --topk 16 --decode-every 6 --name c > "$WORK/again.json" || fail "rerun"
for id in $(json "$WORK/again.json" "' '.join(str(r[k]) for r in d['rows'] for k in ('les', 'atoms', 'decode'))"); do
  "$DASHI" --json show "$id" > "$WORK/s$id.json" || fail "show $id"
  [ "$(json "$WORK/s$id.json" "d['reused_from'] is not None")" = True ] || fail "job $id of the rerun was run again"
done
"$PY" - "$WORK/study.json" "$WORK/again.json" <<'PY' || fail "the rerun's table differs"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
ids = ("pipeline", "les", "atoms", "decode")
strip = lambda rows: [{k: v for k, v in r.items() if k not in ids} for r in rows]
assert strip(a["rows"]) == strip(b["rows"]) and a["means"] == b["means"]
PY
"$DASHI" study closure --N 32 --steps 12 --seeds 2 --topk 16 --decode-every 6 --name c --csv > "$WORK/study.csv" || fail "--csv"
[ "$(head -1 "$WORK/study.csv" | cut -d, -f1-3)" = "N,seed,les" ] && [ "$(wc -l < "$WORK/study.csv")" -eq 4 ] \
  || fail "--csv: $(cat "$WORK/study.csv")"
ok "a rerun answers from the stored jobs (every stage and atoms job reused), same table; --csv"

"$DASHI" --json list --all > "$WORK/before.json"
rc=0; "$DASHI" --json study closure --N 33 > "$WORK/bad.json" 2>/dev/null || rc=$?
[ $rc -eq 1 ] && [ "$(json "$WORK/bad.json" "d['error']['field']")" = N ] || fail "--N 33: rc $rc $(cat "$WORK/bad.json")"
"$DASHI" --json list --all > "$WORK/after.json"
cmp -s "$WORK/before.json" "$WORK/after.json" || fail "a refused study submitted jobs"
ok "an odd --N refused naming N, nothing submitted"
stop_daemon
