#!/bin/sh
# End to end: a job whose end cannot be recorded (here the database is locked by another
# process, so every write waits out the busy timeout and fails with E_DB) answers its
# waiters with that error (results.c, waiters_unrecorded). The waits so answered no longer
# count against max_waits_per_connection: with a limit of 1, the same connection may wait
# again, and once the lock is gone the retry records the job.
. tests/e2e/lib.sh
printf 'max_waits_per_connection = 1\n' > "$WORK/dashid.conf"
start_daemon --config "$WORK/dashid.conf"
"$DASHI" --json submit les --N 16 --steps 20 --save-every 0 > "$WORK/j.json"
J=$(json "$WORK/j.json" "d['id']")
DB=$(ls "$DASHI_STATE_DIR"/*.db)
"$PY" - "$DASHI_SOCKET" "$DB" "$J" "$DASHI" <<'PY' || fail "see above"
import json, os, sqlite3, subprocess, sys, time
sys.path.insert(0, os.path.join(os.getcwd(), "tests", "e2e"))
from dashi_wire import connect, frame, request, read_frame
sock, db, job, dashi = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
lock = sqlite3.connect(db, isolation_level=None, timeout=30)
lock.execute("BEGIN IMMEDIATE")  # the daemon's writes now fail after its busy timeout
s = connect(sock, timeout=180)
s.sendall(frame(request("wait", {"id": job}, rid=1)))
while True:
    r = read_frame(s)
    assert r is not None, "the connection closed before the wait was answered"
    if r.get("id") == 1 and "ok" in r:
        break
assert not r["ok"] and r["error"]["code"] == "E_DB", f"expected the E_DB of an unrecorded end, got {r}"
print("ok - the waiter of a job whose end cannot be recorded gets", r["error"]["code"])
lock.execute("COMMIT")
lock.close()
# A wait on a job that has ended is answered at once and never counts: wait on a running one.
time.sleep(3)  # the daemon retries recording every second
out = subprocess.run([dashi, "--json", "submit", "les", "--N", "16", "--steps", "1000000", "--save-every", "0"],
                     check=True, capture_output=True, text=True).stdout
s.sendall(frame(request("wait", {"id": json.loads(out)["id"]}, rid=2)))
r = read_frame(s)
assert r is not None, "the connection closed"
assert r.get("id") == 2 and "ok" not in r, f"a second wait on the connection was refused: {r}"
print("ok - the same connection waits again within max_waits_per_connection = 1: got", r)
PY
stop_daemon
ok "wait after an unrecorded end"
