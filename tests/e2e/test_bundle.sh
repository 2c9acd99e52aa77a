# End to end: result bundles (docs/storage.md "Bundles"). A rollout exported with `dashi
# export --bundle` by one daemon is imported by another with `dashi import`: the same
# state, outputs (downloadable, verified), metrics and hashes, executor and imported_from
# recorded. Hostile bundles (a blob whose bytes do not match its name, a wrong size, a
# missing file, an index that is not msgpack or absurdly large, a record that is no ended
# job) are refused with a clear error, and nothing is recorded.
. tests/e2e/lib.sh
start_daemon
put_reference_rollout
"$DASHI" --json submit rollout --op "$A" --z0 "$Z" --steps 40 --hash-every 10 --wait > "$WORK/r.json" \
  || { cat "$WORK/r.json"; fail "the rollout failed"; }
R=$(json "$WORK/r.json" "d['id']")
canon() { # ID OP [SOCKET]: the answer of `dashi OP ID`, without the id
  DASHI_SOCKET=${3:-$DASHI_SOCKET} "$DASHI" --json --no-autostart "$2" "$1" | "$PY" -c "import json,sys
d=json.load(sys.stdin); d.pop('id', None); print(json.dumps(d, sort_keys=True))"
}
ORIG_HASHES=$(canon "$R" hashes); ORIG_METRICS=$(canon "$R" metrics)
"$DASHI" --json show "$R" > "$WORK/orig.json"

B="$WORK/bundle"
"$DASHI" export --bundle "$B" "$R" > /dev/null
[ -f "$B/bundle.msgpack" ] && [ -f "$B/record.json" ] || fail "the bundle lacks its index or record.json"
[ -z "$(ls -d "$WORK"/bundle.tmp-* 2>/dev/null)" ] || fail "export left its temporary directory"
OUT=$(json "$WORK/orig.json" "d['outputs']['z_final']")
[ -f "$B/blobs/$OUT.npy" ] || fail "the bundle lacks the output blob $OUT"
"$DASHI" export --bundle "$B" "$R" > "$WORK/again.txt" 2>&1 && fail "export over an existing directory must fail"
grep -q "exists" "$WORK/again.txt" || fail "export over a directory: $(cat "$WORK/again.txt")"
ok "export --bundle writes record, metrics, hashes and blobs, into a new directory only"
stop_daemon

# A second catalogue: its own state and socket.
export DASHI_SOCKET="$WORK/second.sock" DASHI_STATE_DIR="$WORK/second"
start_daemon
I=$("$DASHI" import "$B")
"$DASHI" --json show "$I" > "$WORK/imp.json"
[ "$(json "$WORK/imp.json" "d['state'], d['kind'], d['executor'], d['outputs'] == $(json "$WORK/orig.json" "d['outputs']")")" \
  = "succeeded rollout local True" ] || fail "imported record: $(cat "$WORK/imp.json")"
[ "$(json "$WORK/imp.json" "d['imported_from']")" = "$(realpath "$B")" ] || fail "imported_from is not the bundle's path"
[ "$(json "$WORK/imp.json" "d['uid'] == $(id -u) and d['params'] == $(json "$WORK/orig.json" "d['params']")")" = True ] \
  || fail "the import is not a job of the importer with the original parameters"
[ "$(canon "$I" hashes)" = "$ORIG_HASHES" ] || fail "imported hashes differ"
[ "$(canon "$I" metrics)" = "$ORIG_METRICS" ] || fail "imported metrics differ"
"$DASHI" get "$OUT" -o "$WORK/z.npy" && cmp -s "$WORK/z.npy" "$B/blobs/$OUT.npy" || fail "the imported output cannot be read back"
ok "import makes a job of the importer with the same outputs, metrics and hashes"

njobs() { "$DASHI" --json list --all | "$PY" -c "import json,sys; print(len(json.load(sys.stdin)['jobs']))"; }
N0=$(njobs)
refused() { # WHAT EXPECTED DIR: the import of DIR fails, naming EXPECTED, and records nothing
  rc=0; "$DASHI" import "$3" > "$WORK/bad.txt" 2>&1 || rc=$?
  [ $rc -ne 0 ] || fail "$1: the import succeeded"
  grep -q -- "$2" "$WORK/bad.txt" || fail "$1: the error does not say '$2': $(cat "$WORK/bad.txt")"
  [ "$(njobs)" = "$N0" ] || fail "$1: a job was recorded"
}
bad_copy() { rm -rf "$WORK/bad"; cp -r "$B" "$WORK/bad"; }
bad_copy; "$PY" -c "
f = open('$WORK/bad/blobs/$OUT.npy', 'r+b'); f.seek(-1, 2); b = f.read(1); f.seek(-1, 2); f.write(bytes([b[0] ^ 1]))"
refused "a changed blob" "does not match its hash" "$WORK/bad"
bad_copy; truncate -s -8 "$WORK/bad/blobs/$OUT.npy"; refused "a short blob" "the bundle says" "$WORK/bad"
bad_copy; rm "$WORK/bad/blobs/$OUT.npy"; refused "a missing blob" "No such file" "$WORK/bad"
bad_copy; echo '{"format": "json"}' > "$WORK/bad/bundle.msgpack"; refused "an index not msgpack" "not one msgpack map" "$WORK/bad"
bad_copy; truncate -s 100G "$WORK/bad/bundle.msgpack"; refused "a huge index" "at most" "$WORK/bad"
bad_copy; rm "$WORK/bad/bundle.msgpack"; refused "no index" "not finished" "$WORK/bad"
rewrite() { # EXPR on the index's record r
  bad_copy; "$PY" -c "
import msgpack
p = '$WORK/bad/bundle.msgpack'; d = msgpack.unpackb(open(p, 'rb').read()); r = d['record']; $1
open(p, 'wb').write(msgpack.packb(d))"
}
rewrite "r['state'] = 'running'"; refused "a running job" "is not the end of a job" "$WORK/bad"
rewrite "r['kind'] = 'rollot'"; refused "an unknown kind" "rollout" "$WORK/bad"
rewrite "del r['params']"; refused "no parameters" "params" "$WORK/bad"
rewrite "r['outputs']['z_final'] = 'ab' * 32"; refused "an output the bundle lacks" "does not list" "$WORK/bad"
ok "hostile bundles are refused with clear errors, nothing recorded"
stop_daemon
