# End to end: a store made in the pre-chunk-tree format (blob files under their old name,
# BLAKE2b-256 of the file, and database rows naming them, at schema version 5) is
# re-addressed by migration 006 when the daemon starts: killed with -9 in the middle of it
# twice (DASHI_MIGRATE_FAULT, after a commit and after a link), the next start completes
# it; then every file is named by its chunk-tree address and has its sidecar, old names
# still resolve (get, blob_info, job inputs), the rows were rewritten, and fsck is clean.
# The chunk checks of the data plane: a ranged get of a damaged chunk is refused while a
# clean range of the same blob is served, and a job whose input has a damaged chunk past
# the first fails with E_CORRUPT when it reaches it.
. tests/e2e/lib.sh
BLOBS="$DASHI_STATE_DIR/blobs"

# A store with a job and its inputs and outputs, then turned into the old format.
start_daemon
put_reference_rollout
"$DASHI" --json submit rollout --op "$A" --z0 "$Z" --steps 40 --wait > "$WORK/r1.json" || fail "rollout"
R1=$(json "$WORK/r1.json" "d['id']")
stop_daemon
"$PY" - "$DASHI_STATE_DIR" > "$WORK/renames.txt" <<'PY' || fail "making the old-format store"
import glob, hashlib, os, sqlite3, sys
state = sys.argv[1]
db = sqlite3.connect(os.path.join(state, "dashid.db"))
for path in glob.glob(os.path.join(state, "blobs", "??", "*.npy")):
    new = os.path.basename(path)[:-4]
    data = open(path, "rb").read()
    old = hashlib.blake2b(data, digest_size=32).hexdigest()
    os.makedirs(os.path.join(state, "blobs", old[:2]), exist_ok=True)
    os.rename(path, os.path.join(state, "blobs", old[:2], old + ".npy"))
    if os.path.exists(path[:-4] + ".chunks"):  # the format before the chunk tree had none
        os.unlink(path[:-4] + ".chunks")
    for sql in ("UPDATE blobs SET hash = ?2 WHERE hash = ?1", "UPDATE job_blobs SET hash = ?2 WHERE hash = ?1",
                "UPDATE jobs SET checkpoint = ?2 WHERE checkpoint = ?1",
                "UPDATE jobs SET params_json = replace(params_json, ?1, ?2)"):
        db.execute(sql, (new, old))
    for jid, mp in db.execute("SELECT id, params_mp FROM jobs").fetchall():
        db.execute("UPDATE jobs SET params_mp = ? WHERE id = ?", (mp.replace(new.encode(), old.encode()), jid))
    print(old, new)
db.commit()
db.close()
# A real old store has no shard directory for a new name: the shards the old names left empty go.
for shard in glob.glob(os.path.join(state, "blobs", "??")):
    if not os.listdir(shard):
        os.rmdir(shard)
# The database as schema version 5 left it: made anew from migrations 1 to 5 and holding
# every row of the tables and columns that existed then, so that every later migration
# (not only 006) runs on it as on a real old store.
path = os.path.join(state, "dashid.db")
os.rename(path, path + ".full")
for suffix in ("-wal", "-shm"):
    if os.path.exists(path + suffix):
        os.unlink(path + suffix)
db = sqlite3.connect(path)
for sql in sorted(glob.glob("schema/00[1-5]_*.sql")):
    db.executescript(open(sql).read())
db.execute("ATTACH DATABASE ? AS full", (path + ".full",))
tables = [r[0] for r in db.execute("SELECT name FROM main.sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
for t in tables:
    have = {r[1] for r in db.execute(f"PRAGMA full.table_info({t})")}
    cols = ", ".join(r[1] for r in db.execute(f"PRAGMA main.table_info({t})") if r[1] in have)
    db.execute(f"INSERT INTO main.{t} ({cols}) SELECT {cols} FROM full.{t}")
db.commit()
db.execute("DETACH DATABASE full")
db.execute("PRAGMA user_version = 5")
db.commit()
db.close()
os.unlink(path + ".full")
PY
N=$(wc -l < "$WORK/renames.txt")
[ "$N" -ge 3 ] || fail "only $N blobs in the fixture store"
OLD_A=$(awk -v h="$A" '$2 == h {print $1}' "$WORK/renames.txt")
OLD_Z=$(awk -v h="$Z" '$2 == h {print $1}' "$WORK/renames.txt")
[ -n "$OLD_A" ] && [ -n "$OLD_Z" ] || fail "the fixture lacks the inputs"
ok "a schema-5 store with $N blobs under their old BLAKE2b names"

# Killed twice in the middle of the re-addressing, each time at another step.
for fault in kill_after_commit:2 kill_after_link:1; do
  rc=0
  env DASHI_MIGRATE_FAULT=$fault LD_PRELOAD="${DASHI_TEST_PRELOAD:-}" timeout 60 "$DASHID" --foreground \
    --socket "$DASHI_SOCKET" --state-dir "$DASHI_STATE_DIR" >> "$WORK/dashid.log" 2>&1 || rc=$?
  [ $rc -eq 137 ] || { tail -n 20 "$WORK/dashid.log"; fail "DASHI_MIGRATE_FAULT=$fault: exit $rc, not a kill -9"; }
done
grep -q "DASHI_MIGRATE_FAULT: killed" "$WORK/dashid.log" || fail "the fault hook did not fire"
ok "killed -9 twice mid-migration (after a commit, after a link)"

start_daemon
grep -q "migration 006: .* re-addressed" "$WORK/dashid.log" || { cat "$WORK/dashid.log"; fail "no re-addressing reported"; }
"$PY" - "$DASHI_STATE_DIR" "$WORK/renames.txt" <<'PY' || fail "the store after the migration"
import glob, os, sqlite3, sys
sys.path.insert(0, "tests/e2e")
from dashi_wire import blob_address
state, renames = sys.argv[1:]
pairs = dict(line.split() for line in open(renames))
files = glob.glob(os.path.join(state, "blobs", "??", "*.npy"))
for path in files:
    name = os.path.basename(path)[:-4]
    assert blob_address(open(path, "rb").read()) == name, f"{path} is not named by its address"
    assert os.path.getsize(path[:-4] + ".chunks") % 32 == 0, f"{path}: no sidecar"
names = {os.path.basename(p)[:-4] for p in files}
assert not names & set(pairs), f"old files left: {names & set(pairs)}"
assert set(pairs.values()) <= names, "a blob was lost"
db = sqlite3.connect(os.path.join(state, "dashid.db"))
assert dict(db.execute("SELECT old, new FROM blob_aliases")) == pairs
assert db.execute("PRAGMA user_version").fetchone()[0] >= 6
for table, col in (("blobs", "hash"), ("job_blobs", "hash"), ("jobs", "checkpoint")):
    left = db.execute(f"SELECT COUNT(*) FROM {table} WHERE {col} IN (SELECT old FROM blob_aliases)").fetchone()[0]
    assert left == 0, f"{table}.{col} still names old hashes"
for (text, mp) in db.execute("SELECT params_json, params_mp FROM jobs"):
    for old in pairs:
        assert old not in text and old.encode() not in mp, "parameters still name an old hash"
assert db.execute("SELECT COUNT(*) FROM blob_readdress_pending").fetchone()[0] == 0
print(f"ok - {len(files)} files named by their address, each with its sidecar; every row rewritten")
PY

# Old names resolve: get (C client and blob_info), a job's inputs.
"$DASHI" get "$OLD_A" -o "$WORK/a.npy" > /dev/null || fail "get of an old name"
cmp -s "$WORK/a.npy" tests/data/A.npy || fail "get of an old name: other bytes"
"$PY" - "$DASHI_SOCKET" "$OLD_A" "$A" <<'PY' || fail "blob_info of an old name"
import sys
sys.path.insert(0, "tests/e2e")
from dashi_wire import call
sock, old, new = sys.argv[1:]
r = call(sock, "blob_info", {"hash": old})
assert r["ok"] and r["result"]["hash"] == new, r
assert r["result"]["address_version"] == 1 and r["result"]["chunk_size"] == 4 << 20, r
PY
"$DASHI" --json submit rollout --op "$OLD_A" --z0 "$OLD_Z" --steps 40 --no-reuse --wait > "$WORK/r2.json" \
  || { cat "$WORK/r2.json"; fail "a job naming old input hashes"; }
"$DASHI" --json show "$R1" > "$WORK/show1.json"
json "$WORK/show1.json" "d['state'] == 'succeeded'" | grep -qx True || fail "the old job's record"
ok "old names resolve: get, blob_info, a job's inputs"
"$DASHI" fsck > "$WORK/fsck.txt" || { cat "$WORK/fsck.txt"; fail "fsck after the migration"; }
ok "fsck clean after the migration"

# A blob of three chunks, one byte of chunk 1 damaged: its range refused, the others served.
"$PY" -c "
import numpy as np
f = np.sin(6.28 * np.arange(64) / 64)
np.save('$WORK/traj.npy', np.broadcast_to(np.outer(f, f), (300, 64, 64)).copy())"
TRAJ=$("$DASHI" put "$WORK/traj.npy")
"$PY" -c "
f = open('$BLOBS/$(echo "$TRAJ" | cut -c1-2)/$TRAJ.npy', 'r+b'); f.seek((4 << 20) + 77); b = f.read(1)
f.seek((4 << 20) + 77); f.write(bytes([b[0] ^ 1]))"
"$PY" - "$DASHI_SOCKET" "$TRAJ" "$WORK/traj.npy" <<'PY' || fail "ranged get of a damaged chunk"
import sys
sys.path.insert(0, "tests/e2e")
from dashi_wire import call
sock, h, path = sys.argv[1:]
data = open(path, "rb").read()
C = 4 << 20
r = call(sock, "get", {"hash": h, "offset": 1000, "length": 5000})
assert r["ok"] and r["result"]["data"] == data[1000:6000], "a clean range of chunk 0 was not served"
r = call(sock, "get", {"hash": h, "offset": 2 * C, "length": 4096})
assert r["ok"] and r["result"]["data"] == data[2 * C:2 * C + 4096], "a clean range of chunk 2 was not served"
r = call(sock, "get", {"hash": h, "offset": C - 10, "length": 100})
assert not r.get("ok") and r["error"]["code"] == "E_CORRUPT" and "chunk 1" in r["error"]["message"], r
assert "result" not in r, "bytes of a damaged chunk were sent"
print("ok - ranged get: a damaged chunk refused (E_CORRUPT naming it), clean ranges of the same blob served")
PY

# A job reading that blob frame by frame fails with E_CORRUPT when it reaches chunk 1.
rc=0; "$DASHI" --json submit atoms --from "$TRAJ" --wait > "$WORK/atoms.json" || rc=$?
[ $rc -eq 6 ] || { cat "$WORK/atoms.json"; fail "atoms over a damaged input: exit $rc, expected 6"; }
json "$WORK/atoms.json" "d['state'] == 'failed' and d['error']['code'] == 'E_CORRUPT' and d['error']['field'] == 'from' \
  and 'chunk 1' in d['error']['message']" | grep -qx True || { cat "$WORK/atoms.json"; fail "atoms: not E_CORRUPT on from"; }
ok "a job whose input has a damaged chunk fails with E_CORRUPT naming it, not a wrong result"
stop_daemon
