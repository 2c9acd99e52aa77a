#!/usr/bin/env python3
"""Example for dashi_client: a sweep over two LES parameters as one group, tagged and
named, then the table of its runs with a summary scalar and a series' last value.

    example_sweep.py [N] [STEPS]
Exits 0 when every run succeeded and the table has one row per combination."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dashi_client  # noqa: E402


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 16
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    with dashi_client.connect() as c:
        sweep = c.sweep("les", {"seed": [0, 1], "cs": [0.17, 0.2]}, name="py-scan", tags=["example"],
                        N=n, steps=steps, dt=0.01)
        print(f"group {sweep['group']} ({sweep['name']}): jobs {sweep['jobs']}")
        records = [c.wait(j) for j in sweep["jobs"]]
        if any(r["state"] != "succeeded" for r in records):
            print([r.get("error") for r in records], file=sys.stderr)
            return 1
        c.tag(sweep["jobs"][0], "baseline")
        c.note(sweep["jobs"][0], "the reference run of the scan")
        rows = c.table("py-scan", cols=["energy_final", "energy.T"])
        for row in rows:
            print("  ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
        tagged = [r["id"] for r in c.list(tag="baseline")]
        print(f"tagged baseline: {tagged}")
        combos = {(r["seed"], r["cs"]) for r in rows}
        ok = len(rows) == 4 and len(combos) == 4 and all(r["energy_final"] == r["energy.T"] for r in rows) \
            and tagged == [sweep["jobs"][0]]
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
