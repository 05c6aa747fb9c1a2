"""Benchmark of issue 9 ("Fast on a fleet"): enabling control-plane Windows support on ten
clusters, side by side with what a user would do without the collection.

One lab of ten clusters (tests/lab/scenarios/bench_enable.yml). Contenders, in alternating
rounds (A B C D E, A B C D E, ...; BENCH_ROUNDS, default 3), each a changing run from the same
start state and then a no-op re-run:

  A  the documented CLI procedure (tests/perf/cli_enable.sh: aws iam list-attached-role-policies,
     aws iam attach-role-policy when missing, aws eks update-kubeconfig, kubectl patch), one
     cluster after the other
  B  the same, five clusters at a time (xargs -P5)
  C  a hand-rolled playbook with amazon.aws and kubernetes.core
     (tests/perf/playbooks/handrolled_enable.yml)
  D  eksops.windows.enable over the lab's inventory, default options
  E  eksops.windows.enable -e enable_assess=true (the full assessment from the same module
     process)

BENCH_CONTENDERS (e.g. "BCD") runs only some of them.

Before every changing run each cluster is put back to the start state outside the timing: the
policy detached through moto's IAM, enable-windows-ipam merge-patched back to "false" with the
lab's admin certificate, and the contenders' client caches (kubectl's and kubernetes.core's API
discovery caches, the kubeconfigs the CLI wrote) removed, so a changing run starts cold and its
no-op re-run warm, as a user's second run would.

Figures only, no asserts: `make perf` (or .venv/bin/python tests/perf/bench_enable.py). The AWS
CLI and kubectl come from tests/perf/install-bench-tools.sh (`make perf` runs it).
"""

import collections
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "lab"))
from eksopslab import kube  # noqa: E402
from eksopslab.lab import Lab, load_scenario  # noqa: E402
from eksopslab.testing import AWS_READ_PREFIXES, WRITE_VERBS, LabHandle, write_yaml  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
PARALLEL = 5
TOOLS = os.environ.get("EKSOPS_BENCH_TOOLS", os.path.join(ROOT, ".build", "bench-tools"))
SCENARIO = os.path.join(ROOT, "tests", "lab", "scenarios", "bench_enable.yml")
CLI_SCRIPT = os.path.join(ROOT, "tests", "perf", "cli_enable.sh")
HANDROLLED = os.path.join(ROOT, "tests", "perf", "playbooks", "handrolled_enable.yml")
POLICY_ARN = "arn:aws:iam::aws:policy/AmazonEKSVPCResourceController"
CONFIGMAP = "/api/v1/namespaces/kube-system/configmaps/amazon-vpc-cni"
KEY = "enable-windows-ipam"
# The lab's authenticator names the cluster creator's EKS token "kubernetes-admin" (every
# contender here authenticates with a token of the lab's admin IAM user); "lab-admin" is the lab's
# own client certificate (the reset, the controller managers, the lab daemon), never counted.
TOKEN_USER = "kubernetes-admin"
LAB_USERS = ("lab-admin", "system:apiserver")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def machine_cpu():
    """CPU seconds the whole machine has been busy (every process), and stolen by the host."""
    with open("/proc/stat", encoding="ascii") as handle:
        fields = [int(v) for v in handle.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq) / CLOCK_TICKS, steal / CLOCK_TICKS


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Bench:
    def __init__(self, lab, state):
        self.lab = lab
        self.handle = LabHandle(lab)
        self.state = state
        self.names = sorted(self.handle.info["clusters"])
        self.clusters = self.handle.info["clusters"]
        self.region = self.clusters[self.names[0]]["region"]
        self.roles = {n: self.clusters[n]["role_arn"].rsplit("/", 1)[1] for n in self.names}
        self.iam = self.handle.boto3_client("iam", self.region)
        self.apis = {n: self.handle.admin_api(n) for n in self.names}
        self.caches = os.path.join(state, "client-caches")
        self.cli_home = os.path.join(self.caches, "cli-home")
        self.cli_list = os.path.join(state, "cli-clusters.txt")
        with open(self.cli_list, "w", encoding="utf-8") as handle:
            for name in self.names:
                handle.write(f"{name} {self.clusters[name]['region']} {self.roles[name]} "
                             f"{os.path.join(self.cli_home, 'kubeconfigs', name)}\n")
        # the hand-rolled playbook is given each cluster's role name, as the CLI procedure is
        inventory = yaml_load(self.handle.inventory())
        for name, host in inventory["all"]["children"]["eks_clusters"]["hosts"].items():
            host["cluster_role_name"] = self.roles[name]
        self.handrolled_inventory = write_yaml(os.path.join(state, "handrolled.yml"), inventory)

    def close(self):
        for api in self.apis.values():
            api.close()

    # --- the start state, outside the timing ----------------------------------------------
    def reset(self):
        for name in self.names:
            try:
                self.iam.detach_role_policy(RoleName=self.roles[name], PolicyArn=POLICY_ARN)
            except self.iam.exceptions.NoSuchEntityException:
                pass
            kube.request(self.apis[name], "PATCH", CONFIGMAP, body={"data": {KEY: "false"}},
                         content_type="application/merge-patch+json")
        shutil.rmtree(self.caches, ignore_errors=True)
        for sub in ("cli-home/kubeconfigs", "tmp-handrolled", "tmp-enable"):
            os.makedirs(os.path.join(self.caches, sub))
        off = [name for name, state in self.states().items() if state != (False, "false")]
        if off:
            raise SystemExit(f"reset did not put {', '.join(off)} back to the start state")

    def states(self):
        """{cluster: (policy attached, enable-windows-ipam value)}."""
        found = {}
        for name in self.names:
            pages = self.iam.get_paginator("list_attached_role_policies").paginate(
                RoleName=self.roles[name])
            attached = any(p["PolicyArn"] == POLICY_ARN for page in pages
                           for p in page["AttachedPolicies"])
            data = kube.request(self.apis[name], "GET", CONFIGMAP).get("data") or {}
            found[name] = (attached, data.get(KEY))
        return found

    def enabled_clusters(self):
        """How many clusters have both the policy and enable-windows-ipam "true"."""
        return sum(1 for state in self.states().values() if state == (True, "true"))

    # --- contenders -------------------------------------------------------------------------
    def cli_env(self):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("AWS_", "K8S_AUTH_")) and k != "KUBECONFIG"}
        env.update(self.handle.aws_env())
        env.update({"AWS_DEFAULT_REGION": self.region, "HOME": self.cli_home,
                    "AWS_CONFIG_FILE": os.path.join(self.cli_home, ".aws", "config"),
                    "AWS_SHARED_CREDENTIALS_FILE": os.path.join(self.cli_home, ".aws", "credentials"),
                    "PATH": os.path.join(TOOLS, "bin") + os.pathsep + env.get("PATH", "")})
        return env

    def run_cli(self, parallel):
        argv = ["xargs", "-n", "4", "-a", self.cli_list]
        if parallel:
            argv += ["-P", str(PARALLEL)]
        done = subprocess.run(argv + ["bash", CLI_SCRIPT], env=self.cli_env(), cwd=self.state,
                              capture_output=True, text=True, check=False)
        return done.returncode, done.stdout + done.stderr

    def run_ansible(self, playbook, *args, inventory=None, tmp="tmp-enable"):
        env = {"TMPDIR": os.path.join(self.caches, tmp),
               "AWS_CONFIG_FILE": os.path.join(self.cli_home, ".aws", "config"),
               "AWS_SHARED_CREDENTIALS_FILE": os.path.join(self.cli_home, ".aws", "credentials")}
        rc, _parsed, raw = self.handle.run_playbook(playbook, *args, inventory=inventory, env=env)
        return rc, raw

    def contenders(self):
        found = [
            ("A", "CLI, sequential", lambda: self.run_cli(False)),
            ("B", f"CLI, xargs -P{PARALLEL}", lambda: self.run_cli(True)),
            ("C", "hand-rolled playbook", lambda: self.run_ansible(
                HANDROLLED, inventory=self.handrolled_inventory, tmp="tmp-handrolled")),
            ("D", "eksops.windows.enable", lambda: self.run_ansible("eksops.windows.enable")),
        ]
        found.append(("E", "enable, enable_assess=true", lambda: self.run_ansible(
            "eksops.windows.enable", "-e", "enable_assess=true")))
        wanted = os.environ.get("BENCH_CONTENDERS")
        return [c for c in found if not wanted or c[0] in wanted]

    # --- one measured run -------------------------------------------------------------------
    def audit_sizes(self):
        return {n: os.path.getsize(self.lab.path("clusters", n, "audit.log")) for n in self.names}

    def identities(self, sizes):
        """Who the API servers saw since `sizes` (audit log offsets), apart from the lab."""
        seen = collections.Counter()
        for name in self.names:
            with open(self.lab.path("clusters", name, "audit.log"), encoding="utf-8") as handle:
                handle.seek(sizes[name])
                for line in handle:
                    user = json.loads(line).get("user", {}).get("username")
                    if user not in LAB_USERS:
                        seen[user] += 1
        return seen

    def lab_cpu(self):
        total = 0
        for pid in self.lab.running().values():
            try:
                with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
            except (OSError, IndexError, ValueError):
                pass
        return total / CLOCK_TICKS

    def measure(self, label, run):
        handle = self.handle
        k8s_before = {n: len(handle.requests(n, TOKEN_USER)) for n in self.names}
        aws_before = len(handle.aws_calls())
        sizes = self.audit_sizes()
        lab_before, cpu_before = self.lab_cpu(), children_cpu()
        busy_before, steal_before = machine_cpu()
        began = time.monotonic()
        rc, output = run()
        wall = time.monotonic() - began
        cpu, lab = children_cpu() - cpu_before, self.lab_cpu() - lab_before
        busy, steal = machine_cpu()
        # whatever else the machine ran meanwhile (another engineer's tests): noise to report
        outside = max(0.0, busy - busy_before - cpu - lab)
        if rc != 0:
            raise SystemExit(f"{label} failed (exit {rc}):\n{output[-6000:]}")
        k8s = [r for n in self.names for r in handle.requests(n, TOKEN_USER)[k8s_before[n]:]]
        aws = handle.aws_calls()[aws_before:]
        return {
            "wall": wall, "cpu": cpu, "lab_cpu": lab, "outside": outside,
            "steal": steal - steal_before,
            "k8s": len(k8s),
            "k8s_writes": sum(1 for r in k8s if r[0] in WRITE_VERBS and "dryRun=" not in r[1]),
            "k8s_dry_runs": sum(1 for r in k8s if r[0] in WRITE_VERBS and "dryRun=" in r[1]),
            "aws": len(aws),
            "aws_writes": sum(1 for c in aws if not c[1].startswith(AWS_READ_PREFIXES)),
            "aws_actions": collections.Counter(f"{c[0]}:{c[1]}" for c in aws),
            "users": self.identities(sizes),
            "enabled": self.enabled_clusters(),
        }


def yaml_load(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def tool_versions():
    versions = {}
    for tool, argv in (("aws", ["aws", "--version"]),
                       ("kubectl", ["kubectl", "version", "--client", "--short"])):
        path = os.path.join(TOOLS, "bin", tool)
        try:
            done = subprocess.run([path] + argv[1:], capture_output=True, text=True, check=False)
            versions[tool] = (done.stdout + done.stderr).strip().splitlines()[0]
        except (OSError, IndexError):
            versions[tool] = None
    ansible = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    done = subprocess.run([ansible, "--version"], capture_output=True, text=True, check=False)
    versions["ansible"] = done.stdout.splitlines()[0] if done.stdout else None
    return versions


def spread(values):
    return statistics.median(values), min(values), max(values)


def report(start_seconds, total_seconds, versions, contenders, results, n_clusters):
    per = float(n_clusters)
    print(f"{time.strftime('%Y-%m-%d %H:%M %Z')}, {os.uname().nodename}")
    print(f"lab start, {n_clusters} clusters: {start_seconds:.1f} s;"
          f" benchmark total {total_seconds / 60:.1f} min; {ROUNDS} rounds,"
          f" {os.cpu_count()} CPUs")
    print(f"tools: {versions['aws']}; kubectl {versions['kubectl']}; {versions['ansible']}")
    print()
    base = results["D"]
    base_change = statistics.median(r["wall"] for r in base["change"])
    base_noop = statistics.median(r["wall"] for r in base["noop"])
    print("wall time over all clusters, seconds (median, min-max); ratio = contender / enable"
          " (> 1: the collection is faster)")
    print(f"{'':2} {'contender':<26} {'changing run':>20} {'ratio':>6}   {'no-op re-run':>20} {'ratio':>6}")
    for key, label, _run in contenders:
        change, noop = spread([r["wall"] for r in results[key]["change"]]), \
            spread([r["wall"] for r in results[key]["noop"]])
        print(f"{key:2} {label:<26} {change[0]:7.1f} ({change[1]:5.1f}-{change[2]:5.1f})"
              f" {change[0] / base_change:6.2f}   {noop[0]:7.1f} ({noop[1]:5.1f}-{noop[2]:5.1f})"
              f" {noop[0] / base_noop:6.2f}")
    print()
    print("CPU seconds, median: the contender's processes (children's user+sys), ratio to enable;"
          " the lab's (API servers, etcd, moto, controller managers);")
    print("and the rest of the machine meanwhile (other = busy - contender - lab: anything else"
          " running, noise)")
    print(f"{'':2} {'contender':<26} {'changing':>9} {'ratio':>6} {'lab':>6} {'other':>6}"
          f"   {'no-op':>9} {'ratio':>6} {'lab':>6} {'other':>6}")
    base_cpu_change = statistics.median(r["cpu"] for r in base["change"])
    base_cpu_noop = statistics.median(r["cpu"] for r in base["noop"])
    for key, label, _run in contenders:
        c = statistics.median(r["cpu"] for r in results[key]["change"])
        cl = statistics.median(r["lab_cpu"] for r in results[key]["change"])
        n = statistics.median(r["cpu"] for r in results[key]["noop"])
        nl = statistics.median(r["lab_cpu"] for r in results[key]["noop"])
        co = statistics.median(r["outside"] for r in results[key]["change"])
        no = statistics.median(r["outside"] for r in results[key]["noop"])
        print(f"{key:2} {label:<26} {c:9.1f} {c / base_cpu_change:6.2f} {cl:6.1f} {co:6.1f}"
              f"   {n:9.1f} {n / base_cpu_noop:6.2f} {nl:6.1f} {no:6.1f}")
    print()
    print(f"per cluster, mean over rounds: Kubernetes requests of {TOKEN_USER!r} (audit logs;"
          " writes = write verbs that are not dry runs), AWS calls of the lab's admin key")
    print(f"{'':2} {'contender':<26} {'run':<8} {'k8s':>6} {'writes':>6} {'dry':>4} {'aws':>6}"
          f" {'writes':>6}  converged  identities seen")
    for key, label, _run in contenders:
        for kind, title in (("change", "changing"), ("noop", "no-op")):
            runs = results[key][kind]
            mean = {field: statistics.mean(r[field] for r in runs) / per
                    for field in ("k8s", "k8s_writes", "k8s_dry_runs", "aws", "aws_writes")}
            users = collections.Counter()
            for r in runs:
                users.update(r["users"])
            converged = f"{min(r['enabled'] for r in runs)}/{n_clusters}"
            who = ", ".join(sorted(users)) or "-"
            print(f"{key if kind == 'change' else '':2} {label if kind == 'change' else '':<26}"
                  f" {title:<8} {mean['k8s']:6.1f} {mean['k8s_writes']:6.1f} {mean['k8s_dry_runs']:4.1f}"
                  f" {mean['aws']:6.1f} {mean['aws_writes']:6.1f}  {converged:>9}  {who}")
    print()
    print("AWS actions per cluster (mean over rounds)")
    for key, label, _run in contenders:
        for kind, title in (("change", "changing"), ("noop", "no-op")):
            runs = results[key][kind]
            actions = collections.Counter()
            for r in runs:
                actions.update(r["aws_actions"])
            text = ", ".join(f"{name} {count / len(runs) / per:g}"
                             for name, count in sorted(actions.items()))
            print(f"{key if kind == 'change' else '':2} {label if kind == 'change' else '':<26}"
                  f" {title:<8} {text}")
    print()
    print("no-op re-runs that sent write requests (a PATCH that changes nothing counts):")
    for key, label, _run in contenders:
        runs = results[key]["noop"]
        wrote = [r for r in runs if r["k8s_writes"] or r["aws_writes"]]
        detail = ", ".join(f"{r['k8s_writes']} Kubernetes + {r['aws_writes']} AWS" for r in wrote)
        print(f"{key:2} {label:<26} {len(wrote)} of {len(runs)}" + (f" ({detail})" if wrote else ""))


def main():
    for tool in ("aws", "kubectl"):
        if not os.access(os.path.join(TOOLS, "bin", tool), os.X_OK):
            raise SystemExit(f"{tool} is not in {TOOLS}/bin: run tests/perf/install-bench-tools.sh")
    began = time.monotonic()
    scenario = load_scenario(SCENARIO)
    results = collections.defaultdict(lambda: {"change": [], "noop": []})
    with tempfile.TemporaryDirectory(prefix="bench-enable-") as state:
        lab = Lab(os.path.join(state, "lab"))
        start_seconds = lab.start(scenario)
        print(f"lab of {len(scenario['clusters'])} clusters started in {start_seconds:.1f} s;"
              f" {ROUNDS} rounds", flush=True)
        bench = None
        try:
            bench = Bench(lab, state)
            contenders = bench.contenders()
            for round_number in range(1, ROUNDS + 1):
                for key, label, run in contenders:
                    bench.reset()
                    change = bench.measure(label, run)
                    noop = bench.measure(label, run)
                    results[key]["change"].append(change)
                    results[key]["noop"].append(noop)
                    print(f"round {round_number}/{ROUNDS} {key} {label:<26} changing {change['wall']:5.1f} s,"
                          f" no-op {noop['wall']:5.1f} s (other CPU {change['outside']:.1f} s,"
                          f" {noop['outside']:.1f} s)", flush=True)
            n_clusters = len(bench.names)
        finally:
            if bench:
                bench.close()
            lab.stop()
    print()
    report(start_seconds, time.monotonic() - began, tool_versions(), contenders, results, n_clusters)
    return 0


if __name__ == "__main__":
    sys.exit(main())
