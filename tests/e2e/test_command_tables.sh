# End to end: the lists of ops and commands that are generated from the tables (the
# daemon's E_UNKNOWN_OP message from daemon/ops.c, dashi --help from client/dashi.c) name
# exactly what the daemon and dashi handle, and exactly what the documents (docs/protocol.md,
# docs/cli.md, dashi.1) and the bash completion list, so a new op or command cannot be left
# out of any of them.
. tests/e2e/lib.sh
start_daemon

"$PY" - "$DASHI_SOCKET" docs/protocol.md <<'EOF' || fail "the daemon's op list"
import re, sys
sys.path.insert(0, "tests/e2e")
from dashi_wire import call

sock, doc = sys.argv[1:]
r = call(sock, "format_disk")
assert r["error"]["code"] == "E_UNKNOWN_OP", r
m = re.fullmatch(r"unknown op 'format_disk' \(ops: ([a-z_ ]+)\)", r["error"]["message"])
assert m, f"no op list in {r['error']['message']!r}"
listed = m.group(1).split()
# Each listed op is one the daemon handles: an argument no op takes is refused by the op
# itself (so nothing runs, shutdown included), never as an unknown op.
for op in listed:
    code = call(sock, op, {"no_such_argument": 1})["error"]["code"]
    assert code != "E_UNKNOWN_OP", f"listed op {op} is unknown to the daemon"
section = open(doc).read().split("\n## Operations\n", 1)[1].split("\n#", 1)[0]  # its table, not the kinds below
documented = re.findall(r"^\| `([a-z_]+)` \|", section, re.M)
assert sorted(listed) == sorted(documented), \
    f"ops the daemon lists but docs/protocol.md does not: {sorted(set(listed) - set(documented))}; " \
    f"documented but not listed: {sorted(set(documented) - set(listed))}"
print(f"ok - the daemon lists its {len(listed)} ops, each handled and documented")
EOF

"$DASHI" --help > "$WORK/help.txt" || fail "dashi --help"
"$PY" - "$WORK/help.txt" docs/cli.md packaging/man/dashi.1 packaging/bash-completion/dashi "$DASHI" <<'EOF' || fail "dashi's command list"
import re, subprocess, sys

help_file, doc, man_page, completion, dashi = sys.argv[1:]
helped = re.findall(r"^  ([a-z]+)\b", open(help_file).read(), re.M)
assert len(helped) == len(set(helped)), f"a command twice in --help: {helped}"
# Each command in --help is one dashi runs: without a daemon it fails to connect (exit 5),
# where an unknown command is refused before (exit 1); help alone needs no daemon (exit 0).
for cmd in helped:
    rc = subprocess.run([dashi, "--no-autostart", "--socket", "/nonexistent/dashid.sock", cmd],
                        capture_output=True).returncode
    want = 0 if cmd == "help" else 5
    assert rc == want, f"dashi {cmd}: exit {rc}, not the {want} of a command that ran"
text = open(doc).read()
table = text.split("\n## dashi\n", 1)[1].split("\n### ", 1)[0]
documented = set(re.findall(r"^\| `([a-z]+)[ `]", table, re.M))
assert set(helped) == documented, \
    f"in --help but not docs/cli.md: {sorted(set(helped) - documented)}; " \
    f"documented but not in --help: {sorted(documented - set(helped))}"
man = open(man_page).read().split("\n.SH COMMANDS\n", 1)[1].split("\n.SH ", 1)[0]
in_man = re.findall(r"^\.TP\n\.BI? ([a-z]+)", man, re.M)
assert sorted(helped) == sorted(in_man), \
    f"in --help but not dashi.1: {sorted(set(helped) - set(in_man))}; " \
    f"in dashi.1 but not in --help: {sorted(set(in_man) - set(helped))}"
completed = re.search(r'local commands="([a-z ]+)"', open(completion).read()).group(1).split()
assert sorted(helped) == sorted(completed), \
    f"in --help but not completed: {sorted(set(helped) - set(completed))}; " \
    f"completed but not in --help: {sorted(set(completed) - set(helped))}"
print(f"ok - dashi --help lists its {len(helped)} commands, each run, documented (cli.md, dashi.1) and completed")
EOF

stop_daemon
