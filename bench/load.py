#!/usr/bin/env python3
"""Load test of dashid: N concurrent clients (separate processes, one connection each)
each submit one small job and then query its `status` R-1 times, as fast as they can.
Reports requests/s over all requests and the p50/p99 latency of `status`; exits 1 if
any request failed or a client did not finish within the time limit.

    bench/load.py --op HASH --z0 HASH [--clients 50] [--requests 20] [--steps 5] [--timeout 120]

The socket is $DASHI_SOCKET (or --socket). Loopback only: a Unix socket."""
import argparse, json, multiprocessing as mp, os, socket, struct, sys, time

import msgpack

FRAME_MAX = 8 << 20


class Client:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.next_id = 1

    def _recv_exact(self, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("daemon closed the connection")
            buf += chunk
        return bytes(buf)

    def call(self, op, args):
        rid = self.next_id
        self.next_id += 1
        payload = msgpack.packb({"v": 1, "id": rid, "op": op, "args": args}, use_bin_type=True)
        self.sock.sendall(struct.pack(">I", len(payload)) + payload)
        while True:
            (n,) = struct.unpack(">I", self._recv_exact(4))
            if not 0 < n <= FRAME_MAX:
                raise ConnectionError(f"bad frame length {n}")
            msg = msgpack.unpackb(self._recv_exact(n), raw=False)
            if msg.get("id") != rid or "event" in msg:
                continue
            if not msg["ok"]:
                raise RuntimeError(f"{op}: {msg['error']['code']}: {msg['error']['message']}")
            return msg["result"]


def one_client(path, args, start, out):
    """Runs in its own process; puts (job id, status latencies, errors) on out."""
    lat, errors, job = [], [], None
    try:
        c = Client(path)
        start.wait()
        job = c.call("submit", {"kind": "rollout",
                                "args": {"op": args.op, "z0": args.z0, "steps": args.steps}})["id"]
        for _ in range(args.requests - 1):
            t = time.perf_counter()
            c.call("status", {"id": job})
            lat.append(time.perf_counter() - t)
    except Exception as e:  # every failure is reported, none hidden
        errors.append(repr(e))
    out.put((job, lat, errors))


def percentile(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", default=os.environ.get("DASHI_SOCKET"))
    ap.add_argument("--op", required=True)
    ap.add_argument("--z0", required=True)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--requests", type=int, default=20, help="per client: 1 submit + requests-1 status")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if not args.socket:
        sys.exit("load.py: no socket (set DASHI_SOCKET or pass --socket)")

    ctx = mp.get_context("fork")
    start, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=one_client, args=(args.socket, args, start, out)) for _ in range(args.clients)]
    for p in procs:
        p.start()
    time.sleep(0.2)  # let every client connect before the clock starts
    t0 = time.perf_counter()
    start.set()
    results, deadline = [], time.monotonic() + args.timeout
    while len(results) < args.clients and time.monotonic() < deadline:
        try:
            results.append(out.get(timeout=max(0.1, deadline - time.monotonic())))
        except Exception:
            break
    wall = time.perf_counter() - t0
    for p in procs:
        p.join(timeout=1)
        if p.is_alive():
            p.kill()
    lat = [x for _, l, _ in results for x in l]
    errors = [e for _, _, es in results for e in es]
    missing = args.clients - len(results)
    done = sum(1 + len(l) for _, l, es in results if not es)
    report = {
        "clients": args.clients, "requests_per_client": args.requests, "requests": done,
        "seconds": round(wall, 3), "requests_per_s": round(done / wall, 1),
        "status_p50_ms": round(percentile(lat, 50) * 1e3, 3) if lat else None,
        "status_p99_ms": round(percentile(lat, 99) * 1e3, 3) if lat else None,
        "status_max_ms": round(max(lat) * 1e3, 3) if lat else None,
        "errors": errors[:10], "failed_requests": len(errors), "clients_missing": missing,
        "jobs": [j for j, _, _ in results if j is not None],
    }
    if args.json:
        print(json.dumps(report))
    else:
        print(f"{done} requests from {args.clients} clients in {wall:.2f} s: {report['requests_per_s']} requests/s; "
              f"status p50 {report['status_p50_ms']} ms, p99 {report['status_p99_ms']} ms, "
              f"max {report['status_max_ms']} ms; {len(errors)} failed, {missing} clients missing")
        for e in errors[:10]:
            print("  error:", e)
    sys.exit(1 if errors or missing else 0)


if __name__ == "__main__":
    main()
