# End to end: `pipeline` is a job kind of the daemon (docs/protocol.md "pipeline"). It is
# validated whole at submit (unknown or misspelt arguments, N against topk: refused, nothing
# queued); it has its own record whose stages are its children (list shows one row, --all
# the stages), the summary in its metrics (show, wait, Python), cancel cancels its stages,
# compare names the parameter that differs, figure draws it, and after a kill -9 during
# its LES the pipeline is interrupted, `resume PIPE` resumes the stage and it finishes.
. tests/e2e/lib.sh
printf 'checkpoint_every_s = 0.2\n' > "$WORK/dashid.conf"
start_daemon --config "$WORK/dashid.conf"
jobs_all() { "$DASHI" --json list --all | "$PY" -c "import json,sys; print(len(json.load(sys.stdin)['jobs']))"; }

# 1. Bad input is refused whole, naming the field, and queues nothing.
refused() { # FIELD ARGS...: the submission fails (exit 1) with an error naming FIELD
  want=$1; shift
  rc=0; "$DASHI" --json submit pipeline "$@" > "$WORK/err.json" || rc=$?
  [ $rc -eq 1 ] || fail "submit pipeline $*: exit $rc, want 1: $(cat "$WORK/err.json")"
  [ "$(json "$WORK/err.json" "d['error']['field']")" = "$want" ] || fail "submit pipeline $*: $(cat "$WORK/err.json")"
}
refused stpes --stpes 10
refused foo --N 32 --foo 1
refused topk --N 16
refused rollout_steps --N 32 --steps 5 --rollout-steps 9
[ "$(jobs_all)" = 0 ] || fail "a refused pipeline queued jobs: $("$DASHI" list --all)"
ok "--stpes, --foo, --N 16 (topk > the mid band), --rollout-steps > steps: refused naming the field, nothing queued"

# 2. One record, stages as children; its summary in show, wait and list.
SMALL="--N 32 --steps 10 --decode-every 5 --observer snapshots"
"$DASHI" --json submit pipeline $SMALL --wait > "$WORK/a.json" || { cat "$WORK/a.json"; fail "pipeline A"; }
A=$(json "$WORK/a.json" "d['id']")
"$DASHI" --json show "$A" > "$WORK/a_rec.json"
json "$WORK/a_rec.json" "d['kind'] == 'pipeline' and d['state'] == 'succeeded' and sorted(d['stages']) == \
['decode', 'les', 'rollout', 'train'] and d['progress'] == {'step': 4, 'total': 4}" | grep -qx True \
  || fail "pipeline record: $(cat "$WORK/a_rec.json")"
json "$WORK/a_rec.json" "d['metrics']['relL2_T'] == $(json "$WORK/a.json" "d['v4']['relL2']['T']") and \
d['metrics']['time.decode.wall_s'] > 0 and 'train.fit_residual' in d['metrics']" | grep -qx True \
  || fail "the summary is not in the pipeline's metrics: $(json "$WORK/a_rec.json" "d['metrics']")"
DEC=$(json "$WORK/a_rec.json" "d['stages']['decode']")
"$DASHI" --json show "$DEC" > "$WORK/dec.json"
[ "$(json "$WORK/dec.json" "d['parent']")" = "$A" ] || fail "decode stage's parent: $(json "$WORK/dec.json" "d['parent']")"
"$DASHI" show "$A" > "$WORK/show.txt"
grep -q "^relL2 " "$WORK/show.txt" && grep -q "les $(json "$WORK/a_rec.json" "d['stages']['les']") -> train" "$WORK/show.txt" \
  || { cat "$WORK/show.txt"; fail "show PIPE prints no summary"; }
"$DASHI" --json wait "$A" > "$WORK/w.json" || fail "wait PIPE"
[ "$(json "$WORK/w.json" "d['state']")" = succeeded ] || fail "wait PIPE: $(cat "$WORK/w.json")"
[ "$("$DASHI" --json list | "$PY" -c "import json,sys; print([j['kind'] for j in json.load(sys.stdin)['jobs']])")" = \
  "['pipeline']" ] || fail "list does not fold the stages: $("$DASHI" list)"
[ "$(jobs_all)" = 5 ] || fail "list --all: $("$DASHI" list --all)"
ok "one pipeline record (stages its children), summary in show/wait, list folds the stages, --all shows them"

# 3. compare names the parameter that differs; figure takes the pipeline.
"$DASHI" --json submit pipeline $SMALL --cs 0.2 --wait > "$WORK/b.json" || fail "pipeline B"
B=$(json "$WORK/b.json" "d['id']")
"$DASHI" compare "$A" "$B" > "$WORK/cmp.txt" || fail "compare $A $B"
grep -Eq "cs +0.17 -> 0.2" "$WORK/cmp.txt" || { cat "$WORK/cmp.txt"; fail "compare of two pipelines does not show cs"; }
"$DASHI" figure "$A" -o "$WORK/fig.png" > "$WORK/fig.txt" || { cat "$WORK/fig.txt"; fail "figure PIPE"; }
[ -s "$WORK/fig.png" ] || fail "figure PIPE wrote nothing"
ok "compare PIPE_A PIPE_B shows cs 0.17 -> 0.2; figure PIPE draws its decode stage"

# 4. Python: submit("pipeline"), wait, summary (identical to A: its stages are reused).
"$PY" - "$A" <<'PY' || fail "Python pipeline"
import sys
sys.path.insert(0, "client/python")
import dashi_client
c = dashi_client.connect()
rec = c.submit("pipeline", N=32, steps=10, decode_every=5, observer="snapshots")
assert rec["kind"] == "pipeline" and sorted(rec["stages"]) == ["decode", "les", "rollout", "train"], rec
end = c.wait(rec["id"])
assert end["state"] == "succeeded", end
a = c.summary(int(sys.argv[1]))
s = c.summary(rec["id"])
assert s["relL2_T"] == a["relL2_T"] and s["corr_T"] == a["corr_T"], (s, a)
try:
    c.submit("pipeline", N=32, stpes=10)
    raise SystemExit("a misspelt argument was accepted")
except dashi_client.DashiError as e:
    assert e.code == "E_UNKNOWN_FIELD" and e.field == "stpes", e
PY
ok "Python: submit('pipeline'), wait, summary; a misspelt argument raises naming it"

# 5. cancel PIPE cancels its stages (the LES running, the others waiting).
"$DASHI" --json submit pipeline --N 32 --steps 100000 --decode-every 1000 > "$WORK/c.json"
C=$(json "$WORK/c.json" "d['id']")
wait_state "$(json "$WORK/c.json" "d['stages']['les']")" running
"$DASHI" cancel "$C" > /dev/null || fail "cancel PIPE"
rc=0; "$DASHI" --json wait "$C" > "$WORK/cw.json" || rc=$?
[ "$(json "$WORK/cw.json" "d['state']")" = cancelled ] && [ $rc -ne 0 ] || fail "wait after cancel: $rc $(cat "$WORK/cw.json")"
"$DASHI" --json list --all > "$WORK/cl.json"
"$PY" - "$WORK/cl.json" "$C" <<'PY' || fail "cancel PIPE left stages active"
import json, sys
jobs = [j for j in json.load(open(sys.argv[1]))["jobs"] if j["parent"] == int(sys.argv[2])]
assert len(jobs) == 4 and all(j["state"] == "cancelled" for j in jobs), [(j["kind"], j["state"]) for j in jobs]
PY
json "$WORK/cw.json" "d['error']['message']" | grep -q "^stage les (job" || fail "the cancel does not name the stage"
ok "cancel PIPE: every stage cancelled, the pipeline's error names the stage"

# 6. kill -9 while its LES runs: interrupted after the restart; resume PIPE finishes it.
"$DASHI" --json submit pipeline --N 32 --steps 200 --decode-every 100 > "$WORK/k.json"
K=$(json "$WORK/k.json" "d['id']")
KLES=$(json "$WORK/k.json" "d['stages']['les']")
kill9_after_checkpoint "$KLES" 0
start_daemon --config "$WORK/dashid.conf"
"$DASHI" --json show "$K" > "$WORK/k2.json"
[ "$(json "$WORK/k2.json" "d['state']")" = interrupted ] || fail "after kill -9: $(json "$WORK/k2.json" "d['state']")"
[ "$(json "$WORK/k2.json" "d['progress']['step']")" = 0 ] || fail "progress after kill -9"
"$DASHI" resume "$K" > /dev/null || fail "resume PIPE"
"$DASHI" --json wait "$K" > "$WORK/kw.json" || fail "resumed pipeline: $(cat "$WORK/kw.json")"
[ "$(json "$WORK/kw.json" "d['state']")" = succeeded ] || fail "resumed pipeline: $(cat "$WORK/kw.json")"
ok "kill -9 during the LES stage: the pipeline is interrupted, resume PIPE resumes it and it succeeds"

# 7. --drop-intermediate: the LES stage's trajectory is released once train and decode used it.
"$DASHI" --json submit pipeline --N 32 --steps 10 --seed 7 --drop-intermediate --wait > "$WORK/d.json" \
  || { cat "$WORK/d.json"; fail "pipeline --drop-intermediate"; }
D=$(json "$WORK/d.json" "d['id']")
"$DASHI" --json show "$D" > "$WORK/d_rec.json"
DL=$(json "$WORK/d_rec.json" "d['stages']['les']")
"$DASHI" --json show "$DL" > "$WORK/dl.json"
json "$WORK/dl.json" "d['params']['keep'] == 'until-consumed' and 'trajectory' in (d.get('released') or {}) \
and 'trajectory' not in d['outputs']" | grep -qx True || fail "the LES trajectory was not released: $(cat "$WORK/dl.json")"
[ "$(json "$WORK/d_rec.json" "d['state']")" = succeeded ] || fail "pipeline with --drop-intermediate: $(cat "$WORK/d_rec.json")"
ok "--drop-intermediate: the pipeline succeeds and its LES trajectory is released after train and decode"
stop_daemon
