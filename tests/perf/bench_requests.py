"""Benchmark of what each procedure costs one cluster: Kubernetes API requests (the API server's
audit log) and AWS calls (the lab's AWS audit log), on the first run, which changes the cluster,
and on a second run, which has nothing to do. Wall time is per playbook run, one cluster.

Reports figures, asserts nothing: `make perf` (or .venv/bin/python tests/perf/bench_requests.py).
The integration tests assert the no-op sequences and that check mode writes nothing.
"""

import collections
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "lab"))
from eksopslab.lab import Lab, load_scenario  # noqa: E402
from eksopslab.testing import WRITE_VERBS, LabHandle  # noqa: E402

# (label, cluster, playbook, extra arguments), in the order they run: each step starts from
# what the previous ones left.
STEPS = [
    ("enable", "ready", "eksops.windows.enable", ()),
    ("disable", "ready", "eksops.windows.disable", ()),
    ("enable, enable_assess=true", "ready", "eksops.windows.enable", ("-e", "enable_assess=true")),
    ("fleet_report (assessment)", "ready", "eksops.windows.fleet_report", ("-e", "fleet_report_dir={report}")),
    ("legacy_install", "old", "eksops.windows.legacy_install", ()),
    ("renew_cert, force (renews)", "old", "eksops.windows.renew_cert", ("-e", "cert_renew_force=true")),
    ("renew_cert (valid: nothing to do)", "old", "eksops.windows.renew_cert", ()),
    ("legacy_remove", "old", "eksops.windows.legacy_remove", ()),
]


def measure(handle, cluster, playbook, args):
    k8s_before, aws_before = len(handle.requests(cluster)), len(handle.aws_calls())
    began = time.monotonic()
    rc, _parsed, raw = handle.run_playbook(playbook, "-l", cluster, *args)
    wall = time.monotonic() - began
    if rc != 0:
        raise SystemExit(raw)
    k8s = handle.requests(cluster)[k8s_before:]
    aws = handle.aws_calls()[aws_before:]
    return {"wall": wall, "k8s": len(k8s), "k8s_writes": sum(1 for r in k8s if r[0] in WRITE_VERBS),
            "aws": len(aws), "aws_actions": collections.Counter(c[1] for c in aws)}


def main():
    scenario = load_scenario(os.path.join(ROOT, "tests", "lab", "scenarios", "bench_requests.yml"))
    rows = []
    with tempfile.TemporaryDirectory() as state:
        lab = Lab(state)
        lab.start(scenario)
        try:
            handle = LabHandle(lab)
            for label, cluster, playbook, args in STEPS:
                args = tuple(a.format(report=os.path.join(state, "report")) for a in args)
                first = measure(handle, cluster, playbook, args)
                second = measure(handle, cluster, playbook, args)
                rows.append((label, first, second))
        finally:
            lab.stop()
    print(f"{'procedure (one cluster)':<36} {'run':<7} {'k8s':>4} {'writes':>6} {'aws':>4} {'wall s':>6}  AWS actions")
    for label, first, second in rows:
        for run, numbers in (("first", first), ("second", second)):
            actions = ", ".join(f"{name} {count}" for name, count in sorted(numbers["aws_actions"].items()))
            print(f"{label if run == 'first' else '':<36} {run:<7} {numbers['k8s']:>4} {numbers['k8s_writes']:>6}"
                  f" {numbers['aws']:>4} {numbers['wall']:>6.1f}  {actions}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
