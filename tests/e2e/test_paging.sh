# End to end: replies that grow with the data are pages (docs/protocol.md "Paging").
# A rollout hashed at every step has one hash per step: 250,000 steps made an 11 MB reply
# before paging, which no client could read. 20,000 steps (5 pages; 7 min for 250,000
# under ASan on lavapipe) already exceed one reply's 4096-entry array limit.
. tests/e2e/lib.sh
start_daemon
A=$("$DASHI" put tests/data/A.npy)
Z=$("$DASHI" put tests/data/z_t0000.npy)
STEPS=20000
"$DASHI" --json submit rollout --op "$A" --z0 "$Z" --steps $STEPS --hash-every 1 --wait > "$WORK/r.json"
ID=$(json "$WORK/r.json" "d['id']")
[ "$(json "$WORK/r.json" "d['state']")" = succeeded ] || fail "rollout: $(cat "$WORK/r.json")"
"$DASHI" hashes "$ID" > "$WORK/h.txt" || fail "dashi hashes failed"
ROWS=$(grep -o "[0-9a-f]\{32\}" "$WORK/h.txt" | wc -l)
"$DASHI" --json hashes "$ID" > "$WORK/h.json" || fail "dashi --json hashes failed"
N=$(json "$WORK/h.json" "len(d['hashes'])")
[ "$N" -ge $STEPS ] || fail "--json hashes gave $N rows, want at least $STEPS"
[ "$(json "$WORK/h.json" "len(set((h['traj'], h['step']) for h in d['hashes']))")" = "$N" ] || fail "rows repeated"
[ "$ROWS" = "$N" ] || fail "text output has $ROWS hashes, JSON $N"
ok "dashi hashes prints all $N hashes ($(wc -c < "$WORK/h.txt") bytes of text), one JSON document"

PYTHONPATH=client/python "$PY" - "$ID" <<'PYEOF' || fail "raw paged request"
import sys, dashi_client
c = dashi_client.connect()
p = c.call("hashes", {"id": int(sys.argv[1]), "limit": 10})
assert len(p["hashes"]) == 10 and isinstance(p["next"], str), p
q = c.call("hashes", {"id": int(sys.argv[1]), "limit": 10, "cursor": p["next"]})
assert (q["hashes"][0]["traj"], q["hashes"][0]["step"]) > (p["hashes"][-1]["traj"], p["hashes"][-1]["step"])
try:
    c.call("hashes", {"id": int(sys.argv[1]), "limit": 5000})
    raise SystemExit("a page above the maximum was accepted")
except dashi_client.DashiError as e:
    assert e.code == "E_BAD_VALUE" and e.field == "limit", e
print("ok - a raw request with limit 10 gets 10 hashes and a next cursor; the cursor continues after them")
PYEOF

# atoms, events, audit and lineage of an atoms job over a synthetic trajectory: two
# vortices drifting through 4200 frames (N=16) give 8400 atoms, 8398 edges and audit
# rows, and an ancestry of 4199 edges: more than one 4096-row page each.
"$PY" - "$WORK/vortices.npy" <<'PYEOF'
import sys, numpy as np
F, N = 4200, 16
y, x = np.mgrid[0:N, 0:N] * (2 * np.pi / N)
a = 0.3 * np.sin(np.arange(F) / 300)[:, None, None]
w = np.exp(-((x - 2.0 - a) ** 2 + (y - 2.0) ** 2) / 0.3) - 0.8 * np.exp(-((x - 4.5) ** 2 + (y - 4.0 - a) ** 2) / 0.3)
np.save(sys.argv[1], w)
PYEOF
FROM=$("$DASHI" put "$WORK/vortices.npy")
"$DASHI" --json submit atoms --from "$FROM" --wait > "$WORK/atoms.json" || fail "atoms job: $(cat "$WORK/atoms.json")"
AT=$(json "$WORK/atoms.json" "d['id']")
for o in atoms lineage atom_audit; do
  "$DASHI" get "$(json "$WORK/atoms.json" "d['outputs']['$o']")" -o "$WORK/$o.npy" > /dev/null || fail "get $o"
done
for q in atoms events audit; do
  "$DASHI" --json $q "$AT" > "$WORK/$q.json" || fail "dashi --json $q"
  "$DASHI" $q "$AT" > "$WORK/$q.txt" || fail "dashi $q"
done
"$DASHI" --json atoms "$AT" --limit 4097 > "$WORK/atoms4097.json" || fail "dashi atoms --limit 4097"
"$DASHI" --json lineage "$AT" --atom 4199:0 --ancestors > "$WORK/lineage.json" || fail "dashi --json lineage"
"$DASHI" lineage "$AT" --atom 4199:0 --ancestors > "$WORK/lineage.txt" || fail "dashi lineage"
"$DASHI" atoms "$AT" --offset 5 > /dev/null 2> "$WORK/offset.err" && fail "dashi atoms --offset was accepted"
grep -q "offset" "$WORK/offset.err" || fail "--offset refused without naming it: $(cat "$WORK/offset.err")"
PYTHONPATH=client/python "$PY" - "$WORK" "$AT" <<'PYEOF' || fail "atoms queries are not complete or not paged"
import sys, json, numpy as np, dashi_client
w, at = sys.argv[1], int(sys.argv[2])
A = np.load(f"{w}/atoms.npy"); L = np.load(f"{w}/lineage.npy"); U = np.load(f"{w}/atom_audit.npy")
kinds = ["continuation", "split", "merge", "birth", "death"]
def text_rows(name):  # the rows of dashi's text output: "STEP ..." lines, or edges "FROM -> TO ..."
    return [l for l in open(f"{w}/{name}.txt") if " -> " in l or l.split() and l.split()[0].isdigit()]
a = json.load(open(f"{w}/atoms.json"))
assert len(A) > 4096 and a["next"] is None and a["atoms_total"] == len(A), (len(A), a["atoms_total"])
assert [(x["step"], x["idx"], x["sigma"], x["cells"]) for x in a["atoms"]] == [(int(r[0]), int(r[1]), int(r[2]), int(r[9])) for r in A]
assert len(text_rows("atoms")) == len(A), len(text_rows("atoms"))
assert len(json.load(open(f"{w}/atoms4097.json"))["atoms"]) == 4097
edge = lambda e: (e["parent_step"], e["parent_idx"], e["child_step"], e["child_idx"], kinds.index(e["kind"]))
ev = json.load(open(f"{w}/events.json"))
assert len(L) > 4096 and sorted(map(edge, ev["edges"])) == sorted(tuple(int(v) for v in r[:5]) for r in L)
assert len(text_rows("events")) == len(L)
au = json.load(open(f"{w}/audit.json"))
assert len(U) > 4096 and sorted((r["step"], r["idx"], kinds.index(r["event"])) for r in au["rows"]) == \
    sorted((int(r[0]), int(r[1]), int(r[2])) for r in U)
assert len(text_rows("audit")) == len(U)
lin = json.load(open(f"{w}/lineage.json"))

c = dashi_client.connect()
def paged(op, args, rows, limit):  # rows of every page of `limit`, in order, none repeated
    out, pages = [], 0
    for r in c.replies(op, {**args, "limit": limit}):
        out += r[rows]
        pages += 1
    return out, pages
dashi_rows = {"atoms": a["atoms"], "events": ev["edges"], "audit": au["rows"], "lineage": lin["edges"]}
for op, args, rows in [("atoms", {}, "atoms"), ("events", {}, "edges"), ("events", {"kind": "continuation"}, "edges"),
                       ("audit", {}, "rows"), ("lineage", {"step": 4199, "idx": 0, "direction": "ancestors"}, "edges")]:
    args = {"id": at, **args}
    big, big_pages = paged(op, args, rows, 4096)
    small, pages = paged(op, args, rows, 97)
    assert small == big and len(big) > 4096 and big_pages == (len(big) + 4095) // 4096 and pages == (len(small) + 96) // 97, \
        (op, args, len(big), big_pages, pages)
    assert "kind" in args or big == dashi_rows[op], op
# cursors that these ops did not make: another op's, another layout, not a number
hashes_cursor = c.call("hashes", {"id": 1, "limit": 1})["next"]
events_cursor = c.call("events", {"id": at, "limit": 1})["next"]
atoms_cursor = c.call("atoms", {"id": at, "limit": 1})["next"]
hostile = [hashes_cursor, events_cursor, atoms_cursor + ":1", "atoms:1", "atoms:1:x", "atoms: 1:2", "atoms:+1:2",
           "atoms:99999999999999999999:0", "atoms:1:2\n", "lineage:0:0:0:0:0", "atoms:1:" + "0" * 200, "x" * 200, 7, [1]]
for op in ["atoms", "events", "audit", "lineage"]:
    extra = {"step": 4199, "idx": 0} if op == "lineage" else {}
    for cur in hostile:
        if isinstance(cur, str) and cur.startswith(op + ":") and cur.count(":") == {"atoms": 2, "events": 4, "audit": 4, "lineage": 5}[op]:
            continue  # a well-formed cursor of this op
        try:
            c.call(op, {"id": at, "cursor": cur, **extra})
            raise SystemExit(f"{op} accepted cursor {cur!r}")
        except dashi_client.DashiError as e:
            want = "E_BAD_VALUE" if isinstance(cur, str) else "E_BAD_TYPE"
            assert (e.code, e.field) == (want, "cursor"), (op, str(cur)[:40], e.code, e.field, e.message)
    try:
        c.call(op, {"id": at, "offset": 5, **extra})
        raise SystemExit(f"{op} accepted offset")
    except dashi_client.DashiError as e:
        assert (e.code, e.field) == ("E_UNKNOWN_FIELD", "offset"), (op, e.code, e.field)
assert c.call("ping")["protocol"] >= 1  # the connection stayed usable
print(f"ok - atoms {len(A)}, edges {len(L)}, audit {len(U)}, ancestors {len(lin['edges'])}: dashi prints all; "
      f"pages of 97 equal pages of 4096 and what dashi printed; {len(hostile)} foreign or hostile cursors refused per op")
PYEOF

# The Python client follows the cursors of list and metrics too.
PYTHONPATH=client/python "$PY" - "$AT" <<'PYEOF' || fail "the Python client does not follow list or metrics pages"
import sys, dashi_client
c = dashi_client.connect()
ids = [j["id"] for j in c.list(page=1)]
assert len(ids) >= 2 and ids == [j["id"] for j in c.call("list", {"limit": 100})["jobs"]], ids
assert [j["id"] for j in c.list(limit=2, page=1)] == ids[:2]
rows = sum(len(s["steps"]) for r in c.replies("metrics", {"id": int(sys.argv[1]), "limit": 1000}) for s in r["metrics"].values())
series, summary = c.metrics(int(sys.argv[1]))
assert rows > 4096 and rows == sum(len(s[0]) for s in series.values()) + len(summary), (rows, len(summary))
print(f"ok - list in pages of 1 gives all {len(ids)} jobs; metrics() joins {rows} rows over pages")
PYEOF
stop_daemon
