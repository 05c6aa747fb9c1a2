"""Benchmark of the assessment: eks_windows_info over the fleet scenario (7 clusters), with and
without `assess`, and the API requests each cluster answers per run.

Reports figures, asserts nothing: `make perf` (or .venv/bin/python tests/perf/bench_assessment.py).
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
PLAYBOOK = os.path.join(ROOT, "tests", "integration", "playbooks", "assess.yml")
VERSIONS_ONLY = "eksops.windows.cluster_info"


def timed(handle, playbook, names):
    before = {n: len(handle.requests(n)) for n in names}
    walls = []
    for _run in range(RUNS):
        began = time.monotonic()
        rc, _output, raw = handle.run_playbook(playbook)
        walls.append(time.monotonic() - began)
        if rc != 0:
            raise SystemExit(raw)
    requests = {n: (len(handle.requests(n)) - before[n]) / RUNS for n in names}
    return walls, requests


def main():
    scenario = load_scenario(os.path.join(ROOT, "tests", "lab", "scenarios", "fleet.yml"))
    with tempfile.TemporaryDirectory() as state:
        lab = Lab(state)
        start_seconds = lab.start(scenario)
        try:
            handle = LabHandle(lab)
            names = sorted(handle.info["clusters"])
            full = timed(handle, PLAYBOOK, names)
            light = timed(handle, VERSIONS_ONLY, names)
        finally:
            lab.stop()
    print(f"lab start, {len(names)} clusters: {start_seconds:6.1f} s")
    for label, (walls, requests) in (("assessment", full), ("versions only", light)):
        print(f"{label:<14} over {len(names)} clusters (x{RUNS}): median {statistics.median(walls):.2f} s,"
              f" min {min(walls):.2f} s")
        for name in names:
            print(f"  API requests per run, {name:<22} {requests[name]:5.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
