# End to end: the figures of `dashi render` (docs/cli.md "Figures") through a real daemon:
# the format follows the extension (PNG, SVG, PDF; anything else refused), the field is
# scaled up to at least 512 px with a colorbar, a job id draws its main field output at its
# last frame by default, and --frame/--t pick another one or are refused out of range.
. tests/e2e/lib.sh
start_daemon
cp tests/e2e/figures.py "$WORK/figures.py"

"$DASHI" --json submit les --N 32 --steps 20 --dt 0.01 --save-every 5 --wait > "$WORK/les.json" \
  || { cat "$WORK/les.json"; fail "les job"; }
LES=$(json "$WORK/les.json" "d['id']")

# ---- formats: PNG of at least 512 px with a colorbar, SVG an <svg> document, PDF
"$DASHI" --json render "$LES" -o "$WORK/last.png" > "$WORK/last.json" || fail "render $LES -o last.png"
"$DASHI" render "$LES" -o "$WORK/last.svg" > /dev/null || fail "render -o .svg"
"$DASHI" render "$LES" -o "$WORK/last.pdf" > /dev/null || fail "render -o .pdf"
"$PY" - "$WORK" <<'PY' || fail "render formats"
import json, sys, xml.etree.ElementTree as ET
w = sys.argv[1]; sys.path.insert(0, w)
from figures import png_size, png_decode, colorbar
W, H = png_size(f"{w}/last.png")
assert W >= 512 and H >= 512, (W, H)
d = json.load(open(f"{w}/last.json"))
x0, y0, side = d["panel"]
assert side >= 512 and x0 + side <= W and y0 + side <= H, d
_, _, px = png_decode(f"{w}/last.png")
bar = colorbar(px, int(x0 + side) + 1, int(y0) + 2, int(y0 + side) - 2)
red = [p[0] for p in bar]; blue = [p[2] for p in bar]
# the diverging map from -vmax (bottom, blue) to +vmax (top, red): red never falls, blue never rises
assert all(a <= b for a, b in zip(red, red[1:])) and all(a >= b for a, b in zip(blue, blue[1:])), (red, blue)
assert red[0] < 40 and red[-1] > 215 and blue[0] > 215 and blue[-1] < 40, (bar[0], bar[-1])
root = ET.parse(f"{w}/last.svg").getroot()
assert root.tag in ("svg", "{http://www.w3.org/2000/svg}svg"), root.tag
assert open(f"{w}/last.pdf", "rb").read(5) == b"%PDF-"
PY
ok "render: PNG >= 512 px with a monotonic colorbar, SVG parses with an <svg> root, PDF starts with %PDF"

rc=0; "$DASHI" render "$LES" -o "$WORK/x.jpg" 2> "$WORK/jpg.err" || rc=$?
[ $rc = 2 ] || fail "render -o x.jpg: exit $rc, wanted 2"
grep -q "\.png, \.svg or \.pdf" "$WORK/jpg.err" || fail "the refusal should name the extensions: $(cat "$WORK/jpg.err")"
[ ! -e "$WORK/x.jpg" ] || fail "a refused render wrote x.jpg"
ok "render -o x.jpg refused with exit 2, naming .png, .svg and .pdf"

# ---- frames: a job id draws its trajectory's last frame by default; --frame and --t pick
FRAMES=$(json "$WORK/last.json" "d['frames']")
[ "$FRAMES" = 5 ] || fail "20 steps saved every 5 should give 5 frames: $(cat "$WORK/last.json")"
LAST=$((FRAMES - 1))
"$DASHI" render "$LES" -o "$WORK/frame_last.png" --frame "$LAST" > /dev/null || fail "render --frame $LAST"
"$DASHI" render "$LES" -o "$WORK/frame0.png" --frame 0 > /dev/null || fail "render --frame 0"
cmp -s "$WORK/last.png" "$WORK/frame_last.png" || fail "render JOB should draw the last frame (--frame $LAST)"
cmp -s "$WORK/last.png" "$WORK/frame0.png" && fail "render --frame 0 should differ from the last frame"
"$DASHI" render "$LES" -o "$WORK/t01.png" --t 0.11 > /dev/null || fail "render --t 0.11"
"$DASHI" render "$LES" -o "$WORK/frame2.png" --frame 2 > /dev/null || fail "render --frame 2"
cmp -s "$WORK/t01.png" "$WORK/frame2.png" || fail "--t 0.11 should pick the nearest frame, 2 (t = 0.1)"
TRAJ=$(json "$WORK/les.json" "d['outputs']['trajectory']")
"$DASHI" --json render "$TRAJ" -o "$WORK/hash.png" > "$WORK/hash.json" || fail "render HASH"
[ "$(json "$WORK/hash.json" "d['frame']")" = "$LAST" ] || fail "render HASH: the last frame by default: $(cat "$WORK/hash.json")"
ok "render JOB: its trajectory's last frame by default, --frame K, --t T (nearest frame), HASH too"

expect_refused() { # STATUS TEXT command...: exit status and a phrase of the message
  st=$1 text=$2; shift 2
  rc=0; "$DASHI" "$@" > /dev/null 2> "$WORK/bad.err" || rc=$?
  [ "$rc" = "$st" ] || fail "$*: exit $rc, wanted $st: $(cat "$WORK/bad.err")"
  grep -qF -- "$text" "$WORK/bad.err" || fail "$*: the message should say '$text': $(cat "$WORK/bad.err")"
}
expect_refused 2 "0..$LAST" render "$LES" -o "$WORK/x.png" --frame "$FRAMES"
expect_refused 2 "t = 0..0.2" render "$LES" -o "$WORK/x.png" --t 5
expect_refused 1 "diverging, sequential" render "$LES" -o "$WORK/x.png" --cmap rainbow
expect_refused 1 "--size" render "$LES" -o "$WORK/x.png" --size 3
[ ! -e "$WORK/x.png" ] || fail "a refused render wrote its figure"
"$DASHI" --json render "$LES" -o "$WORK/big.png" --size 700 --vmax 10 --cmap sequential > "$WORK/big.json" || fail "--size --vmax --cmap"
json "$WORK/big.json" "d['panel'][2] == 700 and d['scale'][1] == 10" | grep -qx True || fail "--size/--vmax: $(cat "$WORK/big.json")"
ok "render: --frame/--t out of range exit 2 naming the range; bad --cmap/--size exit 1; --size, --vmax, --cmap sequential"

# ---- figure: truth | decoded | error of a pipeline on one scale, and the metrics
"$DASHI" --json submit pipeline --steps 40 --observer snapshots --decode-every 10 --wait > "$WORK/pipe.json" \
  || { cat "$WORK/pipe.json"; fail "pipeline"; }
DEC=$("$DASHI" --json list --kind decode | "$PY" -c "import json,sys; print(json.load(sys.stdin)['jobs'][0]['id'])")
"$DASHI" figure "$DEC" -o "$WORK/fig.png" > "$WORK/fig.out" || fail "figure $DEC: $(cat "$WORK/fig.out")"
"$DASHI" --json figure "$DEC" -o "$WORK/fig.png" > "$WORK/fig.json" || fail "figure --json"
"$DASHI" figure "$DEC" -o "$WORK/fig.pdf" > /dev/null || fail "figure -o .pdf"
"$DASHI" --json show "$DEC" > "$WORK/dec.json"
LESID=$(json "$WORK/fig.json" "d['les']")
"$DASHI" --json show "$LESID" > "$WORK/les_p.json"
"$DASHI" get "$(json "$WORK/dec.json" "d['outputs']['omega_hat']")" -o "$WORK/omega_hat.npy" > /dev/null
"$DASHI" get "$(json "$WORK/les_p.json" "d['outputs']['trajectory']")" -o "$WORK/truth.npy" > /dev/null
"$PY" - "$WORK" <<'PY' || fail "figure scale and panels"
import json, sys
w = sys.argv[1]; sys.path.insert(0, w)
from figures import npy_load, png_decode
d = json.load(open(f"{w}/fig.json")); dec = json.load(open(f"{w}/dec.json"))
les = json.load(open(f"{w}/les_p.json"))
printed = open(f"{w}/fig.out").read().split("\n")[0]
assert printed.startswith("scale: +-"), printed
# the last decoded step by default; the truth frame of that step
(F, N, M), oh = npy_load(f"{w}/omega_hat.npy")
(T, _, _), tr = npy_load(f"{w}/truth.npy")
every = les["params"]["save_every"]
assert d["step"] == 40 and d["truth_frame"] == 40 // every, d
k, f = F - 1, d["step"] // every
dec_f = oh[k * N * M:(k + 1) * N * M]; tru_f = tr[f * N * M:(f + 1) * N * M]
err = [a - b for a, b in zip(dec_f, tru_f)]
v = max(max(abs(x) for x in dec_f), max(abs(x) for x in tru_f), max(abs(x) for x in err))
assert abs(float(printed[len("scale: +-"):]) - v) <= 1e-8 * v, (printed, v)
assert abs(d["scale"] - v) <= 1e-12 * v, (d["scale"], v)
# error smaller than the field: its panel's cells are nearer white than the truth panel's
_, _, px = png_decode(f"{w}/fig.png")
def strength(panel):
    x0, y0, side = panel
    cells = [px[int(y0 + (i + 0.5) * side / N)][int(x0 + (j + 0.5) * side / M)] for i in range(N) for j in range(M)]
    return sum(765 - sum(c) for c in cells) / len(cells)
s_truth, s_dec, s_err = (strength(p) for p in d["panels"])
rms = lambda a: (sum(x * x for x in a) / len(a)) ** 0.5
assert rms(err) < rms(tru_f), ("the test needs an error smaller than the field", rms(err), rms(tru_f))
assert 0 < s_err < s_truth, (s_err, s_truth)
assert open(f"{w}/fig.pdf", "rb").read(5) == b"%PDF-"
PY
ok "figure: scale printed = max(|truth|, |decoded|, |error|) from the fetched arrays; the error panel is weaker than the truth's"
expect_refused 2 ".png, .svg or .pdf" figure "$DEC" -o "$WORK/fig.jpg"
expect_refused 2 "not a decoded step" figure "$DEC" -o "$WORK/fig.png" --step 7
expect_refused 1 "not a decode job" figure "$LESID" -o "$WORK/fig.png"
ok "figure: bad extension and step exit 2, a job outside a pipeline's decode exit 1"
stop_daemon
