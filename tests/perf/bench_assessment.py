"""Benchmark of the assessment: eks_windows_info over the fleet scenario (7 clusters), with and
without `assess`, and the API requests each cluster answers per run; then on one cluster with
2,020 pods (20 of them Windows pods): the requests and the bytes of the pod reads, against one
paged LIST of every pod.

Reports figures, asserts nothing: `make perf` (or .venv/bin/python tests/perf/bench_assessment.py).
"""

import json
import os
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "lab"))
from eksopslab import fixtures  # noqa: E402
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


BULK_PODS, WINDOWS_PODS = 2000, 20


def pod(name, node):
    return {"kind": "Pod", "apiVersion": "v1",
            "metadata": {"name": name, "namespace": "default", "labels": {"app": name.split("-")[0]}},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "registry.example/app:1"}]}}


def pod_bytes(handle, cluster, selectors):
    """Bytes the API server sends for LISTs of pods with these field selectors (paged by 500)."""
    api = handle.admin_api(cluster)
    total = 0
    try:
        for selector in selectors:
            query = {"limit": 500, "fieldSelector": selector}
            while True:
                response = api.call_api("/api/v1/pods", "GET", query_params=list(query.items()),
                                        header_params={"Accept": "application/json"},
                                        auth_settings=["BearerToken"], _preload_content=False,
                                        _return_http_data_only=True)
                total += len(response.data)
                token = json.loads(response.data)["metadata"].get("continue")
                if not token:
                    break
                query["continue"] = token
    finally:
        api.close()
    return total


def many_pods():
    scenario = load_scenario(os.path.join(ROOT, "tests", "lab", "scenarios", "bench_pods.yml"))
    with tempfile.TemporaryDirectory() as state:
        lab = Lab(state)
        lab.start(scenario)
        try:
            handle = LabHandle(lab)
            api = handle.admin_api("big")
            try:
                fixtures.apply(api, [pod("bulk-%04d" % i, "big-lin-%d" % (1 + i % 2)) for i in range(BULK_PODS)])
                fixtures.apply(api, [pod("win-%02d" % i, "big-win-%d" % (1 + i % 2)) for i in range(WINDOWS_PODS)])
            finally:
                api.close()
            walls, requests = timed(handle, PLAYBOOK, ["big"])
            pods_read = [r for r in handle.requests("big") if r[1].startswith("/api/v1/pods")]
            live = "status.phase!=Succeeded,status.phase!=Failed"
            ours = pod_bytes(handle, "big", ["spec.nodeName=," + live, "spec.nodeName=big-win-1," + live,
                                             "spec.nodeName=big-win-2," + live])
            every = pod_bytes(handle, "big", [live])
        finally:
            lab.stop()
    print(f"assessment of one cluster with {BULK_PODS + WINDOWS_PODS} pods ({WINDOWS_PODS} Windows pods, "
          f"2 Windows nodes), x{RUNS}: median {statistics.median(walls):.2f} s")
    print(f"  API requests per run {requests['big']:.1f}; pod LISTs per run {len(pods_read) / RUNS:.1f}")
    print(f"  pod bytes read per run: {ours / 1024:.0f} KiB (per Windows node + unscheduled), against "
          f"{every / 1024:.0f} KiB for every pod, paged ({every / max(ours, 1):.0f}x)")


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
    many_pods()
    return 0


if __name__ == "__main__":
    sys.exit(main())
