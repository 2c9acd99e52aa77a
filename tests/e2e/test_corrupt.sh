# End to end: stored blobs damaged behind the daemon's back are never served or used as
# valid. `dashi get` of an altered, truncated, symlinked or FIFO blob exits 6 (E_CORRUPT)
# and leaves no output file; a job whose input is damaged fails with E_CORRUPT naming the
# input, and the daemon keeps serving; `dashi fsck` reports each problem (exit 6), is clean
# (exit 0) on a sound store, and is refused to other users (E_PERMISSION).
. tests/e2e/lib.sh
need_second_user
start_shared_daemon
BLOBS="$DASHI_STATE_DIR/blobs"
blob_file() { echo "$BLOBS/$(echo "$1" | cut -c1-2)/$1.npy"; }

# get_refused HASH WHAT: `dashi get` exits 6 with E_CORRUPT and writes nothing.
get_refused() {
  rc=0; timeout 60 "$DASHI" --no-autostart get "$1" -o "$WORK/out.npy" 2> "$WORK/get.err" || rc=$?
  [ $rc -eq 6 ] || { cat "$WORK/get.err"; fail "get of a $2 blob: exit $rc, expected 6"; }
  grep -q E_CORRUPT "$WORK/get.err" || { cat "$WORK/get.err"; fail "get of a $2 blob: no E_CORRUPT"; }
  [ ! -e "$WORK/out.npy" ] && [ ! -e "$WORK/out.npy.part" ] || fail "get of a $2 blob left a file behind"
  "$DASHI" --no-autostart ping > /dev/null || fail "the daemon stopped answering after a $2 blob"
}

# A 12 MB blob: a download takes three chunks, so the damage lies in bytes that were
# already sent when the last chunk comes.
"$PY" -c "
import numpy as np
np.save('$WORK/big.npy', np.arange(1500000, dtype=np.float64))
np.save('$WORK/small.npy', np.arange(100, dtype=np.float64))
np.save('$WORK/fifo.npy', np.arange(7, dtype=np.float64))"
BIG=$("$DASHI" put "$WORK/big.npy")
SMALL=$("$DASHI" put "$WORK/small.npy")
FIFO=$("$DASHI" put "$WORK/fifo.npy")
put_reference_rollout

"$DASHI" fsck > "$WORK/fsck0.txt" || { cat "$WORK/fsck0.txt"; fail "fsck of a sound store"; }
grep -q "store is clean" "$WORK/fsck0.txt" || fail "fsck of a sound store: not reported clean"
ok "fsck of a sound store exits 0"

"$DASHI" get "$BIG" -o "$WORK/good.npy" > /dev/null || fail "get of a sound blob"
cmp -s "$WORK/good.npy" "$WORK/big.npy" || fail "get of a sound blob: other bytes"
rm -f "$WORK/good.npy"
ok "get of a sound blob"

# One byte altered in the middle of the second chunk (the header and size still right).
cp "$(blob_file "$BIG")" "$WORK/big.orig"
"$PY" -c "
f = open('$(blob_file "$BIG")', 'r+b'); f.seek(6 << 20); b = f.read(1); f.seek(6 << 20); f.write(bytes([b[0] ^ 1]))"
get_refused "$BIG" "one-byte-altered"
ok "get of an altered blob exits 6, no file"

"$PY" -c "
f = open('$(blob_file "$SMALL")', 'r+b'); f.seek(200); f.write(b'\x00\x01')"
get_refused "$SMALL" "altered single-chunk"
truncate -s -8 "$(blob_file "$SMALL")"
get_refused "$SMALL" "truncated"
ok "get of an altered or truncated single-chunk blob exits 6"

# A job whose input is damaged fails with E_CORRUPT naming the input; nothing else breaks.
cp "$(blob_file "$A")" "$WORK/a.orig"
"$PY" -c "
f = open('$(blob_file "$A")', 'r+b'); f.seek(300); b = f.read(1); f.seek(300); f.write(bytes([b[0] ^ 4]))"
rc=0; "$DASHI" --json submit rollout --op "$A" --z0 "$Z" --steps 50 --wait > "$WORK/j.json" || rc=$?
[ $rc -eq 6 ] || { cat "$WORK/j.json"; fail "job with a damaged input: exit $rc, expected 6"; }
json "$WORK/j.json" "d['state'] == 'failed' and d['error']['code'] == 'E_CORRUPT' and d['error']['field'] == 'op'" \
  | grep -qx True || { cat "$WORK/j.json"; fail "job with a damaged input: not failed with E_CORRUPT on op"; }
json "$WORK/j.json" "'$A' in d['error']['message']" | grep -qx True || fail "the job's error does not name the blob"
J=$(json "$WORK/j.json" "d['id']")
"$DASHI" --json show "$J" | "$PY" -c "import json,sys; r=json.load(sys.stdin); assert r['state']=='failed', r"
cp "$WORK/a.orig" "$(blob_file "$A")"
"$DASHI" --json submit rollout --op "$A" --z0 "$Z" --steps 50 --wait > "$WORK/j2.json" \
  || { cat "$WORK/j2.json"; fail "a job after the failed one"; }
ok "job with a damaged input fails with E_CORRUPT (field op); the next job succeeds"

# A symlink planted in blobs/ (to the same, valid bytes) is refused, never followed.
LINKED=$(blob_file "$FIFO")
cp "$LINKED" "$WORK/linked-target.npy"
rm -f "$LINKED"; ln -s "$WORK/linked-target.npy" "$LINKED"
get_refused "$FIFO" "symlinked"
grep -q "symbolic link" "$WORK/get.err" || { cat "$WORK/get.err"; fail "the error does not say symlink"; }
# A FIFO under a blob's name must not hang the daemon.
rm -f "$LINKED"; mkfifo "$LINKED"
get_refused "$FIFO" "FIFO"
ok "symlink and FIFO in place of a blob are refused with E_CORRUPT"
rm -f "$LINKED"; ln -s "$WORK/linked-target.npy" "$LINKED"

# fsck finds every problem: the two damaged files, the symlink (whose blob thus has no
# file), a stray file, a blob row without its file and the job references to it, and a
# row whose metadata was changed.
echo stray > "$BLOBS/stray.txt"
rm -f "$(blob_file "$Z")"
"$PY" -c "
import sqlite3
db = sqlite3.connect('$DASHI_STATE_DIR/dashid.db', timeout=30)
db.execute(\"UPDATE blobs SET all_finite = 0 WHERE hash = '$A'\"); db.commit()"
rc=0; "$DASHI" fsck > "$WORK/fsck1.txt" || rc=$?
cat "$WORK/fsck1.txt"
[ $rc -eq 6 ] || fail "fsck of a damaged store: exit $rc, expected 6"
for line in "damaged: $BIG" "damaged: $SMALL" "unexpected: blobs/$(echo "$FIFO" | cut -c1-2)/$FIFO.npy: a symbolic link" \
            "unexpected: blobs/stray.txt" "missing: $Z" "dangling: job $J input z0" "mismatch: $A"; do
  grep -qF "$line" "$WORK/fsck1.txt" || fail "fsck does not report '$line'"
done
grep -q "store is DAMAGED" "$WORK/fsck1.txt" || fail "fsck does not say the store is damaged"
"$DASHI" --json fsck > "$WORK/fsck1.json" || true
json "$WORK/fsck1.json" "d['counts']['damaged'] == 2 and d['counts']['unexpected'] == 2 and d['counts']['missing'] == 2 \
  and d['counts']['mismatch'] == 1 and d['counts']['database'] == 0 and not d['clean']" | grep -qx True \
  || { cat "$WORK/fsck1.json"; fail "fsck counts"; }
ok "fsck reports damaged, unexpected, missing, dangling and mismatched entries and exits 6"

rc=0; as_nobody "$DASHI" --no-autostart fsck 2> "$WORK/nobody.err" || rc=$?
[ $rc -eq 2 ] && grep -q E_PERMISSION "$WORK/nobody.err" || { cat "$WORK/nobody.err"; fail "fsck by nobody: exit $rc"; }
ok "fsck by another user: E_PERMISSION"

# Storing the content again repairs a damaged, truncated, symlinked or FIFO'd blob.
rm -f "$LINKED" "$BLOBS/stray.txt"
for f in big small fifo; do "$DASHI" put "$WORK/$f.npy" > /dev/null; done
"$DASHI" put tests/data/z_t0000.npy > /dev/null
"$PY" -c "
import sqlite3
db = sqlite3.connect('$DASHI_STATE_DIR/dashid.db', timeout=30)
db.execute(\"UPDATE blobs SET all_finite = 1 WHERE hash = '$A'\"); db.commit()"
"$DASHI" fsck > "$WORK/fsck2.txt" || { cat "$WORK/fsck2.txt"; fail "fsck after repair"; }
"$DASHI" get "$BIG" -o "$WORK/again.npy" > /dev/null && cmp -s "$WORK/again.npy" "$WORK/big.npy" \
  || fail "get after repair"
ok "a store repaired by uploading again is clean"

stop_daemon
ok "daemon stopped cleanly"
