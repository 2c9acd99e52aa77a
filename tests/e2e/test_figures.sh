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
stop_daemon
