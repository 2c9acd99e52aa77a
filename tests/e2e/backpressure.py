"""Attacks a running dashid with clients that make it hold memory and descriptors
(issue 14, items 1, 2 and 8) and checks each stays bounded while a well-behaved client
of another uid keeps being served. Every attack runs even when an earlier one failed,
and prints its figures (`figure: ...`) so runs can be compared; exit status 1 if any
failed. An attack stops early once the daemon's RSS grows past its bound, so a daemon
without the limits is not driven into the OOM killer.

backpressure.py SOCKET DAEMON_PID LES_JOB BLOB_4MIB OP16 Z16 REPLY_TIMEOUT FRAME_TIMEOUT IDLE_TIMEOUT INFLIGHT
The timeouts (seconds) and max_inflight_bytes_per_uid (INFLIGHT, MiB) are those of the
daemon's config file; the other limits are the defaults of docs/cli.md.

backpressure.py fd-flood SOCKET DAEMON_PID HOLD_SECONDS (as root, a daemon with a small
descriptor limit): 64 connections from each of four uids, held for HOLD_SECONDS; the
connections past the daemon's headroom must be refused with E_QUOTA fd_reserve."""
import os
import select
import socket
import struct
import sys
import threading
import time

import msgpack

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dashi_wire import call as wire_call, connect as wire_connect, frame, read_frame, request  # noqa: E402

FD_FLOOD = sys.argv[1] == "fd-flood"
ARGS = sys.argv[2:] if FD_FLOOD else sys.argv[1:]
SOCK, PID = ARGS[0], int(ARGS[1])
MiB = 1 << 20
if not FD_FLOOD:
    LES_JOB, BLOB, OP16, Z16 = int(ARGS[2]), ARGS[3], ARGS[4], ARGS[5]
    REPLY_TIMEOUT, FRAME_TIMEOUT, IDLE_TIMEOUT = (float(a) for a in ARGS[6:9])
    INFLIGHT_CAP = int(ARGS[9]) * MiB  # max_inflight_bytes_per_uid
REPLY_CAP = 16 * MiB        # max_reply_queue_bytes (default)
CONNS_PER_UID = 64          # max_connections_per_uid (default)
SLACK = 64 * MiB            # allocator and sanitizer overhead allowed on top of a limit
NOBODY = 65534
failures = []


def connect(timeout=20):
    return wire_connect(SOCK, timeout)


def rss():
    with open(f"/proc/{PID}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def open_fds():
    return len(os.listdir(f"/proc/{PID}/fd"))


def check(name, cond, what):
    print(f"{'ok' if cond else 'FAIL'} - {name}: {what}", flush=True)
    if not cond:
        failures.append(f"{name}: {what}")


class RssWatch:
    """Samples the daemon's RSS every 50 ms; `over` is set once it grew past bound."""

    def __init__(self, bound):
        self.base = self.peak = rss()
        self.bound = bound
        self.over = threading.Event()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.done.is_set():
            self.peak = max(self.peak, rss())
            if self.peak - self.base > self.bound:
                self.over.set()
            time.sleep(0.05)

    def sleep(self, seconds):
        """Sleeps, but returns early (False) when the bound was passed."""
        return not self.over.wait(seconds)

    def finish(self, name):
        self.done.set()
        self.thread.join()
        growth = self.peak - self.base
        print(f"figure: {name}: rss_growth_mib={growth / MiB:.1f} bound_mib={self.bound / MiB:.0f}", flush=True)
        check(name, growth <= self.bound, f"RSS grew {growth / MiB:.1f} MiB (bound {self.bound / MiB:.0f} MiB)")


def send_until_blocked(s, data, seconds=3.0):
    """Sends as much of data as the daemon takes within `seconds`; returns the bytes sent."""
    s.settimeout(0.5)
    sent, deadline = 0, time.monotonic() + seconds
    while sent < len(data) and time.monotonic() < deadline:
        try:
            sent += s.send(data[sent:sent + 65536])
        except socket.timeout:
            continue
        except OSError:
            break
    return sent


def expect_refusal(s, field, within):
    """The daemon sends E_QUOTA naming field (id 0) and closes, within `within` seconds."""
    s.settimeout(within)
    try:
        r = read_frame(s)
        eof = r is not None and read_frame(s) is None
    except (socket.timeout, OSError) as e:
        return f"no refusal ({e!r})"
    if not r or r.get("ok") is not False or r["error"]["code"] != "E_QUOTA" or r["error"]["field"] != field:
        return f"expected E_QUOTA {field}, got {r}"
    return None if eof else "the connection stayed open after the refusal"


# ---- a well-behaved client of another uid, pinging throughout --------------------------

def good_client():
    """Forks a process (as nobody when we are root) that pings until told to stop; returns
    a function that stops it and returns (pings served, failures, slowest ping in s)."""
    stop_r, stop_w = os.pipe()
    res_r, res_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(stop_w)
        os.close(res_r)
        if os.getuid() == 0:
            become(NOBODY)
        served, errors, slowest = 0, [], 0.0
        while not select.select([stop_r], [], [], 0.02)[0]:
            t0 = time.monotonic()
            try:
                r = wire_call(SOCK, "ping")
                if not r or not r.get("ok"):
                    errors.append(repr(r))
                served += 1
            except Exception as e:  # noqa: BLE001 - any failure is reported to the parent
                errors.append(repr(e))
            slowest = max(slowest, time.monotonic() - t0)
        os.write(res_w, msgpack.packb([served, errors[:3], len(errors), slowest]))
        os._exit(0)
    os.close(stop_r)
    os.close(res_w)

    def stop():
        os.close(stop_w)
        data = b""
        while chunk := os.read(res_r, 65536):
            data += chunk
        os.waitpid(pid, 0)
        return msgpack.unpackb(data)
    return stop


# ---- item 1: unbounded reply queues ---------------------------------------------------

def unread_waits():
    """~95 KB of pipelined waits on a running job, never read; every waiter gets events."""
    name = "pipelined unread waits"
    watch = RssWatch(REPLY_CAP + SLACK)
    data = b"".join(frame(request("wait", {"id": LES_JOB}, rid=i + 1)) for i in range(3000))
    s = connect()
    send_until_blocked(s, data)
    watch.sleep(6)
    s.close()
    watch.finish(name)


def unread_gets():
    """250 pipelined gets of a 4 MiB blob, never read: paused, then dropped."""
    name = "unread 4 MiB gets"
    watch = RssWatch(REPLY_CAP + SLACK)
    s = connect()
    send_until_blocked(s, b"".join(frame(request("get", {"hash": BLOB}, rid=i + 1)) for i in range(250)))
    started = time.monotonic()
    watch.sleep(4)
    watch.finish(name)
    if watch.over.is_set():
        s.close()
        return
    # Dropped once its queue stayed full for reply_queue_timeout_s: what it can read then
    # is what was queued, far from the 1 GB asked for, and then EOF.
    time.sleep(max(0.0, REPLY_TIMEOUT + 2.5 - (time.monotonic() - started)))
    s.settimeout(10)
    got = 0
    try:
        while chunk := s.recv(1 << 20):
            got += len(chunk)
        eof = True
    except (socket.timeout, OSError):
        eof = False
    s.close()
    print(f"figure: {name}: bytes_delivered_mib={got / MiB:.1f}", flush=True)
    check(name, eof and got < 64 * MiB, f"dropped after {REPLY_TIMEOUT:g} s with {got / MiB:.1f} MiB delivered "
          f"(EOF: {eof})")


def unread_pings():
    """100,000 pipelined pings, never read."""
    name = "100,000 unread pings"
    watch = RssWatch(REPLY_CAP + SLACK)
    s = connect()
    sent = send_until_blocked(s, frame(request("ping")) * 100000)
    watch.sleep(2)
    s.close()
    print(f"figure: {name}: request_bytes_taken={sent}", flush=True)
    watch.finish(name)


# ---- item 2: connections, in-flight frames, timeouts ------------------------------------

def many_connections():
    """400 idle connections from one uid: CONNS_PER_UID are admitted, the rest refused
    with an error frame, and a user of another uid is still served."""
    name = "400 idle connections"
    base = open_fds()
    conns = []
    for _ in range(400):
        try:
            conns.append(connect(5))
        except OSError as e:
            check(name, False, f"connect failed after {len(conns)}: {e!r}")
            break
    time.sleep(1.5)
    held = open_fds()
    refused, wrong = 0, []
    for s in conns:
        if select.select([s], [], [], 0)[0]:
            why = expect_refusal(s, "max_connections_per_uid", 5)
            refused += why is None
            if why:
                wrong.append(why)
    admitted = len(conns) - refused
    print(f"figure: {name}: daemon_fds_before={base} while_held={held} admitted={admitted} refused={refused}",
          flush=True)
    check(name, not wrong, f"refusals carry E_QUOTA max_connections_per_uid ({wrong[:2]})")
    check(name, admitted <= CONNS_PER_UID, f"{admitted} admitted (limit {CONNS_PER_UID})")
    check(name, held - base <= CONNS_PER_UID + 8, f"the daemon held {held - base} more descriptors")
    if os.getuid() == 0:
        r = other_uid_ping()
        check(name, r == "ok", f"a user of another uid is served meanwhile ({r})")
    else:
        print("SKIP - another uid's ping: not root", flush=True)
    for s in conns:
        s.close()
    # The next attack needs the uid's connection slots back: wait until the daemon has
    # seen these closes (on a loaded machine that takes a moment).
    deadline = time.monotonic() + 20
    while open_fds() > base + 4 and time.monotonic() < deadline:
        time.sleep(0.1)


def become(uid):
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)


def other_uid_ping():
    pid = os.fork()
    if pid == 0:
        become(NOBODY)
        try:
            r = wire_call(SOCK, "ping")
            os._exit(0 if r and r.get("ok") else 1)
        except Exception:  # noqa: BLE001
            os._exit(2)
    return "ok" if os.waitpid(pid, 0)[1] == 0 else "refused or failed"


def inflight_per_uid():
    """30 connections each holding half of an 8 MiB frame (120 MiB in all): past the
    uid's in-flight cap, connections are refused."""
    name = "half-sent frames over many connections"
    watch = RssWatch(INFLIGHT_CAP + SLACK)
    # Eight connections of 4 MiB each (twice the cap) from one thread, round robin and
    # non-blocking, until the daemon answers or most of frame_timeout_s has passed: the
    # kernel buffers little per connection, so the daemon must have read past the cap.
    conns, refused = [connect(5) for _ in range(8)], 0
    half = struct.pack(">I", 8 * MiB) + b"\x84" + b"\0" * (4 * MiB)
    sent = [0] * len(conns)
    for s in conns:
        s.setblocking(False)
    deadline = time.monotonic() + 0.7 * FRAME_TIMEOUT
    while time.monotonic() < deadline:
        busy = [s for i, s in enumerate(conns) if sent[i] < len(half)]
        if not busy or select.select(conns, [], [], 0)[0]:
            break
        for s in select.select([], busy, [], 0.2)[1]:
            i = conns.index(s)
            try:
                sent[i] += s.send(half[sent[i]:sent[i] + 65536])
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                sent[i] = len(half)
    for s in conns:
        s.setblocking(True)
    print(f"figure: {name}: sent_mib={sum(sent) / MiB:.1f} cap_mib={INFLIGHT_CAP / MiB:.0f}", flush=True)
    watch.sleep(1)
    # A connection the daemon closes while our bytes are still unread in its socket reads as
    # reset here, the refusal frame lost with it: that too is the drop the cap asks for.
    reset, other = 0, []
    for s in conns:
        if select.select([s], [], [], 0)[0]:
            why = expect_refusal(s, "max_inflight_bytes_per_uid", 2)
            refused += why is None
            reset += why is not None and "ConnectionResetError" in why
            if why is not None and "ConnectionResetError" not in why:
                other.append(why)
        s.close()
    print(f"figure: {name}: refused={refused} reset={reset} of {len(conns)}", flush=True)
    watch.finish(name)
    check(name, refused + reset > 0 and not other,
          f"{refused} connections refused with E_QUOTA max_inflight_bytes_per_uid, {reset} reset, other {other}")


def half_sent_frame():
    """Half of an 8 MiB frame, then silence: dropped after frame_timeout_s."""
    name = "half-sent 8 MiB frame"
    s = connect()
    t0 = time.monotonic()
    send_until_blocked(s, struct.pack(">I", 8 * MiB) + b"\x84" + b"\0" * (4 * MiB))
    why = expect_refusal(s, "frame_timeout_s", FRAME_TIMEOUT + 8)
    took = time.monotonic() - t0
    s.close()
    print(f"figure: {name}: dropped_after_s={took:.1f}", flush=True)
    check(name, why is None and took >= FRAME_TIMEOUT - 0.5, f"{why or 'refused'} after {took:.1f} s")


def slow_loris():
    """A ping frame dribbled one byte every 0.4 s (14 s in all): dropped after frame_timeout_s."""
    name = "slow-loris frame"
    s = connect()
    data = frame(request("ping", rid=5))
    t0, why = time.monotonic(), "never dropped"
    for b in data:
        if select.select([s], [], [], 0.4)[0]:
            why = expect_refusal(s, "frame_timeout_s", 2)
            break
        try:
            s.send(bytes([b]))
        except OSError:
            break
    took = time.monotonic() - t0
    s.close()
    print(f"figure: {name}: dropped_after_s={took:.1f}", flush=True)
    check(name, why is None, f"{why or 'refused'} after {took:.1f} s (frame of {len(data)} bytes)")


def idle_connection():
    """A connection that says nothing: closed after idle_timeout_s."""
    name = "idle connection"
    s = connect()
    t0 = time.monotonic()
    why = expect_refusal(s, "idle_timeout_s", IDLE_TIMEOUT + 8)
    took = time.monotonic() - t0
    s.close()
    print(f"figure: {name}: closed_after_s={took:.1f}", flush=True)
    check(name, why is None and took >= IDLE_TIMEOUT - 0.5, f"{why or 'closed'} after {took:.1f} s")


# ---- item 8: duplicate keys, bad requests keep the connection, half-close ----------------

def pk(*objs):
    return b"".join(msgpack.packb(o) for o in objs)


def raw_request(rid, op, args_map: bytes):
    return frame(b"\x84" + pk("v", 1, "id", rid, "op", op, "args") + args_map)


def answer(s, rid):
    while True:
        r = read_frame(s)
        if r is None or (r.get("id") == rid and "event" not in r):
            return r


def nested_duplicates():
    name = "duplicate keys inside args"
    job_args = b"\x83" + pk("N", 16, "steps", 5, "steps", 10000)
    cases = [(raw_request(2, "submit", b"\x82" + pk("kind", "les", "args") + job_args), "args.args.steps"),
             (raw_request(3, "ping", b"\x81" + pk("x") + b"\x91\x82" + pk("a", 1, "a", 2)), "args.x[0].a")]
    s = connect()
    for rid, (data, field) in enumerate(cases, 2):
        s.sendall(data)
        r = answer(s, rid)
        ok = r and r.get("ok") is False and r["error"]["code"] == "E_BAD_REQUEST" and r["error"]["field"] == field
        check(name, ok, f"E_BAD_REQUEST naming {field}, got {r}")
        if r and r.get("ok"):
            wire_call(SOCK, "cancel", {"id": r["result"]["id"]})
    s.close()


def bad_requests_keep_connection():
    name = "E_BAD_REQUEST and E_VERSION keep the connection"
    s = connect()
    for rid, data, code in [(4, frame(request("ping", rid=4, v=99)), "E_VERSION"),
                            (5, frame(msgpack.packb({"v": 1, "id": 5, "args": {}})), "E_BAD_REQUEST")]:
        try:
            s.sendall(data)
            r = answer(s, rid)
            s.sendall(frame(request("ping", rid=rid + 100)))
            r2 = answer(s, rid + 100)
        except OSError as e:
            r, r2 = None, repr(e)
        check(name, r and r["error"]["code"] == code and r2 and r2.get("ok"), f"{code} then a ping: {r} / {r2}")
    s.close()


def wait_then_half_close():
    name = "wait then half-close"
    r = wire_call(SOCK, "submit", {"kind": "rollout", "args": {"op": OP16, "z0": Z16, "steps": 3000}})
    if not r or not r.get("ok"):
        check(name, False, f"submit failed: {r}")
        return
    job = r["result"]["id"]
    s = connect(60)
    s.sendall(frame(request("wait", {"id": job}, rid=9)))
    s.shutdown(socket.SHUT_WR)
    try:
        r = answer(s, 9)
    except OSError as e:
        r = repr(e)
    s.close()
    ok = isinstance(r, dict) and r.get("ok") and r["result"]["state"] == "succeeded"
    check(name, ok, f"the final record after the client's half-close: {r}")


def flood_as(uid, stop_r, res_w):
    """In a child: 64 connections as uid; reports how each was answered, holds them
    until stop_r is closed."""
    become(uid)
    conns, outcome = [], {"admitted": 0, "fd_reserve": 0, "other": []}
    for _ in range(64):
        try:
            conns.append(connect(5))
        except OSError as e:
            outcome["other"].append(repr(e))
    time.sleep(1.5)
    for s in conns:
        if not select.select([s], [], [], 0)[0]:
            outcome["admitted"] += 1
            continue
        why = expect_refusal(s, "fd_reserve", 5)
        if why:
            outcome["other"].append(why)
        else:
            outcome["fd_reserve"] += 1
    os.write(res_w, msgpack.packb(outcome))
    os.close(res_w)
    select.select([stop_r], [], [])
    os._exit(0)


def fd_flood(hold):
    name = "connections past the descriptor headroom"
    base = open_fds()
    stop_r, stop_w = os.pipe()
    kids = []
    for uid in (65534, 65533, 65532, 65531):
        res_r, res_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(stop_w)  # so that closing the parent's end reaches the child
            flood_as(uid, stop_r, res_w)
        os.close(res_w)
        kids.append((pid, res_r))
    outcomes = []
    for pid, res_r in kids:
        data = b""
        while chunk := os.read(res_r, 65536):
            data += chunk
        outcomes.append(msgpack.unpackb(data))
    held = open_fds()
    time.sleep(hold)
    os.close(stop_w)
    for pid, _ in kids:
        os.waitpid(pid, 0)
    admitted = sum(o["admitted"] for o in outcomes)
    refused = sum(o["fd_reserve"] for o in outcomes)
    other = [w for o in outcomes for w in o["other"]]
    print(f"figure: {name}: daemon_fds_before={base} while_held={held} admitted={admitted} "
          f"refused_fd_reserve={refused} other={len(other)}", flush=True)
    check(name, refused > 0 and not other, f"{refused} refused with E_QUOTA fd_reserve, otherwise: {other[:2]}")


def main():
    if FD_FLOOD:
        fd_flood(float(ARGS[2]))
        if failures:
            sys.exit(1)
        return
    stop_good = good_client()
    fds_start = open_fds()
    # The timeouts run side by side, before the memory attacks so as not to add to their RSS.
    timed = [threading.Thread(target=f) for f in (half_sent_frame, slow_loris, idle_connection)]
    for t in timed:
        t.start()
    for t in timed:
        t.join()
    for attack in (unread_waits, unread_gets, unread_pings):
        attack()
    many_connections()
    inflight_per_uid()
    nested_duplicates()
    bad_requests_keep_connection()
    wait_then_half_close()
    served, errors, nerrors, slowest = stop_good()
    print(f"figure: well-behaved client: pings={served} failed={nerrors} slowest_s={slowest:.2f}", flush=True)
    check("well-behaved client of another uid", served > 0 and nerrors == 0, f"{served} pings, errors {errors}")
    time.sleep(1)
    fds_end = open_fds()
    print(f"figure: daemon fds at start {fds_start}, at end {fds_end}", flush=True)
    check("descriptors", fds_end <= fds_start + 4, f"{fds_start} at the start, {fds_end} at the end")
    if failures:
        print(f"{len(failures)} check(s) failed:\n  " + "\n  ".join(failures))
        sys.exit(1)


main()
