"""The subscriptions of `watch` and `log --follow` against a running dashid (tests/e2e/
test_watch.sh): hostile arguments are refused with the field named and leave the
connection usable; a client that subscribes a thousand times to a running job and never
reads keeps the daemon's RSS bounded while another client is served promptly, and once it
reads, every subscription still gets its latest state and, when the job ends, its answer.

watch_attacks.py SOCKET DAEMON_PID RUNNING_JOB MAX_WAITS
RUNNING_JOB is a job of this uid that runs until this script cancels it."""
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dashi_wire import call, connect, frame, read_frame, request  # noqa: E402

SOCK, PID, JOB, MAX_WAITS = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
MiB = 1 << 20
failures = []


def check(name, cond, what):
    print(f"{'ok' if cond else 'FAIL'} - {name}: {what}", flush=True)
    if not cond:
        failures.append(name)


def rss():
    with open(f"/proc/{PID}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def hostile_arguments():
    """Each bad request gets an error naming the field, on one connection that stays usable."""
    s = connect(SOCK)
    cases = [
        ("watch", {"id": "one"}, "E_BAD_TYPE", "id"),
        ("watch", {"id": -1}, "E_BAD_VALUE", "id"),
        ("watch", {"id": 2 ** 63 + 5}, None, "id"),
        ("watch", {"id": 999999}, "E_NOT_FOUND", "id"),
        ("watch", {"id": JOB, "every": 1}, None, "every"),
        ("log", {}, "E_MISSING_FIELD", "id"),
        ("log", {"id": JOB, "follow": "yes"}, "E_BAD_TYPE", "follow"),
        ("log", {"id": JOB, "limit": 0}, "E_BAD_VALUE", "limit"),
        ("log", {"id": JOB, "cursor": "log:x"}, "E_BAD_VALUE", "cursor"),
        ("log", {"id": JOB, "cursor": "atoms:1:2"}, "E_BAD_VALUE", "cursor"),
        ("log", {"id": JOB, "cursor": 7}, "E_BAD_TYPE", "cursor"),
        ("log", {"id": 999999, "follow": True}, "E_NOT_FOUND", "id"),
    ]
    for rid, (op, args, code, field) in enumerate(cases, 1):
        s.sendall(frame(request(op, args, rid=rid)))
        r = read_frame(s)
        got = r and r.get("ok") is False and r["id"] == rid and r["error"]["field"] == field and \
            (code is None or r["error"]["code"] == code)
        check(f"{op} {args}", got, f"{r and r.get('error')}")
    s.sendall(frame(request("ping", rid=99)))
    r = read_frame(s)
    check("the connection after the bad requests", r and r.get("ok") and r["id"] == 99, "ping answered")
    # A cursor from the daemon pages: limit 1 walks the events one by one, in order.
    seqs, cursor = [], None
    for _ in range(10):
        args = {"id": JOB, "limit": 1}
        if cursor:
            args["cursor"] = cursor
        s.sendall(frame(request("log", args, rid=100)))
        r = read_frame(s)["result"]
        seqs += [e["seq"] for e in r["events"]]
        cursor = r["next"]
        if not cursor:
            break
    check("log pages of one", len(seqs) >= 2 and seqs == sorted(seqs) and cursor is None, f"seqs {seqs}")
    s.close()


def too_many_subscriptions():
    """max_waits_per_connection subscriptions fit; one more is E_QUOTA naming the key."""
    s = connect(SOCK)
    s.sendall(b"".join(frame(request("watch", {"id": JOB}, rid=i + 1)) for i in range(MAX_WAITS + 1)))
    deadline = time.monotonic() + 20
    refused = None
    while refused is None and time.monotonic() < deadline:
        r = read_frame(s)
        if r and r.get("ok") is False:
            refused = r
    check("one subscription past max_waits_per_connection", refused is not None and
          refused["id"] == MAX_WAITS + 1 and refused["error"]["code"] == "E_QUOTA" and
          refused["error"]["field"] == "max_waits_per_connection", f"{refused and refused['error']}")
    s.close()


def good_client(stop, out):
    """Pings until stop is set; out gets (pings, slowest seconds, errors)."""
    n, slowest, errors = 0, 0.0, 0
    while not stop.is_set():
        t0 = time.monotonic()
        try:
            r = call(SOCK, "ping")
            errors += not (r and r.get("ok"))
        except OSError:
            errors += 1
        slowest = max(slowest, time.monotonic() - t0)
        n += 1
        time.sleep(0.02)
    out.extend([n, slowest, errors])


def never_reads():
    """Half watches, half log followers of the running job on one connection with a small
    receive buffer, unread for 4 s; then read: each watcher's first event after the pause is
    recent (coalesced, not a backlog), and after the cancel each request gets its answer."""
    n_watch = MAX_WAITS // 2
    n_log = MAX_WAITS - n_watch
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(SOCK)
    base = rss()
    s.sendall(b"".join(frame(request("watch", {"id": JOB}, rid=i + 1)) for i in range(n_watch)) +
              b"".join(frame(request("log", {"id": JOB, "follow": True}, rid=n_watch + i + 1))
                       for i in range(n_log)))
    stop, served = threading.Event(), []
    t = threading.Thread(target=good_client, args=(stop, served))
    t.start()
    peak = base
    t_end = time.monotonic() + 4
    while time.monotonic() < t_end:
        peak = max(peak, rss())
        time.sleep(0.05)
    stop.set()
    t.join()
    growth = peak - base
    print(f"figure: unread subscriptions: {MAX_WAITS}, rss_growth_mib={growth / MiB:.1f}, "
          f"pings={served[0]}, slowest_ping_s={served[1]:.3f}", flush=True)
    check("RSS with unread subscriptions", growth < 24 * MiB, f"grew {growth / MiB:.1f} MiB")
    check("another client meanwhile", served[0] > 20 and served[2] == 0 and served[1] < 2.0,
          f"{served[0]} pings, {served[2]} failed, slowest {served[1]:.3f} s")
    step_now = call(SOCK, "status", {"id": JOB})["result"]["step"]
    call(SOCK, "cancel", {"id": JOB})
    s.settimeout(30)
    steps, answered, frames, log_states, errors = {}, set(), 0, {}, []
    while len(answered) < MAX_WAITS:
        try:
            r = read_frame(s)
        except OSError as e:
            print(f"reading after the pause: {e!r}", flush=True)
            break
        if r is None:
            break
        frames += 1
        rid = r["id"]
        if "event" in r and rid <= n_watch:
            steps.setdefault(rid, []).append(r["event"]["step"])
        elif "event" in r:
            log_states.setdefault(rid, []).append(r["event"]["state"])
        elif "ok" in r:
            answered.add(rid)
            if not r["ok"]:
                errors.append(r["error"])
    s.close()
    print(f"figure: frames read after the pause: {frames}", flush=True)
    check("every subscription answered after the cancel", len(answered) == MAX_WAITS and not errors,
          f"{len(answered)} of {MAX_WAITS}, errors {errors[:3]}")
    # While the queue is full a watcher's latest state is held (coalesced), never a backlog:
    # after the pause each watcher ends on the job's final step, whatever it missed.
    latest = sum(1 for v in steps.values() if v[-1] >= step_now)
    per_watcher = sum(len(v) for v in steps.values()) / max(1, len(steps))
    print(f"figure: events per watcher {per_watcher:.1f} over the pause; step at the cancel {step_now}", flush=True)
    check("watchers end on the latest state", latest == n_watch,
          f"{latest} of {n_watch} watchers' last event at step >= {step_now}")
    check("followers saw the job's events in order", all(v[-1] == "cancelled" and v[0] == "queued"
                                                           for v in log_states.values()) and
          len(log_states) == n_log, f"{len(log_states)} followers")


hostile_arguments()
too_many_subscriptions()
never_reads()
if failures:
    print(f"{len(failures)} check(s) failed: {failures}")
    sys.exit(1)
