# End to end: `dashi report` (docs/cli.md "report") over a real daemon, opened in headless
# Chromium from disk: the page loads with no console message, every figure has a size,
# nothing points outside the directory, and markup the daemon sends is shown as text, not
# run. The jobs are a small les -> train -> rollout -> decode chain and an atoms job, so the
# page holds the canonical figure, a field, metric plots and a lineage picture.
. tests/e2e/lib.sh
command -v chromium > /dev/null || fail "chromium is needed (Debian package chromium: make deps)"
start_daemon

id_of() { "$PY" -c "import json,sys; print(json.load(sys.stdin)['id'])"; }
LES=$("$DASHI" --json submit les --N 32 --steps 20 --save-every 1 --wait | id_of) || fail "les"
TRAIN=$("$DASHI" --json submit train --traj "$LES" --frames 0:16 --eval-decode false --wait | id_of) || fail "train"
ROLL=$("$DASHI" --json submit rollout --op "$TRAIN" --z0 "$TRAIN" --steps 10 --save-every 1 --wait | id_of) \
  || fail "rollout"
DEC=$("$DASHI" --json submit decode --op "$TRAIN" --states "$ROLL" --truth "$LES" --observer snapshots --every 10 \
  --max-levels 2 --wait | id_of) || fail "decode"
ATOMS=$("$DASHI" --json submit atoms --from "$LES" --wait | id_of) || fail "atoms"
"$DASHI" --json list > "$WORK/list.json"
[ "$(json "$WORK/list.json" "sorted(j['state'] for j in d['jobs'])")" = "$(json "$WORK/list.json" "['succeeded'] * 5")" ] \
  || fail "every job should have succeeded: $(cat "$WORK/list.json")"

# No job string is free text on this daemon yet (names and notes will be), so markup is
# planted in the stored record of the les job, standing for any string the daemon sends:
# its user name, and a parameter whose name and value are both markup. SQLite lets this
# write go in beside the idle daemon, which reads records from the file on each show.
"$PY" - "$DASHI_STATE_DIR/dashid.db" "$LES" <<'PY' || fail "planting markup in the record"
import sqlite3, sys, msgpack
db, job = sqlite3.connect(sys.argv[1], timeout=30), int(sys.argv[2])
evil = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">'
(mp,) = db.execute("SELECT params_mp FROM jobs WHERE id = ?", (job,)).fetchone()
params = msgpack.unpackb(mp, raw=False)
params['<b onmouseover="window.__xss=3">note</b>'] = evil
db.execute("UPDATE jobs SET user = ?, params_mp = ? WHERE id = ?", (evil, msgpack.packb(params), job))
db.commit()
PY

"$DASHI" --json report "$LES" "$DEC" "$ATOMS" -o "$WORK/report" > "$WORK/report.json" 2> "$WORK/report.err" \
  || { cat "$WORK/report.err"; fail "dashi report"; }
cat "$WORK/report.json"
INDEX="$WORK/report/index.html"
[ "$(json "$WORK/report.json" "d['report']")" = "$INDEX" ] || fail "the answer should name $INDEX"
[ "$(json "$WORK/report.json" "d['missing']")" = 0 ] || fail "figures missing: $(cat "$WORK/report.err")"
for f in "job-$DEC-figure.svg" "job-$LES-field.svg" "job-$LES-metrics.svg" "job-$ATOMS-lineage.png"; do
  [ -s "$WORK/report/$f" ] || fail "the report has no $f"
done
ok "report of les $LES, decode $DEC, atoms $ATOMS: $(json "$WORK/report.json" "d['figures']") figures, none missing"

# The page as written: markup escaped, only sibling files and in-page anchors referenced.
"$PY" - "$INDEX" "$(json "$WORK/report.json" "d['figures']")" <<'PY' || fail "the page's text"
import re, sys, os
page = open(sys.argv[1], encoding="utf-8").read()
assert "<script" not in page.lower(), "a <script> element in the page"
assert "onerror" not in page.replace("onerror=&quot;", ""), "an unescaped onerror attribute"
assert page.count("&lt;script&gt;window.__xss=1&lt;/script&gt;") >= 2, "the planted user and parameter shown escaped"
assert "&lt;b onmouseover=&quot;window.__xss=3&quot;&gt;note&lt;/b&gt;" in page, "the parameter name shown escaped"
refs = re.findall(r'(?:src|href)="([^"]*)"', page)
srcs = re.findall(r'src="([^"]*)"', page)
assert len(srcs) == int(sys.argv[2]), (srcs, sys.argv[2])
for r in refs:
    assert r.startswith("#") or (re.fullmatch(r"job-\d+-[a-z]+\.(svg|png)", r) and
                                 os.path.isfile(os.path.join(os.path.dirname(sys.argv[1]), r))), r
PY
ok "page: daemon markup escaped (user, parameter name and value), references only sibling figures and anchors"

# Headless Chromium from disk, once, on a copy of the page with a probe script that writes
# what the browser made of it into the DOM: each image's natural size, the scripts, and
# whether planted markup ran. The page's Content-Security-Policy is kept, with the probe's
# hash added to it, so anything else that tried to run or load would log a console message.
"$PY" - "$INDEX" "$WORK/report/probe.html" <<'PY' || fail "making the probe page"
import base64, hashlib, sys
page = open(sys.argv[1], encoding="utf-8").read()
probe = ('addEventListener("load", () => { const p = document.createElement("pre"); p.id = "probe"; '
         'p.textContent = JSON.stringify({images: [...document.images].map(i => [i.getAttribute("src"), '
         'i.naturalWidth, i.naturalHeight]), scripts: document.scripts.length, xss: window.__xss || 0}); '
         'document.body.appendChild(p); });')
digest = base64.b64encode(hashlib.sha256(probe.encode()).digest()).decode()
policy = "default-src 'none';"
assert page.count(policy) == 1, "the page should carry one Content-Security-Policy"
page = page.replace(policy, f"{policy} script-src 'sha256-{digest}';").replace("</body>", f"<script>{probe}</script></body>")
open(sys.argv[2], "w", encoding="utf-8").write(page)
PY
timeout 60 chromium --headless --disable-gpu --no-sandbox --no-first-run --disable-extensions \
  --disable-background-networking --disable-component-update --disable-sync --user-data-dir="$WORK/chromium" \
  --enable-logging=stderr --v=0 --dump-dom "file://$WORK/report/probe.html" > "$WORK/dom.html" 2> "$WORK/dom.err" \
  || { cat "$WORK/dom.err"; fail "chromium"; }
! grep "CONSOLE" "$WORK/dom.err" || fail "the report logged console messages"
grep -q "Job $DEC: decode, succeeded" "$WORK/dom.html" || fail "chromium did not render the report"
"$PY" - "$WORK/dom.html" "$(json "$WORK/report.json" "d['figures']")" <<'PY' || fail "figures in chromium"
import html, json, re, sys
m = re.search(r'<pre id="probe">(.*?)</pre>', open(sys.argv[1]).read(), re.S)
assert m, "the probe did not run"
d = json.loads(html.unescape(m.group(1)))
print(d)
assert d["xss"] == 0 and d["scripts"] == 1, d
assert len(d["images"]) == int(sys.argv[2]), d
assert all(w > 0 and h > 0 for _, w, h in d["images"]), d
PY
ok "chromium loads the page from disk with no console message; every figure has a size; planted markup did not run"

# Refusals: no directory, an unknown job (and no page left behind).
rc=0; "$DASHI" report "$LES" 2> "$WORK/err" || rc=$?
[ $rc = 1 ] && grep -q "report ID" "$WORK/err" || fail "report without -o: exit $rc, $(cat "$WORK/err")"
rc=0; "$DASHI" report 999999 -o "$WORK/none" 2> "$WORK/err" || rc=$?
[ $rc = 2 ] || fail "report of a missing job: exit $rc, $(cat "$WORK/err")"
[ ! -e "$WORK/none" ] || fail "a refused report created its directory"
ok "report refuses a missing -o (exit 1) and an unknown job (exit 2) and writes nothing"
stop_daemon
