# End to end: the pictures of an atoms job through a real daemon. A hand-built trajectory
# (Gaussian vortices that move, split, merge, appear across the periodic corner and
# vanish) is tracked by an atoms job; then `render --atoms` must put its marker on every
# atom's centroid pixel and leave the field elsewhere untouched, and `lineage --png` must
# draw exactly the nodes and edges `lineage --json` returns. PNGs are decoded here with
# zlib alone (python has no imaging library). Bad input is refused with the documented
# exit statuses.
. tests/e2e/lib.sh
start_daemon

"$PY" - "$WORK/traj.npy" <<'PY'
import numpy as np, sys
N, F = 64, 6
i, j = np.mgrid[0:N, 0:N]
def blob(ci, cj, s, a):  # periodic Gaussian centred on cell (ci, cj)
    di = (i - ci + N / 2) % N - N / 2; dj = (j - cj + N / 2) % N - N / 2
    return a * np.exp(-(di * di + dj * dj) / (2 * s * s))
T = np.zeros((F, N, N))
for t in range(F):
    w = blob(16, 12 + 2 * t, 2.0, 3.0)                                                  # +, moving right
    w += blob(44, 40, 3.0, -2.0) if t < 3 else blob(44, 37, 1.8, -2.0) + blob(44, 43, 1.8, -2.0)  # -, splits
    w += blob(30, 50, 1.8, 2.5) + blob(30, 56, 1.8, 2.5) if t < 3 else blob(30, 53, 3.5, 2.5)      # +, merge
    if t >= 2:
        w += blob(0, 63, 1.8, 2.5)                                                      # +, born on the corner
    if t < 4:
        w += blob(54, 10, 1.8, -2.5)                                                    # -, dies
    T[t] = w
np.save(sys.argv[1], T)
PY
H=$("$DASHI" put "$WORK/traj.npy") || fail "put"
"$DASHI" --json submit atoms --from "$H" --wait > "$WORK/atoms.json" || { cat "$WORK/atoms.json"; fail "atoms job"; }
ID=$(json "$WORK/atoms.json" "d['id']")
"$DASHI" --json atoms "$ID" --limit 4096 > "$WORK/all.json"
"$DASHI" --json events "$ID" > "$WORK/ev.json"
json "$WORK/ev.json" "all(d['totals'][k]['edges'] > 0 for k in ('continuation','split','merge','birth','death'))" \
  | grep -qx True || fail "the hand-built field should give every event kind: $(json "$WORK/ev.json" "d['totals']")"
ok "atoms job $ID on a hand-built 6-frame trajectory: every event kind present"

# The PNG reader the checks below share (tests/e2e/figures.py), and the field's cells.
cp tests/e2e/figures.py "$WORK/figures.py"
cat > "$WORK/png.py" <<'PY'
from figures import png_decode as decode
def cells(path, meta):
    """The field panel of a `render --json` figure at grid resolution: the centre pixel of
    each grid cell (the field is scaled up nearest-neighbour, docs/cli.md)."""
    import json
    d = json.load(open(meta)); x0, y0, side = d["panel"]; n = d["grid"]
    _, _, px = decode(path)
    c = [[px[int(y0 + (i + 0.5) * side / n[1])][int(x0 + (j + 0.5) * side / n[0])] for j in range(n[0])]
         for i in range(n[1])]
    return n[0], n[1], c
PY

# ---- render --atoms: frames 0, 3 (after the split and merge) and 5; step = frame by default
for F in 0 3 5; do
  "$DASHI" --json render "$H" -o "$WORK/plain$F.png" --frame "$F" > "$WORK/plain$F.json" || fail "render frame $F"
  "$DASHI" --json render "$H" -o "$WORK/marked$F.png" --frame "$F" --atoms "$ID" > "$WORK/marked$F.json" 2> "$WORK/err$F" \
    || fail "render --atoms frame $F: $(cat "$WORK/err$F")"
  "$DASHI" --json atoms "$ID" --step "$F" > "$WORK/a$F.json"
  grep -q "^dashi: $(json "$WORK/a$F.json" "len(d['atoms'])") atoms of job $ID at step $F\$" "$WORK/err$F" \
    || fail "render --atoms should say how many atoms it drew: $(cat "$WORK/err$F")"
done
# --step picks another step than the frame shown
"$DASHI" --json render "$H" -o "$WORK/marked5s0.png" --frame 5 --atoms "$ID" --step 0 > "$WORK/marked5s0.json" 2>/dev/null \
  || fail "render --step"
json "$WORK/marked5s0.json" "d['atoms_step'] == 0 and d['atoms'] == $(json "$WORK/a0.json" "len(d['atoms'])")" | grep -qx True \
  || fail "render --json: $(cat "$WORK/marked5s0.json")"
"$PY" - "$WORK" <<'PY' || fail "render --atoms markers"
import json, math, sys
import numpy as np
w = sys.argv[1]; sys.path.insert(0, w)
from png import cells
T = np.load(f"{w}/traj.npy")
INK, HALO, L = (0, 0, 0), (255, 255, 255), 2 * math.pi
def colour(v, m):  # the diverging map of docs/cli.md: blue - white - red
    t = max(-1.0, min(1.0, v / m)) if m > 0 else 0.0
    r, g, b = (1 + t if t < 0 else 1), 1 - abs(t), (1 - t if t > 0 else 1)
    return tuple(int(math.floor(255 * c + 0.5)) for c in (r, g, b))
for frame, step, marked in ((0, 0, 'marked0'), (3, 3, 'marked3'), (5, 5, 'marked5'), (5, 0, 'marked5s0')):
    atoms = json.load(open(f"{w}/a{step}.json"))["atoms"]
    W, H, mk = cells(f"{w}/{marked}.png", f"{w}/{marked}.json")
    _, _, pl = cells(f"{w}/plain{frame}.png", f"{w}/plain{frame}.json")
    assert (W, H) == (64, 64)
    field = T[frame]; m = np.abs(field).max()
    pos = []
    for a in atoms:  # x = column from cx, y = row from cy; pixel k is grid point k·L/N
        x, y = int(math.floor(a["cx"] / L * W + 0.5)) % W, int(math.floor(a["cy"] / L * H + 0.5)) % H
        r = min(64, max(3, round(a["eps"] / L * W)))
        pos.append((x, y, r, a["sigma"]))
    assert len({(x, y) for x, y, _, _ in pos}) == len(pos)
    for k, (x, y, r, s) in enumerate(pos):
        assert mk[y][x] == INK, (marked, atoms[k], mk[y][x])
        assert pl[y][x] == colour(field[y, x], m) and pl[y][x] != INK, (frame, x, y, pl[y][x])
        # the sign: '+' has a vertical stroke, '−' shows the field above its bar; the
        # ring's east point is ink, one further out the halo (when no other marker is near)
        def d(p, q, n): return min((p - q) % n, (q - p) % n)
        alone = all(math.hypot(d(x, x2, W), d(y, y2, H)) > r + r2 + 2 for j, (x2, y2, r2, _) in enumerate(pos) if j != k)
        if alone:
            assert (mk[(y - 1) % H][x] == INK) == (s > 0), (marked, x, y, s)
            assert mk[y][(x + r) % W] == INK and mk[y][(x + r + 1) % W] == HALO, (marked, x, y, r)
    # outside the markers the two pictures are the same field
    def near(px, py):
        return any(math.hypot(min((px - x) % W, (x - px) % W), min((py - y) % H, (y - py) % H)) < r + 1.5
                   for x, y, r, _ in pos)
    for py in range(H):
        for px in range(W):
            if not near(px, py):
                assert mk[py][px] == pl[py][px], (marked, px, py)
    # a marker across the corner: the atom born at (row 0, col 63) shows in all four corners
    if step >= 2:
        assert mk[0][63] == INK and any(mk[y][x] == INK for y in range(4) for x in range(4)), marked

PY
ok "render --atoms: markers on every centroid (frames 0, 3, 5 and --step 0 on frame 5), the field elsewhere"

# ---- lineage --png: descendants of every first-step atom, ancestors of every last-step atom
"$PY" - "$WORK" "$ID" "$DASHI" <<'PY' || fail "lineage --png"
import json, math, subprocess, sys
from collections import deque
w, job, dashi = sys.argv[1], sys.argv[2], sys.argv[3]; sys.path.insert(0, w)
from png import decode
M, DX, DY = 16, 24, 24  # docs/cli.md: margin, column and lane spacing
BG, RING, POS, NEG = (255, 255, 255), (0, 0, 0), (160, 20, 40), (20, 50, 140)
KIND = {"continuation": (150, 150, 150), "split": (245, 130, 0), "merge": (30, 100, 235), "birth": (0, 160, 0),
        "death": (225, 0, 0)}
EDGE = set(KIND.values())
rows = {(a["step"], a["idx"]): a for a in json.load(open(f"{w}/all.json"))["atoms"]}
def run(*args):
    return json.loads(subprocess.run([dashi, "--json", *args], check=True, capture_output=True, text=True).stdout)
def bresenham(x0, y0, x1, y1):
    dx, dy, sx, sy = abs(x1 - x0), -abs(y1 - y0), 1 if x0 < x1 else -1, 1 if y0 < y1 else -1
    e, out = dx + dy, []
    while True:
        out.append((x0, y0))
        if (x0, y0) == (x1, y1): return out
        e2 = 2 * e
        if e2 >= dy: e += dy; x0 += sx
        if e2 <= dx: e += dx; y0 += sy
def disc(x, y, r):
    return {(x + i, y + j) for i in range(-r, r + 1) for j in range(-r, r + 1) if 4 * (i * i + j * j) < (2 * r + 1) ** 2}
steps = sorted({s for s, _ in rows})
starts = [(steps[0], i, "--descendants") for s, i in rows if s == steps[0]] + \
         [(steps[-1], i, "--ancestors") for s, i in rows if s == steps[-1]]
seen_kinds = set()
for s0, i0, direction in starts:
    edges = run("lineage", job, "--atom", f"{s0}:{i0}", direction)["edges"]
    png = f"{w}/lin_{s0}_{i0}.png"
    sm = run("lineage", job, "--atom", f"{s0}:{i0}", direction, "--png", png)
    W, H, px = decode(png)
    assert (W, H) == (sm["width"], sm["height"]) and sm["edges"] == len(edges), (sm, W, H)
    # nodes: the start atom and every atom an edge touches, with their sign and Γ
    want = {(s0, i0)} | {(e["parent_step"], e["parent_idx"]) for e in edges if e["parent_idx"] >= 0} \
                      | {(e["child_step"], e["child_idx"]) for e in edges if e["child_idx"] >= 0}
    nodes = {(n["step"], n["idx"]): n for n in sm["nodes"]}
    assert set(nodes) == want, (set(nodes), want)
    gmax = max(rows[k]["gamma"] for k in want)
    for k, n in nodes.items():
        assert n["sigma"] == rows[k]["sigma"] and abs(n["gamma"] - rows[k]["gamma"]) <= 1e-12 * rows[k]["gamma"]
        assert n["r"] == 2 + math.floor(7 * math.sqrt(rows[k]["gamma"] / gmax) + 0.5), n  # radius 2..9 ~ sqrt(Γ)
    # size and positions: x from the step (one column per frame), y from distinct lanes per step
    smin, smax = min(s for s, _ in want), max(s for s, _ in want)
    g = 0
    for s, _ in want: g = math.gcd(g, s - smin)
    g = g or 1
    percol = {}
    for (s, i), n in nodes.items():
        assert n["x"] == M + (s - smin) // g * DX and n["y"] == M + n["lane"] * DY, n
        percol.setdefault(s, set()).add(n["lane"])
    assert all(len(l) == sum(1 for k in want if k[0] == s) for s, l in percol.items())
    lanes = sm["lanes"]
    assert max(len(l) for l in percol.values()) <= lanes <= len(want)
    assert W == 2 * M + ((smax - smin) // g) * DX + 1 and H == 2 * M + (lanes - 1) * DY + 1, (W, H, lanes)
    assert nodes[(s0, i0)]["lane"] == 0
    # blobs of node colour: one per node of that sign, each exactly its disc
    for colour, sign in ((POS, 1), (NEG, -1)):
        left = {(x, y) for y in range(H) for x in range(W) if px[y][x] == colour}
        blobs = []
        while left:
            q = deque([left.pop()]); b = set(q)
            while q:
                x, y = q.popleft()
                for nb in ((x + a, y + c) for a in (-1, 0, 1) for c in (-1, 0, 1)):
                    if nb in left: left.remove(nb); b.add(nb); q.append(nb)
            blobs.append(b)
        mine = [n for n in nodes.values() if n["sigma"] == sign]
        assert len(blobs) == len(mine), (colour, len(blobs), len(mine))
        assert sorted(map(sorted, blobs)) == sorted(sorted(disc(n["x"], n["y"], n["r"])) for n in mine)
    # the start atom's black ring, two pixels out
    s = nodes[(s0, i0)]
    ring = {(x, y) for y in range(H) for x in range(W) if px[y][x] == RING}
    assert ring and all(round(math.hypot(x - s["x"], y - s["y"])) == s["r"] + 2 for x, y in ring)
    # edges: every edge-coloured pixel lies on an edge's segment (or a birth/death stub and
    # its tick); each edge shows its own colour outside the discs; no colour without its kind
    covered, ink = set(), set()
    for n in nodes.values(): covered |= disc(n["x"], n["y"], n["r"])
    covered |= ring
    for e in edges:
        p = nodes.get((e["parent_step"], e["parent_idx"])); c = nodes.get((e["child_step"], e["child_idx"]))
        if p and c: seg = bresenham(p["x"], p["y"], c["x"], c["y"])
        elif c: seg = bresenham(c["x"] - DX // 2, c["y"], c["x"], c["y"]) + bresenham(c["x"] - DX // 2, c["y"] - 3, c["x"] - DX // 2, c["y"] + 3)
        else: seg = bresenham(p["x"], p["y"], p["x"] + DX // 2, p["y"]) + bresenham(p["x"] + DX // 2, p["y"] - 3, p["x"] + DX // 2, p["y"] + 3)
        ink |= set(seg)
        visible = [q for q in seg if q not in covered]
        assert visible and all(px[y][x] in EDGE for x, y in visible), e
        assert any(px[y][x] == KIND[e["kind"]] for x, y in visible), e
        seen_kinds.add(e["kind"])
    for y in range(H):
        for x in range(W):
            if px[y][x] in EDGE: assert (x, y) in ink, (x, y, px[y][x])
            else: assert px[y][x] in (BG, POS, NEG, RING), px[y][x]
    kinds = {e["kind"] for e in edges}
    for k, colour in KIND.items():
        assert any(colour in row for row in px) == (k in kinds), (k, kinds)
assert seen_kinds == set(KIND), seen_kinds

PY
"$DASHI" lineage "$ID" --atom 0:0 --png "$WORK/text.png" > "$WORK/text.out" && [ "$(cat "$WORK/text.out")" = "$WORK/text.png" ] \
  || fail "lineage --png without --json prints the file name"
ok "lineage --png: nodes, lanes, sizes, node blobs and edge pixels agree with lineage --json"

# ---- bad input
"$DASHI" --json submit les --N 16 --steps 1 --wait > "$WORK/les.json" || fail "les job"
LES=$(json "$WORK/les.json" "d['id']")
expect() { # STATUS FIELD command...: the exit status and the error's field (--json)
  st=$1 field=$2; shift 2
  rc=0; "$DASHI" --json "$@" > "$WORK/bad.json" 2>/dev/null || rc=$?
  [ "$rc" = "$st" ] || fail "$*: exit $rc, wanted $st: $(cat "$WORK/bad.json")"
  [ "$(json "$WORK/bad.json" "d['error']['field']")" = "$field" ] || fail "$*: $(cat "$WORK/bad.json")"
}
expect 1 atoms render "$H" -o "$WORK/x.png" --atoms "$LES"
expect 2 atoms render "$H" -o "$WORK/x.png" --atoms 99999
expect 1 atoms render "$H" -o "$WORK/x.png" --atoms nine
expect 1 step render "$H" -o "$WORK/x.png" --step 2
expect 1 step render "$H" -o "$WORK/x.png" --atoms "$ID" --step -3
expect 1 png lineage "$ID" --atom 0:0 --png "$WORK/x.png" --dot
expect 1 png lineage "$ID" --atom 0:0 --png
expect 6 png lineage "$ID" --atom 0:0 --png "$WORK/no/such/dir/x.png"
expect 1 id lineage "$LES" --atom 0:0 --png "$WORK/x.png"
# (the daemon refuses the atom itself now, naming its lineage argument idx)
expect 2 idx lineage "$ID" --atom 0:99 --png "$WORK/x.png"
[ ! -e "$WORK/x.png" ] || fail "a refused command wrote its picture"
# a step the atoms job never tracked is an error naming the step (no silent empty overlay)
expect 2 step render "$H" -o "$WORK/none.png" --frame 2 --atoms "$ID" --step 77
[ ! -e "$WORK/none.png" ] || fail "a refused render wrote its picture"
ok "bad input refused (exit 1/2/6 naming atoms, step, png, id, idx); an untracked step is refused naming it"
stop_daemon
