# End to end (issue #17 "help from one source; readable output; no silent empties"), one
# daemon and three small jobs: --version and per-command and per-kind help; "did you mean"
# for a mistyped command, kind, option, list filter, metric key; readable metrics, hashes
# and show; errors, not empty answers, for a step or atom that was never tracked; show
# and wait of several jobs; one JSON document for usage errors and an over-long plot.
# Every check runs (a failure is counted, not fatal), so a run on older code lists each
# problem it still has.
. tests/e2e/lib.sh
start_daemon
FAILED=0
check() { # check DESCRIPTION COMMAND...: the command must succeed
  what=$1; shift
  if "$@"; then ok "$what"; else echo "FAIL: $what" >&2; FAILED=$((FAILED + 1)); fi
}
# run OUT ERR ARGS...: runs dashi, stdout to $WORK/OUT, stderr to $WORK/ERR; sets RC
run() { out=$1 err=$2; shift 2; RC=0; "$DASHI" "$@" > "$WORK/$out" 2> "$WORK/$err" || RC=$?; }
has() { grep -q -- "$2" "$WORK/$1"; }
# one_json FILE [EXPR]: FILE is exactly one JSON document (and EXPR over it `d` is true)
one_json() { "$PY" -c "import json,sys; d=json.loads(open(sys.argv[1]).read()); assert ${2:-True}, d" "$WORK/$1" \
  2> /dev/null; }

# ---- version and help (no daemon needed, except for a kind)
run v.txt v.err --version
check "--version exits 0 with the version and protocol" \
  sh -c "[ $RC -eq 0 ] && grep -Eq '^dashi [0-9]+\.[0-9]+\.[0-9]+ \(protocol [0-9]+\)$' '$WORK/v.txt'"
run v.json v.err --json --version
check "--json --version is one document" one_json v.json "d['protocol'] >= 1 and d['dashi']"
run h.txt h.err help
check "help lists every command" sh -c "[ $RC -eq 0 ] && grep -q '^  submit ' '$WORK/h.txt' && grep -q '^  help ' '$WORK/h.txt'"
run hs.txt hs.err --no-autostart --socket /nonexistent/s help submit
check "help submit: its usage and options, without a daemon" \
  sh -c "[ $RC -eq 0 ] && grep -q '^usage: dashi \[--json\] submit KIND' '$WORK/hs.txt' && grep -q -- '--time-limit S' '$WORK/hs.txt' && ! grep -q '^  ping' '$WORK/hs.txt'"
run mh.txt mh.err metrics --help
check "metrics --help is the usage of metrics, not the global one" \
  sh -c "[ $RC -eq 0 ] && grep -q '^usage: dashi \[--json\] metrics ID' '$WORK/mh.txt' && ! grep -q '^  ping' '$WORK/mh.txt'"
run kh.txt kh.err submit les --help
check "submit les --help lists les's arguments with defaults" \
  sh -c "[ $RC -eq 0 ] && grep -Eq '^  steps +integer +default 300 ' '$WORK/kh.txt' && grep -Eq '^  save_every ' '$WORK/kh.txt'"
run hk.txt hk.err help les
check "help les is the same as submit les --help" cmp -s "$WORK/hk.txt" "$WORK/kh.txt"

# ---- did you mean
run c.txt c.err sumbit
check "a mistyped command names the nearest (exit 1)" sh -c "[ $RC -eq 1 ] && grep -q 'did you mean submit?' '$WORK/c.err'"
run c.json c.err --json sumbit
check "--json: the mistyped command is one JSON error" one_json c.json "d['error']['field'] == 'command'"
run k.json k.err --json submit lse
check "a mistyped kind names the nearest" \
  sh -c "[ $RC -eq 1 ] && grep -q 'did you mean les?' '$WORK/k.err'"
run o.json o.err --json submit les --stpes 10
check "a mistyped option is refused naming the nearest, as an option" \
  sh -c "[ $RC -eq 1 ] && grep -q 'unknown option --stpes for les; did you mean --steps?' '$WORK/o.err'"
check "... as one JSON error naming the option" one_json o.json "d['error']['field'] == 'stpes'"
run lk.txt lk.err list --kind lse
check "list --kind lse is an error naming les (exit 2), not an empty list" \
  sh -c "[ $RC -eq 2 ] && grep -q 'did you mean les?' '$WORK/lk.err'"
WIRE=0; "$PY" - "$DASHI_SOCKET" > "$WORK/wire.txt" 2>&1 <<'PY' || WIRE=$?
import sys
sys.path.insert(0, "tests/e2e")
from dashi_wire import call
r = call(sys.argv[1], "submit", {"kind": "les", "args": {"stpes": 10}})
assert r["error"]["code"] == "E_UNKNOWN_FIELD" and 'did you mean "steps"?' in r["error"]["message"], r
PY
check "the daemon's own unknown-argument error names the nearest (not only dashi's)" [ $WIRE -eq 0 ]
run l0.json l0.err --json list
check "nothing was queued by the refused submissions" one_json l0.json "d['jobs'] == []"

# ---- three small jobs
"$DASHI" --json submit les --N 32 --steps 40 --save-every 1 --wait > "$WORK/les.json" || fail "les job"
L=$(json "$WORK/les.json" "d['id']")
"$DASHI" --json submit atoms --from "$L" --every 20 --wait > "$WORK/atoms.json" || fail "atoms job"
A=$(json "$WORK/atoms.json" "d['id']")
"$DASHI" --json submit rollout --op tests/data/A.npy --z0 tests/data/z_t0000.npy --steps 30 --hash-every 10 --wait \
  > "$WORK/r.json" || fail "rollout job"
R=$(json "$WORK/r.json" "d['id']")

# ---- readable text
run m.txt m.err metrics "$L"
check "metrics: a table of series (41 points of energy), then the summary, on short lines" \
  sh -c "grep -Eq '^energy +41 ' '$WORK/m.txt' && grep -q '^summary:' '$WORK/m.txt' && grep -Eq '^  energy_final ' '$WORK/m.txt' && [ \$(wc -L < '$WORK/m.txt') -lt 120 ]"
run m.json m.err --json metrics "$L"
check "metrics --json keeps its shape" one_json m.json "len(d['metrics']['energy']['steps']) == 41 and d['next'] is None"
run mk.txt mk.err metrics "$L" --key nosuch
check "metrics --key nosuch is an error listing the keys (exit 2)" \
  sh -c "[ $RC -eq 2 ] && grep -q 'its keys: energy' '$WORK/mk.err' && [ ! -s '$WORK/mk.txt' ]"
run mk.txt mk.err metrics "$L" --key enrgy
check "metrics --key enrgy names energy" sh -c "[ $RC -eq 2 ] && grep -q 'did you mean energy?' '$WORK/mk.err'"
run hs.txt hs.err hashes "$R"
"$DASHI" --json hashes "$R" > "$WORK/hs.json"
NH=$(json "$WORK/hs.json" "len(d['hashes'])")
check "hashes: one line per hash under a header" \
  sh -c "[ $NH -ge 3 ] && [ \$(grep -Ec '^ +[0-9]+ +[0-9]+  [0-9a-f]{32}$' '$WORK/hs.txt') -eq $NH ] && [ \$(wc -l < '$WORK/hs.txt') -eq \$(($NH + 1)) ]"
run s.txt s.err show "$L"
check "show: the GPU time, the times and the state events" \
  sh -c "grep -Eq '^  gpu time +[0-9.]+ s$' '$WORK/s.txt' && grep -q 'ran [0-9.]* s' '$WORK/s.txt' && grep -Eq '^    .* queued$' '$WORK/s.txt' && grep -Eq '^    .* succeeded$' '$WORK/s.txt'"

# ---- never-tracked steps and atoms
run as.txt as.err atoms "$A" --step 5
check "atoms --step 5 is an error naming the tracked steps 0 and 20 (exit 2)" \
  sh -c "[ $RC -eq 2 ] && grep -q 'nearest tracked steps: 0 and 20' '$WORK/as.err'"
run at.txt at.err atoms "$A" --step 20
check "atoms --step 20 (tracked) still lists its atoms" sh -c "[ $RC -eq 0 ] && grep -Eq '^ +20 +0 ' '$WORK/at.txt'"
run la.txt la.err lineage "$A" --atom 5:0
check "lineage --atom 5:0 is an error (exit 2)" sh -c "[ $RC -eq 2 ] && grep -q 'nearest tracked steps: 0 and 20' '$WORK/la.err'"
run li.txt li.err --json lineage "$A" --atom 0:9999
check "lineage --atom 0:9999 is an error naming idx" one_json li.txt "d['error']['field'] == 'idx'"

# ---- several ids
run w.json w.err --json wait "$L" "$A"
check "wait L A waits for both: one document with both records" one_json w.json "[j['id'] for j in d['jobs']] == [$L, $A]"
run s2.txt s2.err show "$L" "$A"
check "show L A prints both records" sh -c "[ \$(grep -c '^job ' '$WORK/s2.txt') -eq 2 ]"
run s3.json s3.err --json show "$L" 999
check "show L 999: the missing job is an error (exit 2), one document" \
  sh -c "[ $RC -eq 2 ] && $PY -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d[\"error\"][\"field\"] == \"id\"' '$WORK/s3.json'"

# ---- one JSON document for usage errors
run p.json p.err --json plot "$L" "$L" "$L" "$L" "$L" --key energy -o "$WORK/p.png"
check "--json plot with 5 jobs prints one JSON error" one_json p.json "d['error']['field'] == 'id'"
run u.json u.err --json
check "--json without a command prints one JSON error" one_json u.json "d['error']['field'] == 'command'"
run u2.json u2.err --json show $(seq 1 33)
check "--json with too many words prints one JSON error" one_json u2.json "d['error']['code'] == 'E_TOO_LARGE'"

stop_daemon
[ $FAILED -eq 0 ] || fail "$FAILED checks failed"
