"""Chaos: honest users of two uids submit and wait while a hostile third uid attacks the
daemon over its real socket, and the daemon is killed with -9 and restarted twice.

    chaos.py run WORK DASHID DASHI CONFIG   # the test (tests/e2e/test_chaos.sh), as root
    chaos.py hostile SOCKET DASHI SECONDS    # the attacker, started by `run` as uid 1

At the end it checks the issue's invariants: the daemon's RSS stayed under the bound the
configuration documents, every honest job succeeded (resumed after an interruption where it
had a checkpoint, resubmitted where it had none) with the outputs of an unbroken run, the
database passes `PRAGMA integrity_check`, every blob file hashes to its name, `dashi fsck`
agrees, and the daemon still stops cleanly."""
import json
import os
import random
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time

import msgpack

import dashi_wire
from dashi_wire import blob_address, connect, frame, read_frame

NOBODY = 65534
HOSTILE_UID = 1  # the `daemon` account of Debian: a third local user
MiB = 1 << 20


def request(op, args=None, rid=1):
    """One framed request."""
    return frame(dashi_wire.request(op, args, rid))


# ---------------------------------------------------------------- the attacker
def hostile(sock, dashi, seconds):
    """Every attack of the hardening issue, in a loop, tolerant of the daemon being down.
    Prints one line of counts at the end; never fails (the invariants are checked by `run`)."""
    end = time.time() + seconds
    counts = {}

    def note(k):
        counts[k] = counts.get(k, 0) + 1

    fd, blob = tempfile.mkstemp(suffix=".npy")
    with os.fdopen(fd, "wb") as f:  # a 4 MiB float64 array in .npy form
        hdr = b"{'descr': '<f8', 'fortran_order': False, 'shape': (524288,), }"
        hdr += b" " * (118 - len(hdr)) + b"\n"
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr + os.urandom(4 * MiB))
    big = None

    def running_job(s):
        s.sendall(request("list", {"state": "running"}, rid=2))
        r = read_frame(s)
        jobs = (r or {}).get("result", {}).get("jobs", []) if r and r.get("ok") else []
        return jobs[0]["id"] if jobs else 1

    def unread_waits(s):
        job = running_job(s)
        s.sendall(b"".join(request("wait", {"id": job}, rid=10 + i) for i in range(20000)))

    def unread_gets(s):
        s.sendall(b"".join(request("get", {"hash": big, "length": 4 * MiB}, rid=i) for i in range(250)))

    def unread_pings(s):
        s.sendall(b"".join(request("ping", rid=i) for i in range(100000)))

    def half_frame(s):
        s.sendall(struct.pack(">I", 8 * MiB) + b"\x84" + b"\x00" * (2 * MiB))

    def slow_loris(s):
        data = request("ping", rid=5)
        for b in data[:-1]:
            s.sendall(bytes([b]))
            time.sleep(0.5)

    def malformed(s):
        junk = [frame(os.urandom(random.randint(1, 64))),
                frame(b'\x84\xa1v\x01\xa2id\x01\xa2op\xa6submit\xa4args\x82\xa4kind\xa3les\xa4args'
                      b'\x82\xa5steps\x05\xa5steps\xcd\x27\x10'),  # a duplicate key inside the job's args
                frame(msgpack.packb({"v": 9, "id": 1, "op": "ping", "args": {}})),
                struct.pack(">I", 0x7FFFFFFF)]
        s.sendall(random.choice(junk))
        read_frame(s)

    def many_connections(_s):
        held = []
        try:
            for _ in range(400):
                held.append(connect(sock, 2))
        except OSError:
            note("connect-refused")
        time.sleep(1)
        for c in held:
            c.close()

    def loop(attack):
        """One attack again and again, each connection left open and unread for a while."""
        held = []
        while time.time() < end:
            try:
                s = connect(sock)
                attack(s)
                note(attack.__name__)
                held.append(s)
            except (OSError, socket.timeout):
                note(attack.__name__ + "-cut")  # refused, dropped or timed out: all fine
            while len(held) > 2:
                held.pop(0).close()
            time.sleep(0.1)
        for s in held:
            s.close()

    while big is None and time.time() < end:  # the blob the unread gets ask for
        r = subprocess.run([dashi, "--no-autostart", "put", blob], capture_output=True, text=True)
        big = r.stdout.strip() if r.returncode == 0 else None
        time.sleep(0.2)
    attacks = [unread_waits, unread_gets, unread_pings, half_frame, slow_loris, malformed, many_connections]
    threads = [threading.Thread(target=loop, args=(a,)) for a in attacks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    os.unlink(blob)
    print("# hostile:", json.dumps(counts, sort_keys=True), flush=True)


# ---------------------------------------------------------------- the test
class Chaos:
    def __init__(self, work, dashid, dashi, config):
        self.work, self.dashid, self.dashi, self.config = work, dashid, dashi, config
        self.sock = os.path.join(work, "dashid.sock")
        self.state = os.path.join(work, "state")
        self.proc = None
        self.lock = threading.Lock()
        self.rss_base = 0
        self.rss_max = 0
        self.fds_max = 0
        self.failures = []
        self.resubmitted = set()  # interrupted without a checkpoint, so submitted again
        self.stop = threading.Event()

    def fail(self, msg):
        with self.lock:
            self.failures.append(msg)
        print("FAIL:", msg, flush=True)

    def cli(self, args, uid=0, timeout=120):
        cmd = [self.dashi, "--json", "--no-autostart"] + args
        if uid:
            cmd = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"] + cmd
        env = dict(os.environ, DASHI_SOCKET=self.sock)
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
        try:
            doc = json.loads(r.stdout) if r.stdout.strip() else None
        except json.JSONDecodeError:
            doc = None
        return r.returncode, doc

    # -- the daemon
    def start(self):
        env = dict(os.environ)
        preload = os.environ.get("DASHI_TEST_PRELOAD", "")
        if preload:
            env["LD_PRELOAD"] = preload
        # A small ASan quarantine, so that RSS measures live memory and not freed blocks
        # kept for use-after-free detection.
        env["ASAN_OPTIONS"] = os.environ.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=16"
        log = open(os.path.join(self.work, "dashid.log"), "ab")
        self.proc = subprocess.Popen([self.dashid, "--foreground", "--socket", self.sock, "--state-dir",
                                      self.state, "--config", self.config], stdout=log, stderr=log, env=env)
        for _ in range(600):
            if self.cli(["ping"])[0] == 0:
                return
            if self.proc.poll() is not None:
                raise SystemExit(f"dashid exited during startup ({self.proc.returncode})")
            time.sleep(0.1)
        raise SystemExit("dashid did not start")

    def kill9(self):
        self.proc.kill()
        self.proc.wait()

    def sample(self):
        """RSS and descriptors of the live daemon, every 100 ms."""
        while not self.stop.is_set():
            p = self.proc
            try:
                with open(f"/proc/{p.pid}/status") as f:
                    rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:")) * 1024
                fds = len(os.listdir(f"/proc/{p.pid}/fd"))
                with self.lock:
                    self.rss_max = max(self.rss_max, rss)
                    self.fds_max = max(self.fds_max, fds)
            except (OSError, StopIteration):
                pass
            time.sleep(0.1)

    # -- honest users
    def submit(self, spec, uid):
        """Submits until the daemon answers; a lost reply may leave a second copy, which
        must then succeed like any other job."""
        while True:
            rc, doc = self.cli(["submit"] + spec + ["--no-reuse"], uid)  # runs, not the references' results
            if rc == 0:
                return doc["id"]
            if rc not in (4, 5):
                self.fail(f"uid {uid}: submit {spec} exited {rc}: {doc}")
                return None
            time.sleep(0.2)

    def honest(self, uid, specs):
        """Submits its jobs, then follows them as a user would: resumes what was interrupted
        with a checkpoint, resubmits what was interrupted without one."""
        jobs = {self.submit(s, uid): s for s in specs}
        jobs.pop(None, None)
        pending = set(jobs)
        deadline = time.time() + 240
        while pending and time.time() < deadline:
            for job in sorted(pending):
                rc, rec = self.cli(["show", str(job)], uid)
                if rc != 0 or not rec:
                    continue  # daemon down for a moment
                st = rec["state"]
                if st == "succeeded":
                    pending.discard(job)
                elif st == "interrupted" and rec.get("checkpoint"):
                    rc, doc = self.cli(["resume", str(job)], uid)
                    if rc not in (0, 4, 5):
                        self.fail(f"uid {uid}: resume {job} exited {rc}: {doc}")
                        pending.discard(job)
                elif st == "interrupted":
                    new = self.submit(jobs[job], uid)
                    with self.lock:
                        self.resubmitted.add(job)
                    pending.discard(job)
                    if new is not None:
                        jobs[new] = jobs[job]
                        pending.add(new)
                elif st in ("failed", "cancelled"):
                    self.fail(f"uid {uid}: job {job} {st}: {rec.get('error')}")
                    pending.discard(job)
            self.cli(["ping"], uid)
            time.sleep(0.3)
        if pending:
            self.fail(f"uid {uid}: jobs {sorted(pending)} never finished")

    def run(self):
        self.start()
        specs = [["les", "--N", "32", "--steps", "1500", "--save-every", "100", "--seed", "3"],
                 ["les", "--N", "32", "--steps", "600", "--save-every", "50", "--seed", "4"],
                 ["rollout", "--op", None, "--z0", None, "--steps", "20000", "--hash-every", "10"]]
        # Inputs of the rollout: an orthogonal operator, so a wrong resume cannot hide.
        import numpy as np
        q, _ = np.linalg.qr(np.random.default_rng(7).standard_normal((64, 64)))
        np.save(os.path.join(self.work, "q.npy"), q)
        np.save(os.path.join(self.work, "z.npy"), np.random.default_rng(8).standard_normal(64))
        for name, i in (("q", 2), ("z", 4)):
            r = subprocess.run([self.dashi, "--no-autostart", "put", os.path.join(self.work, name + ".npy")],
                               capture_output=True, text=True, env=dict(os.environ, DASHI_SOCKET=self.sock))
            specs[2][i] = r.stdout.strip()
        # Unbroken reference runs, before any attack.
        refs = {}
        for spec in specs:
            rc, rec = self.cli(["submit"] + spec + ["--wait"])
            assert rc == 0 and rec["state"] == "succeeded", (spec, rc, rec)
            refs[tuple(spec)] = rec["outputs"]
            if spec[0] == "rollout":
                rc, h = self.cli(["hashes", str(rec["id"])])
                refs["hashes"] = h["hashes"]
        time.sleep(0.5)
        with open(f"/proc/{self.proc.pid}/status") as f:
            self.rss_base = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:")) * 1024
        print(f"# reference runs done; daemon RSS {self.rss_base / MiB:.0f} MiB", flush=True)

        sampler = threading.Thread(target=self.sample, daemon=True)
        sampler.start()
        attacker = subprocess.Popen(["setpriv", f"--reuid={HOSTILE_UID}", f"--regid={HOSTILE_UID}",
                                     "--clear-groups", sys.executable, "-u", __file__, "hostile", self.sock,
                                     self.dashi, "40"])
        users = [threading.Thread(target=self.honest, args=(uid, specs)) for uid in (0, NOBODY)]
        for t in users:
            t.start()
        for pause in (10, 12):  # kill -9 twice while jobs run and attacks go on
            time.sleep(pause)
            self.kill9()
            print("# kill -9; restarting", flush=True)
            self.start()
        attacker.wait(timeout=120)
        for t in users:
            t.join()
        self.stop.set()
        sampler.join()

        # -- invariants
        bound = int(os.environ["CHAOS_RSS_BOUND"])
        growth = self.rss_max - self.rss_base
        print(f"# RSS: base {self.rss_base / MiB:.0f} MiB, max {self.rss_max / MiB:.0f} MiB "
              f"(growth {growth / MiB:.0f} MiB, bound {bound / MiB:.0f} MiB); max fds {self.fds_max}", flush=True)
        if growth > bound:
            self.fail(f"RSS grew by {growth / MiB:.0f} MiB, over the bound of {bound / MiB:.0f} MiB")
        rc, listing = self.cli(["list", "--limit", "1000"])
        honest_jobs = [j for j in listing["jobs"] if j["uid"] in (0, NOBODY)]
        print(f"# {len(honest_jobs)} honest jobs, {len(self.resubmitted)} resubmitted after an interruption "
              f"without a checkpoint", flush=True)
        for j in honest_jobs:
            rc, rec = self.cli(["show", str(j["id"])])
            if rec["state"] == "interrupted" and j["id"] in self.resubmitted:
                continue
            if rec["state"] != "succeeded":
                self.fail(f"job {j['id']} (uid {j['uid']}) ended {rec['state']}: {rec.get('error')}")
                continue
            spec = next(s for s in specs if s[0] == rec["kind"] and
                        (s[0] != "les" or s[s.index("--seed") + 1] == str(rec["params"]["seed"])))
            if rec["outputs"] != refs[tuple(spec)]:
                self.fail(f"job {j['id']}: outputs differ from the unbroken run's")
            if rec["kind"] == "rollout" and self.cli(["hashes", str(j["id"])])[1]["hashes"] != refs["hashes"]:
                self.fail(f"job {j['id']}: hashes differ from the unbroken run's")
        db = sqlite3.connect(f"file:{self.state}/dashid.db?mode=ro", uri=True)
        check = db.execute("PRAGMA integrity_check").fetchall()
        db.close()
        if check != [("ok",)]:
            self.fail(f"integrity_check: {check}")
        nblobs = 0
        for root, _, files in os.walk(os.path.join(self.state, "blobs")):
            for name in files:
                if not name.endswith(".npy"):
                    continue
                nblobs += 1
                with open(os.path.join(root, name), "rb") as f:
                    if blob_address(f.read()) != name[:-4]:
                        self.fail(f"blob {name} does not hash to its name")
        rc, report = self.cli(["fsck"])
        if rc != 0:
            self.fail(f"dashi fsck exited {rc}: {report}")
        print(f"# integrity_check ok; {nblobs} blobs verified; fsck exit {rc}", flush=True)
        if self.cli(["ping"])[0] != 0:
            self.fail("the daemon no longer answers")
        self.proc.terminate()
        if self.proc.wait(timeout=60) != 0:
            self.fail(f"dashid exited {self.proc.returncode} on SIGTERM")
        if self.failures:
            raise SystemExit(f"{len(self.failures)} invariant(s) broken")
        print("ok - chaos: every invariant holds", flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "hostile":
        hostile(sys.argv[2], sys.argv[3], float(sys.argv[4]))
    else:
        Chaos(*sys.argv[2:6]).run()
