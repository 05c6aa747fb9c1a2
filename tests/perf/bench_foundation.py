"""Benchmark of the foundation: lab start, and what reading a fleet costs.

Reports figures, asserts nothing: `make perf` (or .venv/bin/python tests/perf/bench_foundation.py).
"""

import os
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "lab"))
from eksopslab.lab import Lab, load_scenario  # noqa: E402
from eksopslab.testing import LabHandle  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "3"))


def main():
    scenario = load_scenario(os.path.join(ROOT, "tests", "lab", "scenarios", "demo.yml"))
    with tempfile.TemporaryDirectory() as state:
        lab = Lab(state)
        start_seconds = lab.start(scenario)
        try:
            handle = LabHandle(lab)
            walls = []
            for _run in range(RUNS):
                began = time.monotonic()
                rc, _output, raw = handle.run_playbook("eksops.windows.cluster_info")
                walls.append(time.monotonic() - began)
                if rc != 0:
                    print(raw)
                    return 1
            names = sorted(handle.info["clusters"])
            per_cluster = {n: len(handle.requests(n)) / RUNS for n in names}
            rss = {}
            for name, pid in lab.running().items():
                with open(f"/proc/{pid}/status", encoding="ascii") as status:
                    for line in status:
                        if line.startswith("VmRSS:"):
                            rss[name] = int(line.split()[1]) // 1024
        finally:
            lab.stop()
    print(f"lab start, {len(names)} clusters:           {start_seconds:6.1f} s")
    print(f"cluster_info over {len(names)} clusters (x{RUNS}):  median {statistics.median(walls):.2f} s,"
          f" min {min(walls):.2f} s")
    for name in names:
        print(f"  API requests per run, {name:<14} {per_cluster[name]:4.1f}")
    print("resident memory (MB): " + ", ".join(f"{k} {v}" for k, v in sorted(rss.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
