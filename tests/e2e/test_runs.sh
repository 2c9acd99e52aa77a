# End to end: runs you can name and find (issue #17). Names and tags at submit, tag and
# note (owner or root), list filtered by tag, parameter, name and group with a line when
# more rows exist, compare of any number of runs, a sweep queued whole or not at all,
# table in text, JSON and CSV, the Python client, and hostile input to the new ops.
. tests/e2e/lib.sh
need_second_user
start_shared_daemon "max_queued_jobs = 40"
les() { "$DASHI" --json submit les --N 16 --steps 10 --dt 0.01 "$@"; }

# ---- names, tags, notes
les --name "baseline run" --tag ref --tag cs-scan --wait > "$WORK/b.json" || fail "named les"
B=$(json "$WORK/b.json" "d['id']")
[ "$(json "$WORK/b.json" "(d['name'], d['tags'], d['group'])")" = "('baseline run', ['cs-scan', 'ref'], None)" ] \
  || fail "name and tags not in the record: $(json "$WORK/b.json" "(d['name'], d['tags'])")"
"$DASHI" tag "$B" keep good > /dev/null && "$DASHI" tag "$B" ref --rm > /dev/null || fail "tag"
"$DASHI" note "$B" first look: energy decays as it should > /dev/null || fail "note"
"$DASHI" --json show "$B" > "$WORK/bs.json"
json "$WORK/bs.json" "(d['tags'], [n['text'] for n in d['notes']])" \
  | grep -qx "(\['cs-scan', 'good', 'keep'\], \['first look: energy decays as it should'\])" \
  || fail "tags/notes after tag and note: $(json "$WORK/bs.json" "(d['tags'], d['notes'])")"
"$DASHI" show "$B" | grep -q "^  note .*: first look: energy decays" || fail "text show lists no note"
rc=0; as_nobody "$DASHI" --json --no-autostart tag "$B" mine > "$WORK/p.json" 2>/dev/null || rc=$?
[ $rc -eq 2 ] && [ "$(json "$WORK/p.json" "d['error']['code']")" = E_PERMISSION ] || fail "another user tagged: $rc"
rc=0; as_nobody "$DASHI" --json --no-autostart note "$B" hi > "$WORK/p.json" 2>/dev/null || rc=$?
[ $rc -eq 2 ] && [ "$(json "$WORK/p.json" "d['error']['code']")" = E_PERMISSION ] || fail "another user noted: $rc"
ok "name and tags at submit, tag/untag, note in show; others get E_PERMISSION"

# ---- sweep: the product as one group, validated whole
N0=$("$DASHI" --json list --limit 1 | "$PY" -c "import json,sys; print(json.load(sys.stdin)['total'])")
rc=0; "$DASHI" --json sweep les --N 16 --steps 10 --vary seed=0,1 --vary cs=0.17,-1 > "$WORK/bad.json" 2>/dev/null || rc=$?
[ $rc -eq 1 ] && [ "$(json "$WORK/bad.json" "(d['error']['code'], d['error']['field'])")" = "('E_BAD_VALUE', 'cs')" ] \
  || fail "bad vary value: rc $rc $(cat "$WORK/bad.json")"
json "$WORK/bad.json" "d['error']['message']" | grep -q "^run 2 of 4 (seed=0, cs=-1)" || fail "the run is not named"
rc=0; "$DASHI" --json sweep les --N 16 --vary sed=0,1 > "$WORK/bad.json" 2>/dev/null || rc=$?
[ $rc -eq 1 ] && [ "$(json "$WORK/bad.json" "d['error']['code']")" = E_UNKNOWN_FIELD ] || fail "bad vary key: $rc"
rc=0; "$DASHI" --json sweep les --N 16 --vary seed=$(seq -s, 0 40) > "$WORK/q.json" 2>/dev/null || rc=$?
[ $rc -eq 6 ] && [ "$(json "$WORK/q.json" "d['error']['field']")" = max_queued_jobs ] || fail "sweep beyond max_queued_jobs: $rc"
rc=0; "$DASHI" --json sweep les --vary seed=$(seq -s, 0 99) --vary cs=$(seq -s, 0.01 0.01 0.11) > "$WORK/big.json" 2>/dev/null || rc=$?
[ $rc -eq 1 ] && [ "$(json "$WORK/big.json" "d['error']['code']")" = E_TOO_LARGE ] || fail "1100 runs: $rc"
N1=$("$DASHI" --json list --limit 1 | "$PY" -c "import json,sys; print(json.load(sys.stdin)['total'])")
[ "$N0" = "$N1" ] || fail "a refused sweep queued jobs: $N0 -> $N1"
"$DASHI" --json sweep les --N 16 --steps 10 --dt 0.01 --vary seed=0,1,2 --vary cs=0.17,0.2 --name scan --tag sw \
  > "$WORK/sw.json" || fail "sweep: $(cat "$WORK/sw.json")"
G=$(json "$WORK/sw.json" "d['group']")
JOBS=$(json "$WORK/sw.json" "' '.join(map(str, d['jobs']))")
[ "$(echo $JOBS | wc -w)" = 6 ] || fail "6 runs expected: $JOBS"
for j in $JOBS; do "$DASHI" wait "$j" > /dev/null || fail "run $j"; done
"$DASHI" --json list --group "$G" > "$WORK/g.json"
"$PY" - "$WORK/g.json" "$G" <<'PY' || fail "the group's runs"
import json, sys
d = json.load(open(sys.argv[1])); g = int(sys.argv[2])
runs = sorted(d["jobs"], key=lambda r: r["id"])
assert d["total"] == 6 and all(r["group"] == g and r["group_name"] == "scan" and r["tags"] == ["sw"] for r in runs), d
assert [(r["params"]["seed"], r["params"]["cs"]) for r in runs] == \
    [(0, 0.17), (0, 0.2), (1, 0.17), (1, 0.2), (2, 0.17), (2, 0.2)], runs
PY
ok "sweep: bad key, bad value, over quota and over 1000 runs queue nothing; 3x2 is one group"

# ---- report of a group: the page holds every run of the sweep (the list op's group filter)
"$DASHI" --json report --group scan -o "$WORK/rep" > "$WORK/rep.json" 2> "$WORK/rep.err" \
  || { cat "$WORK/rep.err" "$WORK/rep.json"; fail "report --group scan"; }
"$PY" - "$WORK/rep.json" "$WORK/rep/index.html" $JOBS <<'PY' || fail "report of the group"
import json, sys
d = json.load(open(sys.argv[1])); page = open(sys.argv[2]).read(); want = sorted(int(j) for j in sys.argv[3:])
got = sorted(j if isinstance(j, int) else j["id"] for j in d["jobs"])
assert got == want, (got, want)
assert all(f"job {j}" in page or f">{j}<" in page for j in want), "a run missing from the page"
PY
rc=0; "$DASHI" report --group nosuch -o "$WORK/rep2" > /dev/null 2>&1 || rc=$?
[ $rc -eq 2 ] && [ ! -e "$WORK/rep2/index.html" ] || fail "report of an unknown group: exit $rc"
ok "report --group: the page of the sweep's 6 runs; an unknown group is exit 2, no page"

# ---- list filters, total, elapsed
"$DASHI" --json list --group scan --param cs=0.2 --param seed=1 > "$WORK/f.json"
[ "$(json "$WORK/f.json" "[(j['params']['seed'], j['params']['cs']) for j in d['jobs']]")" = "[(1, 0.2)]" ] \
  || fail "--param: $(json "$WORK/f.json" "[j['id'] for j in d['jobs']]")"
[ "$(json "$WORK/f.json" "d['total']")" = 1 ] || fail "total of a filtered list"
[ "$("$DASHI" --json list --tag good --tag keep | "$PY" -c "import json,sys; print([j['id'] for j in json.load(sys.stdin)['jobs']])")" = "[$B]" ] \
  || fail "--tag good --tag keep"
[ "$("$DASHI" --json list --name 'base*' | "$PY" -c "import json,sys; print([j['id'] for j in json.load(sys.stdin)['jobs']])")" = "[$B]" ] \
  || fail "--name glob"
[ "$("$DASHI" --json list --tag nosuch | "$PY" -c "import json,sys; d=json.load(sys.stdin); print(d['total'], d['jobs'])")" = "0 []" ] \
  || fail "a tag nobody has"
"$DASHI" list --limit 3 > "$WORK/l.txt"
grep -q "^3 of 7 shown" "$WORK/l.txt" || fail "no line saying more rows exist: $(cat "$WORK/l.txt")"
head -1 "$WORK/l.txt" | grep -q "ELAPSED .*NAME" || fail "no ELAPSED/NAME columns: $(head -1 "$WORK/l.txt")"
grep -q "^$(echo $JOBS | cut -d' ' -f6) .*[0-9.]*s  *scan " "$WORK/l.txt" || fail "elapsed/name cells: $(cat "$WORK/l.txt")"
"$DASHI" list > "$WORK/all.txt"; ! grep -q "shown" "$WORK/all.txt" || fail "'shown' line although every row is shown"
ok "list --group/--param/--tag/--name filter server-side; total, '3 of 7 shown', ELAPSED and NAME"

# ---- compare N-way
set -- $JOBS
"$DASHI" --json compare "$1" "$3" "$6" > "$WORK/c.json" || fail "compare of 3"
"$DASHI" --json show "$6" > "$WORK/s6.json"
"$PY" - "$WORK/c.json" "$WORK/s6.json" <<'PY' || fail "3-way compare"
import json, sys
c = json.load(open(sys.argv[1])); s6 = json.load(open(sys.argv[2]))
assert c["params"] == {"seed": [0, 1, 2], "cs": [0.17, 0.17, 0.2]}, c["params"]
e = c["metrics"]["energy_final"]
assert len(e["values"]) == 3 and e["values"][2] == s6["metrics"]["energy_final"], e
assert e["min"] == min(e["values"]) and e["max"] == max(e["values"]), e
PY
"$DASHI" compare "$1" "$3" "$6" | grep -q "^  seed  *0  *1  *2$" || fail "3-way text: $("$DASHI" compare "$1" "$3" "$6")"
ok "compare of 3 runs: differing params per run, metric values and range"

# ---- table
"$DASHI" table scan --col energy_final --col energy.T --col energy.0 --col energy@5 > "$WORK/t.txt" || fail "table"
[ "$(wc -l < "$WORK/t.txt")" = 7 ] || fail "table rows: $(cat "$WORK/t.txt")"
head -1 "$WORK/t.txt" | grep -q "^id  *name  *state  *cs  *seed  *energy_final  *energy.T  *energy.0  *energy@5$" \
  || fail "table header: $(head -1 "$WORK/t.txt")"
"$DASHI" --json table "group:$G" --col energy_final --col energy.T --col energy@5 > "$WORK/t.json"
"$DASHI" table scan --col energy.T --csv > "$WORK/t.csv"
"$DASHI" --json metrics "$6" --key energy > "$WORK/m6.json"
"$PY" - "$WORK" "$6" <<'PY' || fail "table contents"
import csv, json, sys
w, last = sys.argv[1], int(sys.argv[2])
t = json.load(open(f"{w}/t.json")); m = json.load(open(f"{w}/m6.json"))["metrics"]["energy"]
assert t["columns"] == ["id", "name", "state", "cs", "seed", "energy_final", "energy.T", "energy@5"], t["columns"]
rows = t["rows"]; assert len(rows) == 6 and [r["seed"] for r in rows] == [0, 0, 1, 1, 2, 2], rows
r = rows[-1]; assert r["id"] == last
assert r["energy.T"] == m["values"][-1] and r["energy@5"] == m["values"][m["steps"].index(5)], (r, m)
assert all(x["energy.T"] == x["energy_final"] for x in rows), rows
c = list(csv.reader(open(f"{w}/t.csv")))
assert c[0] == ["id", "name", "state", "cs", "seed", "energy.T"] and len(c) == 7, c
assert float(c[-1][5]) == r["energy.T"], c[-1]
PY
rc=0; "$DASHI" table scan --col nosuch > /dev/null 2>&1 || rc=$?; [ $rc -eq 2 ] || fail "a column no run has: exit $rc"
rc=0; "$DASHI" table nosuchgroup > /dev/null 2>&1 || rc=$?; [ $rc -eq 2 ] || fail "an unknown group: exit $rc"
rc=0; "$DASHI" table scan --col energy@x > /dev/null 2>&1 || rc=$?; [ $rc -eq 1 ] || fail "a bad column: exit $rc"
ok "table: varied params and metric columns in text, JSON and CSV; unknown column or group exit 2"

# ---- the Python client
PYTHONPATH=client/python "$PY" client/python/example_sweep.py 16 10 > "$WORK/py.out" 2>&1 \
  || { cat "$WORK/py.out"; fail "example_sweep.py"; }
ok "Python: sweep, wait, tag, note, table, list by tag (example_sweep.py)"

# ---- hostile input to the new ops and fields
"$PY" - "$DASHI_SOCKET" "$B" <<'PY' || fail "hostile input"
import sys
sys.path.insert(0, "tests/e2e")
from dashi_wire import call
sock, b = sys.argv[1], int(sys.argv[2])
les = {"N": 16, "steps": 2}
def refused(op, args, code, field):
    r = call(sock, op, args)
    assert r["ok"] is False and r["error"]["code"] == code and r["error"]["field"] == field, (op, args, r)
refused("submit", {"kind": "les", "args": les, "name": "x" * 129}, "E_BAD_VALUE", "name")
refused("submit", {"kind": "les", "args": les, "name": 7}, "E_BAD_TYPE", "name")
refused("submit", {"kind": "les", "args": les, "name": "a\x1bb"}, "E_BAD_VALUE", "name")
refused("submit", {"kind": "les", "args": les, "tags": ["t%d" % i for i in range(33)]}, "E_TOO_LARGE", "tags")
refused("submit", {"kind": "les", "args": les, "tags": ["a b"]}, "E_BAD_VALUE", "tags")
refused("submit", {"kind": "les", "args": les, "tags": ["x" * 65]}, "E_BAD_VALUE", "tags")
refused("submit", {"kind": "les", "args": les, "tags": {"a": 1}}, "E_BAD_TYPE", "tags")
refused("tag", {"id": b, "tags": []}, "E_MISSING_FIELD", "tags")
refused("tag", {"id": b, "tags": ["t%d" % i for i in range(30)]}, "E_TOO_LARGE", "tags")  # 3 + 30 > 32
refused("tag", {"id": 999999, "tags": ["a"]}, "E_NOT_FOUND", "id")
refused("note", {"id": b, "text": "x" * 4097}, "E_BAD_FRAME", None)  # the frame's string limit, before the op
refused("note", {"id": b, "text": ""}, "E_BAD_VALUE", "text")
refused("note", {"id": b, "text": b"\xc3"}, "E_BAD_TYPE", "text")
refused("note", {"id": b, "text": "ok\x00no"}, "E_BAD_VALUE", "text")
refused("note", {"id": b, "text": "bell\x07"}, "E_BAD_VALUE", "text")
assert call(sock, "note", {"id": b, "text": "x" * 4096})["ok"]  # 4 KiB is allowed
refused("list", {"param": "cs=0.2"}, "E_BAD_TYPE", "param")
refused("list", {"param": {"cs') OR 1=1 --": 1}}, "E_BAD_VALUE", "param")
refused("list", {"param": {"cs": [1]}}, "E_BAD_TYPE", "param")
refused("list", {"param": {"k%d" % i: 1 for i in range(9)}}, "E_TOO_LARGE", "param")
refused("list", {"group": -1}, "E_BAD_TYPE", "group")
refused("list", {"tag": ["t%d" % i for i in range(9)]}, "E_TOO_LARGE", "tag")
refused("sweep", {"kind": "les", "args": les}, "E_MISSING_FIELD", "vary")
refused("sweep", {"kind": "les", "args": les, "vary": [1, 2]}, "E_BAD_TYPE", "vary")
refused("sweep", {"kind": "les", "args": les, "vary": {"seed": []}}, "E_BAD_VALUE", "vary")
refused("sweep", {"kind": "les", "args": les, "vary": {"steps": [1, 2]}}, "E_BAD_VALUE", "vary")  # also in args
refused("sweep", {"kind": "les", "args": les, "vary": {"k%d" % i: [1] for i in range(17)}}, "E_TOO_LARGE", "vary")
refused("sweep", {"kind": "les", "args": les, "vary": {"seed": list(range(10)), "cs": [0.1] * 10,
                                                        "nu0": [0.01] * 11}}, "E_TOO_LARGE", "vary")
refused("sweep", {"kind": "nosuch", "vary": {"seed": [1]}}, "E_BAD_VALUE", "kind")
for i in range(62):
    assert call(sock, "note", {"id": b, "text": f"note {i}"})["ok"]
refused("note", {"id": b, "text": "one too many"}, "E_TOO_LARGE", "text")
r = call(sock, "list", {"name": "*", "tag": "good"})
assert r["ok"] and [j["id"] for j in r["result"]["jobs"]] == [b], r
print("ok - hostile names, tags, notes, filters and sweeps refused with the field named")
PY
ok "hostile input refused with the field named; 64 notes at most"
stop_daemon
