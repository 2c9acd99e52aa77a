# End to end: socket trust (docs/protocol.md "Socket trust"). dashid refuses runtime and
# state directories another user could write or replace, and sockets of another owner;
# dashi and the Python client refuse a daemon that is not themselves, root or the daemon
# user. The second user is uid 65534, so the cases that need it run only as root.
. tests/e2e/lib.sh
SECOND_UID=yes
if [ "$(id -u)" != 0 ] || ! command -v setpriv > /dev/null; then
  SECOND_UID=
  echo "skip - the cases with a second uid need root and setpriv (util-linux)"
fi

# refused_start NAME SOCKET STATE PATTERN: dashid must exit 1 naming the reason.
refused_start() {
  # A daemon that accepts the path would run on: the timeout turns that into a failure.
  rc=0; timeout 120 "$DASHID" --foreground --socket "$2" --state-dir "$3" > "$WORK/$1.log" 2>&1 || rc=$?
  [ $rc -eq 1 ] || { cat "$WORK/$1.log"; fail "$1: dashid should exit 1, got $rc"; }
  grep -q "$4" "$WORK/$1.log" || { cat "$WORK/$1.log"; fail "$1: expected '$4' in the error"; }
  ok "$1: dashid refuses ($(grep -o 'refusing.*' "$WORK/$1.log" | head -n 1))"
}

mkdir -m 0700 "$WORK/s"
mkdir "$WORK/open" && chmod 0777 "$WORK/open"
refused_start "world-writable socket dir" "$WORK/open/dashid.sock" "$WORK/s/state" "others may write it"
[ ! -e "$WORK/open/dashid.sock" ] || fail "a socket was bound in the world-writable dir"

mkdir -m 0700 "$WORK/real" && ln -s "$WORK/real" "$WORK/link"
refused_start "symlinked socket dir" "$WORK/link/dashid.sock" "$WORK/s/state" "a symlink"

mkdir "$WORK/state-open" && chmod 0770 "$WORK/state-open"
refused_start "group-writable state dir" "$WORK/s/dashid.sock" "$WORK/state-open" "others may write it"

mkdir -m 0777 "$WORK/shared" && mkdir -m 0700 "$WORK/shared/run"
refused_start "socket dir in a non-sticky shared dir" "$WORK/shared/run/dashid.sock" "$WORK/s/state" "not sticky"

if [ -n "$SECOND_UID" ]; then
  # The issue's attack: another user pre-creates the fallback /tmp/dashid-UID (here a
  # path of our own, so no real daemon is disturbed) with 0777, ready to swap the socket.
  # $WORK/tmp stands for /tmp: sticky and world-writable.
  mkdir -m 1777 "$WORK/tmp"
  as_nobody mkdir -m 0777 "$WORK/tmp/dashid-victim"
  refused_start "dir pre-created 0777 by another uid" "$WORK/tmp/dashid-victim/dashid.sock" "$WORK/s/state" \
    "owner nobody, mode 0777"
  as_nobody chmod 0700 "$WORK/tmp/dashid-victim"
  refused_start "dir owned by another uid" "$WORK/tmp/dashid-victim/dashid.sock" "$WORK/s/state" \
    "not owned by the daemon's user"
  as_nobody mkdir -m 0700 "$WORK/tmp/state-theirs"
  refused_start "state dir owned by another uid" "$WORK/s/dashid.sock" "$WORK/tmp/state-theirs" "not owned"
  # A socket left in our directory by someone else (owner changed after the fact).
  "$PY" -c "import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])" "$WORK/s/dashid.sock"
  chown 65534:65534 "$WORK/s/dashid.sock"
  refused_start "socket of another uid" "$WORK/s/dashid.sock" "$WORK/s/state" "a socket of another user"
  rm -f "$WORK/s/dashid.sock"
fi

# Our own daemon (a dir we created, mode 0755): accepted, by dashi and by the Python client.
start_daemon
"$DASHI" --no-autostart ping > /dev/null || fail "our own daemon refused"
PYTHONPATH=client/python "$PY" -c "import dashi_client; dashi_client.connect().ping()" || fail "python: own daemon"
ok "a daemon of our own uid is accepted"
stop_daemon

if [ -n "$SECOND_UID" ]; then
  # A fake daemon run by uid 65534: dashi must refuse it before sending anything.
  as_nobody mkdir -m 0755 "$WORK/tmp/fake"
  setpriv --reuid=65534 --regid=65534 --clear-groups "$PY" tests/e2e/fake_daemon.py "$WORK/tmp/fake/dashid.sock" \
    "$WORK/tmp/fake/received" &
  FAKE_PID=$!
  trap 'kill "$FAKE_PID" 2>/dev/null || true; cleanup' EXIT
  i=0; while [ ! -S "$WORK/tmp/fake/dashid.sock" ]; do i=$((i + 1)); [ $i -lt 100 ] || fail "fake daemon"; sleep 0.1; done
  rc=0; "$DASHI" --no-autostart --socket "$WORK/tmp/fake/dashid.sock" ping > "$WORK/fake.out" 2> "$WORK/fake.err" || rc=$?
  [ $rc -eq 5 ] || { cat "$WORK/fake.err"; fail "dashi should refuse the fake daemon with exit 5, got $rc"; }
  grep -q "runs as uid 65534, not as you (uid 0), root or the daemon user" "$WORK/fake.err" ||
    fail "refusal message: $(cat "$WORK/fake.err")"
  [ ! -s "$WORK/tmp/fake/received" ] || fail "dashi sent $(wc -c < "$WORK/tmp/fake/received") bytes to the fake daemon"
  ok "dashi --socket refuses a daemon of uid 65534 ($(cat "$WORK/fake.err"))"

  rc=0; "$DASHI" --json --socket "$WORK/tmp/fake/dashid.sock" ping > "$WORK/fake.json" 2> "$WORK/fake.err" || rc=$?
  [ $rc -eq 5 ] && [ "$(json "$WORK/fake.json" "d['error']['code']")" = E_CONNECT ] ||
    fail "with autostart allowed, a refused daemon is still refused (exit $rc)"
  [ ! -s "$WORK/tmp/fake/received" ] || fail "bytes reached the fake daemon"
  ! grep -q "starting a per-user dashid" "$WORK/fake.err" || fail "dashi started a daemon over the refused socket"
  ok "no autostart over a refused socket"

  rc=0; PYTHONPATH=client/python "$PY" -c "
import sys, dashi_client
try:
    dashi_client.connect(sys.argv[1])
except dashi_client.DashiError as e:
    print(e); sys.exit(5 if e.code == 'E_CONNECT' and 'runs as uid 65534' in e.message else 1)
" "$WORK/tmp/fake/dashid.sock" > "$WORK/py.out" || rc=$?
  [ $rc -eq 5 ] || fail "the Python client should refuse the fake daemon: $(cat "$WORK/py.out")"
  [ ! -s "$WORK/tmp/fake/received" ] || fail "the Python client sent bytes to the fake daemon"
  ok "the Python client refuses it too"

  DASHI_DAEMON_USER=nobody "$DASHI" --no-autostart --socket "$WORK/tmp/fake/dashid.sock" ping > /dev/null ||
    fail "DASHI_DAEMON_USER=nobody should make uid 65534 trusted"
  [ -s "$WORK/tmp/fake/received" ] || fail "the accepted daemon received nothing"
  ok "DASHI_DAEMON_USER=nobody trusts uid 65534"
  kill "$FAKE_PID"; wait "$FAKE_PID" 2>/dev/null || true
  trap cleanup EXIT
fi
