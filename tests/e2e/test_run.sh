# End to end: `dashid --run SPEC --bundle DIR`, one job without a long-running daemon
# (docs/cluster.md). A les spec gives a succeeded bundle (exit 0) that a catalogue imports;
# one element of a sweep spec (--index) runs with its varied value; a spec the daemon
# refuses writes nothing (exit 1); SIGTERM during a long rollout (its inputs given as a
# content-addressed directory) writes an `interrupted` bundle with the checkpoint (exit 4).
# No private state is left behind.
. tests/e2e/lib.sh
spec() { # FILE PYTHON-DICT
  "$PY" -c "import msgpack, sys; open(sys.argv[1], 'wb').write(msgpack.packb($2))" "$1"
}
LES="'kind': 'les', 'args': {'N': 32, 'steps': 20, 'save_every': 5, 'mode': 'reference'}"
spec "$WORK/sweep.msgpack" "{$LES, 'vary': {'seed': [1, 2, 3]}}"
rc=0; "$DASHID" --run "$WORK/sweep.msgpack" --bundle "$WORK/b1" --index 2 > "$WORK/run1.log" 2>&1 || rc=$?
[ $rc -eq 0 ] || { cat "$WORK/run1.log"; fail "--run exited $rc"; }
[ -z "$(ls -d "$WORK"/b1.* 2>/dev/null)" ] || fail "--run left its private directory: $(ls -d "$WORK"/b1.*)"
start_daemon
I=$("$DASHI" import "$WORK/b1")
"$DASHI" --json show "$I" > "$WORK/i.json"
[ "$(json "$WORK/i.json" "d['state'], d['kind'], d['params']['seed'], d['device'] is not None")" = "succeeded les 3 True" ] \
  || fail "the run's bundle: $(cat "$WORK/i.json")"
ok "--run of sweep element 2 writes a succeeded bundle with seed 3, which imports"

spec "$WORK/bad.msgpack" "{'kind': 'les', 'args': {'N': 32, 'stepz': 20}}"
rc=0; "$DASHID" --run "$WORK/bad.msgpack" --bundle "$WORK/b2" > "$WORK/run2.log" 2>&1 || rc=$?
[ $rc -eq 1 ] && [ ! -e "$WORK/b2" ] || fail "a refused spec: exit $rc, $(ls "$WORK")"
grep -q "stepz" "$WORK/run2.log" || fail "the refusal does not name the argument: $(cat "$WORK/run2.log")"
rc=0; "$DASHID" --run "$WORK/sweep.msgpack" --bundle "$WORK/b3" > /dev/null 2>&1 || rc=$?
[ $rc -eq 1 ] && [ ! -e "$WORK/b3" ] || fail "a sweep spec without an index must be refused (exit $rc)"
ok "a refused spec exits 1 and writes no bundle"

# Inputs as a catalogue writes them: HASH.npy files.
mkdir "$WORK/inputs"
A=$(blob_address tests/data/A.npy); Z=$(blob_address tests/data/z_t0000.npy)
cp tests/data/A.npy "$WORK/inputs/$A.npy"; cp tests/data/z_t0000.npy "$WORK/inputs/$Z.npy"
spec "$WORK/long.msgpack" "{'kind': 'rollout', 'args': {'op': '$A', 'z0': '$Z', 'steps': 1000000000, 'hash_every': 1000000}}"
"$DASHID" --run "$WORK/long.msgpack" --bundle "$WORK/b4" --inputs "$WORK/inputs" > "$WORK/run4.log" 2>&1 &
RUN=$!
i=0
until grep -q "job 1" "$WORK/run4.log" 2>/dev/null || [ -n "$(DASHI_SOCKET=$(ls -d "$WORK"/b4.run-*/dashid.sock 2>/dev/null | head -1) \
  "$DASHI" --json --no-autostart status 1 2>/dev/null | grep '"running"')" ]; do
  i=$((i + 1)); [ $i -lt 600 ] || { kill -KILL $RUN; cat "$WORK/run4.log"; fail "the rollout never ran"; }
  sleep 0.1
done
sleep 1
kill -TERM $RUN
rc=0; wait $RUN || rc=$?
[ $rc -eq 4 ] || { cat "$WORK/run4.log"; fail "SIGTERM: exit $rc, not 4"; }
I=$("$DASHI" import "$WORK/b4")
"$DASHI" --json show "$I" > "$WORK/i4.json"
[ "$(json "$WORK/i4.json" "d['state'], d['checkpoint'] is not None and d['checkpoint']['step'] > 0")" = "interrupted True" ] \
  || fail "the interrupted bundle: $(cat "$WORK/i4.json")"
CK=$(json "$WORK/i4.json" "d['checkpoint']['hash']")
"$DASHI" get "$CK" -o "$WORK/ck.npy" || fail "the checkpoint did not come with the bundle"
[ -z "$(ls -d "$WORK"/b4.* 2>/dev/null)" ] || fail "--run left its private directory after SIGTERM"
ok "SIGTERM writes an interrupted bundle with its checkpoint (exit 4)"
stop_daemon
