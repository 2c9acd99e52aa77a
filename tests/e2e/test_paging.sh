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
stop_daemon
