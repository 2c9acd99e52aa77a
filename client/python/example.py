#!/usr/bin/env python3
"""Example for dashi_client: upload an operator and a start state, run a rollout on the
daemon, follow its progress, fetch the final state as a numpy array and check it against
the same rollout computed here with numpy; then find the job again with list filters,
read its record (show) and its metric series and summary (docs/python.md).

    example.py A.npy z0.npy [STEPS]        (the repository's tests/data/ has both)
Exits 0 when the daemon's answer agrees with numpy to 1e-10 (relative)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402

import dashi_client  # noqa: E402


def main():
    a_path, z_path = sys.argv[1], sys.argv[2]
    steps = int(sys.argv[3]) if len(sys.argv) > 3 else 100
    with dashi_client.connect() as c:
        info = c.ping()
        print(f"daemon {info['daemon_version']} on {info['device']}")
        A = np.load(a_path)
        z0 = np.load(z_path)
        op = c.put(A)                         # an array: serialised as .npy and uploaded
        rec = c.submit("rollout", op=op, z0=z_path, steps=steps, hash_every=10)  # a path: uploaded too
        print(f"submitted job {rec['id']}")
        events = []
        rec = c.wait(rec["id"], on_progress=events.append)
        print(f"job {rec['id']} {rec['state']} after {len(events)} events")
        if rec["state"] != "succeeded":
            print(rec.get("error"), file=sys.stderr)
            return 1
        z = c.output(rec, "z_final")          # the output as a numpy array
        ref = z0.copy()
        for _ in range(steps):
            ref = ref @ A
        rel = np.linalg.norm(z - ref) / np.linalg.norm(ref)
        print(f"z_final shape {z.shape}, relative difference from numpy {rel:.3e}")
        series, summary = c.metrics(rec["id"])
        print(f"summary metrics: {', '.join(sorted(summary))}")
        print(f"{len(series)} metric series")
        for key, (st, values) in sorted(series.items()):
            print(f"series {key}: {len(st)} points, steps {st[0]}..{st[-1]}, last {values[-1]:.6g}")
        mine = c.list(kind="rollout", state="succeeded", limit=5)   # the list op's filters
        print(f"list kind=rollout state=succeeded: jobs {[j['id'] for j in mine]}")
        shown = c.show(rec["id"])
        print(f"show: {len(shown['events'])} events, {shown['gpu_seconds']:.3g} GPU s, mode {shown['mode']}")
        hashes = c.hashes(rec["id"])
        print(f"{len(hashes)} state hashes, last {hashes[-1]['hash']}")
        try:
            c.submit("rollout", op=op, z0=z_path, steps=0)
        except dashi_client.DashiError as e:
            print(f"refused as expected: {e.code} field={e.field}")
        return 0 if rel < 1e-10 else 1


if __name__ == "__main__":
    sys.exit(main())
