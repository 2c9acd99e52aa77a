#!/bin/sh
# End to end: the describe op answers the parameter tables the daemon parses submissions
# with, the same that `dashid --describe-params markdown` writes: the markdown rebuilt from
# the op's answer, for all kinds and for each one, equals the generator's, byte for byte.
# Bad requests are refused naming the field; `dashi describe` prints every parameter.
. tests/e2e/lib.sh
start_daemon
"$DASHID" --describe-params markdown > "$WORK/params.md"
"$PY" - "$DASHI_SOCKET" "$WORK/params.md" <<'PY' || fail "see above"
import os, sys
sys.path.insert(0, os.path.join(os.getcwd(), "tests", "e2e"))
from dashi_wire import call
sock, md = sys.argv[1], open(sys.argv[2], encoding="utf-8").read()

def markdown(tables):
    out = ""
    for t in tables:
        out += f"{t['title']}:\n\n| arg | type | default | range | meaning |\n|---|---|---|---|---|\n"
        for p in t["params"]:
            meaning = p["meaning"].replace("|", "\\|")
            out += f"| `{p['name']}` | {p['type']} | {p['default']} | {p['range']} | {meaning} |\n"
        out += "\n"
    return out

def ok(r):
    assert r and r.get("ok"), f"describe failed: {r}"
    return r["result"]["tables"]

every = ok(call(sock, "describe"))
assert markdown(every) == md, "the describe op and --describe-params markdown differ"
kinds = sorted({t["kind"] for t in every})
assert kinds == sorted(["rollout", "les", "train", "atoms", "decode", "pipeline"]), kinds
for kind in kinds:
    one = ok(call(sock, "describe", {"kind": kind}))
    assert {t["kind"] for t in one} == {kind}, one
    assert one == [t for t in every if t["kind"] == kind], f"describe {kind} is not its part of the whole"
for t in every:
    for p in t["params"]:
        assert p["required"] == (p["default"] == "required"), p
        if p["choices"] is not None:
            assert p["type"] == " \\| ".join(f"`{c}`" for c in p["choices"]), p
print(f"ok - describe answers the {len(every)} tables of {len(kinds)} kinds, equal to --describe-params markdown")

def refused(args, code, field):
    r = call(sock, "describe", args)
    assert r and r.get("ok") is False, f"{args}: not refused: {r}"
    e = r["error"]
    assert (e["code"], e.get("field")) == (code, field), f"{args}: {e}"
    return e["message"]

msg = refused({"kind": "nope"}, "E_BAD_VALUE", "kind")
assert all(k in msg for k in kinds), f"the message does not list the kinds: {msg}"
refused({"kind": ""}, "E_BAD_VALUE", "kind")
refused({"kind": 5}, "E_BAD_TYPE", "kind")
refused({"kind": ["les"]}, "E_BAD_TYPE", "kind")
refused({"kind": "les", "mode": "x"}, "E_UNKNOWN_FIELD", "mode")
refused({"kind": "x" * 200}, "E_BAD_VALUE", "kind")
print("ok - unknown kinds, wrong types and unknown fields are refused naming the field")
PY
"$DASHI" describe les > "$WORK/les.txt" || fail "dashi describe les"
for name in N steps dt nu0 cs seed save_every; do
  grep -q "^  $name " "$WORK/les.txt" || fail "dashi describe les does not list $name: $(cat "$WORK/les.txt")"
done
rc=0; "$DASHI" --json describe nope > "$WORK/nope.json" 2>/dev/null || rc=$?
[ $rc -ne 0 ] && [ "$(json "$WORK/nope.json" "d['error']['field']")" = kind ] || fail "dashi describe nope: exit $rc"
"$DASHI" --json describe > "$WORK/all.json" || fail "dashi --json describe"
[ "$(json "$WORK/all.json" "len(d['tables']) > 5")" = True ] || fail "dashi --json describe: $(head -c 300 "$WORK/all.json")"
ok "dashi describe [KIND], text and --json"
stop_daemon
