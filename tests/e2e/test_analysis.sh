# `dashi plot`, `dashi compare` and `dashi export` on real jobs: plots are valid PNG and
# SVG files drawing the series the daemon recorded, and change when the data changes;
# compare names the differing parameters, metric deltas and the hash verdict; export
# writes a record, a CSV and .npy outputs equal to the blobs.
. tests/e2e/lib.sh
start_daemon
les() { "$DASHI" --json submit les --N 16 --steps 20 --dt 0.01 "$@" --wait > "$WORK/les.json" \
  || { cat "$WORK/les.json"; fail "les job"; }; json "$WORK/les.json" "d['id']"; }
L1=$(les --seed 1)
L2=$(les --seed 2)
L3=$(les --seed 1 --no-reuse)
rollout() { "$DASHI" --json submit rollout --op tests/data/A.npy --z0 tests/data/z_t0000.npy "$@" --wait \
  > "$WORK/r.json" || { cat "$WORK/r.json"; fail "rollout job"; }; json "$WORK/r.json" "d['id']"; }
R1=$(rollout --steps 30)
R2=$(rollout --steps 30 --no-reuse)
R3=$(rollout --steps 30 --precision f32 --mode fast)

# ---- plot
"$DASHI" plot "$L1" --key energy --key enstrophy -o "$WORK/a.png" > /dev/null
"$DASHI" plot "$L1" --key energy --key enstrophy -o "$WORK/a2.png" > /dev/null
"$DASHI" plot "$L2" --key energy --key enstrophy -o "$WORK/b.png" > /dev/null
"$DASHI" --json plot "$L1" "$L2" --key energy -o "$WORK/c.svg" > "$WORK/plot.json"
[ "$(json "$WORK/plot.json" "d['series']")" = 2 ] || fail "plot --json: $(cat "$WORK/plot.json")"
"$DASHI" metrics "$L1" > /dev/null
"$DASHI" --json metrics "$L1" > "$WORK/m1.json"
"$DASHI" --json metrics "$L2" > "$WORK/m2.json"
"$PY" - "$WORK" <<'PY' || fail "plot files"
import json, struct, sys, zlib
import xml.etree.ElementTree as ET
import numpy as np
w = sys.argv[1]

def png_pixels(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "PNG signature"
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        crc, = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in {kind}"
        if kind == b"IHDR": ihdr = struct.unpack(">IIBBBBB", body)
        if kind == b"IDAT": idat += body
        pos += 12 + n
        if kind == b"IEND": break
    width, height, depth, ctype = ihdr[:4]
    assert (depth, ctype) == (8, 2), ihdr
    raw = zlib.decompress(idat)
    stride = width * 3
    assert len(raw) == height * (stride + 1)
    # Undo the PNG row filters (None/Sub/Up/Average/Paeth) to get the pixels.
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        cur = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if f == 2:
            cur = bytearray((c + b) & 255 for c, b in zip(cur, prev))
        elif f in (1, 3, 4):
            for x in range(stride):
                a = cur[x - 3] if x >= 3 else 0
                b = prev[x]; c = prev[x - 3] if x >= 3 else 0
                if f == 1: p = a
                elif f == 3: p = (a + b) >> 1
                else:
                    pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                    p = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                cur[x] = (cur[x] + p) & 255
        rows.append(bytes(cur)); prev = cur
    out = np.frombuffer(b"".join(rows), np.uint8).astype(np.int32)
    return out.reshape(height, width, 3)

a, a2, b = (png_pixels(f"{w}/{n}.png") for n in ("a", "a2", "b"))
assert open(f"{w}/a.png", "rb").read() == open(f"{w}/a2.png", "rb").read(), "same data, different PNG bytes"
assert (a != b).any(), "different data gave the same PNG"
blue = np.array([31, 119, 180])
for img in (a, b):
    # one panel per quantity, stacked: the job's colour in the upper (energy) and the lower (enstrophy) half
    h = img.shape[0] // 2
    assert (img[:h] == blue).all(axis=2).sum() > 200, "first key's series not drawn"
    assert (img[h:] == blue).all(axis=2).sum() > 200, "second key's series not drawn"
    assert (img < 60).all(axis=2).sum() > 1000, "no axes or labels"

root = ET.parse(f"{w}/c.svg").getroot()
ns = "{http://www.w3.org/2000/svg}"
assert root.tag == ns + "svg"
# cairo writes each series as one stroked path "M x y L x y ..." (the data lines are the
# only strokes 1.8 wide); text is drawn as glyph outlines, so the legend is checked in --json.
lines = [p for p in root.iter(ns + "path") if "stroke-width:1.8;" in (p.get("style") or "")]
assert len(lines) == 2, len(lines)
def points(line):
    d = line.get("d").split()
    return " ".join(f"{d[i + 1]},{d[i + 2]}" for i in range(0, len(d) - 2, 3) if d[i] in "ML")
m1, m2 = (json.load(open(f"{w}/m{i}.json")) for i in (1, 2))
ids = [str(json.load(open(f"{w}/plot.json"))["series"])]
for line, m in zip(lines, (m1, m2)):
    s = m["metrics"]["energy"]
    pts = [(st, v) for st, v in zip(s["steps"], s["values"]) if st >= 0]
    xy = np.array([[float(c) for c in p.split(",")] for p in points(line).split()])
    # cairo drops a vertex that continues a straight segment, so the path has at most one
    # vertex per point, the first and the last among them, each at one of the points.
    assert 2 <= len(xy) <= len(pts), (len(xy), len(pts))
    # Screen coordinates are an affine image of (step, value): x increases with step, y falls with value.
    steps = np.array([p[0] for p in pts], float); vals = np.array([p[1] for p in pts])
    assert np.all(np.diff(xy[:, 0]) > 0)
    sx = np.polyfit([steps[0], steps[-1]], [xy[0, 0], xy[-1, 0]], 1)
    at = [int(np.argmin(np.abs(np.polyval(sx, steps) - x))) for x in xy[:, 0]]
    assert np.abs(np.polyval(sx, steps[at]) - xy[:, 0]).max() < 0.02, "x is not the step"
    steps, vals = steps[at], vals[at]
    if np.ptp(vals) > 0:
        k = np.polyfit(vals, xy[:, 1], 1)
        assert k[0] < 0 and np.abs(np.polyval(k, vals) - xy[:, 1]).max() < 0.02, "y is not the value"
legend = json.load(open(f"{w}/plot.json"))["legend"]
assert legend[0].endswith("seed=1") and legend[1].endswith("seed=2"), ("the legend names the seeds", legend)
assert points(lines[0]) != points(lines[1]), "two jobs drew the same line"
print("plots ok")
PY
ok "plot: PNG valid, deterministic, shows both series, changes with the data; SVG well-formed with the data; legend names the differing seed"

rc=0; "$DASHI" --json plot "$L1" --key nosuch -o "$WORK/x.png" > "$WORK/err.json" || rc=$?
[ $rc -eq 2 ] && [ "$(json "$WORK/err.json" "d['error']['field']")" = key ] || fail "missing key: rc $rc $(cat "$WORK/err.json")"
rc=0; "$DASHI" --json plot "$L1" --key energy -o "$WORK/x.gif" > "$WORK/err.json" || rc=$?
[ $rc -eq 2 ] && [ "$(json "$WORK/err.json" "d['error']['field']")" = o ] || fail "bad extension"
rc=0; "$DASHI" --json plot "$L1" -o "$WORK/x.png" > "$WORK/err.json" || rc=$?
[ $rc -eq 1 ] && [ "$(json "$WORK/err.json" "d['error']['field']")" = key ] || fail "no --key"
[ ! -e "$WORK/x.png" ] && [ ! -e "$WORK/x.gif" ] || fail "a failed plot left a file"
ok "plot: bad key, extension and usage refused with the field named"

# ---- compare
"$DASHI" --json compare "$L1" "$L2" > "$WORK/c12.json"
json "$WORK/c12.json" "d['params']" | grep -qx "{'seed': \[1, 2\]}" || fail "params: $(json "$WORK/c12.json" "d['params']")"
"$DASHI" --json compare "$L1" "$L3" > "$WORK/c13.json"
[ "$(json "$WORK/c13.json" "d['params']")" = "{}" ] || fail "identical params reported different"
"$DASHI" --json compare "$R1" "$R2" > "$WORK/r12.json"
[ "$(json "$WORK/r12.json" "d['hashes']['agree']")" = True ] || fail "identical rollouts: $(json "$WORK/r12.json" "d['hashes']")"
[ "$(json "$WORK/r12.json" "d['hashes']['compared']")" = 30 ] || fail "30 common hashes expected"
"$DASHI" --json show "$R1" > "$WORK/s1.json"
"$DASHI" --json show "$R3" > "$WORK/s3.json"
"$DASHI" --json compare "$R1" "$R3" > "$WORK/r13.json"
"$PY" - "$WORK" <<'PY' || fail "compare R1 R3"
import json, sys
w = sys.argv[1]
c = json.load(open(f"{w}/r13.json")); a = json.load(open(f"{w}/s1.json")); b = json.load(open(f"{w}/s3.json"))
assert c["jobs"] == [a["id"], b["id"]] and c["kinds_agree"]
assert c["params"]["precision"] == ["f64", "f32"] and c["params"]["mode"] == ["exact", "fast"], c["params"]
for k, m in c["metrics"].items():
    va, vb = a["metrics"].get(k), b["metrics"].get(k)
    assert m["a"] == va and m["b"] == vb, k
    if isinstance(va, (int, float)) and isinstance(vb, (int, float)):
        assert abs(m["delta"] - (vb - va)) <= 1e-12 * max(1, abs(vb), abs(va)), k
assert set(c["metrics"]) == set(a["metrics"]) | set(b["metrics"])
h = c["hashes"]
assert h["compared"] == 30 and h["agree"] is False and h["first_difference"]["step"] >= 0, h
PY
"$DASHI" compare "$R1" "$R3" > "$WORK/r13.txt"
grep -q "^  precision  *\"f64\" -> \"f32\"" "$WORK/r13.txt" || fail "text compare: $(cat "$WORK/r13.txt")"
grep -q "^hashes: differ at" "$WORK/r13.txt" && "$DASHI" compare "$R1" "$R2" | grep -q "^hashes: agree at all 30" \
  || fail "text compare hash verdict"
ok "compare: differing params, metric deltas, hash agreement (f64 exact vs f32 fast differ)"

# ---- export
"$DASHI" --json export "$L1" -o "$WORK/exp" > "$WORK/exp.json"
"$DASHI" --json show "$L1" > "$WORK/l1.json"
"$PY" - "$WORK" "$DASHI" <<'PY' || fail "export contents"
import csv, json, os, subprocess, sys
import numpy as np
w, dashi = sys.argv[1], sys.argv[2]
d = f"{w}/exp"
rec = json.load(open(f"{d}/record.json"))
assert rec == json.load(open(f"{w}/l1.json")), "record.json is not the job record"
m = json.load(open(f"{w}/m1.json"))["metrics"]
rows = list(csv.DictReader(open(f"{d}/metrics.csv")))
assert sum(len(s["steps"]) for s in m.values()) == len(rows)
for key, s in m.items():
    got = [(int(r["step"]), float(r["value"])) for r in rows if r["key"] == key]
    assert got == list(zip(s["steps"], s["values"])), key       # %.17g: exact
outs = rec["outputs"]
assert outs and json.load(open(f"{w}/exp.json"))["outputs"] == len(outs)
for name, h in outs.items():
    subprocess.run([dashi, "get", h, "-o", f"{w}/ref.npy"], check=True, capture_output=True)
    a, b = np.load(f"{d}/{name}.npy"), np.load(f"{w}/ref.npy")
    assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b), name
print("export ok:", sorted(os.listdir(d)))
PY
ok "export: record.json, metrics.csv (exact values), outputs as .npy"

stop_daemon
