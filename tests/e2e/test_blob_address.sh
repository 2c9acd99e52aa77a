# The chunk-tree blob address (docs/storage.md "Blob addresses") of known bytes equals an
# independent computation: the construction is written out below from the document,
# with Python's hashlib.blake2b, not by calling dashid's code. Sizes around the chunk
# size C: 0, 1, C-1, C, C+1, 3C+5. dashi-bench-hash --address also checks that its
# parallel pool gives the same address as its stream.
set -eu
BUILD=${1:-${DASHI_TEST_BUILD:-build/san}}
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok - $*"; }
WORK=$(mktemp -d /tmp/dashi-blob-address.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
C=$((4 * 1024 * 1024))
for size in 0 1 $((C - 1)) $C $((C + 1)) $((3 * C + 5)); do
  /usr/bin/python3 - "$WORK/blob" "$size" "$C" > "$WORK/expected" <<'PY'
import hashlib, random, struct, sys
path, size, C = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
data = random.Random(size).randbytes(size)
open(path, "wb").write(data)
n = max(1, -(-size // C))
leaves = b"".join(hashlib.blake2b(b"\x00" + struct.pack("<Q", i) + data[i * C:(i + 1) * C],
                                  digest_size=32).digest() for i in range(n))
root = hashlib.blake2b(b"\x01\x01" + struct.pack("<QQ", size, C) + leaves, digest_size=32)
print(root.hexdigest())
PY
  env LD_PRELOAD="${DASHI_TEST_PRELOAD:-}" "$BUILD/dashi-bench-hash" --address "$WORK/blob" > "$WORK/got" \
    || fail "dashi-bench-hash --address failed for $size bytes"
  cmp -s "$WORK/expected" "$WORK/got" || fail "$size bytes: expected $(cat "$WORK/expected"), got $(cat "$WORK/got")"
  ok "$size bytes: $(cat "$WORK/got")"
done
